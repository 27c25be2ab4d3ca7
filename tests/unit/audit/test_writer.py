"""The audit writer against a real database, SQLite and PostgreSQL: FIX messages stored byte-exact with
their key tags and with secrets masked, snapshots upserted, updates, refused rows isolated, flush, and
file logs."""

from __future__ import annotations

import json
import os
import stat
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from xmc_fix.audit import models
from xmc_fix.audit.writer import AuditWriter, message_row

SOH = "\x01"
SESSION = "FIX.4.4:XMC->SHFE"
PASSWORD = "hunter2-Sup3rSecret"
NEW_PASSWORD = "n3w-Sup3rSecret-pw"
TOKEN = "signed-T0ken-abcdef"


# -- stub factories ----------------------------------------------------------------------------
def fix_text(msg_type: str, *pairs: tuple[str, str], seq: int = 1) -> str:
    body = f"35={msg_type}{SOH}34={seq}{SOH}49=XMC{SOH}52=20240102-03:04:05.123456{SOH}56=SHFE{SOH}"
    body += "".join(f"{t}={v}{SOH}" for t, v in pairs)
    return f"8=FIX.4.4{SOH}9={len(body)}{SOH}{body}10=000{SOH}"


def logon(password: str = PASSWORD, **extra: str) -> str:
    return fix_text("A", ("98", "0"), ("108", "10"), ("141", "Y"), ("553", "trader"), ("554", password),
                    *((k.removeprefix("t"), v) for k, v in extra.items()))


def execution_report(**tags: str) -> str:
    fields = {"37": "O1", "11": "A2", "41": "A1", "17": "E1", "150": "F", "39": "1", "55": "CU", "54": "1",
              "32": "2", "31": "80010", "151": "3", "14": "2", "6": "80010"}
    fields.update({k.removeprefix("t"): v for k, v in tags.items()})
    return fix_text("8", *fields.items(), seq=7)


def ticket_row(**overrides) -> dict:
    fields = dict(ticket_id="T1", run_id="R1", pair="CU_SHFE_LME", direction="SELL_BASIS", intent="OPEN",
                  state="WORKING", created_ns=100, md_recv_ns=90, sent_ns=120, basis=D("262.5"),
                  inner_filled_lots=D(0), outer_filled_lots=D(0), decision={"fx": "7.2", "age_ms": 3})
    return {**fields, **overrides}


def order_row(**overrides) -> dict:
    fields = dict(cl_ord_id="A1", run_id="R1", ticket_id="T1", leg="INNER", role="ENTRY", venue="SHFE",
                  symbol="CU", side="SELL", qty=D(5), ord_type="LIMIT", price=D(80000), tif="IOC",
                  status="NEW", cum_qty=D(0), created_ns=100)
    return {**fields, **overrides}


def run_row(**overrides) -> dict:
    fields = dict(run_id="R1", role="engine", started_ns=1, host="box", pid=42, namespace="X",
                  config=json.dumps({"strategy": "sessions/strategy.toml"}))
    return {**fields, **overrides}


def fill_row(**overrides) -> dict:
    fields = dict(run_id="R1", venue="SHFE", exec_id="E1", cl_ord_id="A1", ticket_id="T1", symbol="CU",
                  side="SELL", qty=D(2), price=D(80000), recv_ns=200)
    return {**fields, **overrides}


UPSERT_FACTORIES = {"tickets": (ticket_row, "ticket_id", "state"), "orders": (order_row, "cl_ord_id", "status"),
                    "runs": (run_row, "run_id", "host")}


