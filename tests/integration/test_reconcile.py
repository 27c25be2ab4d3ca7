"""Reconciliation with the venues over real sessions, against the simulator: positions the account
held before the engine started are found at logon (RequestForPositions / PositionReport), taken
from the venue and held; an order another terminal placed on the account is found (its fills, or the
venue's mass status); `xmc reconcile` on a running engine prints the comparison."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, SESSIONS, start_sim, wait_until
from tests.integration.test_repair import ONE_TICKET, _rows, _scenario, _strategy

pytestmark = pytest.mark.integration

HELD_BEFORE = """
[[position]]
venue = "SHFE"
account = "XMC01"
symbol = "CU"
long = 4
short_today = 1

[[position]]
venue = "LME"
account = "XMC01"
symbol = "CA"
short = 2
"""


def _engine(tmp_path, sim, strategy_text, control):
    from xmc_fix import app as A
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(_strategy(tmp_path, strategy_text)), db,
                              ports=sim.ports, store=str(tmp_path / "store-engine"),
                              extra_credentials=sim.credentials, journal_path=str(tmp_path / "journal.jsonl"),
                              control_path=str(control))
    return eng, db


def test_positions_held_before_the_start_are_found_at_logon_taken_from_the_venue_and_hold_the_pairs(tmp_path):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, HELD_BEFORE)])
    sockdir = Path(tempfile.mkdtemp(prefix="xmcr"))
    # thresholds never crossed: only reconciliation moves anything
    quiet = ONE_TICKET.replace("entry_above = -100000\nexit_above = -200000", "entry_above = 100000\nexit_above = 90000")
    eng, db = _engine(tmp_path, sim, quiet, sockdir / "c.sock")
    try:
        eng.start()
        done = lambda: eng.serial.call(lambda: {v for v in ("SHFE", "LME") if v in eng.engine.sync.results})  # noqa
        assert wait_until(lambda: done() == {"SHFE", "LME"}, 30), "no reconciliation round ended at logon"
        results = eng.serial.call(lambda: dict(eng.engine.sync.results))
        shfe, lme = results["SHFE"], results["LME"]
        assert shfe["positions_compared"] and lme["positions_compared"], (shfe, lme)
        assert [(d["symbol"], d["engine"], d["venue_view"]) for d in shfe["differences"]] == [("CU", "0", "3")]
        assert [(d["symbol"], d["engine"], d["venue_view"]) for d in lme["differences"]] == [("CA", "0", "-2")]
        ledger = eng.serial.call(lambda: eng.engine.state.ledger)
        assert ledger.position("SHFE_CU") == 3 and ledger.position("LME_CA") == -2
        pr = eng.engine.pairs["CU_SHFE_LME"]
        assert eng.serial.call(lambda: eng.engine.pair_state(pr).value) == "HALTED"

        # asked again on demand, the venues now agree with the engine
        res = subprocess.run([sys.executable, "-m", "xmc_fix", "reconcile", "--socket", str(sockdir / "c.sock"),
                              "--json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert res.returncode == 0, res.stdout + res.stderr
        again = json.loads(res.stdout)["results"]
        assert {"SHFE", "LME"} <= set(again) and not any(r["differences"] for r in again.values()), again
        assert again["SHFE"]["venue_positions"]["CU"] == again["SHFE"]["engine_positions"]["CU"] == "3"
    finally:
        summary = eng.stop(drain_s=1)
        sim.proc.stop()
    held = {(x["pair"], x["residual"]) for x in summary["exposure"] if x["state"] == "FOREIGN"}
    assert held == {("SHFE_CU", "3"), ("LME_CA", "-2")}, summary["exposure"]
    diffs = _rows(db, "select detail from events where kind='reconcile_difference'")
    assert len(diffs) == 2 and all(json.loads(d)["resolution"].startswith("engine set to the venue's") for (d,) in diffs)


def test_a_fill_of_an_order_another_terminal_placed_is_applied_to_the_account_and_holds_the_pair(tmp_path):
    scenario = '[[script]]\nvenue = "LME"\norder = 1\naction = "foreign"\nms = 100\nside = "sell"\nqty = 1\n' \
               'report_to = "both"\n'
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, scenario)])
    sockdir = Path(tempfile.mkdtemp(prefix="xmcr"))
    eng, db = _engine(tmp_path, sim, ONE_TICKET, sockdir / "c.sock")
    try:
        eng.start()
        assert wait_until(lambda: eng.serial.call(lambda: eng.engine.state.ledger.foreign_lots()), 30), \
            "the foreign fill never reached the engine"
    finally:
        summary = eng.stop(drain_s=1)
        sim.proc.stop()
    foreign = {x["pair"]: Decimal(x["residual"]) for x in summary["exposure"] if x["state"] == "FOREIGN"}
    assert foreign == {"LME_CA": Decimal(-1)}, summary["exposure"]
    alerts = [json.loads(d)["alert"] for (d,) in _rows(db, "select detail from events where kind='alert'")]
    assert "unknown_order_fill" in alerts
