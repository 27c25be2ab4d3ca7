"""The web view's control token file: only its owner may read it, and it must hold a real token."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xmc_fix.cli import cli
from xmc_fix.errors import ConfigError
from xmc_fix.web.token import load_token

TOKEN = "k3y-0f-the-desk-4f9d2c7a1b"


def _file(tmp_path, text=TOKEN + "\n", mode=0o600):
    p = tmp_path / "token"
    p.write_text(text)
    p.chmod(mode)
    return p


def test_a_private_token_file_is_accepted_and_matches_only_its_token(tmp_path):
    tok = load_token(str(_file(tmp_path)))
    assert tok.matches(TOKEN)
    assert not tok.matches(TOKEN + "x") and not tok.matches("") and not tok.matches(None)
    assert TOKEN not in repr(tok)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_a_file_others_could_read_is_refused_naming_the_remedy(tmp_path, mode):
    with pytest.raises(ConfigError) as e:
        load_token(str(_file(tmp_path, mode=mode)))
    assert f"mode {mode:04o} is wider than 0600" in e.value.line() and "chmod 600" in e.value.line()


@pytest.mark.parametrize("text", ["", "\n", "short", "two words and more text"])
def test_a_file_without_a_usable_token_is_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="no token in it"):
        load_token(str(_file(tmp_path, text=text)))


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_token(str(tmp_path / "nope"))


def test_xmc_web_refuses_to_start_with_a_wide_token_file_in_one_line_exit_2(tmp_path):
    p = _file(tmp_path, mode=0o644)
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "web", "--control", str(tmp_path / "s.sock"),
                                   "--control-token", str(p)], catch_exceptions=False)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xmc: configuration error: ") and "wider than 0600" in lines[0]


def test_xmc_web_documents_every_option(tmp_path):
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "web", "--help"])
    assert res.exit_code == 0
    for opt in ("--control", "--port", "--interval", "--control-token", "--namespace"):
        assert opt in res.output
    assert "8765" in res.output
