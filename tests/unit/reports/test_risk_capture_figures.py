"""The report's risk-alarm and capture figures read what they say: protective alerts timed from the
fact's arrival with detection and action apart, and crossings counted as episodes."""

from __future__ import annotations

import json

from tests.unit.reports.conftest import T0, S
from xmc_fix.reports.figures import figures, load_run, render_table


def test_risk_alarm_figures_show_detection_and_action_apart(make_cost_db, strategy_file):
    def alerts(tables):
        for detect, action in ((30_000, 500), (1_000, 200)):
            tables["events"].append(dict(run_id="R1", ts_ns=1, kind="alert", detail=json.dumps(
                {"alert": "limit_breach", "detect_us": detect, "action_us": action,
                 "alert_to_action_us": detect + action})))
        tables["events"].append(dict(run_id="R1", ts_ns=1, kind="alert", detail=json.dumps({"alert": "state_change"})))

    f = figures(load_run(make_cost_db(strategy_file, alerts)))
    assert (f["alert_to_action_us"]["n"], f["alert_detect_us"]["max"], f["alert_action_us"]["max"]) == (2, 30_000, 500)
    assert "arrival" in f["alert_to_action_us"]["measures"]
    [row] = [r for r in f["acceptance"] if r["claim"].startswith("risk alarm")]
    assert "detection p99" in row["measured"] and "action p99" in row["measured"]
    assert row["method"].startswith("protective alerts: arrival of the triggering fact")


def test_capture_is_captured_crossings_over_crossings(make_cost_db, strategy_file):
    def episodes(tables):
        tables["events"] = [e for e in tables["events"] if e["kind"] != "basis"]
        for ts, sig, den, cap in ((T0 + S // 2, 0, 0, 0), (T0 + 5 * S, 4, 1, 1)):
            tables["events"].append(dict(run_id="R1", ts_ns=ts, kind="basis", pair="CU_SHFE_LME", detail=json.dumps(
                {"sell": "1", "buy": "2", "position": "0", "state": "ACTIVE", "signals": sig, "denials": den,
                 "captured": cap})))

    f = figures(load_run(make_cost_db(strategy_file, episodes)))
    lme = f["capture"]["by_pair"]["CU_SHFE_LME"]
    # two tickets completed (TA, TD) but in one captured crossing of four: 25 %, not 50 %
    assert (lme["signals"], lme["denials"], lme["captured"], lme["completed"], lme["rate"]) == (4, 1, 1, 2, 0.25)
    assert "capture (crossings)" in render_table(f)
