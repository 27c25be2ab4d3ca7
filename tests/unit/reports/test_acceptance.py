"""The acceptance table and the audit-coverage figure behind it, on the hand-built run of conftest.py."""

from __future__ import annotations

import json

from xmc_fix.reports.acceptance import acceptance, coverage
from xmc_fix.reports.figures import figures, load_run

SHFE, LME = "FIX.4.4:XMC->SHFE", "FIX.4.4:XMC->LME"


def claim(figs, text):
    [row] = [r for r in figs["acceptance"] if r["claim"].startswith(text)]
    return row


def test_coverage_from_the_database_counts_gaps_and_honours_gap_fills(cost_db):
    run = load_run(cost_db).run
    c = coverage(cost_db, run)

    assert c["method"] == "database" and "no FileStore path" in c["note"]
    # LME out: 1, GapFill at 2 (NewSeqNo 4) covers 2-3, then 4: complete
    assert c["sessions"][LME]["out"] == {"first_seq": 1, "last_seq": 4, "messages": 3, "expected": 4, "missing": 0,
                                         "first_missing": [], "complete": True}
    # LME in: 1, 2, 4: 3 is missing
    assert c["sessions"][LME]["in"]["first_missing"] == [3]
    # SHFE out 3 + in 4 + LME out 4 + in 4 = 15 numbers used; 14 stored: 14 / 15
    assert c["rate"] == round(14 / 15, 6) and c["complete"] is False


def test_coverage_restarts_with_a_logon_that_resets_sequence_numbers(make_cost_db, strategy_file, fixmsg):
    t = 1_704_164_700_000_000_000

    def reset(tables):
        # SHFE in: 1-4 stored, then a Logon with ResetSeqNumFlag at 1 and the venue's 3 (its 2 lost)
        tables["fix_messages"] += [fixmsg(SHFE, "in", "A", 1, t, t, t141="Y"), fixmsg(SHFE, "in", "0", 3, t + 1, t + 1)]

    url = make_cost_db(strategy_file, reset)
    c = coverage(url, load_run(url).run)

    assert c["sessions"][SHFE]["in"]["first_missing"] == [2]
    assert c["sessions"][SHFE]["in"]["expected"] == 4 + 3


def test_coverage_against_the_filestore_when_the_run_records_its_stores(tmp_path, make_cost_db, strategy_file):
    store = tmp_path / "store"
    store.mkdir()
    # QuickFIX's next sender / target numbers: 4 out (we sent 1-3), 6 in (the venue sent 1-5; we stored 1-4)
    (store / "FIX.4.4-XMC-SHFE.seqnums").write_text("4 : 6")

    def record_store(tables):
        cfg = json.loads(tables["runs"][0]["config"])
        cfg["stores"] = {SHFE: str(store)}
        tables["runs"][0]["config"] = json.dumps(cfg)

    url = make_cost_db(strategy_file, record_store)
    c = coverage(url, load_run(url).run)

    assert c["method"] == "filestore"
    assert c["sessions"][SHFE]["out"]["complete"] is True and c["sessions"][SHFE]["in"]["complete"] is False
    # out: 3 of 3; in: 4 of 5 (the store says 5 were used) -> 7 / 8
    assert c["rate"] == 0.875


def test_acceptance_rows_judge_each_claim(cost_db):
    f = figures(load_run(cost_db))

    resp = claim(f, "order response")
    assert resp["met"] is True and resp["value"] == f["order_response_us"]["p99"]
    assert "over 9 orders" in resp["measured"]
    # alignment: TA, TD completed, TB unwound, TC missed: all aligned
    assert claim(f, "quantity alignment")["met"] is True and claim(f, "quantity alignment")["value"] == 1.0
    assert claim(f, "risk alarm") == {**claim(f, "risk alarm"), "met": None, "value": None}
    assert claim(f, "risk alarm")["measured"].startswith("not measured")
    # TB legged and was unwound: 1 of 1
    assert claim(f, "automatic repair")["met"] is True
    cov = claim(f, "audit coverage")
    assert cov["met"] is False and cov["value"] == round(14 / 15, 6) and "database method" in cov["measured"]


def test_risk_alarm_is_measured_from_alerts_that_record_detection_to_action(make_cost_db, strategy_file):
    def alerts(tables):
        for us in (1_500, 250_000):
            tables["events"].append(dict(run_id="R1", ts_ns=1, kind="alert",
                                         detail=json.dumps({"alert": "residual_exposure", "alert_to_action_us": us})))
        tables["events"].append(dict(run_id="R1", ts_ns=1, kind="alert", detail=json.dumps({"alert": "other"})))

    f = figures(load_run(make_cost_db(strategy_file, alerts)))
    row = claim(f, "risk alarm")

    # p99 of 1500 and 250000 us = 1500 + 0.99 x 248500 = 247515 us: above 100 ms
    assert (row["value"], row["met"]) == (247_515.0, False)
    assert "over 2 alerts" in row["measured"]


def test_a_claim_without_data_is_not_measured():
    rows = acceptance({"order_response_us": {"n": 0, "p50": None, "p99": None, "max": None, "within_200ms": None},
                       "alignment_rate": None, "repair_success_rate": None, "tickets_repaired": {"legged": 0},
                       "coverage": {"method": None, "rate": None}})

    assert [r["met"] for r in rows] == [None] * 5
    assert all(r["measured"].startswith("not measured") for r in rows)
