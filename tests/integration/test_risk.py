"""Risk and operator control on a running engine over real sessions: a breach halts a pair
mid-run, `xmc halt` takes effect, `xmc flatten` flattens a legged position while HALTED, and the
control socket refuses other users and malformed commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, SESSIONS, start_sim
from tests.integration.conftest import wait_until as _wait
from tests.integration.test_repair import ONE_TICKET, _rows, _scenario
from xmc_fix import app as A
from xmc_fix.domain.enums import TradingState

pytestmark = pytest.mark.integration


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="xmc")   # Unix socket paths must stay short
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _engine(tmp_path, sim, strategy_text: str, sock: Path):
    p = tmp_path / "strategy.toml"
    p.write_text(strategy_text)
    return A.engine_from_files(str(SESSIONS / "venues.cfg"), str(p), f"sqlite:///{tmp_path / 'engine.db'}",
                               ports=sim.ports, store=str(tmp_path / "store-engine"), extra_credentials=sim.credentials,
                               journal_path=str(tmp_path / "journal.jsonl"), control_path=str(sock))


def _guarded_engine(tmp_path, sim, text: str, sock: Path):
    """Build the engine; if that fails, stop the simulator before the test fails."""
    try:
        return _engine(tmp_path, sim, text, sock)
    except BaseException:
        sim.proc.stop()
        raise


def _xmc(*args, timeout=60, user: str | None = None):
    cmd = [sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, *args]
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_a_breach_halts_the_pair_mid_run(tmp_path, sockdir):
    # LME rejects the first order; the pair unwinds the SHFE sale at a loss beyond its daily limit
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(
        tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "reject"\n')])
    text = ONE_TICKET.replace("chase_attempts = 3", 'mode = "unwind"\nchase_attempts = 3') + \
        "\n[risk.pairs.CU_SHFE_LME]\ndaily_loss_limit = 1\n"
    try:
        eng = _engine(tmp_path, sim, text, sockdir / "x.sock")
    except BaseException:
        sim.proc.stop()
        raise
    try:
        eng.start()
        assert _wait(lambda: eng.serial.call(lambda: eng.engine.pair_state(eng.engine.pairs["CU_SHFE_LME"]))
                     is TradingState.HALTED), "the loss never halted the pair"
        halted_at = time.time_ns()
        time.sleep(2)
    finally:
        eng.stop()
        sim.proc.stop()
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    (detail,) = [json.loads(d) for (d,) in _rows(db, "select detail from events where kind='alert'")
                 if json.loads(d)["alert"] == "daily_loss"]
    assert detail["action"].startswith("CU_SHFE_LME HALTED") and 0 <= detail["alert_to_action_us"] < 100_000
    late = _rows(db, "select count(*) from tickets where created_ns > :t", t=halted_at)[0][0]
    assert late == 0, "a ticket started after the halt"


def test_xmc_halt_takes_effect_on_a_running_engine(tmp_path, sockdir):
    sim = start_sim(tmp_path)
    # keeps adding to its position on every book update: a halt must stop that
    text = ONE_TICKET.replace("max_position = 25", "max_position = 100000")
    sock = sockdir / "x.sock"
    eng = _guarded_engine(tmp_path, sim, text, sock)
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    count = lambda: eng.serial.call(lambda: eng.engine.stats.tickets)  # noqa: E731
    try:
        eng.start()
        assert _wait(lambda: count() >= 3), "the engine did not trade"
        assert oct(sock.stat().st_mode & 0o777) == "0o600"
        res = _xmc("halt", "--socket", str(sock), "--reason", "test")
        assert res.returncode == 0, res.stderr
        assert "global HALTED" in res.stdout
        at_halt = count()
        time.sleep(2)
        st = json.loads(_xmc("status", "--socket", str(sock), "--json").stdout)
        assert st["global"]["state"] == "HALTED" and "halted by" in st["global"]["reason"]
        # at most the ticket that was already being decided when the halt arrived
        assert count() <= at_halt + 1
        res = _xmc("resume", "--socket", str(sock))
        assert res.returncode == 0 and "global ACTIVE" in res.stdout
        assert _wait(lambda: count() >= at_halt + 3), "trading did not resume"
    finally:
        eng.stop()
        sim.proc.stop()
    ops = _rows(db, "select detail from events where kind='operator'")
    commands = [json.loads(d)["command"] for (d,) in ops]
    assert commands.count("halt") == 1 and commands.count("resume") == 1
    assert all("uid" in json.loads(d)["who"] for (d,) in ops)


def test_xmc_flatten_flattens_a_legged_position_while_halted(tmp_path, sockdir):
    sim = start_sim(tmp_path, extra_args=["--scenario", _scenario(
        tmp_path, '[[script]]\nvenue = "LME"\norder = 1\naction = "reject"\n')])
    text = ONE_TICKET.replace("chase_attempts = 3", 'mode = "halt"\nchase_attempts = 3')
    sock = sockdir / "x.sock"
    eng = _guarded_engine(tmp_path, sim, text, sock)
    pair = lambda: eng.engine.pairs["CU_SHFE_LME"]  # noqa: E731
    try:
        eng.start()
        assert _wait(lambda: eng.serial.call(lambda: (pair().inner_lots, pair().outer_lots)) == (-5, 0)), \
            "the ticket did not leg as scripted"
        assert eng.serial.call(lambda: eng.engine.pair_state(pair())) is TradingState.HALTED
        res = _xmc("flatten", "--socket", str(sock), "--pair", "CU_SHFE_LME")
        assert res.returncode == 0, res.stderr
        assert "flattening" in res.stdout
        assert _wait(lambda: eng.serial.call(lambda: (pair().inner_lots, pair().outer_lots)) == (0, 0)), \
            "the position was not flattened"
        assert eng.serial.call(lambda: eng.engine.pair_state(pair())) is TradingState.HALTED
        assert f"engine {eng.run_id}" in res.stdout, res.stdout     # the reply names the run
        # a global resume clears the global scope only, and says what keeps the pair halted
        res = _xmc("resume", "--socket", str(sock))
        assert res.returncode == 0, res.stderr
        assert f"engine {eng.run_id}" in res.stdout and "CU_SHFE_LME stays HALTED" in res.stdout, res.stdout
        assert "flatten by" in res.stdout and "xmc resume --pair CU_SHFE_LME" in res.stdout
    finally:
        eng.stop()
        sim.proc.stop()
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    flat = _rows(db, "select state from tickets where intent='FLATTEN'")
    assert flat == [("COMPLETED",)]
    roles = _rows(db, "select role, venue, side, position_effect, status from orders where role='FLATTEN'")
    assert roles == [("FLATTEN", "SHFE", "BUY", "CLOSE_TODAY", "FILLED")]


def test_the_control_socket_refuses_other_users_and_malformed_commands(tmp_path, sockdir):
    if shutil.which("runuser") is None:
        pytest.fail("runuser (util-linux) is needed to act as another user")
    sim = start_sim(tmp_path)
    sock = sockdir / "x.sock"
    eng = _guarded_engine(tmp_path, sim, ONE_TICKET.replace("entry_above = -100000", "entry_above = 100000"), sock)
    try:
        eng.start()
        os.chmod(sockdir, 0o755)   # even with the folder open, the socket itself is 0600
        res = _xmc("halt", "--socket", str(sock), user="nobody")
        assert res.returncode != 0 and ("Permission denied" in res.stderr or "refused" in res.stderr)
        import socket as _s
        c = _s.socket(_s.AF_UNIX)
        c.connect(str(sock))
        c.sendall(b'{"cmd": "halt", "pair": 7}\n')
        answer = json.loads(c.recv(4096))
        c.close()
        assert answer == {"ok": False, "error": "malformed request: pair must be a string"}
        st = json.loads(_xmc("status", "--socket", str(sock), "--json").stdout)
        assert st["pairs"]["CU_SHFE_LME"]["state"] == "ACTIVE"
    finally:
        eng.stop()
        sim.proc.stop()
    refused = [json.loads(d) for (d,) in _rows(f"sqlite:///{tmp_path / 'engine.db'}",
                                             "select detail from events where kind='operator'")]
    assert any(r["ok"] is False and "pair must be a string" in r["error"] for r in refused)
