"""``xmc audit``: the group and its commands document every option (as every command must)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xmc_fix.cli import cli


@pytest.mark.parametrize("command", ["verify", "trace"])
def test_every_option_of_the_audit_commands_has_help_text(command, tmp_path):
    cmd = cli.commands["audit"].commands[command]
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "audit", command, "--help"])
    assert res.exit_code == 0
    for param in cmd.params:
        if param.param_type_name == "option":
            assert param.help, f"audit {command} {param.opts} has no help text"
            assert param.opts[-1] in res.output


def test_the_audit_group_lists_its_commands(tmp_path):
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "audit", "--help"])
    assert res.exit_code == 0 and "verify" in res.output and "trace" in res.output


def test_a_missing_store_folder_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "audit", "verify", "--store",
                                   str(tmp_path / "nope")])
    assert res.exit_code == 2 and "--store: folder not found" in res.output


def test_an_unreachable_database_is_one_line_exit_2_without_the_password(tmp_path):
    from xmc_fix.demo import free_ports

    url = f"postgresql+psycopg://xmc:s3cret@127.0.0.1:{free_ports(1)[0]}/audit"
    for args in (["verify"], ["trace", "T1"]):
        res = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "x.log"), "audit", *args, "--db", url])
        assert res.exit_code == 2 and "cannot connect" in res.output, res.output
        assert "s3cret" not in res.output and "xmc:***@127.0.0.1" in res.output