class Db:
    """The database under test, read back through SQLAlchemy (the same on every backend)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder      # where the writer spills, and (SQLite) the database file lives

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@pytest.fixture
def db(audit_url, tmp_path) -> Db:
    return Db(audit_url, Path(audit_url[len("sqlite:///"):]).parent if audit_url.startswith("sqlite") else tmp_path)


@pytest.fixture
def make_writer(db):
    """Writers on ``db``, closed at the end. A long linger keeps what is queued before a flush in
    one batch, so "within a batch" means what it says."""
    made = []

    def make(*, start: bool = True, **overrides) -> AuditWriter:
        fields = dict(url=db.url, run_id="R1", venues_by_session={SESSION: "SHFE"}, linger_s=5.0,
                      spill_dir=db.folder)
        w = AuditWriter(**{**fields, **overrides})
        made.append(w)
        return w.start() if start else w

    yield make
    for w in made:
        w.close()


def write_as_one_batch(w: AuditWriter) -> None:
    """Start a writer that was given its records before it started: they are all one batch."""
    w.start()
    assert w.flush()
    assert w.stats.batches == 1


def write_first(make_writer, *records: tuple[str, dict]) -> None:
    """Records already in the database before the batch under test (a writer of its own)."""
    w = make_writer()
    for table, row in records:
        w.record(table, row)
    w.close()


def rows(db: Db, table: str, order_by: str | None = None) -> list[dict]:
    """The table's rows in insertion order (upserted tables: by key, or ``order_by``)."""
    t = models.TABLES[table]
    col = t.c[order_by or models.CHAIN_KEYS[table]]
    eng = create_engine(db.url)
    try:
        with eng.connect() as conn:
            return [dict(r) for r in conn.execute(select(t).order_by(col)).mappings()]
    finally:
        eng.dispose()


def all_bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# -- FIX messages --------------------------------------------------------------------------------
def test_message_is_stored_with_its_key_tags_extracted(make_writer, db):
    w = make_writer()
    raw = execution_report(t43="Y")

    w.message(SESSION, "in", raw, 1_234)
    assert w.flush()

    [row] = rows(db, "fix_messages")
    assert {k: row[k] for k in ("run_id", "session", "venue", "direction", "ts_ns", "admin")} == \
           {"run_id": "R1", "session": SESSION, "venue": "SHFE", "direction": "in", "ts_ns": 1_234, "admin": 0}
    assert {k: row[k] for k in ("msg_type", "seq_num", "poss_dup", "cl_ord_id", "orig_cl_ord_id", "order_id",
                                "exec_id", "exec_type", "ord_status", "symbol", "sending_time")} == \
           {"msg_type": "8", "seq_num": 7, "poss_dup": 1, "cl_ord_id": "A2", "orig_cl_ord_id": "A1",
            "order_id": "O1", "exec_id": "E1", "exec_type": "F", "ord_status": "1", "symbol": "CU",
            "sending_time": "20240102-03:04:05.123456"}
    assert row["raw"] == raw.encode()


@pytest.mark.parametrize("raw, poss_dup", [(execution_report(), False), (execution_report(t43="N"), False),
                                           (execution_report(t43="Y"), True)])
def test_possdup_is_true_only_when_flagged_y(raw, poss_dup):
    assert message_row("R1", SESSION, "SHFE", "in", raw, 0)["poss_dup"] is poss_dup


@pytest.mark.parametrize("msg_type, admin", [("0", True), ("A", True), ("5", True), ("3", True),
                                             ("8", False), ("D", False), ("X", False)])
def test_administrative_messages_are_flagged_admin(msg_type, admin):
    assert message_row("R1", SESSION, None, "out", fix_text(msg_type), 0)["admin"] is admin


def test_first_symbol_of_a_market_data_refresh_is_the_one_kept():
    raw = fix_text("X", ("262", "M1"), ("268", "2"), ("279", "0"), ("55", "CU"), ("279", "0"), ("55", "CA"))

    assert message_row("R1", SESSION, None, "in", raw, 0)["symbol"] == "CU"


