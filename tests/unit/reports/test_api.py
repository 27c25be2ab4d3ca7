"""The pandas API (xmc_fix.reports.api) and the `xmc report` command's new formats and filters, on
the hand-built run of conftest.py."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from xmc_fix import cli as cli_module
from xmc_fix.reports.api import open_run

T0 = 1_704_164_645_000_000_000


def test_open_run_gives_the_stored_rows_as_frames(cost_db):
    run = open_run(cost_db)

    assert run.run_id == "R1" and run.info["role"] == "engine"
    assert len(run.tickets()) == 4 and len(run.orders()) == 9 and len(run.fills()) == 6
    assert set(run.events("basis")["pair"]) == {"CU_SHFE_LME", "CU_SHFE_COMEX"}
    assert "raw" not in run.messages().columns
    raw = run.messages(raw=True)
    assert raw["raw"].map(lambda b: b.startswith(b"8=FIX.4.4\x01")).all() and len(raw) == 13


def test_open_run_gives_the_analysis_as_frames(cost_db):
    run = open_run(cost_db)

    assert run.shortfall().set_index("ticket_id").loc["TA", "shortfall_ccy"] == pytest.approx(342.5)
    assert run.slippage().set_index("cl_ord_id").loc["A2", "slip_decision_ticks"] == pytest.approx(2.0)
    assert run.latency().set_index("cl_ord_id").loc["A1", "send_to_ack_us"] == 200.0
    assert run.ticket_latency().set_index("ticket_id").loc["TA", "decision_to_send_us"] == 50.0
    assert run.legging().set_index("ticket_id").loc["TA", "lag_venue"] == "LME"
    assert list(run.basis()["signals"]) == [0, 3, 2, 4, 6]
    assert run.capture().set_index("pair").loc["CU_SHFE_LME", "completed"] == 2
    assert run.clock().set_index("venue").loc["SHFE", "offset_us"] == 1000.0
    assert len(run.clock_samples()) == 3
    assert run.figures()["tickets"] == 4


def test_frames_are_copies(cost_db):
    run = open_run(cost_db)
    t = run.tickets()
    t["pair"] = "X"

    assert set(run.tickets()["pair"]) == {"CU_SHFE_LME", "CU_SHFE_COMEX"}


@pytest.mark.parametrize("start", [T0 + 2 * 10**9, "2024-01-02T03:04:07Z", pd.Timestamp("2024-01-02 03:04:07", tz="UTC")])
def test_open_run_takes_a_window_as_ns_text_or_timestamp(cost_db, start):
    run = open_run(cost_db, start=start, pair="CU_SHFE_LME")

    assert list(run.tickets()["ticket_id"]) == ["TD"]
    assert run.capture()["signals"].tolist() == [3]


# -- the command ---------------------------------------------------------------------------------
def invoke(tmp_path, *args):
    return CliRunner().invoke(cli_module.cli, ["--log-file", str(tmp_path / "xmc.log"), "report", *args],
                              catch_exceptions=False)


def test_report_html_without_out_writes_var_report_of_the_run_and_prints_its_path(cost_db, tmp_path):
    # the data folder is tmp_path / "var" (XMC_VAR_DIR, set for every test by tests/conftest.py)
    res = invoke(tmp_path, "--db", cost_db, "--format", "html")

    assert res.exit_code == 0, res.output
    path = tmp_path / "var" / "report-R1.html"
    assert res.output.strip() == str(path)
    assert "data:image/png;base64," in path.read_text()


def test_report_html_to_a_file(cost_db, tmp_path):
    res = invoke(tmp_path, "--db", cost_db, "--format", "html", "--out", str(tmp_path / "r.html"))

    assert res.exit_code == 0 and "acceptance" in (tmp_path / "r.html").read_text().lower()


def test_report_filters_apply_to_json(cost_db, tmp_path):
    res = invoke(tmp_path, "--db", cost_db, "--format", "json", "--pair", "CU_SHFE_LME",
                 "--from", "2024-01-02T03:04:06.1Z", "--to", str(T0 + 5 * 10**9))

    f = json.loads(res.output)
    assert f["filter"]["pair"] == "CU_SHFE_LME" and f["filter"]["from"] == "2024-01-02T03:04:06.100000Z"
    assert f["tickets"] == 2     # TB (T0+1.5s) and TD (T0+4s); TA at T0+1s is before, TC another pair


def test_a_bad_time_is_a_usage_error_naming_the_option(cost_db, tmp_path):
    res = invoke(tmp_path, "--db", cost_db, "--from", "last tuesday")

    assert res.exit_code == 2 and "--from" in res.output and "not a time" in res.output
