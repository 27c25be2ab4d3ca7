"""Configuration errors through the real command line, for every kind of configuration file: a
missing file, a bad key, an unknown venue or instrument, impossible limits. Each one ends with
exit code 2 and one line, ``xmc: configuration error: FILE: KEY: PROBLEM (REMEDY)``, never a
traceback and never a started session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from xmc_fix.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = ROOT / "sessions"
LINE = re.compile(r"xmc: configuration error: (?P<where>.+?): (?P<rest>.+) \((?P<remedy>[^()]+(\([^()]*\))?[^()]*)\)")


# -- stub files ----------------------------------------------------------------------------------
def shipped(name: str) -> str:
    """A shipped session file with its relative paths made absolute, so a copy works anywhere."""
    return (SESSIONS / name).read_text().replace("../fixspecs", str(ROOT / "fixspecs"))


def write(folder: Path, name: str, text: str, mode: int | None = None) -> str:
    path = folder / name
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return str(path)


def edited(name: str, old: str, new: str, count: int = 1) -> str:
    text = shipped(name)
    assert old in text, f"{old!r} not in {name}"
    return text.replace(old, new, count)


# -- the command line ----------------------------------------------------------------------------
def configuration_error(tmp_path: Path, *args: str) -> str:
    """Run ``xmc ARGS``; it must fail with exit 2 and exactly one line naming file, key and remedy."""
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "xmc.log"), *args])
    assert res.exit_code == 2, f"exit {res.exit_code}: {res.output}"
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.output
    m = LINE.fullmatch(lines[0])
    assert m, f"not FILE: KEY: PROBLEM (REMEDY): {lines[0]}"
    return lines[0]


def run(tmp_path: Path, sessions: str | None = None, strategy: str | None = None, *extra: str) -> str:
    return configuration_error(
        tmp_path, "run", "--sessions", sessions or str(SESSIONS / "venues.cfg"),
        "--strategy", strategy or str(SESSIONS / "strategy.toml"), "--duration", "1",
        "--db", f"sqlite:///{tmp_path / 'engine.db'}", "--store", str(tmp_path / "store"),
        "--journal", str(tmp_path / "journal.jsonl"), "--control", str(tmp_path / "c.sock"), "--quiet", *extra)


def sim(tmp_path: Path, config: str | None = None, market: str | None = None, *extra: str) -> str:
    return configuration_error(
        tmp_path, "sim", "--config", config or str(SESSIONS / "sim.cfg"),
        "--market", market or str(SESSIONS / "sim_market.toml"), "--duration", "0.1",
        "--store", str(tmp_path / "store"), *extra)


def assert_names(line: str, *parts: str) -> None:
    for p in parts:
        assert p in line, f"{p!r} not in: {line}"


# -- QuickFIX session files: the engine's (venues.cfg) ----------------------------------------------
def test_missing_engine_session_file(tmp_path):
    line = run(tmp_path, str(tmp_path / "nope.cfg"))
    assert_names(line, str(tmp_path / "nope.cfg"), "--sessions", "file not found")


def test_bad_key_in_engine_session_file(tmp_path):
    f = write(tmp_path, "v.cfg", edited("venues.cfg", "SocketConnectPort=9882", "SocketConectPort=9882"))
    assert_names(run(tmp_path, f), f"{f}:", "SocketConectPort: unknown key", "did you mean SocketConnectPort?")


def test_venue_the_strategy_trades_without_a_session(tmp_path):
    f = write(tmp_path, "v.cfg", edited("venues.cfg", "Venue=LME", "Venue=LSE"))
    assert_names(run(tmp_path, f), f, "Venue", "'LME' is used by the strategy but has no [SESSION]",
                 "strategy.toml")


def test_port_override_for_an_unknown_venue(tmp_path):
    assert_names(run(tmp_path, None, None, "--port", "LSE=9999"), "--port", "no session for venue 'LSE'")


@pytest.mark.parametrize("old, new, key", [
    ("SocketConnectPort=9882", "SocketConnectPort=98820", "SocketConnectPort"),
    ("HeartBtInt=10", "HeartBtInt=-10", "HeartBtInt"),
    ("TargetCompID=LME\n", "", "TargetCompID"),
    ("ConnectionType=initiator", "ConnectionType=acceptor", "ConnectionType"),
])
def test_impossible_values_in_engine_session_file(tmp_path, old, new, key):
    f = write(tmp_path, "v.cfg", edited("venues.cfg", old, new))
    assert_names(run(tmp_path, f), f, key)


# -- QuickFIX session files: the simulator's (sim.cfg) ---------------------------------------------
def test_missing_simulator_session_file(tmp_path):
    assert_names(sim(tmp_path, str(tmp_path / "nope.cfg")), str(tmp_path / "nope.cfg"), "--config", "file not found")


def test_bad_key_in_simulator_session_file(tmp_path):
    f = write(tmp_path, "s.cfg", edited("sim.cfg", "SocketAcceptPort=9882", "SocketAccpetPort=9882"))
    assert_names(sim(tmp_path, f), f, "SocketAccpetPort: unknown key", "did you mean SocketAcceptPort?")


def test_simulator_session_for_a_venue_the_market_lacks(tmp_path):
    f = write(tmp_path, "s.cfg", edited("sim.cfg", "Venue=LME", "Venue=LSE"))
    assert_names(sim(tmp_path, f), f, "Venue", "'LSE' has a session but no [venues.LSE]")


def test_impossible_port_in_simulator_session_file(tmp_path):
    f = write(tmp_path, "s.cfg", edited("sim.cfg", "SocketAcceptPort=9882", "SocketAcceptPort=0"))
    assert_names(sim(tmp_path, f), f, "SocketAcceptPort", "not a TCP port", "1-65535")


# -- the strategy file -----------------------------------------------------------------------------
def strategy(tmp_path: Path, old: str, new: str) -> str:
    return write(tmp_path, "strategy.toml", edited("strategy.toml", old, new))


def test_missing_strategy_file(tmp_path):
    assert_names(run(tmp_path, None, str(tmp_path / "nope.toml")), str(tmp_path / "nope.toml"), "--strategy")


def test_bad_key_in_strategy_file(tmp_path):
    f = strategy(tmp_path, "entry_above = 250", "entry_abov = 250")
    assert_names(run(tmp_path, None, f), f, "pairs.CU_SHFE_LME.entry_abov: unknown key", "did you mean 'entry_above'?")


def test_unknown_instrument_in_a_pair(tmp_path):
    f = strategy(tmp_path, 'inner = "SHFE_CU"', 'inner = "SHFE_XX"')
    assert_names(run(tmp_path, None, f), f, "pairs.CU_SHFE_LME.inner", "unknown instrument 'SHFE_XX'")


def test_unknown_venue_in_risk_accounts(tmp_path):
    f = strategy(tmp_path, "[risk.accounts.SHFE]", "[risk.accounts.SHEF]")
    assert_names(run(tmp_path, None, f), f, "risk.accounts.SHEF", "unknown venue 'SHEF'")


def test_instrument_at_a_venue_no_session_reaches(tmp_path):
    f = strategy(tmp_path, 'venue = "LME"', 'venue = "LSE"')
    assert_names(run(tmp_path, None, f), "venues.cfg", "Venue", "'LSE'", f)


@pytest.mark.parametrize("old, new, key", [
    ("max_position = 50", "max_position = 20", "pairs.CU_SHFE_LME.max_position"),
    ("exit_above = 60", "exit_above = 300", "pairs.CU_SHFE_LME.exit_above"),
    ("tick = 10", "tick = -10", "instruments.SHFE_CU.tick"),
    ("max_reject_share = 0.5", "max_reject_share = 1.5", "risk.max_reject_share"),
    ("ticket_timeout_ms = 3000", "ticket_timeout_ms = 0", "engine.ticket_timeout_ms"),
    ("max_net_exposure = 50", "max_net_exposure = 10", "risk.pairs.CU_SHFE_LME.max_net_exposure"),
    ('tif = "IOC"', 'tif = "GTC"', "pairs.CU_SHFE_LME.tif"),
])
def test_impossible_limits_in_strategy_file(tmp_path, old, new, key):
    f = strategy(tmp_path, old, new)
    assert_names(run(tmp_path, None, f), f, key)


def test_strategy_file_that_is_not_toml(tmp_path):
    f = write(tmp_path, "strategy.toml", shipped("strategy.toml") + "\n[pairs.X\n")
    assert_names(run(tmp_path, None, f), f, "not valid TOML")


# -- the simulator's market file ---------------------------------------------------------------------
def market(tmp_path: Path, old: str, new: str) -> str:
    return write(tmp_path, "market.toml", edited("sim_market.toml", old, new))


def test_missing_market_file(tmp_path):
    assert_names(sim(tmp_path, None, str(tmp_path / "nope.toml")), str(tmp_path / "nope.toml"), "--market",
                 "file not found")


def test_bad_key_in_market_file(tmp_path):
    f = market(tmp_path, "step_ms = 100", "step_mss = 100")
    assert_names(sim(tmp_path, None, f), f, "market.step_mss: unknown key", "did you mean 'step_ms'?")


def test_market_without_a_venue_the_sessions_serve(tmp_path):
    f = market(tmp_path, "[venues.LME.instruments.CA]", "[venues.LSE.instruments.CA]")
    assert_names(sim(tmp_path, None, f), "sim.cfg", "Venue", "'LME' has a session but no [venues.LME]")


def test_unknown_factor_in_a_fair_value(tmp_path):
    f = market(tmp_path, 'fair = "copper"', 'fair = "coppr"')
    assert_names(sim(tmp_path, None, f), f, "venues.LME.instruments.CA.fair", "coppr")


@pytest.mark.parametrize("old, new, key", [
    ("size_min = 2, size_max = 10", "size_min = 20, size_max = 10", "venues.LME.instruments.CA.mm.size_max"),
    ("tick = 0.5", "tick = 0", "venues.LME.instruments.CA.tick"),
    ("step_ms = 100", "step_ms = 0", "market.step_ms"),
])
def test_impossible_values_in_market_file(tmp_path, old, new, key):
    f = market(tmp_path, old, new)
    assert_names(sim(tmp_path, None, f), f, key)


def test_market_file_that_is_not_toml(tmp_path):
    f = write(tmp_path, "market.toml", "[market\n")
    assert_names(sim(tmp_path, None, f), f, "not valid TOML")


# -- scenario files ------------------------------------------------------------------------------------
def scenario(tmp_path: Path, text: str) -> str:
    return sim(tmp_path, None, None, "--scenario", write(tmp_path, "scenario.toml", text))


def test_missing_scenario_file(tmp_path):
    line = sim(tmp_path, None, None, "--scenario", str(tmp_path / "nope.toml"))
    assert_names(line, f"{tmp_path / 'nope.toml'}: --scenario: file not found", "chaos")


def test_unknown_scenario_name(tmp_path):
    assert_names(sim(tmp_path, None, None, "--scenario", "choas"), "--scenario", "unknown scenario 'choas'", "chaos")


def test_bad_key_in_scenario(tmp_path):
    assert_names(scenario(tmp_path, "[default]\nreject_rat = 0.1\n"), "scenario.toml", "default.reject_rat",
                 "did you mean 'reject_rate'?")


@pytest.mark.parametrize("text, key", [
    ("[venues.LSE]\nreject_rate = 0.1\n", "venues.LSE"),
    ('[[script]]\nvenue = "LSE"\norder = 1\naction = "reject"\n', "script[0].venue"),
    ('[[fault]]\nvenue = "LSE"\nfault = "drop"\nafter = 1\n', "fault[0].venue"),
])
def test_unknown_venue_in_scenario(tmp_path, text, key):
    assert_names(scenario(tmp_path, text), "scenario.toml", key, "unknown venue 'LSE'")


@pytest.mark.parametrize("text, key", [
    ("[default]\nreject_rate = 1.5\n", "default.reject_rate"),
    ("[default]\nack_latency_ms = [20, 5]\n", "default.ack_latency_ms"),
    ('[[script]]\nvenue = "LME"\norder = 1\nevery = 2\naction = "reject"\n', "script[0].order"),
    ('[[script]]\nvenue = "LME"\norder = 0\naction = "reject"\n', "script[0].order"),
    ('[[fault]]\nvenue = "LME"\nfault = "skip"\nrate = 2\n', "fault[0].rate"),
    ('[[fault]]\nvenue = "LME"\nfault = "teleport"\nafter = 1\n', "fault[0].fault"),
])
def test_impossible_values_in_scenario(tmp_path, text, key):
    assert_names(scenario(tmp_path, text), "scenario.toml", key)


def test_scenario_that_is_not_toml(tmp_path):
    assert_names(scenario(tmp_path, "[default\n"), "scenario.toml", "not valid TOML")


# -- the credentials file -------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path) -> Path:
    """Outside the repository, as credentials files must be."""
    d = tmp_path / "home"
    d.mkdir()
    return d


def credentials(tmp_path: Path, home: Path, text: str, mode: int = 0o600) -> str:
    return run(tmp_path, None, None, "--credentials", write(home, "credentials.toml", text, mode))


def test_missing_credentials_file(tmp_path, home):
    line = run(tmp_path, None, None, "--credentials", str(home / "nope.toml"))
    assert_names(line, str(home / "nope.toml"), "--credentials", "file not found")


def test_bad_key_in_credentials_file(tmp_path, home):
    line = credentials(tmp_path, home, '[LME]\nusername = "u"\npasword = "secret-1"\n')
    assert_names(line, "credentials.toml", "LME.pasword: unknown key", "only username and password")
    assert "secret-1" not in line


def test_unknown_venue_in_credentials_file(tmp_path, home):
    line = credentials(tmp_path, home, '[SHEF]\nusername = "u"\npassword = "secret-2"\n')
    assert_names(line, "credentials.toml", "SHEF", "unknown venue", "did you mean [SHFE]?")
    assert "secret-2" not in line


@pytest.mark.parametrize("text", ['[LME]\npassword = ""\n', '[LME]\npassword = 1234\n'])
def test_empty_or_unquoted_password_in_credentials_file(tmp_path, home, text):
    line = credentials(tmp_path, home, text)
    assert_names(line, "credentials.toml", "LME.password", "non-empty string")
    assert "1234" not in line


def test_credentials_file_others_can_read(tmp_path, home):
    line = credentials(tmp_path, home, '[LME]\npassword = "secret-3"\n', mode=0o644)
    assert_names(line, "credentials.toml", "--credentials", "readable by others", "chmod 600")


def test_credentials_file_that_is_not_toml(tmp_path, home):
    line = credentials(tmp_path, home, '[LME]\npassword = "secret-4\n')
    assert_names(line, "credentials.toml", "not valid TOML")
    assert "secret-4" not in line


def test_the_simulator_checks_its_credentials_file_too(tmp_path, home):
    line = sim(tmp_path, None, None, "--credentials", write(home, "credentials.toml", '[LSE]\npassword = "p"\n', 0o600))
    assert_names(line, "credentials.toml", "LSE", "unknown venue")


# -- a real process --------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "sim"])
def test_a_real_process_exits_2_with_one_line(tmp_path, command):
    bad = write(tmp_path, "scenario.toml", "[default]\nreject_rate = 7\n")
    args = ["run", "--strategy", write(tmp_path, "s.toml", "[engine]\nmd_depth = 0\n")] if command == "run" else \
        ["sim", "--scenario", bad, "--store", str(tmp_path / "store"), "--duration", "0.1"]
    proc = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and LINE.fullmatch(lines[0]), proc.stderr
    assert ("engine.md_depth" if command == "run" else "default.reject_rate") in lines[0]