@pytest.mark.parametrize("raw", [
    fix_text("X", ("262", "M1"), ("268", "3"), ("279", "0"), ("269", "0"), ("55", "CU"), ("270", "1"),
             ("279", "1"), ("55", "CA"), ("279", "2"), ("55", "HG")),
    fix_text("X", ("262", "M1"), ("268", "2"), ("279", "0"), ("269", "0"), ("279", "1"), ("55", "CA")),
    fix_text("W", ("55", "CU"), ("268", "2"), ("269", "0"), ("270", "1"), ("269", "1"), ("270", "2")),
    fix_text("W", ("262", "M1"), ("268", "2"), ("269", "0"), ("270", "1"), ("269", "1"), ("55", "CA")),
    fix_text("X", ("262", "M1"), ("268", "1"), ("279", "0"), ("55", "CU")),
    fix_text("8", ("11", "C1"), ("55", "CU"), ("279", "0"), ("55", "CA")),
], ids=["refresh", "refresh, symbol only in the second entry", "snapshot", "snapshot, symbol in an entry",
        "one entry", "not market data"])
def test_market_data_is_scanned_for_key_tags_only_as_far_as_they_can_be(raw):
    """The scan stops at a refresh's or snapshot's second entry: the row is the one a scan of the
    whole message gives."""
    from xmc_fix.audit import rows as rows_mod
    row = message_row("R1", SESSION, None, "in", raw, 0)
    whole = {rows_mod._KEY_TAGS[m.group(1)]: m.group(2).decode() for m in reversed(list(
        rows_mod._KEY_TAG_RE.finditer(raw.encode())))}
    assert {k: row[k] for k in whole} == {k: (int(v) if k == "seq_num" else v) for k, v in whole.items()}


def test_message_without_key_tags_leaves_them_empty():
    row = message_row("R1", SESSION, None, "in", "garbage", 0)

    assert (row["msg_type"], row["seq_num"], row["cl_ord_id"], row["raw"]) == (None, None, None, b"garbage")


def masked(raw: str) -> bytes:
    """What the store must hold: the message with only the secret values replaced."""
    for secret in (PASSWORD, NEW_PASSWORD, TOKEN):
        raw = raw.replace(f"={secret}{SOH}", f"=***{SOH}")
    return raw.encode()


@pytest.mark.parametrize("raw", [
    logon(),
    logon(t925=NEW_PASSWORD),
    fix_text("A", ("95", str(len(TOKEN))), ("96", TOKEN), ("108", "10")),
    f"554={PASSWORD}{SOH}58=first field{SOH}",
], ids=["Password", "NewPassword", "RawData", "first field"])
def test_secrets_are_masked_and_everything_else_kept_byte_for_byte(raw):
    stored = message_row("R1", SESSION, None, "out", raw, 0)["raw"]

    assert stored == masked(raw) != raw.encode()


def test_no_secret_reaches_the_database_file(make_writer, db):
    w = make_writer()
    w.message(SESSION, "out", logon(t925=NEW_PASSWORD), 1)
    w.message(SESSION, "out", fix_text("A", ("96", TOKEN)), 2)
    w.message(SESSION, "in", execution_report(), 3)
    assert w.flush()

    stored = [r["raw"] for r in rows(db, "fix_messages")]
    w.close()

    assert stored == [masked(logon(t925=NEW_PASSWORD)), masked(fix_text("A", ("96", TOKEN))),
                      execution_report().encode()]
    if not db.is_sqlite:
        return  # a server's files are not ours to read; the stored values were checked above
    data = all_bytes_under(db.folder)
    assert data and b"trader" in data  # the username is not a secret: proves the bytes were searched
    for secret in (PASSWORD, NEW_PASSWORD, TOKEN):
        assert secret.encode() not in data


def test_invalid_utf8_is_stored_byte_exact(make_writer, db):
    original = fix_text("8", ("11", "A1"), ("58", "caf\xe9 \xff\xfe")).encode("latin-1")
    as_quickfix_gives_it = original.decode("utf-8", "surrogateescape")
    w = make_writer()

    w.message(SESSION, "in", as_quickfix_gives_it, 1)
    assert w.flush()

    [row] = rows(db, "fix_messages")
    assert row["raw"] == original
    assert row["cl_ord_id"] == "A1"


