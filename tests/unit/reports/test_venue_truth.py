"""Venue truth in the report, on the hand-built run of conftest.py: ``residual_exposure`` counts the
tickets not finished and every difference left unreconciled; the ``reconciliation`` section lists
each difference with when, both views and how it was resolved."""

from __future__ import annotations

import json
from decimal import Decimal as D

from tests.unit.execution.test_engine import World, strategy  # noqa: F401  (fixture)
from tests.unit.reports.conftest import MS, T0
from xmc_fix.clock import ns_to_iso
from xmc_fix.domain.enums import ExecType, OrdStatus, Side
from xmc_fix.domain.events import ExecReport
from xmc_fix.reports.figures import figures, load_run, render_table


def _foreign_fill(w, venue, symbol, side, qty, px, exec_id):
    w.engine.on_event(ExecReport(venue=venue, cl_ord_id="MANUAL-" + exec_id, orig_cl_ord_id=None, order_id="V-" + exec_id,
                                 exec_id=exec_id, exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED, side=side,
                                 symbol=symbol, order_qty=D(qty), cum_qty=D(qty), leaves_qty=D(0), last_qty=D(qty),
                                 last_px=D(px), avg_px=D(px), text=None, poss_dup=False, venue_ns=None,
                                 recv_ns=w.now(), account="ACC1"))


def _with_summary(exposure, *, working_residual=None):
    """The run's summary with ``exposure`` (as the engine reports it at stop); optionally one more
    ticket still WORKING with that residual."""
    def change(tables):
        tables["runs"][0]["summary"] = json.dumps({"exposure": exposure})
        if working_residual is not None:
            extra = dict(tables["tickets"][3], ticket_id="TE", state="WORKING", residual=D(working_residual),
                         ended_ns=None, intent="OPEN")
            tables["tickets"].append(extra)
    return change


def test_residual_exposure_counts_unfinished_tickets_and_every_unreconciled_difference(strategy, make_cost_db,
                                                                                         strategy_file):
    w = World(strategy)                       # what the engine holds at stop: lots nobody's pair traded
    _foreign_fill(w, "SHFE", "CU", Side.BUY, 3, 77300, "F1")
    _foreign_fill(w, "LME", "CA", Side.SELL, 1, 9500, "F2")
    exposure = w.engine.exposure()

    f = figures(load_run(make_cost_db(strategy_file, _with_summary(exposure, working_residual=-25))))

    # the ticket still working counts for its pair; each instrument's foreign lots in underlying units
    assert f["residual_exposure"] == {"CU_SHFE_LME": -25.0, "CU_SHFE_COMEX": 0.0, "SHFE_CU": 15.0, "LME_CA": -25.0}
    assert f["unreconciled"] == {"SHFE_CU": {"lots": 3.0, "account": "lots on account ACC1", "units": 15.0, "unit": "t"},
                                 "LME_CA": {"lots": -1.0, "account": "lots on account ACC1", "units": -25.0, "unit": "t"}}
    assert "SHFE_CU 15" in render_table(f) and "LME_CA -25" in render_table(f)


def test_without_differences_or_open_tickets_the_residual_is_the_pairs_zero(cost_db):
    f = figures(load_run(cost_db))

    assert f["residual_exposure"] == {"CU_SHFE_LME": 0.0, "CU_SHFE_COMEX": 0.0} and f["unreconciled"] == {}


def test_an_instrument_held_on_two_accounts_counts_once_summed_and_an_older_run_counts_lots(make_cost_db,
                                                                                           strategy_file):
    rows = [{"pair": "SHFE_CU", "ticket_id": None, "state": "FOREIGN", "residual": "2", "unit": "lots on account A",
             "orders_open": [], "underlying": "10", "underlying_unit": "t"},
            {"pair": "SHFE_CU", "ticket_id": None, "state": "FOREIGN", "residual": "-1", "unit": "lots on account B",
             "orders_open": [], "underlying": "-5", "underlying_unit": "t"},
            # a summary written before the engine gave underlying units: its lots still count
            {"pair": "LME_CA", "ticket_id": None, "state": "FOREIGN", "residual": "1", "unit": "lots on account A",
             "orders_open": []}]

    f = figures(load_run(make_cost_db(strategy_file, _with_summary(rows))))

    assert f["residual_exposure"]["SHFE_CU"] == 5.0 and f["residual_exposure"]["LME_CA"] == 1.0
    assert f["unreconciled"]["SHFE_CU"]["lots"] == 1.0
    assert f["unreconciled"]["SHFE_CU"]["account"] == "lots on account A; lots on account B"
    assert f["unreconciled"]["LME_CA"]["units"] is None


