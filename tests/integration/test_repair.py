"""Paired execution that survives the real world, over real sessions: the simulator is scripted to
reject, partially fill, duplicate, reorder, report fills after their cancel, drop the connection
with orders in flight; the engine is killed with -9 mid-ticket and restarted. Every ticket must end
matched or unwound, and no ClOrdID may reach the venue twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import ROOT, SESSIONS, start_sim
from xmc_fix.audit.mdbatch import all_messages
from xmc_fix.venues.credentials import env_prefix

pytestmark = pytest.mark.integration

# One pair whose entry threshold is always crossed: the engine opens one ticket (25 t) at once and
# then sits at its position limit, so each test watches exactly one ticket. The slippage allowances
# are wide so that the first ticket's unscripted leg fills: the engine decides on the first
# snapshot, and the simulator's next step can move the book 10 ticks before the orders arrive (an
# IOC that misses would end the ticket MISSED or UNWOUND and hide what the test scripts).
ONE_TICKET = (SESSIONS / "strategy.toml").read_text().split("# SHFE copper (CNY/t")[0] + """
[pairs.CU_SHFE_LME]
inner = "SHFE_CU"
outer = "LME_CA"
fx = "USDCNH"
tax_factor = 1.13
ticket_qty = 25
max_position = 25
entry_above = -100000
exit_above = -200000
inner_slippage_ticks = 30
outer_slippage_ticks = 80
max_quote_age_ms = 3000

[pairs.CU_SHFE_LME.repair]
chase_attempts = 3
chase_interval_ms = 50
unwind_attempts = 10
unwind_interval_ms = 50
"""


# The same with SHFE against COMEX HG: 9 SHFE lots against 4 HG lots, so either leg can fill in part.
ONE_TICKET_COMEX = ONE_TICKET.replace("CU_SHFE_LME", "CU_SHFE_COMEX").replace('outer = "LME_CA"', 'outer = "COMEX_HG"') \
    .replace("ticket_qty = 25\nmax_position = 25", "ticket_qty = 50\nmax_position = 50\nresidual_tolerance = 0.5")


def _rows(db_url: str, sql: str, **params):
    eng = create_engine(db_url)
    with eng.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    eng.dispose()
    return rows


def _messages(db_url: str, run_id: str, **where) -> list[dict]:
    """Every FIX message of a run, market data stored in bulk included (:func:`all_messages`)."""
    eng = create_engine(db_url)
    with eng.connect() as conn:
        rows = all_messages(conn, run_id, **where)
    eng.dispose()
    return rows


def _scenario(tmp_path: Path, body: str) -> str:
    p = tmp_path / "scenario.toml"
    p.write_text(body)
    return str(p)


def _strategy(tmp_path: Path, text: str = ONE_TICKET) -> Path:
    p = tmp_path / "one.toml"
    p.write_text(text)
    return p


def _run_one_ticket(tmp_path: Path, scenario: str, seconds: float = 6.0, strategy: str = ONE_TICKET):
    """Simulator with ``scenario``, engine in this process until its ticket is settled."""
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, scenario)])
    try:
        from xmc_fix import app as A
        db = f"sqlite:///{tmp_path / 'engine.db'}"
        eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(_strategy(tmp_path, strategy)), db,
                                  ports=sim.ports, store=str(tmp_path / "store-engine"),
                                  extra_credentials=sim.credentials, journal_path=str(tmp_path / "journal.jsonl"))
        eng.run(seconds)
    finally:
        sim.proc.stop()
    return eng, db, sim


def _assert_all_matched(eng, db, sim):
    tickets = _rows(db, "select ticket_id, state, residual, repairs from tickets where run_id=:r order by created_ns",
                    r=eng.run_id)
    assert tickets, "no ticket was opened"
    for tid, state, residual, repairs in tickets:
        assert state in ("COMPLETED", "UNWOUND", "MISSED"), (tid, state, residual, repairs)
    received = [r[0] for r in _rows(sim.db_url, "select cl_ord_id from fix_messages where direction='in' and msg_type='D'")]
    assert len(received) == len(set(received)), "a ClOrdID reached the venue twice"
    (pr,) = eng.engine.pairs.values()
    assert abs(pr.residual_units) <= pr.cfg.residual_tolerance, \
        f"legged exposure left: {pr.inner_lots} inner lots, {pr.outer_lots} outer lots"
    return tickets


@pytest.mark.parametrize("venue, leg", [("LME", "outer"), ("SHFE", "inner")])
def test_a_rejected_leg_is_repaired(tmp_path, venue, leg):
    eng, db, sim = _run_one_ticket(tmp_path, f'[[script]]\nvenue = "{venue}"\norder = 1\naction = "reject"\n')
    (tid, state, _, repairs), *_later = _assert_all_matched(eng, db, sim)  # the first ticket is scripted
    assert state in ("COMPLETED", "UNWOUND") and repairs, (state, repairs)
    causes = [c for (c,) in _rows(db, "select cause from ticket_events where ticket_id=:t and to_state='LEGGED'",
                                  t=tid)]
    assert causes and f"{leg} 0/" in causes[0] and "REJECTED" in causes[0]


@pytest.mark.parametrize("venue, filled", [("SHFE", 4), ("COMEX", 2)])
def test_a_partial_fill_on_either_leg_is_repaired(tmp_path, venue, filled):
    """SHFE against COMEX HG, 9 lots against 4: half of either leg's entry order fills."""
    eng, db, sim = _run_one_ticket(tmp_path, f'[[script]]\nvenue = "{venue}"\norder = 1\naction = "partial"\n'
                                             f'fraction = 0.5\n', strategy=ONE_TICKET_COMEX)
    (tid, state, _, repairs), *_later = _assert_all_matched(eng, db, sim)
    assert state in ("COMPLETED", "UNWOUND") and repairs, (state, repairs)
    fills = _rows(db, "select f.qty from fills f join orders o on o.cl_ord_id=f.cl_ord_id "
                      "where o.ticket_id=:t and o.role='ENTRY' and o.venue=:v", t=tid, v=venue)
    assert sum(float(q) for (q,) in fills) == filled   # 9 x 0.5 -> 4 lots; 4 x 0.5 -> 2 lots