def test_session_events_are_stored_with_the_venue(make_writer, db):
    w = make_writer()

    w.session_event(SESSION, "Initiated connection", 5)
    w.session_event("FIX.4.4:XMC->ELSEWHERE", "Logon timeout", 6)
    assert w.flush()

    assert [(r["session"], r["venue"], r["ts_ns"], r["text"]) for r in rows(db, "session_events")] == [
        (SESSION, "SHFE", 5, "Initiated connection"), ("FIX.4.4:XMC->ELSEWHERE", None, 6, "Logon timeout")]


def test_a_session_event_quoting_bytes_that_are_not_utf8_is_stored_not_spilled(make_writer, db):
    """QuickFIX quotes a venue's garbled bytes in its events ("Field tag is invalid: ..."); they
    reach Python as lone surrogates, which no database accepts."""
    w = make_writer()

    w.session_event(SESSION, "Invalid message: Field tag is invalid: 4\x08\udcba\udc828", 7)
    assert w.flush()

    assert [r["text"] for r in rows(db, "session_events")] == ["Invalid message: Field tag is invalid: 4\x08\\xba\\x828"]
    assert w.stats.spilled == 0 and not list(db.folder.glob("audit-spill-*"))


def test_an_event_naming_an_id_a_venue_sent_in_bytes_that_are_not_utf8_is_stored_not_spilled(make_writer, db):
    """Seen fuzzing a venue: a report for a ClOrdID the engine never sent, garbled, is recorded as an
    event naming it; SQLite refuses the lone surrogates it arrives with, and the batch went to the
    spill file instead of the database."""
    w = make_writer()

    w.event("duplicate_exec_report", 7, venue="COMEX", cl_ord_id="v\udc97t\udc9a", exec_id="E-1")
    w.update("orders", {"cl_ord_id": "C\udcff1", "status": "NEW"})
    assert w.flush()

    assert [r["cl_ord_id"] for r in rows(db, "events")] == ["v\\x97t\\x9a"]
    assert w.stats.spilled == 0 and not list(db.folder.glob("audit-spill-*"))


# -- appended records --------------------------------------------------------------------------
def test_event_detail_is_stored_as_json(make_writer, db):
    w = make_writer()

    w.event("alert", 9, venue="SHFE", ticket_id="T1", residual=D("0.36"), why="legged")
    w.event("halt", 10)
    assert w.flush()

    first, second = rows(db, "events")
    assert (first["kind"], first["venue"], first["ticket_id"], first["run_id"]) == ("alert", "SHFE", "T1", "R1")
    assert json.loads(first["detail"]) == {"residual": "0.36", "why": "legged"}
    assert (second["kind"], second["detail"]) == ("halt", None)


def test_ticket_decision_is_stored_as_json(make_writer, db):
    w = make_writer()

    w.record("tickets", ticket_row(decision={"fx": D("7.2"), "tops": [["80000", "5"]]}))
    assert w.flush()

    [row] = rows(db, "tickets")
    assert json.loads(row["decision"]) == {"fx": "7.2", "tops": [["80000", "5"]]}
    assert row["basis"] == D("262.5")


def test_decimals_come_back_exact(make_writer, db):
    w = make_writer()
    w.record("fills", fill_row(qty=D("0.1"), price=D("9500.123456789")))
    assert w.flush()

    with w.engine.connect() as conn:
        qty, price = conn.execute(select(models.fills.c.qty, models.fills.c.price)).one()

    assert (qty, price) == (D("0.1"), D("9500.123456789"))


# -- upserted snapshots ------------------------------------------------------------------------------
@pytest.mark.parametrize("table", UPSERT_FACTORIES)
def test_last_snapshot_of_a_key_wins_within_a_batch(make_writer, db, table):
    factory, key, column = UPSERT_FACTORIES[table]
    w = make_writer(start=False)

    for value in ("first", "second", "third"):
        w.record(table, factory(**{column: value}))
    w.record(table, factory(**{key: "OTHER", column: "other"}))
    write_as_one_batch(w)

    stored = {r[key]: r[column] for r in rows(db, table)}
    assert stored == {"OTHER": "other", factory()[key]: "third"}


