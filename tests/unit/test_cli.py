"""The command line: every command documents its options; bad input ends with one clear line and
exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from xmc_fix.cli import cli

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["demo", "sim", "run", "report", "certify"]


@pytest.fixture
def runner(tmp_path):
    return CliRunner()


def invoke(runner, tmp_path, *args):
    return runner.invoke(cli, ["--log-file", str(tmp_path / "xmc.log"), *args], catch_exceptions=False)


def test_top_level_help_lists_every_command(runner, tmp_path):
    res = invoke(runner, tmp_path, "--help")
    assert res.exit_code == 0
    for c in COMMANDS:
        assert c in res.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_every_command_has_help_text(command, runner, tmp_path):
    cmd = cli.commands[command]
    res = invoke(runner, tmp_path, command, "--help")
    assert res.exit_code == 0
    for param in cmd.params:
        if param.param_type_name == "option":
            assert param.help, f"{command} {param.opts} has no help text"
            assert param.opts[-1] in res.output


def test_unknown_option_is_a_usage_error(runner, tmp_path):
    res = invoke(runner, tmp_path, "run", "--no-such-option")
    assert res.exit_code == 2 and "No such option" in res.output


def test_missing_strategy_file_names_the_file_and_exits_2(runner, tmp_path):
    res = invoke(runner, tmp_path, "run", "--strategy", str(tmp_path / "nope.toml"))
    assert res.exit_code == 2
    assert f"{tmp_path / 'nope.toml'}: --strategy: file not found" in res.output


def test_bad_strategy_key_names_file_key_and_remedy(runner, tmp_path):
    bad = tmp_path / "s.toml"
    text = (ROOT / "sessions" / "strategy.toml").read_text().replace("entry_above = 250", "entry_abov = 250")
    bad.write_text(text)
    res = invoke(runner, tmp_path, "run", "--strategy", str(bad), "--duration", "1")
    assert res.exit_code == 2
    assert "pairs.CU_SHFE_LME.entry_abov: unknown key (did you mean 'entry_above'?)" in res.output


def test_password_in_a_session_file_is_refused(runner, tmp_path):
    cfg = tmp_path / "v.cfg"
    cfg.write_text((ROOT / "sessions" / "venues.cfg").read_text().replace("Venue=LME", "Venue=LME\nPassword=hunter2")
                   .replace("../fixspecs", str(ROOT / "fixspecs")))
    res = invoke(runner, tmp_path, "run", "--sessions", str(cfg), "--duration", "1")
    assert res.exit_code == 2
    assert "Password: passwords must not be stored in session files" in res.output
    assert "hunter2" not in res.output


def test_bad_port_override_is_a_usage_error(runner, tmp_path):
    res = invoke(runner, tmp_path, "sim", "--port", "SHFE:9881", "--duration", "1")
    assert res.exit_code == 2 and "expected VENUE=PORT" in res.output


def test_report_on_a_missing_database_exits_2(runner, tmp_path):
    res = invoke(runner, tmp_path, "report", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert res.exit_code == 2 and "database not found" in res.output


def test_a_real_process_prints_one_line_not_a_traceback(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text("[pairs.X]\ninner = 'A'\n")
    proc = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "l.log"), "run",
                           "--strategy", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("xmc: configuration error: ")
    assert "pairs.X" in lines[0]
