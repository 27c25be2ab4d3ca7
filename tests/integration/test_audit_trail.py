"""The audit trail of a real run (the engine against the simulator over QuickFIX sessions), on SQLite
and on PostgreSQL: `xmc audit verify` passes; after any single row of fix_messages, tickets or events
is edited, deleted or inserted with plain SQL it fails naming that row (and passes again once the row
is put back); `xmc audit trace` works for every ticket of the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

from tests.integration.conftest import VENUE_SESSIONS
from xmc_fix.audit import models
from xmc_fix.audit.trace import trace
from xmc_fix.audit.verify import verify

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def xmc(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "xmc_fix", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


class Db:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)

    def sql(self, statement: str, **params):
        with self.engine.begin() as conn:
            res = conn.execute(text(statement), params)
            return res.all() if res.returns_rows else None

    def one(self, statement: str, **params):
        return self.sql(statement, **params)[0][0]

    def row(self, table: str, key_col: str, key) -> dict:
        t = models.TABLES[table]
        with self.engine.connect() as conn:
            return dict(conn.execute(select(t).where(t.c[key_col] == key)).mappings().one())

    def put_back(self, table: str, row: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(models.TABLES[table]), [row])


def tamperings(db: Db, run_id: str):
    """(what, table, key, do, undo) for each single-row edit, delete and insert of the three tables."""
    er = db.one("select max(id) from fix_messages where msg_type = '8' and direction = 'in' and run_id = :r", r=run_id)
    order_msg = db.one("select min(id) from fix_messages where msg_type = 'D' and run_id = :r", r=run_id)
    ticket = db.one("select min(ticket_id) from tickets where run_id = :r", r=run_id)
    other_ticket = db.one("select max(ticket_id) from tickets where run_id = :r", r=run_id)
    event = db.one("select min(id) from events where run_id = :r", r=run_id)
    other_event = db.one("select max(id) from events where run_id = :r", r=run_id)
    raw = bytes(db.one("select raw from fix_messages where id = :i", i=er))
    basis = db.one("select basis from tickets where ticket_id = :t", t=ticket)
    detail = db.one("select detail from events where id = :i", i=event)
    saved = {}

    def delete(table, col, key):
        def do():
            saved[(table, key)] = db.row(table, col, key)
            db.sql(f"delete from {table} where {col} = :k", k=key)
        return do, lambda: db.put_back(table, saved[(table, key)])

    def inserted(table, statement, params):
        def do():
            db.sql(statement, **params)
        col = models.CHAIN_KEYS[table]
        last = f"select max({col}) from {table}" if col == "id" else None
        return do, lambda: db.sql(f"delete from {table} where {col} = :k",
                                  k=db.one(last) if last else params["k"])

    yield ("edit", "fix_messages", er,
           lambda: db.sql("update fix_messages set raw = :r where id = :i", r=raw.replace(b"\x0131=", b"\x0131=1"), i=er),
           lambda: db.sql("update fix_messages set raw = :r where id = :i", r=raw, i=er))
    yield ("delete", "fix_messages", order_msg, *delete("fix_messages", "id", order_msg))
    yield ("insert", "fix_messages", None, *inserted(
        "fix_messages", "insert into fix_messages (run_id, session, venue, direction, admin, poss_dup, msg_type, "
                        "ts_ns, raw) values (:r, 'FIX.4.4:XMC->SHFE', 'SHFE', 'in', false, false, '8', 1, :raw)",
        {"r": run_id, "raw": raw}))
    yield ("edit", "tickets", ticket,
           lambda: db.sql("update tickets set basis = basis + 1 where ticket_id = :t", t=ticket),
           lambda: db.sql("update tickets set basis = :b where ticket_id = :t", b=str(basis), t=ticket))
    yield ("delete", "tickets", other_ticket, *delete("tickets", "ticket_id", other_ticket))
    yield ("insert", "tickets", "T-FORGED", *inserted(
        "tickets", "insert into tickets (ticket_id, run_id, pair, direction, intent, state, created_ns) "
                   "values (:k, :r, 'CU_SHFE_LME', 'SELL_BASIS', 'OPEN', 'COMPLETED', 1)", {"k": "T-FORGED", "r": run_id}))
    yield ("edit", "events", event,
           lambda: db.sql("update events set detail = :d where id = :i", d='{"edited": true}', i=event),
           lambda: db.sql("update events set detail = :d where id = :i", d=detail, i=event))
    yield ("delete", "events", other_event, *delete("events", "id", other_event))
    yield ("insert", "events", None, *inserted(
        "events", "insert into events (run_id, ts_ns, kind) values (:r, 1, 'verdict')", {"r": run_id}))


def test_a_real_run_verifies_fails_naming_each_tampered_row_and_every_ticket_traces(sim, engine_factory, audit_url,
                                                                                    tmp_path):
    eng = engine_factory(db_url=audit_url)
    summary = eng.run(8)
    sim.proc.stop()
    assert summary["tickets"] >= 1, summary
    store = str(tmp_path / "store-engine")
    log = str(tmp_path / "xmc.log")

    # untouched: passes, from a real process, with the FileStore the run recorded (runs.config stores)
    res = xmc("--log-file", log, "audit", "verify", "--db", audit_url)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{VENUE_SESSIONS} session(s)" in res.stdout and "runs.config stores" in res.stdout
    assert "OK: 1 run(s)" in res.stdout
    seal = eng.audit.chain_length, eng.audit.chain_head
    assert f"chain {seal[0]} entries, sealed, head {seal[1]}" in res.stdout

    db = Db(audit_url)
    try:
        for what, table, key, do, undo in tamperings(db, eng.run_id):
            do()
            result = verify(audit_url, store=store)
            first = result.first
            assert first is not None, f"{what} {table}: not detected"
            if key is None:   # an inserted row: its id is the newest
                key = db.one(f"select max(id) from {table}")
            expect = {"edit": "changed", "delete": "deleted", "insert": "inserted"}[what]
            assert (first.kind, first.table, first.key, first.run_id) == (expect, table, str(key), eng.run_id), \
                f"{what} {table} {key}: {result.render()}"
            undo()
            assert verify(audit_url, store=store).ok, f"after undoing {what} {table}"

        # the same through the command: exit 1 and the row on the FAIL line
        db.sql("update events set kind = 'forged' where id = (select min(id) from events)")
        res = xmc("--log-file", log, "audit", "verify", "--db", audit_url, "--store", store)
        eid = db.one("select min(id) from events")
        assert res.returncode == 1 and f"FAIL: events id={eid} (run {eng.run_id}): changed" in res.stdout
    finally:
        db.engine.dispose()

    # every ticket of the run traces, from market data to its last transition
    db = Db(audit_url)
    tickets = [t for (t,) in db.sql("select ticket_id from tickets where run_id = :r", r=eng.run_id)]
    db.engine.dispose()
    assert len(tickets) == summary["tickets"]
    for tid in tickets:
        tr = trace(audit_url, tid)
        kinds = {s["step"] for s in tr["steps"]}
        assert {"market data", "decision", "risk", "order", "fix out", "fix in", "ticket"} <= kinds, (tid, kinds)
        assert [s["ts_ns"] for s in tr["steps"]] == sorted(s["ts_ns"] for s in tr["steps"])
    res = xmc("--log-file", log, "audit", "trace", tickets[0], "--db", audit_url, "--format", "json")
    assert res.returncode == 0 and json.loads(res.stdout)["ticket"]["ticket_id"] == tickets[0]
