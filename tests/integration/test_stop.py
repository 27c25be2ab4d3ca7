"""Stopping the engine over real sessions: the drain waits for the reports a venue may still send
(a fill can follow its order's cancel), nothing is sent once the sessions close, and a stop that
leaves exposure says so and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT, SESSIONS, start_sim, wait_until
from tests.integration.test_repair import ONE_TICKET, _rows, _scenario, _strategy
from xmc_fix.venues.credentials import env_prefix

pytestmark = pytest.mark.integration


def test_a_fill_reported_after_the_drain_began_is_repaired_before_the_sessions_close(tmp_path):
    # SHFE rejects the first order and LME reports its first order "Canceled, CumQty 0": the ticket is
    # MISSED and nothing is working when the stop begins. LME's fill follows 600 ms later.
    scenario = ('[[script]]\nvenue = "SHFE"\norder = 1\naction = "reject"\n'
                '[[script]]\nvenue = "LME"\norder = 1\naction = "late_fill"\nms = 600\n')
    strategy = ONE_TICKET.replace("drain_timeout_ms = 3000", "drain_timeout_ms = 10000\ndrain_settle_ms = 1500")
    assert "drain_settle_ms = 1500" in strategy
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, scenario)])
    try:
        from xmc_fix import app as A
        db = f"sqlite:///{tmp_path / 'engine.db'}"
        eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(_strategy(tmp_path, strategy)), db,
                                  ports=sim.ports, store=str(tmp_path / "store-engine"),
                                  extra_credentials=sim.credentials, journal_path=str(tmp_path / "journal.jsonl"))
        eng.start()
        first = lambda: next(iter(eng.engine.tickets.values()), None)  # noqa: E731
        assert wait_until(lambda: eng.serial.call(lambda: first() is not None and first().state.value == "MISSED"),
                          20), "the scripted ticket never ended MISSED"
        summary = eng.stop()                   # at once: the late fill is still on its way
    finally:
        sim.proc.stop()
    tid = first().ticket_id
    assert summary["exposure"] == [], summary["exposure"]
    (state,), = _rows(db, "select state from tickets where ticket_id=:t", t=tid)
    assert state in ("COMPLETED", "UNWOUND"), state
    causes = [c for (c,) in _rows(db, "select cause from ticket_events where ticket_id=:t", t=tid)]
    assert any(c.startswith("late fill after the ticket ended") for c in causes), causes


def test_a_stop_that_leaves_exposure_says_so_and_exits_non_zero(tmp_path):
    # LME rejects the first order and the pair repairs nothing (mode halt): 25 t of SHFE are left unhedged
    scenario = '[[script]]\nvenue = "LME"\norder = 1\naction = "reject"\n'
    strategy = ONE_TICKET.replace("[pairs.CU_SHFE_LME.repair]\n", '[pairs.CU_SHFE_LME.repair]\nmode = "halt"\n')
    assert 'mode = "halt"' in strategy
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(tmp_path, scenario)])
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    env = dict(os.environ)
    for venue, cred in sim.credentials.items():
        env[env_prefix(venue) + "_USERNAME"] = cred.username
        env[env_prefix(venue) + "_PASSWORD"] = cred.password.reveal()
    args = [sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "xmc.log"), "run",
            "--sessions", str(SESSIONS / "venues.cfg"), "--strategy", str(_strategy(tmp_path, strategy)), "--db", db,
            "--store", str(tmp_path / "store-engine"), "--journal", str(tmp_path / "journal.jsonl"),
            "--duration", "6", "--quiet"]
    for venue, port in sim.ports.items():
        args += ["--port", f"{venue}={port}"]
    try:
        res = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        sim.proc.stop()
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    last = res.stdout.strip().splitlines()
    assert any(line.startswith("EXPOSURE: CU_SHFE_LME") for line in last), res.stdout[-2000:]
    assert last[-1].startswith("stopped holding unhedged exposure"), last[-1]
    (state,), = _rows(db, "select state from tickets where run_id=(select run_id from runs where role='engine')")
    assert state == "FAILED"
