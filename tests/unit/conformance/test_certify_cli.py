"""`xmc certify` and `xmc sim --acceptance-test` at the command line: usage errors and malformed
scripts end with one clear line and exit code 2; a failing case with exit code 1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from xmc_fix.cli import cli

AT = Path(__file__).resolve().parents[2] / "conformance" / "quickfix-at"


def invoke(tmp_path, *args):
    return CliRunner().invoke(cli, ["--log-file", str(tmp_path / "xmc.log"), *args], catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_certify_without_scripts_is_a_usage_error(tmp_path):
    res = invoke(tmp_path, "certify", "--port", "9880")
    assert res.exit_code == 2 and "Missing argument 'DEFS...'" in res.output


def test_certify_without_port_is_a_usage_error(tmp_path):
    res = invoke(tmp_path, "certify", str(AT / "fix42"))
    assert res.exit_code == 2 and "--port" in res.output


def test_a_malformed_def_line_exits_2_naming_file_and_line_before_connecting(tmp_path):
    bad = tmp_path / "bad.def"
    bad.write_bytes(b"iCONNECT\nI8=FIX.4.2|35=A|34=1|\n")
    res = invoke(tmp_path, "certify", "--port", str(closed_port()), str(AT / "fix42" / "2a_MsgSeqNumCorrect.def"),
                 str(bad))
    assert res.exit_code == 2
    assert res.output.startswith(f"xmc: configuration error: {bad}:2: ")
    assert "no SOH" in res.output and "PASS" not in res.output and "FAIL" not in res.output


def test_a_missing_def_file_exits_2(tmp_path):
    res = invoke(tmp_path, "certify", "--port", "9880", str(tmp_path / "none.def"))
    assert res.exit_code == 2 and "none.def: no such file or directory" in res.output


def test_an_unreachable_acceptor_fails_each_case_with_exit_1(tmp_path):
    port = closed_port()
    res = invoke(tmp_path, "certify", "--port", str(port), "--pause", "0",
                 str(AT / "fix42" / "2a_MsgSeqNumCorrect.def"), str(AT / "fix44" / "2a_MsgSeqNumCorrect.def"))
    assert res.exit_code == 1
    lines = res.output.splitlines()
    assert lines[0].startswith("FAIL ") and f"line 3 iCONNECT: cannot connect to 127.0.0.1:{port}" in lines[0]
    assert lines[-1].startswith("total: 2 cases, 0 passed, 2 failed")


@pytest.mark.parametrize("ports", [["SHFE=9881"], ["9880", "9881"], ["0"], ["70000"], []])
def test_acceptance_sim_wants_exactly_one_bare_port(tmp_path, ports):
    args = [a for p in ports for a in ("--port", p)]
    res = invoke(tmp_path, "sim", "--acceptance-test", *args, "--duration", "0.1")
    assert res.exit_code == 2 and "with --acceptance-test give one port number" in res.output
