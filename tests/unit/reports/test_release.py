"""The report's gray-release section on the hand-built run of conftest.py (read its docstring first),
with shadow tickets of CU_SHFE_LME added: per direction, its shadow tickets against its live ones
(TA, TB selling, TD buying) over the same window, what the live ones realised, and the changes."""

from __future__ import annotations

import json

import pytest

from tests.unit.reports.conftest import MS, S, T0
from xmc_fix.reports.figures import figures, load_run, render_table
from xmc_fix.reports.window import ReportFilter

PAIR = "CU_SHFE_LME"


def _shadow(ts, direction, basis, intent="OPEN"):
    return dict(run_id="R1", ts_ns=ts, kind="shadow_ticket", pair=PAIR, ticket_id=f"TXS-{ts}",
                detail=json.dumps({"direction": direction, "intent": intent, "basis": basis, "qty": "25",
                                   "paper_basis": str(float(basis) - 5)}))


def _add(tables):
    tables["events"] += [
        dict(run_id="R1", ts_ns=T0 + 1900 * MS, kind="release_change", pair=PAIR,
             detail=json.dumps({"who": "alice (uid 1000, pid 7)", "old": {"mode": "live", "live_max_qty": None},
                                "new": {"mode": "shadow", "live_max_qty": None}})),
        _shadow(T0 + 2 * S, "SELL_BASIS", "320"),
        _shadow(T0 + 2500 * MS, "SELL_BASIS", "340"),
        _shadow(T0 + 2600 * MS, "BUY_BASIS", "-10", "CLOSE"),
    ]


@pytest.fixture
def db(strategy_file, make_cost_db):
    return make_cost_db(strategy_file, _add)


def test_shadow_tickets_stand_beside_what_the_live_ones_decided_and_realised(db):
    figs = figures(load_run(db))
    p = figs["release"][PAIR]
    assert (p["shadow_tickets"], p["live_tickets"]) == (3, 3)
    sell, buy = p["by_direction"]["SELL_BASIS"], p["by_direction"]["BUY_BASIS"]
    assert sell["shadow"] == {"tickets": 2, "opening": 2, "mean_basis_at_decision": 330.0, "mean_paper_basis": 325.0,
                              "mean_qty": 25.0}
    # TA (301, realised 79990 - 10351 x 7.7 = 287.3) and TB (690, its inner leg never filled: nothing realised)
    assert sell["live"]["tickets"] == 2 and sell["live"]["mean_basis_at_decision"] == 495.5
    assert sell["live"]["traded"] == 1 and sell["live"]["mean_realised_basis"] == pytest.approx(287.3)
    assert sell["live"]["mean_basis_shortfall"] == pytest.approx(13.7)
    # TD: bought back at a decision basis of 20, realised 80110 - 10400 x 7.7 = 30 (10 worse)
    assert buy["shadow"]["tickets"] == 1 and buy["shadow"]["mean_basis_at_decision"] == -10.0
    assert buy["live"]["mean_realised_basis"] == pytest.approx(30) and buy["live"]["mean_basis_shortfall"] == \
        pytest.approx(10)
    (change,) = p["changes"]
    assert change["who"].startswith("alice") and change["new"]["mode"] == "shadow"
    assert figs["whole_run_shadow"] is False
    text = render_table(figs)
    assert "gray release" in text and "live -> shadow" in text


def test_the_comparison_follows_the_report_window(db):
    figs = figures(load_run(db, filt=ReportFilter.parse(str(T0 + 2200 * MS), None, None)))
    p = figs["release"][PAIR]
    sell = p["by_direction"]["SELL_BASIS"]
    assert sell["shadow"]["tickets"] == 1 and sell["shadow"]["mean_basis_at_decision"] == 340.0
    assert sell["live"]["tickets"] == 0 and p["changes"] == []
    assert p["by_direction"]["BUY_BASIS"]["live"]["tickets"] == 1      # TD, decided at T0 + 4 s


def test_no_section_without_shadow_tickets_or_changes(cost_db):
    figs = figures(load_run(cost_db))
    assert figs["release"] == {} and "gray release" not in render_table(figs)