def test_duplicate_and_out_of_order_reports_count_once(tmp_path):
    eng, db, sim = _run_one_ticket(tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "duplicate"\n'
                                             '[[script]]\nvenue = "LME"\norder = 1\naction = "reorder"\n')
    (tid, state, _, repairs), *_later = _assert_all_matched(eng, db, sim)  # the first ticket is scripted
    assert state == "COMPLETED" and not repairs
    dups = _rows(db, "select count(*) from events where kind='duplicate_exec_report' and run_id=:r", r=eng.run_id)
    assert dups[0][0] >= 2
    assert eng.engine.pairs["CU_SHFE_LME"].outer_lots == 1   # one lot, however many reports said so


def test_a_fill_reported_after_its_cancel_is_counted_and_repaired(tmp_path):
    eng, db, sim = _run_one_ticket(tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "late_fill"\n'
                                             'ms = 400\n')
    (tid, state, _, repairs), *_later = _assert_all_matched(eng, db, sim)  # the first ticket is scripted
    reopened = _rows(db, "select cause from ticket_events where ticket_id=:t and cause like 'late fill%'", t=tid)
    assert reopened, "the late fill never reached the ticket"
    assert state in ("COMPLETED", "UNWOUND")


def test_a_disconnect_with_orders_in_flight_is_reconciled_not_guessed(tmp_path):
    eng, db, sim = _run_one_ticket(tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "disconnect"\n',
                                   seconds=8.0)
    (tid, state, _, repairs), *_later = _assert_all_matched(eng, db, sim)  # the first ticket is scripted
    downs = _rows(db, "select detail from events where kind='session_down' and venue='LME' and run_id=:r",
                  r=eng.run_id)
    assert any(json.loads(d)["in_flight"] for (d,) in downs), downs
    asked = _rows(db, "select count(*) from events where kind='status_request' and run_id=:r", r=eng.run_id)
    assert asked[0][0] >= 1
    # the LME order's reports were delivered on reconnection (resent with PossDup) or by status
    lme = _rows(db, "select status, cum_qty from orders where ticket_id=:t and venue='LME' and role='ENTRY'", t=tid)
    assert lme and lme[0][0] == "FILLED"