def _event(ts, kind, **detail):
    return dict(run_id="R1", ts_ns=ts, kind=kind, venue=detail.get("venue"), detail=json.dumps(detail))


def test_the_reconciliation_section_lists_each_difference_with_when_both_views_and_the_resolution(make_cost_db,
                                                                                                 strategy_file):
    at = T0 + 200 * MS

    def change(tables):
        tables["events"] += [
            _event(T0 + 150 * MS, "reconcile_round", venue="SHFE", reason="logon", differences=[], incomplete=None),
            _event(at, "reconcile_difference", venue="SHFE", reason="logon", about="position", symbol="CU",
                   engine="0", venue_view="3", resolution="engine set to the venue's 3; +3 lots held as foreign",
                   what="SHFE_CU position: engine 0, SHFE 3", instrument="SHFE_CU", delta="3"),
            _event(T0 + 210 * MS, "reconcile_round", venue="SHFE", reason="logon", differences=[{}], incomplete=None),
            _event(T0 + 300 * MS, "reconcile_round", venue="LME", reason="periodic", differences=[],
                   incomplete="the venue did not answer within 5000 ms"),
            _event(T0 + 400 * MS, "reconcile_difference", venue="LME", reason="periodic", about="order", symbol="CA",
                   engine="none", venue_view="working NEW", resolution="held: an order on the account the engine did "
                                                                        "not send", cl_ord_id="MANUAL-7"),
            _event(T0 + 500 * MS, "unknown_exec_report", venue="LME", cl_ord_id="MANUAL-8", exec_type="TRADE",
                   last_qty="1", symbol="CA"),
            _event(T0 + 510 * MS, "unknown_exec_report", venue="LME", cl_ord_id="MANUAL-8", exec_type="NEW",
                   last_qty="0", symbol="CA"),
            _event(T0 + 600 * MS, "trade_bust", venue="LME", exec_ref_id="EA2"),
            _event(T0 + 700 * MS, "inferred_bust", venue="SHFE"),
            _event(T0 + 800 * MS, "trade_correction", venue="SHFE"),
            _event(T0 + 900 * MS, "drop_copy_applied", venue="SHFE", exec_type="TRADE"),
        ]
        tables["runs"][0]["summary"] = json.dumps({"exposure": [], "drop_copy": {"reports": 4, "applied": 1}})

    f = figures(load_run(make_cost_db(strategy_file, change)))
    rc = f["reconciliation"]

    assert (rc["rounds"], rc["differences"]) == (3, 2)
    assert rc["by_venue"] == {"SHFE": {"rounds": 2, "incomplete": 0, "differences": 1},
                              "LME": {"rounds": 1, "incomplete": 1, "differences": 1}}
    first, second = rc["listed"]
    assert first == {"at": ns_to_iso(at), "venue": "SHFE", "about": "position", "symbol": "CU", "engine": "0",
                     "venue_view": "3", "resolution": "engine set to the venue's 3; +3 lots held as foreign",
                     "reason": "logon"}
    assert (second["about"], second["engine"], second["venue_view"], second["reason"]) == \
           ("order", "none", "working NEW", "periodic")
    assert (rc["foreign_fills"], rc["trade_busts"], rc["inferred_busts"], rc["trade_corrections"]) == (1, 2, 1, 1)
    assert rc["drop_copy_applied"] == 1 and rc["drop_copy"] == {"reports": 4, "applied": 1}
    text = render_table(f)
    assert "3 rounds, 2 differences" in text
    assert "SHFE   position  CU     engine 0 / venue 3 -> engine set to the venue's 3" in text
