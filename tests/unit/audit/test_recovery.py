"""A run that died with rows in flight is completed at the next start from QuickFIX's store and the
journal, sealed, and ``xmc audit verify`` tells its crash gap apart from tampering.

The crashed run is written through the real AuditWriter up to the moment it "dies" (what it had
committed), then left as a ``kill -9`` leaves it: no end, no seal, its process gone. Its store and
journal hold what the writer never committed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from xmc_fix.audit.completeness import audit_completeness
from xmc_fix.audit.recovery import crashed_runs, recover_crashed_runs
from xmc_fix.audit.verify import verify
from xmc_fix.audit.writer import AuditWriter
from xmc_fix.execution.journal import Journal
from tests.unit.audit.audit_stubs import MS, SESSION, STORE_CREATED, T0, fix_text, incoming, write_store

INSTRUMENTS = {"SHFE_CU": ("SHFE", "CU"), "LME_CA": ("LME", "CA")}
VENUES = {SESSION: "SHFE"}
TID, CL1, CL2 = "X-T1", "Xabc-1", "Xabc-2"


def sql(url: str, statement: str, **params):
    eng = create_engine(url)
    with eng.begin() as conn:
        res = conn.execute(text(statement), params)
        out = res.all() if res.returns_rows else None
    eng.dispose()
    return out


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def sent() -> dict[int, str]:
    """What QuickFIX sent in the run, by sequence number (its store keeps all of it)."""
    return {1: fix_text("A", ("98", "0"), ("108", "10"), ("553", "trader"), ("554", "pw-secret"), seq=1),
            2: fix_text("V", ("262", "M1"), ("263", "1"), ("264", "5"), ("146", "1"), ("55", "CU"), seq=2),
            3: fix_text("D", ("11", CL1), ("55", "CU"), ("54", "2"), ("38", "5"), ("40", "2"), ("44", "77270"),
                        ("59", "3"), seq=3, sending_time="20231114-22:13:21.000000"),
            4: fix_text("D", ("11", CL2), ("55", "CA"), ("54", "1"), ("38", "1"), ("40", "2"), ("44", "9510.5"),
                        ("59", "3"), seq=4, sending_time="20231114-22:13:21.000100"),
            5: fix_text("0", seq=5, sending_time="20231114-22:13:22.000000")}


def journal_lines(path: Path, *, end: bool = True) -> None:
    j = Journal(path, sync="none")
    j.write("intent", ticket={"ticket_id": TID, "pair": "CU_SHFE_LME", "direction": "SELL_BASIS", "intent": "OPEN",
                              "created_ns": T0 + 900 * MS, "state": "PENDING", "closes": None, "aim": "0",
                              "lots": {"INNER": "5", "OUTER": "1"},
                              "decision": {"basis": "262.5", "threshold": "250", "inner_px": "77300",
                                           "outer_px": "9500.5", "outer_converted": "77037.49", "fx": "7.2",
                                           "planned_residual": "0"}},
            orders=[{"ticket_id": TID, "leg": "INNER", "role": "ENTRY", "cl_ord_id": CL1, "instrument": "SHFE_CU",
                     "side": "SELL", "qty": "5", "ord_type": "LIMIT", "price": "77270", "tif": "IOC",
                     "account": None, "position_effect": None, "created_ns": T0 + 900 * MS},
                    {"ticket_id": TID, "leg": "OUTER", "role": "ENTRY", "cl_ord_id": CL2, "instrument": "LME_CA",
                     "side": "BUY", "qty": "1", "ord_type": "LIMIT", "price": "9510.5", "tif": "IOC",
                     "account": None, "position_effect": None, "created_ns": T0 + 900 * MS}])
    j.write("fill", pair="CU_SHFE_LME", leg="INNER", ticket_id=TID, cl_ord_id=CL1, exec_id="E1", instrument="SHFE_CU",
            account=None, side="SELL", qty="5", px="77300", realised="0", day="20231115")
    j.write("fill", pair="CU_SHFE_LME", leg="OUTER", ticket_id=TID, cl_ord_id=CL2, exec_id="E2", instrument="LME_CA",
            account=None, side="BUY", qty="1", px="9510", realised="0", day="20231115")
    if end:
        j.write("end", ticket_id=TID, state="COMPLETED", net={"INNER": "-5", "OUTER": "1"})
    j.close()


def crashed_run(url: str, tmp_path: Path, *, committed_out: int, ticket_row: bool = False,
                run_id: str = "X-crashed") -> dict:
    """A run that committed its first ``committed_out`` outgoing messages (and, with ``ticket_row``, the
    ticket as WORKING with its orders) and then died; its store and journal hold the rest."""
    store, journal = tmp_path / "store", tmp_path / "journal.jsonl"
    config = {"stores": {SESSION: str(store)}, "journal": str(journal),
              "store_marks": {SESSION: {"start": {"created": STORE_CREATED, "next_out": 1, "next_in": 1}}}}
    w = AuditWriter(url, run_id, venues_by_session=VENUES).start()
    w.record("runs", {"run_id": run_id, "role": "engine", "started_ns": T0, "host": socket.gethostname(),
                      "pid": dead_pid(), "namespace": "X", "command": "xmc run", "config": json.dumps(config)})
    out = sent()
    for seq in range(1, committed_out + 1):
        w.message(SESSION, "out", out[seq], T0 + seq * MS)
    w.message(SESSION, "in", incoming("A", ("98", "0"), ("108", "10"), seq=1), T0 + 10 * MS)
    w.message(SESSION, "in", incoming("0", seq=2), T0 + 11 * MS)
    if ticket_row:
        w.record("tickets", {"ticket_id": TID, "run_id": run_id, "pair": "CU_SHFE_LME", "direction": "SELL_BASIS",
                             "intent": "OPEN", "state": "WORKING", "created_ns": T0 + 900 * MS})
        for cl, leg, venue, sym, side, qty in ((CL1, "INNER", "SHFE", "CU", "SELL", D(5)),
                                              (CL2, "OUTER", "LME", "CA", "BUY", D(1))):
            w.record("orders", {"cl_ord_id": cl, "run_id": run_id, "ticket_id": TID, "leg": leg, "role": "ENTRY",
                                "venue": venue, "symbol": sym, "side": side, "qty": qty, "ord_type": "LIMIT",
                                "tif": "IOC", "status": "NEW", "cum_qty": D(0), "created_ns": T0 + 900 * MS})
    w.event("verdict", T0 + 12 * MS, pair="CU_SHFE_LME", ok=True)
    w.close()
    # what kill -9 leaves: the seal is written only by a writer that closes; the run never ended
    sql(url, "update runs set chain_length = null, chain_head = null where run_id = :r", r=run_id)
    store_msgs = sent()
    write_store(store, SESSION, store_msgs)
    (store / "FIX.4.4-XMC-SHFE.seqnums").write_text(f"{6:020d} : {6:020d}")   # it had received up to 5
    journal_lines(journal)
    return {"run_id": run_id, "journal": journal, "store": store}


def recover(url: str, run: dict):
    return recover_crashed_runs(url, "X", journal_path=run["journal"], instruments=INSTRUMENTS,
                                venues_by_session=VENUES, current_run_id="X-next")


# -- before the next start ------------------------------------------------------------------------------
def test_the_tail_a_crash_lost_is_a_crash_gap_not_deleted_rows(audit_url, tmp_path):
    crashed_run(audit_url, tmp_path, committed_out=2)

    result = verify(audit_url)

    assert not result.ok
    kinds = {p.kind for p in result.problems}
    assert kinds == {"crash_gap"}, result.render()
    (gap,) = result.problems
    assert "out seq 3..5 (3 message(s))" in gap.detail and "process died" in gap.detail
    assert "the run never ended" in result.runs[0].crash


def test_a_message_missing_before_the_last_committed_one_is_still_deleted(audit_url, tmp_path):
    crashed_run(audit_url, tmp_path, committed_out=4)
    sql(audit_url, "delete from fix_messages where direction = 'out' and seq_num = 2")

    result = verify(audit_url)

    deleted = [p for p in result.problems if p.kind == "deleted"]
    assert deleted and any("out seq 2 is in QuickFIX's store" in p.detail for p in deleted), result.render()
    assert all("seq 2" not in p.detail for p in result.problems if p.kind == "crash_gap")


def test_a_run_whose_process_is_alive_is_left_alone(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=2)
    sql(audit_url, "update runs set pid = :p where run_id = :r", p=os.getppid(), r=run["run_id"])

    assert crashed_runs(audit_url, "X") == []
    assert recover(audit_url, run) == []
    result = verify(audit_url)
    assert not any(p.kind == "crash_gap" for p in result.problems)
    assert any("still running" in n for n in result.notes), result.notes


# -- completed at the next start ------------------------------------------------------------------------
def test_the_next_start_completes_the_run_from_store_and_journal_and_seals_it(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=2)

    (rec,) = recover(audit_url, run)

    assert rec.messages == {SESSION: 3}
    assert rec.lost_incoming == {SESSION: {"first": 3, "last": 5, "count": 3}}
    out = sql(audit_url, "select seq_num, msg_type, cl_ord_id, recovered, raw from fix_messages "
                         "where direction = 'out' order by seq_num")
    assert [(s, t, c, r) for s, t, c, r, _ in out] == [(1, "A", None, None), (2, "V", None, None),
                                                       (3, "D", CL1, "filestore"), (4, "D", CL2, "filestore"),
                                                       (5, "0", None, "filestore")]
    assert [(t, s, r) for t, s, r in sql(audit_url, "select ticket_id, state, recovered from tickets")] == \
        [(TID, "COMPLETED", "journal")]
    orders = sql(audit_url, "select cl_ord_id, venue, status, cum_qty, recovered from orders order by cl_ord_id")
    assert [(c, v, s, D(q), r) for c, v, s, q, r in orders] == [(CL1, "SHFE", "FILLED", D(5), "journal"),
                                                                (CL2, "LME", "FILLED", D(1), "journal")]
    fills = sql(audit_url, "select exec_id, venue, qty, price, recovered from fills order by exec_id")
    assert [(e, v, D(q), D(p), r) for e, v, q, p, r in fills] == [("E1", "SHFE", D(5), D(77300), "journal"),
                                                                 ("E2", "LME", D(1), D(9510), "journal")]
    ended, length, summary = sql(audit_url, "select ended_ns, chain_length, summary from runs")[0]
    assert ended is not None and length is not None
    s = json.loads(summary)
    assert s["crashed"] and s["chain_length_at_crash"] == rec.committed and s["fills"] == 2
    assert sql(audit_url, "select count(*) from events where kind = 'audit_recovered'")[0][0] == 1
    assert crashed_runs(audit_url, "X") == []      # sealed: the start after that has nothing to do

    result = verify(audit_url)
    assert result.ok, result.render()
    crash = result.runs[0].crash
    assert f"died with {rec.committed} chain entries committed" in crash
    assert "3 outgoing message(s) from QuickFIX's store" in crash and "2 fill(s) from the journal" in crash
    assert "known gap: 3 incoming message(s)" in crash


def test_a_ticket_the_database_had_working_is_ended_as_the_journal_ended_it(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=4, ticket_row=True)

    (rec,) = recover(audit_url, run)

    assert rec.tickets_ended == [TID] and rec.tickets == [] and rec.messages == {SESSION: 1}
    state, ended, inner, outer, recovered = sql(
        audit_url, "select state, ended_ns, inner_filled_lots, outer_filled_lots, recovered from tickets")[0]
    assert (state, D(inner), D(outer), recovered) == ("COMPLETED", D(5), D(1), "journal")
    assert ended is not None
    assert {s for (s,) in sql(audit_url, "select status from orders")} == {"FILLED"}
    assert verify(audit_url).ok


def test_coverage_of_the_completed_run_counts_the_lost_incoming_as_a_known_gap(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=2)
    recover(audit_url, run)

    cov = audit_completeness(audit_url, run["run_id"])

    sess = cov["sessions"][SESSION]
    assert sess["out"]["complete"] and sess["out"]["store_compared"] == 5
    assert sess["in"]["missing"] == 3 and sess["in"]["known_gap"] == 3
    assert cov["known_gap"] == 3 and cov["crashed"] and "known gap" in cov["note"]


# -- tampering with a completed run is still tampering ------------------------------------------------
def test_a_row_deleted_from_the_committed_chain_of_a_completed_run_is_deleted(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=2)
    recover(audit_url, run)
    fid = sql(audit_url, "select id from fix_messages where direction = 'out' and seq_num = 2")[0][0]

    sql(audit_url, "delete from fix_messages where id = :i", i=fid)

    result = verify(audit_url)
    assert (result.first.kind, result.first.table, result.first.key) == ("deleted", "fix_messages", str(fid)), \
        result.render()


def test_a_recovered_row_deleted_afterwards_is_deleted(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=2)
    recover(audit_url, run)

    sql(audit_url, "delete from fills where exec_id = 'E2'")

    result = verify(audit_url)
    assert result.first.kind == "deleted" and result.first.table == "fills", result.render()


def test_an_entry_after_the_crash_point_that_is_not_a_recovered_row_is_named(audit_url, tmp_path):
    run = crashed_run(audit_url, tmp_path, committed_out=2)
    recover(audit_url, run)
    # someone clears the mark of a recovered row and recomputes its chain entry and every later one
    from tests.unit.audit.test_verify import _recompute_chain
    sql(audit_url, "update fills set recovered = null where exec_id = 'E1'")
    _recompute_chain(audit_url, run["run_id"])

    result = verify(audit_url)
    assert result.first.kind == "inserted" and result.first.table == "fills", result.render()
    assert "comes after the crash" in result.first.detail


def test_a_database_written_before_the_recovered_column_still_verifies(audit_url, tmp_path):
    from tests.unit.audit.audit_stubs import write_run
    write_run(audit_url, store_dir=tmp_path / "store")
    for table in ("fix_messages", "tickets", "orders", "fills"):
        sql(audit_url, f"alter table {table} drop column recovered")

    result = verify(audit_url)

    assert result.ok, result.render()


def test_the_trace_of_a_completed_ticket_says_which_rows_were_recovered_and_from_where(audit_url, tmp_path):
    from xmc_fix.audit.trace import trace
    run = crashed_run(audit_url, tmp_path, committed_out=2)
    recover(audit_url, run)

    steps = {(s["step"], s["detail"].rsplit(" [", 1)[-1]) for s in trace(audit_url, TID)["steps"]
             if "recovered after a crash" in s["detail"]}

    assert ("fix out", "recovered after a crash from QuickFIX's store]") in steps
    assert ("fill", "recovered after a crash from the journal]") in steps
    assert ("order", "recovered after a crash from the journal]") in steps
