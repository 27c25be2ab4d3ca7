"""Silence is a state, over real sessions: a venue's gateway that stays up (heartbeats, market data)
but answers nothing about an order is asked again and again with a growing pause — status
requests, and from the third round the venue's whole picture (OrderMassStatusRequest) — each
unanswered round alerted, until after ``silent_halt_ms`` the pair is HALTED with the exposure
stated. What the engine asked is read from the simulator's own record of what it received."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import SESSIONS, start_sim, wait_until
from tests.integration.test_repair import ONE_TICKET, _rows, _scenario, _strategy

pytestmark = pytest.mark.integration

MS = 1_000_000
# asked first after 300 ms, again after 200 ms doubling each round; halted after 2 s of silence
QUICK = ONE_TICKET.replace("ticket_timeout_ms = 3000", "ticket_timeout_ms = 300") \
    .replace("[pairs.CU_SHFE_LME]", "[reconcile]\nstatus_retry_ms = 200\nsilent_halt_ms = 2000\n\n[pairs.CU_SHFE_LME]")
# LME's gateway says nothing from the first order on, for longer than the test runs
SILENT = '[[script]]\nvenue = "LME"\norder = 1\naction = "silent"\nms = 60000\nheld = "drop"\n'


def _without_lme_drop_copy(tmp_path: Path) -> Path:
    """The engine's sessions without LME's drop copy: a copy of the fill would answer for the
    silent gateway (and is applied after drop_copy_grace_ms; tests/integration/test_drop_copy.py)."""
    text = (SESSIONS / "venues.cfg").read_text().replace("../fixspecs/", f"{SESSIONS.parent / 'fixspecs'}/")
    copy = "[SESSION]\nDropCopyFor=LME\nDialect=FIX44\nTargetCompID=LMEDC\nSocketConnectPort=9882\n"
    assert copy in text
    path = tmp_path / "venues.cfg"
    path.write_text(text.replace(copy, ""))
    return path


def test_a_silent_gateway_is_asked_again_with_backoff_then_mass_status_and_its_pair_halts_with_the_exposure(
        tmp_path):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, SILENT)])
    from xmc_fix import app as A
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    eng = A.engine_from_files(str(_without_lme_drop_copy(tmp_path)), str(_strategy(tmp_path, QUICK)), db,
                              ports=sim.ports,
                              store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                              journal_path=str(tmp_path / "journal.jsonl"))
    pair = lambda: eng.engine.pairs["CU_SHFE_LME"]  # noqa: E731
    try:
        eng.start()
        assert wait_until(lambda: eng.serial.call(lambda: eng.engine.pair_state(pair()).value) == "HALTED", 30), \
            eng.serial.call(lambda: (eng.engine.tickets_by_state(), eng.engine.pair_state(pair()).value))
        halted = eng.serial.call(lambda: pair().trading.reason)
        asked = eng.serial.call(lambda: {o.cl_ord_id: a.rounds for o in eng.engine.orders.values()
                                         if (a := eng.engine.watchdog.asks.get(o.cl_ord_id)) is not None})
        assert wait_until(lambda: eng.serial.call(lambda: max(a.rounds for a in eng.engine.watchdog.asks.values())) >= 5,
                          15), asked                 # one more round after the halt: asking goes on
    finally:
        summary = eng.stop(drain_s=1)
        sim.proc.stop()
    assert "silent" in halted, halted

    [(cl,)] = _rows(db, "select cl_ord_id from orders where venue='LME'")
    # what reached the venue: status requests for the order, the pause growing each round
    asks = [ts for (ts, raw) in _rows(sim.db_url, "select ts_ns, raw from fix_messages where direction='in' and "
                                                  "msg_type='H' order by ts_ns") if f"\x0111={cl}\x01" in bytes(raw).decode()]
    assert len(asks) >= 5, asks
    gaps = [(b - a) / MS for a, b in zip(asks, asks[1:])]
    # never sooner than the pause, which doubles: 200, 400, 800, 1600 ms (a busy machine only adds)
    assert all(gap >= 200 * 2 ** i - 20 for i, gap in enumerate(gaps)), gaps
    # from the third round, the venue's whole picture: an OrderMassStatusRequest after the logon's one
    mass = [ts for (ts,) in _rows(sim.db_url, "select ts_ns from fix_messages where direction='in' and msg_type='AF' "
                                              "and session like '%LME%' order by ts_ns")]
    assert len(mass) >= 2 and asks[2] <= mass[-1] < asks[3], (mass, asks)

    # each unanswered round alerted; the halt states the exposure
    alerts = [json.loads(d) for (d,) in _rows(db, "select detail from events where kind='alert'")]
    rounds = [a for a in alerts if a["alert"] == "venue_silent" and a["severity"] == "warning"]
    assert len(rounds) == len(asks) - 1 and all(cl in a["message"] for a in rounds), rounds
    [halt] = [a for a in alerts if a["alert"] == "venue_silent" and a["severity"] == "critical"]
    assert cl in halt["message"] and "residual 25 t" in halt["message"] and "limit 2000" in halt["message"], halt
    assert halt["action"].startswith("CU_SHFE_LME HALTED")
    [left] = [x for x in summary["exposure"] if x["pair"] == "CU_SHFE_LME" and x["ticket_id"]]
    assert (left["state"], left["residual"], left["orders_open"]) == ("WORKING", "25", [cl]), summary["exposure"]
