"""Cost and latency figures on the hand-built run of conftest.py (read its docstring first): latency
per order and ticket, slippage against the decision and the touch, legging cost, implementation
shortfall, capture rate; the JSON keys they feed; and the fallback without a strategy file."""

from __future__ import annotations

import json

import pytest

from xmc_fix.reports import costs
from xmc_fix.reports.figures import figures, load_run



@pytest.fixture
def data(cost_db):
    return load_run(cost_db)


def row(df, key, value):
    rows = df[df[key] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# -- latency ---------------------------------------------------------------------------------------
def test_order_latency_measures_each_leg_from_the_decision_and_from_its_send(data):
    ol = costs.order_latency(data)

    a1, a2 = row(ol, "cl_ord_id", "A1"), row(ol, "cl_ord_id", "A2")
    # A1 sent md+40us, acked 200us later, first fill 300us after send; A2 md+50, 450, 800
    assert (a1["decision_to_send_us"], a1["send_to_ack_us"], a1["send_to_first_fill_us"]) == (40.0, 200.0, 300.0)
    assert (a2["decision_to_send_us"], a2["send_to_ack_us"], a2["send_to_first_fill_us"]) == (50.0, 450.0, 800.0)
    assert len(ol) == 9   # every order sent, all roles


def test_repair_orders_have_no_decision_to_send_latency(data):
    b3 = row(costs.order_latency(data), "cl_ord_id", "B3")

    assert b3["role"] == "UNWIND" and b3["decision_to_send_us"] != b3["decision_to_send_us"]   # NaN
    assert b3["send_to_ack_us"] == 300.0 and b3["send_to_first_fill_us"] == 400.0


def test_ticket_latency_runs_from_the_first_entry_send_to_the_last_leg(data):
    ta = row(costs.ticket_latency(data), "ticket_id", "TA")

    assert ta["decision_to_send_us"] == 50.0            # ticket sent_ns (last entry order) - md
    assert ta["send_to_ack_us"] == 460.0                # A2 acked at md+50+450 - A1 sent at md+40
    assert ta["send_to_last_fill_us"] == 810.0          # A2 filled at md+50+800 - md+40
    assert ta["decision_to_end_us"] == 10_000.0         # ended md + 10 ms


# -- slippage -------------------------------------------------------------------------------------
def test_slippage_of_a_sell_against_the_decision_vwap_and_the_touch(data):
    a1 = row(costs.slippage(data, data.conversions), "cl_ord_id", "A1")

    # sold at 79990 against the decision VWAP 79996: 6 CNY/t against us, 0.6 tick, x 25 t = 150 CNY
    assert (a1["slip_decision_px"], a1["slip_decision_ticks"], a1["slip_decision_ccy"]) == \
           pytest.approx((6.0, 0.6, 150.0))
    # against the touch (best bid 80000): 10 CNY/t, 1 tick, 250 CNY
    assert (a1["touch_px"], a1["slip_touch_px"], a1["slip_touch_ticks"], a1["slip_touch_ccy"]) == \
           pytest.approx((80000.0, 10.0, 1.0, 250.0))


def test_slippage_of_an_outer_buy_is_converted_like_the_basis(data):
    a2 = row(costs.slippage(data, data.conversions), "cl_ord_id", "A2")

    # bought at 10351 against 10350 (= the best ask): 1 USD/t = 2 ticks of 0.5;
    # 1 x FX 7 x tax 1.1 = 7.7 CNY/t, x 25 t = 192.5 CNY
    assert (a2["slip_decision_ticks"], a2["slip_decision_per_unit"], a2["slip_decision_ccy"]) == \
           pytest.approx((2.0, 7.7, 192.5))
    assert a2["slip_touch_ccy"] == pytest.approx(192.5)


def test_slippage_covers_filled_entry_and_chase_orders_only(data):
    sl = costs.slippage(data, data.conversions)

    # B1, C1, C2 filled nothing; B3 is an unwind
    assert sorted(sl["cl_ord_id"]) == ["A1", "A2", "B2", "D1", "D2"]
    assert row(sl, "cl_ord_id", "D1")["slip_decision_ticks"] == pytest.approx(1.0)   # bought 80110 vs 80100


# -- legging, shortfall ----------------------------------------------------------------------------
def test_legging_cost_prices_the_lagging_leg_against_its_decision_price(data):
    lg = costs.legging(data, data.conversions)

    ta = row(lg, "ticket_id", "TA")
    # SHFE filled first (md+340us), LME last (md+850us): LME lagged 510 us and paid 1 USD/t more
    assert (ta["lead_leg"], ta["lag_leg"], ta["lag_venue"], ta["lag_us"]) == ("INNER", "OUTER", "LME", 510.0)
    assert (ta["cost_ticks"], ta["cost_per_unit"], ta["cost_ccy"]) == pytest.approx((2.0, 7.7, 192.5))
    assert "TB" not in set(lg["ticket_id"])   # one leg never filled: nothing lagged behind it


def test_shortfall_of_a_completed_ticket_is_the_basis_given_up_times_quantity(data):
    ta = row(costs.shortfall(data, data.conversions), "ticket_id", "TA")

    # realised basis 79990 - 10351 x 7.7 = 79990 - 79702.7 = 287.3; decision 301: 13.7 CNY/t given up
    assert ta["realised_basis"] == pytest.approx(287.3)
    assert ta["basis_shortfall"] == pytest.approx(13.7)
    # x 25 t = 342.5 CNY = the two legs' slippage against the decision, 150 + 192.5
    assert (ta["quantity_units"], ta["execution_ccy"], ta["unwind_ccy"], ta["fees_ccy"], ta["shortfall_ccy"]) == \
           pytest.approx((25.0, 342.5, 0.0, 0.0, 342.5))


def test_shortfall_of_a_buy_basis_ticket_is_signed_by_direction(data):
    td = row(costs.shortfall(data, data.conversions), "ticket_id", "TD")

    # bought the basis at 80110 - 80080 = 30 against 20 decided: 10 CNY/t worse, x 25 t = 250 CNY
    assert (td["realised_basis"], td["basis_shortfall"], td["shortfall_ccy"]) == pytest.approx((30.0, 10.0, 250.0))


def test_shortfall_of_an_unwound_ticket_is_the_round_trip(data):
    tb = row(costs.shortfall(data, data.conversions), "ticket_id", "TB")

    # LME bought 1 lot at 10300 and sold it back at 10290: 10 USD/t x 7.7 x 25 t = 1925 CNY
    assert (tb["execution_ccy"], tb["unwind_ccy"], tb["shortfall_ccy"]) == pytest.approx((0.0, 1925.0, 1925.0))
    assert tb["unwound_outer_lots"] == 1.0 and tb["realised_basis"] != tb["realised_basis"]   # NaN: no legs kept


# -- capture -------------------------------------------------------------------------------------------
def test_capture_rate_is_completed_tickets_over_signals_of_the_last_sample(data):
    cap = costs.capture(data).set_index("pair")

    # CU_SHFE_LME: last sample 6 signals, 2 denials; TA and TD completed: 2 / 6
    assert cap.loc["CU_SHFE_LME", ["signals", "denials", "tickets", "completed"]].tolist() == [6, 2, 3, 2]
    assert cap.loc["CU_SHFE_LME", "capture_rate"] == pytest.approx(2 / 6)
    assert cap.loc["CU_SHFE_COMEX", "capture_rate"] == 0.0


# -- the JSON document -------------------------------------------------------------------------------
def test_the_report_adds_cost_and_latency_keys_and_keeps_the_old_ones(data):
    f = figures(data)

    for key in ("run_id", "tickets", "alignment_rate", "messages", "legs", "latency_us", "pairs", "repairs", "events"):
        assert key in f
    for key in ("filter", "conversions", "latency_by_venue_us", "order_response_us", "ticket_latency_us", "slippage",
                "legging_cost", "shortfall", "capture", "clock", "coverage", "acceptance"):
        assert key in f
    json.dumps(f)   # serialisable as it is


def test_report_totals_add_up_the_frames(data):
    f = figures(data)

    # entry slippage vs decision: A1 150 + A2 192.5 + B2 0 + D1 250 (1 tick x 10 x 25) + D2 0
    assert f["slippage"]["vs_decision"]["total_ccy"] == 592.5
    assert f["slippage"]["by_venue"]["LME"]["orders"] == 3
    # shortfall: TA 342.5 + TB 1925 + TC 0 (nothing filled) + TD 250
    assert (f["shortfall"]["total_ccy"], f["shortfall"]["unwind_ccy"], f["shortfall"]["fees_ccy"]) == \
           (2517.5, 1925.0, 0.0)
    assert f["shortfall"]["currency"] == "CNY"
    assert f["legging_cost"]["tickets"] == 2   # TA (LME lagged) and TD
    # capture: (2 + 0) completed / (6 + 2) signals
    assert (f["capture"]["signals"], f["capture"]["completed"], f["capture"]["rate"]) == (8, 2, 0.25)
    # order response over the 9 orders: acks 200 450 100 500 300 150 250 100 100 us
    assert f["order_response_us"]["n"] == 9 and f["order_response_us"]["max"] == 500.0
    assert f["order_response_us"]["within_200ms"] == 1.0


def test_without_the_strategy_file_costs_fall_back_to_the_tickets_per_unit(tmp_path, make_cost_db):
    url = make_cost_db(tmp_path / "gone.toml")
    d = load_run(url)

    a2 = row(costs.slippage(d, d.conversions), "cl_ord_id", "A2")
    ta = row(costs.shortfall(d, d.conversions), "ticket_id", "TA")
    f = figures(d)

    # outer factor from the ticket: outer_converted / outer_px = 79695 / 10350 = 7.7 CNY/t per USD/t
    assert a2["slip_decision_per_unit"] == pytest.approx(7.7)
    assert a2["slip_decision_ticks"] != a2["slip_decision_ticks"]     # NaN: no tick size known
    assert ta["basis_shortfall"] == pytest.approx(13.7) and ta["shortfall_ccy"] != ta["shortfall_ccy"]
    assert f["conversions"]["source"] == "ticket" and "gone.toml" in f["conversions"]["note"]
    assert f["shortfall"]["total_ccy"] is None       # not a partial total


def test_an_explicit_strategy_overrides_the_recorded_one(tmp_path, strategy_file, make_cost_db):
    url = make_cost_db(tmp_path / "gone.toml")

    d = load_run(url, strategy_path=str(strategy_file))

    assert d.conversions.source == "strategy"
    assert row(costs.slippage(d, d.conversions), "cl_ord_id", "A2")["slip_decision_ccy"] == pytest.approx(192.5)
