"""``xmc audit verify`` on a database written by the real writer: it passes untouched and, after any
single row is edited, deleted or inserted with plain SQL (in any chained table, or in the chain
itself), it fails naming that row. The FileStore is a second witness for outgoing messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from xmc_fix.audit import chain
from xmc_fix.audit.filestore import store_prefix
from xmc_fix.audit.verify import verify
from xmc_fix.cli import cli
from xmc_fix.errors import ConfigError
from tests.unit.audit.audit_stubs import PASSWORD, SESSION, outgoing_messages, write_run, write_store


@pytest.fixture
def run(audit_url, tmp_path):
    """One finished run with its FileStore (recorded in runs.config)."""
    return write_run(audit_url, store_dir=tmp_path / "store")


def sql(url: str, statement: str, **params):
    """What an operator with a plain SQL client can do."""
    eng = create_engine(url)
    with eng.begin() as conn:
        res = conn.execute(text(statement), params)
        out = res.all() if res.returns_rows else None
    eng.dispose()
    return out


def one(url: str, statement: str, **params):
    return sql(url, statement, **params)[0][0]


def first(result) -> tuple:
    p = result.first
    return (p.kind, p.table, p.key, p.run_id)


# -- untouched -----------------------------------------------------------------------------------
def test_an_untouched_run_verifies_chain_rows_and_store(audit_url, run):
    result = verify(audit_url)

    assert result.ok, result.render()
    [rc] = result.runs
    assert (rc.run_id, rc.entries, rc.head, rc.sealed) == ("R1", run.length, run.head, True)
    assert rc.store_messages == 4 and "1 session(s)" in rc.store
    assert result.rows_checked == (one(audit_url, "select count(*) from fix_messages")
                                   + one(audit_url, "select count(*) from fix_message_batches") + 2 + 2 + 2 + 1 + 1 + 1 + 1)
    assert one(audit_url, "select count(*) from fix_message_batches") == 2   # the snapshot and the refresh


def test_the_logon_password_masked_two_ways_still_matches_the_store(audit_url, run, tmp_path):
    body = store_prefix(tmp_path / "store", SESSION).with_name("FIX.4.4-XMC-SHFE.body").read_bytes()
    stored = bytes(one(audit_url, "select raw from fix_messages where msg_type = 'A' and direction = 'out'"))

    assert b"554=" + b"*" * len(PASSWORD) in body and b"\x01554=***\x01" in stored
    assert verify(audit_url).ok


# -- one row changed, deleted or inserted ---------------------------------------------------------------
EDITS = {
    "fix_messages": "update fix_messages set ts_ns = ts_ns + 1 where id = :id",
    "fix_message_batches": "update fix_message_batches set seqs = '2-3' where id = :id",
    "tickets": "update tickets set basis = '999' where ticket_id = :id",
    "events": "update events set detail = '{\"ok\": false}' where id = :id",
    "orders": "update orders set price = 1 where cl_ord_id = :id",
    "fills": "update fills set qty = 50 where id = :id",
    "ticket_events": "update ticket_events set cause = 'edited' where id = :id",
    "session_events": "update session_events set text = 'edited' where id = :id",
    "runs": "update runs set command = 'edited' where run_id = :id",
}
KEYS = {"fix_messages": "select max(id) from fix_messages where direction = 'in'",
        "fix_message_batches": "select min(id) from fix_message_batches",
        "tickets": "select ticket_id from tickets", "events": "select min(id) from events",
        "orders": "select min(cl_ord_id) from orders", "fills": "select min(id) from fills",
        "ticket_events": "select min(id) from ticket_events", "session_events": "select min(id) from session_events",
        "runs": "select run_id from runs"}
KEY_COLUMN = {"tickets": "ticket_id", "orders": "cl_ord_id", "runs": "run_id"}


@pytest.mark.parametrize("table", EDITS)
def test_an_edited_row_is_named(audit_url, run, table):
    key = one(audit_url, KEYS[table])

    sql(audit_url, EDITS[table], id=key)

    result = verify(audit_url)
    assert not result.ok
    assert first(result) == ("changed", table, str(key), "R1"), result.render()


@pytest.mark.parametrize("table", [t for t in EDITS if t != "runs"])
def test_a_deleted_row_is_named(audit_url, run, table):
    key = one(audit_url, KEYS[table])

    sql(audit_url, f"delete from {table} where {KEY_COLUMN.get(table, 'id')} = :id", id=key)

    result = verify(audit_url)
    assert first(result) == ("deleted", table, str(key), "R1"), result.render()


INSERTS = {
    "fix_messages": ("insert into fix_messages (run_id, session, direction, admin, poss_dup, ts_ns, raw, msg_type) "
                     "values ('R1', :s, 'in', false, false, 1, :raw, '8')", {"s": SESSION, "raw": b"8=FIX.4.4\x01"}),
    "tickets": ("insert into tickets (ticket_id, run_id, pair, direction, intent, state, created_ns) "
                "values ('T-FAKE', 'R1', 'CU_SHFE_LME', 'SELL_BASIS', 'OPEN', 'COMPLETED', 1)", {}),
    "events": ("insert into events (run_id, ts_ns, kind) values ('R1', 1, 'verdict')", {}),
}


@pytest.mark.parametrize("table", INSERTS)
def test_an_inserted_row_is_named(audit_url, run, table):
    statement, params = INSERTS[table]

    sql(audit_url, statement, **params)

    result = verify(audit_url)
    kind, t, key, run_id = first(result)
    assert (kind, t, run_id) == ("inserted", table, "R1"), result.render()
    assert key == ("T-FAKE" if table == "tickets" else str(one(audit_url, f"select max(id) from {table}")))


def test_one_byte_changed_in_a_message_stored_in_bulk_names_its_batch(audit_url, run):
    bid, raw = sql(audit_url, "select id, raw from fix_message_batches where msg_type = 'X'")[0]
    raw = bytes(raw)
    assert raw.count(b"\x01270=77300\x01") == 1

    sql(audit_url, "update fix_message_batches set raw = :r where id = :i", r=raw.replace(b"270=77300", b"270=77301"),
        i=bid)

    result = verify(audit_url)
    assert first(result) == ("changed", "fix_message_batches", str(bid), "R1"), result.render()


# -- the chain itself ---------------------------------------------------------------------------------
def test_an_edited_chain_entry_is_named_by_the_row_it_describes(audit_url, run):
    sql(audit_url, "update audit_chain set row_hash = :h where seq = 5", h="0" * 64)

    result = verify(audit_url)
    table, key = sql(audit_url, "select table_name, row_key from audit_chain where seq = 5")[0]
    assert first(result) == ("chain", table, key, "R1")
    assert "seq 5 was altered" in result.first.detail


def test_a_deleted_chain_entry_is_a_gap(audit_url, run):
    sql(audit_url, "delete from audit_chain where seq = 7")

    result = verify(audit_url)
    assert result.first.kind == "chain" and "seq 7..7 are missing" in result.first.detail


def test_rows_removed_from_the_end_with_their_entries_break_the_seal(audit_url, run):
    # the last batch: delete its rows and their chain entries, consistently
    last = sql(audit_url, "select seq, table_name, row_key from audit_chain where seq > :n order by seq",
               n=run.length - 3)
    for seq, table, key in last:
        if table in ("fix_messages", "events", "ticket_events", "fills", "session_events"):
            sql(audit_url, f"delete from {table} where id = :id", id=int(key))
        sql(audit_url, "delete from audit_chain where seq = :s", s=seq)

    result = verify(audit_url)
    assert not result.ok
    assert any(p.kind == "deleted" and "sealed at" in p.detail for p in result.problems), result.render()


def test_a_chain_rewritten_after_an_edit_passes_alone_but_not_against_the_anchored_head(audit_url, run):
    fid = one(audit_url, "select max(id) from fix_messages where direction = 'in'")
    sql(audit_url, "update fix_messages set ts_ns = ts_ns + 1 where id = :id", id=fid)
    _recompute_chain(audit_url, "R1")

    assert verify(audit_url).ok                          # what the database alone can tell
    anchored = verify(audit_url, "R1", head=run.head)    # with the head printed at the end of the run
    assert not anchored.ok and anchored.first.kind == "chain" and run.head in anchored.first.detail


def _recompute_chain(url: str, run_id: str) -> None:
    """The attack the chain alone cannot see: every hash recomputed from the rows, seal updated."""
    from xmc_fix.audit import models
    from sqlalchemy import select

    eng = create_engine(url)
    with eng.begin() as conn:
        entries = conn.execute(select(models.audit_chain).where(models.audit_chain.c.run_id == run_id)
                               .order_by(models.audit_chain.c.seq)).mappings().all()
        prev = chain.genesis(run_id)
        for e in entries:
            t = models.TABLES[e["table_name"]]
            col = t.c[models.CHAIN_KEYS[e["table_name"]]]
            key = int(e["row_key"]) if models.CHAIN_KEYS[e["table_name"]] == "id" else e["row_key"]
            row = conn.execute(select(t).where(col == key)).mappings().first()
            rh = chain.row_hash(t, row, conn.dialect) if row is not None else e["row_hash"]
            h = chain.link(prev, e["seq"], e["table_name"], e["row_key"], rh)
            conn.execute(models.audit_chain.update().where(models.audit_chain.c.id == e["id"])
                         .values(row_hash=rh, prev_hash=prev, hash=h))
            prev = h
        conn.execute(models.runs.update().where(models.runs.c.run_id == run_id).values(chain_head=prev))
    eng.dispose()


# -- the FileStore as a second witness ---------------------------------------------------------------
def test_a_message_changed_in_the_store_is_named(audit_url, run, tmp_path):
    body = store_prefix(tmp_path / "store", SESSION).with_name("FIX.4.4-XMC-SHFE.body")
    body.write_bytes(body.read_bytes().replace(b"44=77270", b"44=77280"))

    result = verify(audit_url)
    rid = one(audit_url, "select id from fix_messages where msg_type = 'D'")
    assert first(result) == ("changed", "fix_messages", str(rid), "R1")
    assert "out seq 3 differs from QuickFIX's store" in result.first.detail


def test_a_stored_message_missing_from_the_database_and_one_the_store_never_had(audit_url, run, tmp_path):
    messages = dict(run.outgoing)
    del messages[2]
    messages[5] = run.outgoing[4].replace("34=4", "34=5")
    write_store(tmp_path / "store", SESSION, messages)

    result = verify(audit_url)
    rid = one(audit_url, "select id from fix_messages where msg_type = 'V'")
    kinds = {(p.kind, p.key) for p in result.problems}
    assert ("inserted", str(rid)) in kinds                # the database has seq 2, the store does not
    assert any(p.kind == "deleted" and "out seq 5" in p.detail for p in result.problems)


def test_without_a_recorded_store_only_the_chain_is_checked_and_that_is_said(audit_url, tmp_path):
    write_run(audit_url, spill_dir=tmp_path)

    result = verify(audit_url)
    assert result.ok and "not checked" in result.runs[0].store
    assert "not checked" in result.render()


def test_store_given_on_the_command_line(audit_url, tmp_path):
    write_run(audit_url, spill_dir=tmp_path)
    write_store(tmp_path / "elsewhere", SESSION, outgoing_messages("R1-1"))

    result = verify(audit_url, store=str(tmp_path / "elsewhere"))
    assert result.ok and result.runs[0].store_messages == 4


# -- runs --------------------------------------------------------------------------------------------
def test_one_run_among_several(audit_url, tmp_path):
    write_run(audit_url, "R1", spill_dir=tmp_path)
    write_run(audit_url, "R2", spill_dir=tmp_path, t0=1_700_000_100_000_000_000)
    sql(audit_url, "update events set kind = 'edited' where run_id = 'R1'")

    assert verify(audit_url, "R2").ok
    assert verify(audit_url, "R1").first.run_id == "R1"
    assert not verify(audit_url, "all").ok


def test_latest_is_the_latest_engine_run(audit_url, tmp_path):
    write_run(audit_url, "R1", spill_dir=tmp_path)
    write_run(audit_url, "R2", spill_dir=tmp_path, t0=1_700_000_100_000_000_000)

    assert [r.run_id for r in verify(audit_url, "latest").runs] == ["R2"]


def test_a_run_written_before_the_chain_existed_is_one_problem_not_hundreds(audit_url, tmp_path):
    write_run(audit_url, "R1", spill_dir=tmp_path)
    sql(audit_url, "delete from audit_chain")
    sql(audit_url, "update runs set chain_length = null, chain_head = null")

    result = verify(audit_url)
    assert [p.kind for p in result.problems] == ["unchained"]
    assert result.first.key == "R1"


def test_an_unknown_run_is_a_configuration_error(audit_url, tmp_path):
    write_run(audit_url, spill_dir=tmp_path)

    with pytest.raises(ConfigError, match="run 'NOPE' not found"):
        verify(audit_url, "NOPE")


# -- the command -------------------------------------------------------------------------------------
def test_the_command_exits_0_then_1_naming_the_row(audit_url, run, tmp_path):
    runner = CliRunner()
    args = ["--log-file", str(tmp_path / "x.log"), "audit", "verify", "--db", audit_url]

    ok = runner.invoke(cli, args)
    fid = one(audit_url, "select min(id) from fix_messages")
    sql(audit_url, "delete from fix_messages where id = :id", id=fid)
    bad = runner.invoke(cli, args + ["--format", "json"])

    assert ok.exit_code == 0 and "OK: 1 run(s)" in ok.output
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert (doc["first"]["table"], doc["first"]["key"], doc["first"]["kind"]) == ("fix_messages", str(fid), "deleted")


def test_the_command_on_a_missing_database_exits_2(tmp_path):
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "audit", "verify", "--db",
                                   f"sqlite:///{tmp_path / 'none.db'}"])
    assert res.exit_code == 2 and "database not found" in res.output


def test_a_database_without_a_chain_fails_verification(tmp_path):
    db = tmp_path / "old.db"
    sql(f"sqlite:///{db}", "create table runs (run_id text)")

    result = verify(f"sqlite:///{db}")
    assert not result.ok and result.first.table == "audit_chain"


def test_the_run_and_demo_commands_print_the_sealed_head(audit_url, run):
    from xmc_fix.cli import _chain_line

    assert _chain_line(audit_url, "R1") == f"audit chain: run R1 sealed at {run.length} entries, head {run.head}"
    assert "not sealed" in _chain_line(audit_url, "R9")


def test_verify_reads_only(audit_url, run, tmp_path):
    before = sql(audit_url, "select count(*), max(seq) from audit_chain")
    store_files = {p: p.read_bytes() for p in Path(tmp_path / "store").iterdir()}

    verify(audit_url)

    assert sql(audit_url, "select count(*), max(seq) from audit_chain") == before
    assert {p: p.read_bytes() for p in Path(tmp_path / "store").iterdir()} == store_files