def _xmc_run(tmp_path: Path, sim, db: str, duration: float, log: str) -> subprocess.Popen:
    env = dict(os.environ)
    for venue, cred in sim.credentials.items():
        env[env_prefix(venue) + "_USERNAME"] = cred.username
        env[env_prefix(venue) + "_PASSWORD"] = cred.password.reveal()
    args = [sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "xmc.log"), "run",
            "--sessions", str(SESSIONS / "venues.cfg"), "--strategy", str(_strategy(tmp_path)), "--db", db,
            "--store", str(tmp_path / "store-engine"), "--journal", str(tmp_path / "journal.jsonl"),
            "--duration", str(duration), "--quiet"]
    for venue, port in sim.ports.items():
        args += ["--port", f"{venue}={port}"]
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=open(tmp_path / log, "wb"), stderr=subprocess.STDOUT)


def test_kill_9_mid_ticket_then_restart_finishes_the_ticket_without_duplicate_orders(tmp_path):
    # LME holds its reports for 4 s: the engine dies with the LME leg's outcome unknown to it
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(
        tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "delay"\nms = 4000\n')])
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    try:
        first = _xmc_run(tmp_path, sim, db, 60, "run1.log")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = _rows(sim.db_url, "select count(*) from fix_messages where direction='in' and msg_type='D'")[0][0] \
                if (tmp_path / "sim.db").exists() else 0
            if got >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the engine never sent its ticket")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        journal = (tmp_path / "journal.jsonl").read_text()
        assert '"k":"intent"' in journal and '"k":"end"' not in journal  # killed mid-ticket

        second = _xmc_run(tmp_path, sim, db, 12, "run2.log")
        assert second.wait(60) == 0, (tmp_path / "run2.log").read_text()[-3000:]
    finally:
        sim.proc.stop()

    received = [r[0] for r in _rows(sim.db_url, "select cl_ord_id from fix_messages where direction='in' "
                                                "and msg_type='D'")]
    assert len(received) == len(set(received)), "a ClOrdID reached the venue twice"
    states = _rows(db, "select ticket_id, state from tickets")
    assert states and all(s in ("COMPLETED", "UNWOUND", "MISSED") for _, s in states), states
    recovered = _rows(db, "select count(*) from events where kind='ticket_recovered'")[0][0]
    assert recovered == 1
    # positions the restarted engine ended with are matched: 5 SHFE lots sold against 1 LME lot bought
    final = json.loads(_rows(db, "select summary from runs where role='engine' order by started_ns desc limit 1")[0][0])
    assert final["open_tickets"] == 0 and set(final["residual_units"].values()) == {"0"}


def test_shadow_mode_records_tickets_and_sends_no_order(tmp_path):
    sim = start_sim(tmp_path)
    try:
        from xmc_fix import app as A
        db = f"sqlite:///{tmp_path / 'engine.db'}"
        eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(_strategy(tmp_path)), db, ports=sim.ports,
                                  store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                                  journal_path=str(tmp_path / "journal.jsonl"), shadow=True)
        eng.run(4)
    finally:
        sim.proc.stop()
    tickets = _rows(db, "select state from tickets where run_id=:r", r=eng.run_id)
    assert tickets and tickets[0][0] == "COMPLETED"
    shadow = _rows(db, "select count(*) from events where kind='shadow_order' and run_id=:r", r=eng.run_id)[0][0]
    assert shadow == 2
    assert _rows(sim.db_url, "select count(*) from fix_messages where direction='in' and msg_type='D'")[0][0] == 0
    assert _rows(db, "select count(*) from fix_messages where direction='out' and msg_type='D'")[0][0] == 0