@pytest.mark.parametrize("table", UPSERT_FACTORIES)
def test_last_snapshot_of_a_key_wins_across_batches(make_writer, db, table):
    factory, key, column = UPSERT_FACTORIES[table]
    w = make_writer()

    for value in ("first", "second"):
        w.record(table, factory(**{column: value}))
        assert w.flush()

    assert [(r[key], r[column]) for r in rows(db, table)] == [(factory()[key], "second")]


def test_update_changes_only_the_given_columns(make_writer, db):
    w = make_writer()
    w.record("runs", run_row())
    assert w.flush()
    before = rows(db, "runs")[0]

    w.update("runs", {"run_id": "R1", "ended_ns": 99, "summary": "{}"})
    assert w.flush()

    after = rows(db, "runs")[0]
    assert (after["ended_ns"], after["summary"]) == (99, "{}")
    assert {k: v for k, v in after.items() if k not in ("ended_ns", "summary")} == \
           {k: v for k, v in before.items() if k not in ("ended_ns", "summary")}


def test_update_of_a_key_never_recorded_creates_nothing(make_writer, db):
    w = make_writer()

    w.update("tickets", {"ticket_id": "NOPE", "state": "COMPLETED"})
    assert w.flush()

    assert rows(db, "tickets") == []


def test_update_after_a_snapshot_in_the_same_batch_applies_to_it(make_writer, db):
    w = make_writer(start=False)

    w.record("tickets", ticket_row(state="WORKING"))
    w.update("tickets", {"ticket_id": "T1", "state": "COMPLETED", "ended_ns": 300})
    write_as_one_batch(w)

    [row] = rows(db, "tickets")
    assert (row["state"], row["ended_ns"], row["pair"]) == ("COMPLETED", 300, "CU_SHFE_LME")


def test_snapshot_after_an_update_in_the_same_batch_wins(make_writer, db):
    write_first(make_writer, ("tickets", ticket_row(state="WORKING")))
    w = make_writer(start=False)

    w.record("tickets", ticket_row(ticket_id="T0", state="NEW"))  # the batch starts with another ticket
    w.update("tickets", {"ticket_id": "T1", "state": "CANCELLING", "reason": "timeout"})
    w.record("tickets", ticket_row(state="COMPLETED"))
    write_as_one_batch(w)

    assert [(r["ticket_id"], r["state"], r["reason"]) for r in rows(db, "tickets", "ticket_id")] == \
           [("T0", "NEW", None), ("T1", "COMPLETED", "timeout")]


def test_update_does_not_change_the_callers_dict(make_writer, db):
    write_first(make_writer, ("tickets", ticket_row()))
    w = make_writer(start=False)
    change = {"ticket_id": "T1", "state": "COMPLETED"}

    w.update("tickets", change)
    w.record("tickets", ticket_row(state="DONE"))
    write_as_one_batch(w)

    assert change == {"ticket_id": "T1", "state": "COMPLETED"}


# -- refused rows ----------------------------------------------------------------------------------
def test_a_row_the_database_refuses_does_not_lose_the_rest_of_its_batch(make_writer, db):
    write_first(make_writer, ("fills", fill_row(exec_id="E1")))
    w = make_writer(start=False)

    w.record("fills", fill_row(exec_id="E2"))
    w.record("fills", fill_row(exec_id="E1", qty=D(9)))   # same venue/ExecID/ClOrdID: refused
    w.record("fills", fill_row(exec_id="E3"))
    w.record("orders", order_row())
    w.message(SESSION, "in", execution_report(), 5)
    w.start()
    assert w.flush()

    assert [(r["exec_id"], r["qty"]) for r in rows(db, "fills")] == [("E1", D(2)), ("E2", D(2)), ("E3", D(2))]
    assert len(rows(db, "orders")) == 1 and len(rows(db, "fix_messages")) == 1
    spilled = [json.loads(line) for line in w._spill_path.read_text().splitlines()]
    assert [(s["table"], s["row"]["exec_id"], s["row"]["qty"]) for s in spilled] == [("fills", "E1", "9")]
    assert w.stats.spilled == 1 and w.stats.errors >= 1


