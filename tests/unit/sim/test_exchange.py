"""The simulated venues behind the simulator's sessions, driven message by message with a recording
``send`` and a manual clock: order validation, execution-report sequences, positions on an
open/close venue, cancel / replace / status, and market data that rebuilds the venue's book."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import quickfix as fix

from tests.unit.sim.sim_stubs import (C1, C2, SHFE_DD, SIM_MARKET, assert_reports_consistent, cancel, levels,
                                      make_exchange, make_instrument, make_market, md_request, new_order, position,
                                      replace, reports, status_request)
from xmc_fix.clock import ManualClock
from xmc_fix.domain.enums import BookAction
from xmc_fix.marketdata.book import Book
from xmc_fix.sim.config import SimVenueCfg, load_market
from xmc_fix.sim.exchange import Exchange
from xmc_fix.venues import translate as tr


# -- the market makers' starting book --------------------------------------------------------------
def test_market_makers_quote_the_configured_ladder_around_the_fair_value():
    ex, _ = make_exchange()

    bids, asks = levels(ex)

    assert bids == [(D(79990), D(5)), (D(79980), D(5)), (D(79970), D(5))]
    assert asks == [(D(80010), D(5)), (D(80020), D(5)), (D(80030), D(5))]


# -- NewOrderSingle validation -----------------------------------------------------------------------
@pytest.mark.parametrize("overrides, reason, text", [
    (dict(symbol="ZN"), "1", "unknown symbol 'ZN'"),
    (dict(qty="2.5"), "13", "must be a multiple of 1 between 1 and 500"),
    (dict(qty="0"), "13", "must be a multiple of 1"),
    (dict(qty="501"), "13", "between 1 and 500"),
    (dict(qty="lots"), "13", "bad quantity 'lots'"),
    (dict(price="80005"), "99", "not on the tick grid of 10"),
    (dict(price="0"), "99", "not on the tick grid"),
    (dict(price="cheap"), "99", "bad price 'cheap'"),
    (dict(pe=None), "99", "PositionEffect (77) required"),
    (dict(pe="Z"), "99", "PositionEffect (77) required"),
    (dict(tif="1"), "11", "unsupported TimeInForce '1'"),
    (dict(ord_type="3"), "11", "unsupported OrdType '3'"),
    (dict(side="5"), "11", "unsupported side '5'"),
    (dict(side="2", pe="T"), "3", "insufficient long today position to close: 0 available, 5 asked"),
])
def test_invalid_new_order_is_rejected_with_a_reason_and_text(overrides, reason, text):
    ex, send = make_exchange()
    before = levels(ex)

    ex.on_new_order("SHFE", C1, new_order("A1", **overrides))

    sent = send.take()
    assert [s.msg_type for s in sent] == ["8"]
    r = sent[0].fields
    assert (r["11"], r["150"], r["39"], r["103"]) == ("A1", "8", "8", reason)
    assert text in r["58"]
    assert (r["14"], r["151"]) == ("0", "0")
    assert levels(ex) == before


def test_quantity_off_a_lot_step_above_one_is_rejected():
    two_lots = make_instrument("LME", "CA", lot_step=D(2), min_qty=D(2))
    ex, send = make_exchange(make_market(venues={"LME": SimVenueCfg("LME", False, {"CA": two_lots})}))

    ex.on_new_order("LME", C1, new_order("A1", symbol="CA", qty="3", pe=None))
    ex.on_new_order("LME", C1, new_order("A2", symbol="CA", qty="4", pe=None))

    first, *second = reports(send.take())
    assert (first["11"], first["39"], first["103"]) == ("A1", "8", "13")
    assert first["58"] == "quantity 3 must be a multiple of 2 between 2 and 500"
    assert [r["150"] for r in second] == ["0", "F"]


def test_duplicate_clordid_is_rejected_and_the_first_order_is_untouched():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A1", price="79010", tif="0"))

    [r] = reports(send.take())
    assert (r["150"], r["39"], r["103"]) == ("8", "8", "6")
    assert "duplicate ClOrdID A1" in r["58"]
    ex.on_status("SHFE", C1, status_request("A1"))
    [status] = reports(send.take())
    assert (status["39"], status["44"]) == ("0", "79000")


def test_the_same_clordid_from_another_session_is_a_different_order():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))

    ex.on_new_order("SHFE", C2, new_order("A1", price="79000", tif="0"))

    assert [(s.session, s.fields["150"]) for s in send.take()] == [(C1, "0"), (C2, "0")]


def test_venue_without_position_effect_accepts_orders_without_it():
    ex, send = make_exchange()

    ex.on_new_order("LME", C1, new_order("A1", symbol="CA", price="9500.5", pe=None))

    assert [r["150"] for r in reports(send.take())] == ["0", "F"]


def test_close_is_taken_as_close_yesterday_and_needs_an_earlier_position():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", pe="O"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="79990", pe="C"))

    [r] = reports(send.take())
    assert (r["39"], r["103"], r["77"]) == ("8", "3", "Y")
    assert "insufficient long yday position to close: 0 available" in r["58"]


# -- execution report sequences --------------------------------------------------------------------
def test_ioc_across_two_levels_reports_each_fill_as_the_order_stood_after_it():
    ex, send = make_exchange()

    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80020", tif="3"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r.get("32"), r.get("31"), r["14"], r["151"], r["6"]) for r in rs] == [
        ("0", "0", None, None, "0", "8", "0"),
        ("F", "1", "5", "80010", "5", "3", "80010"),
        ("F", "2", "3", "80020", "8", "0", "80013.75"),
    ]
    assert_reports_consistent(rs)


def test_ioc_remainder_is_cancelled_after_its_fills():
    ex, send = make_exchange()

    ex.on_new_order("SHFE", C1, new_order("A1", qty="12", price="80020", tif="3"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r["14"], r["151"]) for r in rs] == [
        ("0", "0", "0", "12"), ("F", "1", "5", "7"), ("F", "1", "10", "2"), ("4", "4", "10", "0")]
    assert rs[-1]["58"] == "remaining quantity cancelled (IOC/FOK/market)"
    assert rs[-1]["6"] == "80015"
    assert_reports_consistent(rs)
    assert levels(ex)[0][0] == (D(79990), D(5))  # nothing of the IOC rests


def test_ioc_that_does_not_cross_is_new_then_cancelled_with_nothing_filled():
    ex, send = make_exchange()

    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80000", tif="3"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r["14"], r["151"]) for r in rs] == [("0", "0", "0", "5"), ("4", "4", "0", "0")]


def test_fok_that_cannot_fill_completely_is_cancelled_without_fills():
    ex, send = make_exchange()
    before = levels(ex)

    ex.on_new_order("SHFE", C1, new_order("A1", qty="16", price="80030", tif="4"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r["14"]) for r in rs] == [("0", "0", "0"), ("4", "4", "0")]
    assert levels(ex) == before


def test_day_order_remainder_rests_and_reports_no_cancel():
    ex, send = make_exchange()

    ex.on_new_order("SHFE", C1, new_order("A1", qty="12", price="80020", tif="0"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r["151"]) for r in rs] == [("0", "0", "12"), ("F", "1", "7"), ("F", "1", "2")]
    assert_reports_consistent(rs)
    assert levels(ex)[0][0] == (D(80020), D(2))


def test_market_order_fills_at_the_book_and_carries_no_price():
    ex, send = make_exchange()

    ex.on_new_order("SHFE", C1, new_order("A1", qty="7", price=None, ord_type="1", tif="3"))

    rs = reports(send.take())
    assert [(r["150"], r.get("31")) for r in rs] == [("0", None), ("F", "80010"), ("F", "80020")]
    assert all("44" not in r for r in rs)
    assert rs[-1]["39"] == "2"
    assert_reports_consistent(rs)


def test_resting_order_hit_by_another_client_gets_its_own_trade_report():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("S1", side="2", qty="5", price="80000", tif="0"))
    [ack] = reports(send.take())

    ex.on_new_order("SHFE", C2, new_order("B1", side="1", qty="3", price="80000", tif="3"))

    sent = send.take()
    [maker] = reports([s for s in sent if s.session == C1])
    taker = reports([s for s in sent if s.session == C2])
    assert (maker["37"], maker["150"], maker["39"], maker["32"], maker["31"], maker["151"]) == \
           (ack["37"], "F", "1", "3", "80000", "2")
    assert [(r["150"], r["39"]) for r in taker] == [("0", "0"), ("F", "2")]


def test_execution_reports_carry_the_injected_clock_as_transact_time():
    clock = ManualClock(1_704_164_645_123_456_000)
    ex, send = make_exchange(clock=clock)
    clock.advance(1_000)

    ex.on_new_order("SHFE", C1, new_order("A1"))

    assert {r["60"] for r in reports(send.take())} == {"20240102-03:04:05.123457"}


# -- positions on an open/close venue ----------------------------------------------------------------
def test_closing_todays_position_after_opening_it_is_accepted_and_filled():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    assert position(ex).long_today == D(5)
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="79990", pe="T"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r["77"]) for r in rs] == [("0", "0", "T"), ("F", "2", "T")]
    assert position(ex).long_today == 0
    ex.on_new_order("SHFE", C1, new_order("A3", side="2", qty="1", price="79990", pe="T"))
    [r] = reports(send.take())
    assert (r["39"], r["103"]) == ("8", "3")


def test_closing_todays_short_position_buys_it_back():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="2", qty="4", price="79990", pe="O"))
    assert position(ex).short_today == D(4)

    ex.on_new_order("SHFE", C1, new_order("A2", side="1", qty="4", price="80010", pe="T"))

    assert reports(send.take())[-1]["39"] == "2"
    assert position(ex).short_today == 0


def test_closing_more_than_todays_position_is_rejected():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="6", price="79990", pe="T"))

    [r] = reports(send.take())
    assert (r["39"], r["103"]) == ("8", "3")
    assert "5 available, 6 asked" in r["58"]
    assert position(ex).long_today == D(5)


def test_positions_are_kept_per_account():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O", account="ACC1"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="79990", pe="T", account="ACC2"))

    [r] = reports(send.take())
    assert (r["39"], r["103"]) == ("8", "3")


def test_working_close_order_reserves_the_position_until_it_is_cancelled():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="80100", tif="0", pe="T"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A3", side="2", qty="1", price="80100", tif="0", pe="T"))
    assert reports(send.take())[0]["103"] == "3"
    ex.on_cancel("SHFE", C1, cancel("A4", "A2", side="2"))
    ex.on_new_order("SHFE", C1, new_order("A5", side="2", qty="5", price="80100", tif="0", pe="T"))

    assert [r["150"] for r in reports(send.take())] == ["4", "0"]


def test_ioc_close_gives_back_the_unfilled_part_of_its_reservation():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="10", price="80020", pe="O"))
    # sells 5 at the 79990 bid; the rest of the IOC is cancelled
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="10", price="79990", pe="T"))
    send.take()

    assert position(ex).long_today == D(5)
    assert position(ex).available("long_today") == D(5)
    ex.on_new_order("SHFE", C1, new_order("A3", side="2", qty="5", price="79980", pe="T"))
    assert reports(send.take())[-1]["39"] == "2"


def test_replacing_a_close_order_down_frees_the_position_it_no_longer_needs():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="8", price="80020", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="8", price="80100", tif="0", pe="T"))
    ex.on_replace("SHFE", C1, replace("A3", "A2", side="2", qty="3", price="80100", pe="T"))
    send.take()

    ex.on_new_order("SHFE", C1, new_order("A4", side="2", qty="5", price="80100", tif="0", pe="T"))

    assert [r["150"] for r in reports(send.take())] == ["0"]
    assert position(ex).available("long_today") == 0


def test_replacing_a_close_order_above_the_position_is_refused():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="80100", tif="0", pe="T"))
    send.take()

    ex.on_replace("SHFE", C1, replace("A3", "A2", side="2", qty="8", price="80100", pe="T"))

    [rej] = send.take()
    assert (rej.msg_type, rej.fields["434"], rej.fields["41"]) == ("9", "2", "A2")
    assert "insufficient" in rej.fields["58"]
    ex.on_status("SHFE", C1, status_request("A2"))
    [st] = reports(send.take())
    assert (st["38"], st["39"]) == ("5", "0")


# -- cancel ----------------------------------------------------------------------------------------
def test_cancel_of_a_working_order_reports_canceled_under_the_new_clordid():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))
    [ack] = reports(send.take())

    ex.on_cancel("SHFE", C1, cancel("A2", "A1"))

    [r] = reports(send.take())
    assert (r["150"], r["39"], r["11"], r["41"], r["37"]) == ("4", "4", "A2", "A1", ack["37"])
    assert (r["14"], r["151"]) == ("0", "0")
    assert levels(ex)[0][-1] == (D(79970), D(5))


def test_cancel_of_an_unknown_order_is_rejected_as_unknown():
    ex, send = make_exchange()

    ex.on_cancel("SHFE", C1, cancel("A2", "NOPE"))

    [s] = send.take()
    r = s.fields
    assert (s.msg_type, r["434"], r["102"], r["39"], r["37"], r["11"], r["41"]) == \
           ("9", "1", "1", "8", "NONE", "A2", "NOPE")
    assert r["58"] == "unknown order"


@pytest.mark.parametrize("finish, status", [("fill", "2"), ("cancel", "4")])
def test_cancel_of_a_finished_order_is_rejected_as_too_late(finish, status):
    ex, send = make_exchange()
    if finish == "fill":
        ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010"))
    else:
        ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))
        ex.on_cancel("SHFE", C1, cancel("X1", "A1"))
    send.take()

    ex.on_cancel("SHFE", C1, cancel("A2", "A1"))

    [s] = send.take()
    assert (s.msg_type, s.fields["102"], s.fields["39"], s.fields["434"]) == ("9", "0", status, "1")


def test_cancel_from_another_session_does_not_find_the_order():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))
    send.take()

    ex.on_cancel("SHFE", C2, cancel("A2", "A1"))

    [s] = send.take()
    assert (s.session, s.msg_type, s.fields["102"]) == (C2, "9", "1")


# -- replace ---------------------------------------------------------------------------------------
def test_replace_of_a_working_order_reports_replaced_with_the_new_terms():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79000", tif="0"))
    send.take()

    ex.on_replace("SHFE", C1, replace("A2", "A1", qty="3", price="79010"))

    [r] = reports(send.take())
    assert (r["150"], r["39"], r["11"], r["41"], r["38"], r["44"], r["151"]) == \
           ("5", "0", "A2", "A1", "3", "79010", "3")
    bids, _ = levels(ex, depth=10)
    assert (D(79010), D(3)) in bids and all(px != D(79000) for px, _ in bids)


def test_replace_to_a_crossing_price_reports_replaced_then_the_fills():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="79000", tif="0"))
    first = reports(send.take())

    ex.on_replace("SHFE", C1, replace("A2", "A1", qty="8", price="80020"))

    rs = reports(send.take())
    assert [(r["150"], r["39"], r["14"], r["151"]) for r in rs] == [
        ("5", "0", "0", "8"), ("F", "1", "5", "3"), ("F", "2", "8", "0")]
    assert_reports_consistent(first + rs)


def test_replace_of_a_partly_filled_order_down_to_its_fills_completes_it():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80010", tif="0"))
    send.take()  # 5 filled at 80010, 3 resting

    ex.on_replace("SHFE", C1, replace("A2", "A1", qty="5", price="80010"))

    [r] = reports(send.take())
    assert (r["150"], r["39"], r["38"], r["14"], r["151"]) == ("5", "2", "5", "5", "0")
    assert levels(ex)[0][0] == (D(79990), D(5))


def test_replace_of_an_unknown_order_is_rejected_as_unknown():
    ex, send = make_exchange()

    ex.on_replace("SHFE", C1, replace("A2", "NOPE", qty="5", price="79000"))

    [s] = send.take()
    assert (s.msg_type, s.fields["434"], s.fields["102"], s.fields["39"], s.fields["58"]) == \
           ("9", "2", "1", "8", "unknown order")


def test_replace_of_a_finished_order_is_rejected_as_too_late():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010"))
    send.take()

    ex.on_replace("SHFE", C1, replace("A2", "A1", qty="5", price="79000"))

    [s] = send.take()
    assert (s.msg_type, s.fields["434"], s.fields["102"], s.fields["39"]) == ("9", "2", "0", "2")


@pytest.mark.parametrize("qty, price", [("2.5", "79000"), ("0", "79000"), ("5", "79005"), ("x", "79000")])
def test_replace_off_the_grid_is_rejected_and_leaves_the_order_as_it_was(qty, price):
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79000", tif="0"))
    send.take()

    ex.on_replace("SHFE", C1, replace("A2", "A1", qty=qty, price=price))

    [s] = send.take()
    assert (s.msg_type, s.fields["434"], s.fields["102"]) == ("9", "2", "99")
    ex.on_status("SHFE", C1, status_request("A1"))
    [st] = reports(send.take())
    assert (st["38"], st["44"], st["39"]) == ("5", "79000", "0")


# -- order status ----------------------------------------------------------------------------------
def test_status_of_a_known_order_is_an_order_status_report():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="12", price="80020", tif="0"))
    last = reports(send.take())[-1]

    ex.on_status("SHFE", C1, status_request("A1"))

    [r] = reports(send.take())
    assert (r["150"], r["39"], r["11"], r["37"], r["14"], r["151"], r["6"]) == \
           ("I", "1", "A1", last["37"], "10", "2", "80015")
    assert r["17"] != last["17"]


def test_status_by_order_id_finds_the_sessions_own_order():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))
    [ack] = reports(send.take())

    ex.on_status("SHFE", C1, status_request("", order_id=ack["37"]))

    [r] = reports(send.take())
    assert (r["150"], r["11"], r["39"]) == ("I", "A1", "0")


def test_status_of_an_unknown_order_says_so_with_ordstatus_rejected():
    ex, send = make_exchange()

    ex.on_status("SHFE", C1, status_request("NOPE"))

    [r] = reports(send.take())
    assert (r["150"], r["39"], r["37"], r["11"], r["58"]) == ("I", "8", "NONE", "NOPE", "unknown order")
    assert (r["14"], r["151"]) == ("0", "0")


def test_status_by_order_id_of_another_sessions_order_is_unknown():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", price="79000", tif="0"))
    [ack] = reports(send.take())

    ex.on_status("SHFE", C2, status_request("X", order_id=ack["37"]))

    [s] = send.take()
    assert (s.session, s.fields["39"], s.fields["58"]) == (C2, "8", "unknown order")


# -- market data -------------------------------------------------------------------------------------
def test_subscription_gets_a_snapshot_of_the_published_book():
    ex, send = make_exchange()

    ex.on_md_request("SHFE", C1, md_request("M1", "CU"))

    [s] = send.take()
    assert (s.session, s.msg_type, s.needs_dd) == (C1, "W", True)
    assert s.fields["262"] == "M1"
    snap = tr.decode_snapshot("SHFE", s.text, 0)
    bids, asks = levels(ex)
    assert (list(snap.bids), list(snap.asks)) == (bids, asks)
    assert snap.rpt_seq == ex.venues["SHFE"].instruments["CU"].rpt_seq


def test_unknown_symbol_gets_a_market_data_request_reject():
    ex, send = make_exchange()

    ex.on_md_request("SHFE", C1, md_request("M1", "ZN"))

    [s] = send.take()
    assert (s.msg_type, s.fields["262"], s.fields["58"]) == ("Y", "M1", "unknown symbol ZN")


def test_request_for_a_known_and_an_unknown_symbol_gets_a_snapshot_and_a_reject():
    ex, send = make_exchange()

    ex.on_md_request("SHFE", C1, md_request("M1", "CU", "ZN"))

    assert [s.msg_type for s in send.take()] == ["W", "Y"]


def test_a_book_change_goes_to_subscribers_as_the_next_rptseq():
    ex, send = make_exchange()
    ex.on_md_request("SHFE", C1, md_request("M1"))
    snap = tr.decode_snapshot("SHFE", send.take()[0].text, 0)

    ex.on_new_order("SHFE", C2, new_order("A1", qty="2", price="80000", side="2", tif="0"))

    md = [s for s in send.take() if s.msg_type == "X"]
    assert [(s.session, s.needs_dd, s.fields["262"]) for s in md] == [(C1, True, "M1")]
    [upd] = tr.decode_incremental("SHFE", md[0].text, 0)
    assert upd.rpt_seq == snap.rpt_seq + 1
    assert [(e.action, e.side.value, e.price, e.size) for e in upd.entries] == \
           [(BookAction.NEW, "ASK", D(80000), D(2))]


def test_unsubscribed_session_gets_no_more_refreshes():
    ex, send = make_exchange()
    ex.on_md_request("SHFE", C1, md_request("M1"))
    ex.on_md_request("SHFE", C1, md_request("M1", kind="2"))
    send.take()

    ex.on_new_order("SHFE", C2, new_order("A1", qty="2", price="80000", side="2", tif="0"))

    assert [s.msg_type for s in send.take(C1)] == []


def test_incremental_refreshes_rebuild_the_venues_book():
    ex, send = make_exchange(load_market(SIM_MARKET))
    ex.on_md_request("SHFE", C1, md_request("M1", "CU"))
    book = Book("SHFE", "CU")
    book.apply_snapshot(tr.decode_snapshot("SHFE", send.take()[0].text, 0))
    seqs, actions = [book.rpt_seq], set()

    for i in range(60):
        ex.step()
        if i % 4 == 0:  # a client lifting part of the best ask changes a level's size
            best_ask = levels(ex)[1][0][0]
            ex.on_new_order("SHFE", C2, new_order(f"A{i}", qty="1", price=str(best_ask), tif="3"))
        for s in send.take(C1):
            assert s.msg_type == "X"
            for upd in tr.decode_incremental("SHFE", s.text, 0):
                assert upd.symbol == "CU"
                assert book.apply(upd), f"gap at RptSeq {upd.rpt_seq}"
                seqs.append(upd.rpt_seq)
                actions |= {e.action for e in upd.entries}

    bids, asks = levels(ex, depth=ex.cfg.depth)
    assert (book.bids, book.asks) == (bids, asks)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert actions == {BookAction.NEW, BookAction.CHANGE, BookAction.DELETE}


def test_every_subscriber_of_the_instrument_and_no_one_else_gets_the_refresh():
    ex, send = make_exchange()
    ex.on_md_request("SHFE", C1, md_request("M1"))
    ex.on_md_request("SHFE", C2, md_request("M9"))
    send.take()

    ex.on_new_order("LME", "other", new_order("L1", symbol="CA", price="9500.5", pe=None))  # not subscribed
    ex.on_new_order("SHFE", "other", new_order("A1", qty="2", price="80000", side="2", tif="0"))

    md = [s for s in send.take() if s.msg_type == "X"]
    assert [(s.session, s.fields["262"]) for s in md] == [(C1, "M1"), (C2, "M9")]
    assert md[0].text.replace("262=M1", "262=M9") == md[1].text


# -- determinism -----------------------------------------------------------------------------------
def _run(seed: int, steps: int = 40) -> Exchange:
    ex, _ = make_exchange(load_market(SIM_MARKET, seed=seed))
    for _ in range(steps):
        ex.step()
    return ex


def test_same_seed_gives_the_same_prices_and_books():
    a, b = _run(11), _run(11)

    assert a.model.fair == b.model.fair
    for venue, v in a.venues.items():
        for sym in v.instruments:
            assert levels(a, venue, sym) == levels(b, venue, sym)


def test_another_seed_gives_other_prices():
    assert _run(11).model.fair != _run(12).model.fair


# -- the wire ----------------------------------------------------------------------------------------
def test_every_message_the_exchange_sends_passes_the_venue_dictionary():
    dd = fix.DataDictionary(str(SHFE_DD))
    ex, send = make_exchange(load_market(SIM_MARKET))
    ex.on_md_request("SHFE", C1, md_request("M1", "CU", "ZN"))
    ex.on_new_order("SHFE", C1, new_order("A1", qty="12", price="77000", tif="0", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", qty="3", price="77003", pe="O"))
    ex.on_replace("SHFE", C1, replace("A3", "A1", qty="4", price="77010"))
    ex.on_cancel("SHFE", C1, cancel("A4", "A3"))
    ex.on_cancel("SHFE", C1, cancel("A5", "A3"))
    ex.on_status("SHFE", C1, status_request("NOPE"))
    for _ in range(5):
        ex.step()
    sent = send.take()
    assert {s.msg_type for s in sent} == {"W", "Y", "8", "9", "X"}

    for s in sent:
        msg = fix.Message(s.text, dd, False)
        header = msg.getHeader()
        for tag, value in ((49, "SHFE"), (56, "XMC"), (34, "2"), (52, "20240102-03:04:05.123")):
            header.setField(tag, value)
        dd.validate(msg)  # raises a quickfix.FIXException subclass naming the field
