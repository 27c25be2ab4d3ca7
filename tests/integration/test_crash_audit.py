"""A crash loses nothing from the audit: ``xmc run`` is killed with ``kill -9`` while its audit writer
certainly holds rows (the writer's test hook keeps everything after a chosen row in memory, as a slow
database would), then started again. The restart completes the dead run from QuickFIX's store and
the journal and seals it: every NewOrderSingle the simulator received is in the engine's audit
database, every ticket the journal ended is ended there, and ``xmc audit verify`` passes on the
result, naming the crash gap as such."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.integration.conftest import start_sim, wait_until
from tests.integration.test_repair import _rows, _scenario, _xmc_run
from xmc_fix.audit.verify import verify
from xmc_fix.audit.writer import TEST_HOLD_ENV
from xmc_fix.execution.journal import history

pytestmark = pytest.mark.integration

# LME answers the ticket's order 1.5 s late: the ticket is WORKING that long, then ends
LME_LATE = '[[script]]\nvenue = "LME"\norder = 1\naction = "delay"\nms = 1500\n'


@pytest.mark.parametrize("hold", [
    "fix_messages:out:D",     # the first order committed; the second, the ticket, its fills and end in flight
    "tickets",                # the ticket committed as it started; its end and fills in flight
])
def test_kill_9_with_audit_rows_in_flight_then_restart_completes_and_seals_the_dead_run(tmp_path, monkeypatch, hold):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, LME_LATE)])
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    journal = tmp_path / "journal.jsonl"
    try:
        monkeypatch.setenv(TEST_HOLD_ENV, hold)
        first = _xmc_run(tmp_path, sim, db, 60, "run1.log")
        monkeypatch.delenv(TEST_HOLD_ENV)
        ended = lambda: journal.exists() and '"k":"end"' in journal.read_text()  # noqa: E731
        assert wait_until(ended, 40), (tmp_path / "run1.log").read_text()[-3000:]
        assert wait_until(lambda: len(_sim_orders(sim)) >= 2, 10)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        time.sleep(0.2)            # its audit writer process follows it (SIGTERM from the kernel)

        # what the crash left: orders at the venue the audit lacks, or a ticket it has as working
        (run1,) = [r for (r,) in _rows(db, "select run_id from runs where role='engine'")]
        at_venue = _sim_orders(sim)
        in_audit_before = {c for (c,) in _rows(db, "select cl_ord_id from fix_messages where run_id=:r "
                                                   "and direction='out' and msg_type='D'", r=run1)}
        ended_in_journal = {r["ticket_id"]: r["state"] for r in history(journal) if r["k"] == "end"}
        states = dict(_rows(db, "select ticket_id, state from tickets"))
        if hold == "tickets":
            assert states and all(s in ("PENDING", "WORKING") for s in states.values()), states
        else:
            assert at_venue - in_audit_before, "every order was already in the audit: nothing was in flight"
        assert _rows(db, "select ended_ns, chain_length from runs where run_id=:r", r=run1) == [(None, None)]

        second = _xmc_run(tmp_path, sim, db, 6, "run2.log")
        assert second.wait(60) == 0, (tmp_path / "run2.log").read_text()[-3000:]
    finally:
        sim.proc.stop()

    # every order that reached the venue is in the audit, recovered from QuickFIX's store
    recovered_out = {c for (c,) in _rows(db, "select cl_ord_id from fix_messages where run_id=:r and direction='out' "
                                             "and msg_type='D' and recovered='filestore'", r=run1)}
    in_audit = {c for (c,) in _rows(db, "select cl_ord_id from fix_messages where direction='out' and msg_type='D'")}
    assert at_venue <= in_audit, at_venue - in_audit
    if hold != "tickets":
        assert recovered_out and recovered_out == at_venue - in_audit_before
    # every ticket the journal ended is ended in the audit, its orders and fills there
    states = dict(_rows(db, "select ticket_id, state from tickets"))
    assert ended_in_journal and all(states.get(t) == s for t, s in ended_in_journal.items()), (ended_in_journal, states)
    orders = dict(_rows(db, "select cl_ord_id, status from orders"))
    assert at_venue <= set(orders) and all(orders[c] == "FILLED" for c in at_venue), orders
    fills = {c for (c,) in _rows(db, "select cl_ord_id from fills")}
    assert at_venue <= fills
    # the dead run is sealed, says it crashed and what was recovered; the restart says so too
    ended_ns, length, summary = _rows(db, "select ended_ns, chain_length, summary from runs where run_id=:r",
                                      r=run1)[0]
    s = json.loads(summary)
    assert ended_ns and length and s["crashed"] and s["lost_incoming"], s
    assert _rows(db, "select count(*) from events where kind='crashed_run_recovered'")[0][0] == 1

    result = verify(db, "all")
    assert result.ok, result.render()
    rc = next(r for r in result.runs if r.run_id == run1)
    assert rc.sealed and rc.crash and f"died with {s['chain_length_at_crash']} chain entries" in rc.crash
    assert "known gap" in rc.crash
    assert "crash gap:" in result.render()


def _sim_orders(sim) -> set[str]:
    try:
        return {c for (c,) in _rows(sim.db_url, "select cl_ord_id from fix_messages where direction='in' "
                                                "and msg_type='D'")}
    except Exception:      # its database is not there yet
        return set()