def test_a_record_for_an_unknown_table_is_set_aside_and_the_others_kept(make_writer, db):
    w = make_writer(start=False)

    w.record("fills", fill_row())
    w.record("no_such_table", {"x": 1})
    w.record("events", {"run_id": "R1", "ts_ns": 1, "kind": "alert"})
    w.start()
    assert w.flush()

    assert len(rows(db, "fills")) == 1 and len(rows(db, "events")) == 1
    assert [json.loads(s)["table"] for s in w._spill_path.read_text().splitlines()] == ["no_such_table"]


# -- flush and close -----------------------------------------------------------------------------
def test_flush_returns_after_everything_queued_before_it_is_committed(make_writer, db):
    w = make_writer(batch_max=64, linger_s=0.001)
    for i in range(1_000):
        w.message(SESSION, "in", execution_report(t17=f"E{i}"), i)

    assert w.flush() is True

    assert len(rows(db, "fix_messages")) == 1_000
    assert w.stats.rows["fix_messages"] == 1_000


def test_records_queued_before_start_are_written_once_started(make_writer, db):
    w = make_writer(start=False)
    w.record("fills", fill_row())

    w.start()
    assert w.flush()

    assert len(rows(db, "fills")) == 1


def test_close_writes_what_is_still_queued(make_writer, db):
    w = make_writer()
    w.record("fills", fill_row())

    w.close()
    w.close()  # a second close is harmless

    assert len(rows(db, "fills")) == 1


# -- file logs -------------------------------------------------------------------------------------
def test_file_logs_are_masked_too_and_private(make_writer, tmp_path):
    logs = tmp_path / "logs"
    w = make_writer(log_dir=logs)

    w.message(SESSION, "out", logon(t925=NEW_PASSWORD), 1_704_164_645_000_000_000)
    w.message(SESSION, "out", fix_text("A", ("96", TOKEN)), 1_704_164_645_000_000_000)
    w.session_event(SESSION, "Logon contents valid", 1_704_164_645_000_000_000)
    assert w.flush()
    w.close()

    messages = logs / "FIX.4.4-XMC-SHFE.messages.log"
    events = logs / "FIX.4.4-XMC-SHFE.event.log"
    assert messages.read_bytes().splitlines() == [
        b"20240102-03:04:05.000000 : " + masked(logon(t925=NEW_PASSWORD)),
        b"20240102-03:04:05.000000 : " + masked(fix_text("A", ("96", TOKEN)))]
    assert events.read_bytes() == b"20240102-03:04:05.000000 : Logon contents valid\n"
    assert stat.S_IMODE(os.stat(messages).st_mode) == 0o600
    data = all_bytes_under(logs)
    for secret in (PASSWORD, NEW_PASSWORD, TOKEN):
        assert secret.encode() not in data


def test_the_test_hold_keeps_every_row_after_the_first_match_until_close(audit_url, monkeypatch):
    from xmc_fix.audit.writer import TEST_HOLD_ENV
    monkeypatch.setenv(TEST_HOLD_ENV, "fix_messages:out:D")
    w = AuditWriter(audit_url, "R1").start()
    w.message(SESSION, "out", fix_text("0", seq=1), 1)
    w.message(SESSION, "out", fix_text("D", ("11", "C1"), seq=2), 2)
    w.message(SESSION, "out", fix_text("D", ("11", "C2"), seq=3), 3)
    w.event("verdict", 4, ok=True)
    assert w.flush()

    eng = create_engine(audit_url)
    with eng.connect() as conn:
        held = [r.seq_num for r in conn.execute(select(models.fix_messages.c.seq_num))]
    assert held == [1, 2]          # the first order and what came before it; the rest is "in flight"
    w.close()                      # a clean stop still writes everything
    with eng.connect() as conn:
        assert conn.execute(select(models.fix_messages.c.seq_num)).scalars().all() == [1, 2, 3]
        assert conn.execute(select(models.events.c.kind)).scalars().all() == ["verdict"]
    eng.dispose()
