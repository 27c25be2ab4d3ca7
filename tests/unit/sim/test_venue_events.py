"""What a simulated venue does on its own, driven through the Exchange with a recording ``send``:
trade busts and corrections (FIX 4.4 Appendix D, J.1.a/b/d), restatements, done for day and the
venue's end of day, unsolicited cancels, suspensions and their resumption, expiries, and orders from
another terminal on the client's account — each with its reports and the venue's positions."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.sim.sim_stubs import (C1, C2, ManualScheduler, cancel, levels, make_exchange, make_market,
                                      new_order, position, replace, reports, scenario, status_request)
from xmc_fix.clock import ManualClock
from xmc_fix.sim.behaviour import VenueEvent
from xmc_fix.sim.outbox import DropCopy
from xmc_fix.sim.positions import InitialPosition

DC = "FIX.4.4:SHFEDC->C1"


def _order(ex, cl: str):
    return ex.venues["SHFE"].orders[(C1, cl)]


def _run(ex, cl: str, action: str, venue: str = "SHFE", session: str = C1, **kw):
    ex.events.run(venue, ex.venues[venue].orders[(session, cl)], VenueEvent(action, **kw))


def _fills(send, cl: str):
    return [r for r in reports(send.take(C1), {cl}) if r["150"] == "F"]


# -- trade busts -----------------------------------------------------------------------------------
def test_bust_of_a_filled_day_order_reports_trade_cancel_and_the_order_works_again():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="0"))
    [fill] = _fills(send, "A1")

    _run(ex, "A1", "bust")

    [r] = reports(send.take(C1))
    assert (r["150"], r["19"], r["39"], r["14"], r["151"], r["6"], r["32"]) == \
           ("H", fill["17"], "0", "0", "5", "0", "0")
    assert r["17"] != fill["17"]
    assert position(ex).long_today == 0
    assert levels(ex)[0][0] == (D(80010), D(5))        # back in the book at its limit


def test_a_reopened_order_that_crosses_the_book_trades_again_after_its_bust_report():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80020", tif="0"))   # 5 @ 80010
    send.take()

    _run(ex, "A1", "bust")

    bust, refill = reports(send.take(C1))
    assert (bust["150"], bust["14"], refill["150"], refill["31"], refill["14"], refill["39"]) == \
           ("H", "0", "F", "80020", "5", "2")
    assert position(ex).long_today == D(5)


def test_bust_of_one_fill_of_an_ioc_keeps_the_other_and_ends_the_order_canceled():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80020", tif="3"))   # 5 @ 80010, 3 @ 80020
    first, second = _fills(send, "A1")

    _run(ex, "A1", "bust", fill=2)

    [r] = reports(send.take(C1))
    assert (r["150"], r["19"], r["39"], r["14"], r["151"], r["6"]) == ("H", second["17"], "4", "5", "0", "80010")
    assert position(ex).long_today == D(5)


def test_bust_of_a_filled_day_order_the_venue_does_not_reinstate_ends_it_canceled():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80020", tif="0"))
    send.take()
    before = levels(ex)[0]

    _run(ex, "A1", "bust", reopen=False)

    [r] = reports(send.take(C1))
    assert (r["150"], r["39"], r["14"], r["151"]) == ("H", "4", "0", "0")
    assert levels(ex)[0] == before


def test_bust_after_the_order_was_cancelled_keeps_it_canceled():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80010", tif="0"))   # 5 filled, 3 resting
    ex.on_cancel("SHFE", C1, cancel("A2", "A1"))
    send.take()

    _run(ex, "A2", "bust")

    [r] = reports(send.take(C1))
    assert (r["150"], r["39"], r["14"], r["151"], r["11"]) == ("H", "4", "0", "0", "A2")


def test_bust_of_a_working_partly_filled_order_gives_the_quantity_back_as_leaves():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80010", tif="0"))   # 5 filled, 3 resting
    send.take()

    _run(ex, "A1", "bust")

    [r] = reports(send.take(C1))
    assert (r["39"], r["14"], r["151"]) == ("0", "0", "8")
    assert levels(ex)[0][0] == (D(80010), D(8))


def test_bust_of_a_close_gives_the_closed_position_back():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="79990", pe="T"))
    assert position(ex).long_today == 0

    _run(ex, "A2", "bust")

    assert position(ex).long_today == D(5)


def test_bust_of_an_opening_fill_already_closed_leaves_the_other_side_held():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="5", price="79990", pe="T"))

    _run(ex, "A1", "bust")

    p = position(ex)
    assert (p.long_today, p.short_today, p.net) == (0, D(5), D(-5))


def test_bust_on_a_netting_venue_takes_the_fill_off_the_net_position():
    ex, send = make_exchange()
    ex.on_new_order("LME", C1, new_order("L1", symbol="CA", side="1", qty="3", price="9500.5", pe=None))
    ex.on_new_order("LME", C1, new_order("L2", symbol="CA", side="2", qty="1", price="9499.5", pe=None))
    assert position(ex, "LME", symbol="CA").net == D(2)

    _run(ex, "L1", "bust", venue="LME")

    assert position(ex, "LME", symbol="CA").net == D(-1)


def test_a_fill_already_busted_or_never_made_is_not_busted():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79000", tif="0"))    # rests, no fill
    send.take()

    _run(ex, "A1", "bust")

    assert send.take() == []


# -- trade corrections -----------------------------------------------------------------------------
def test_price_correction_reports_trade_correct_with_the_new_price_and_average():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80020", tif="3"))
    [fill] = _fills(send, "A1")

    _run(ex, "A1", "correct", ticks=2)
    _run(ex, "A1", "correct", ticks=-1)

    first, second = reports(send.take(C1))
    assert (first["150"], first["19"], first["32"], first["31"], first["14"], first["6"], first["39"]) == \
           ("G", fill["17"], "5", "80030", "5", "80030", "2")
    assert (second["19"], second["31"], second["6"]) == (first["17"], "80020", "80020")
    assert position(ex).long_today == D(5)


def test_quantity_correction_recomputes_cumqty_reopens_the_day_order_and_adjusts_the_position():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="0"))
    send.take()

    _run(ex, "A1", "correct", fraction=D("0.6"), ticks=0)

    [r] = reports(send.take(C1))
    assert (r["150"], r["32"], r["31"], r["14"], r["151"], r["39"], r["6"]) == \
           ("G", "3", "80010", "3", "2", "1", "80010")
    assert position(ex).long_today == D(3)
    assert levels(ex)[0][0] == (D(80010), D(2))


# -- restatement, done for day, unsolicited cancel, expiry -----------------------------------------------
def test_restatement_reduces_the_resting_quantity_and_keeps_priority():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="10", price="79990", tif="0"))
    send.take()

    _run(ex, "A1", "restate", fraction=D("0.5"))

    [r] = reports(send.take(C1))
    assert (r["150"], r["39"], r["378"], r["38"], r["151"], r["14"]) == ("D", "0", "5", "5", "5", "0")
    assert levels(ex)[0][0] == (D(79990), D(10))        # 5 of the market maker's first, then ours
    ex.on_new_order("SHFE", C2, new_order("B1", side="2", qty="10", price="79990", tif="3"))
    assert [r["14"] for r in reports(send.take(C1), {"A1"})] == ["5"]


def test_restating_a_close_order_frees_the_position_it_no_longer_needs():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="10", price="80020", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", side="2", qty="10", price="81000", tif="0", pe="T"))
    assert position(ex).available("long_today") == 0

    _run(ex, "A2", "restate", fraction=D("0.3"), reason="4")

    assert reports(send.take(C1))[-1]["378"] == "4"
    assert position(ex).available("long_today") == D(7)


def test_done_for_day_ends_a_resting_day_order_and_a_cancel_then_is_too_late():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="8", price="80010", tif="0"))    # 5 filled, 3 resting
    send.take()

    _run(ex, "A1", "done_for_day")
    ex.on_cancel("SHFE", C1, cancel("A2", "A1"))

    dfd, rej = send.take(C1)
    assert (dfd.fields["150"], dfd.fields["39"], dfd.fields["151"], dfd.fields["14"]) == ("3", "3", "0", "5")
    assert (rej.msg_type, rej.fields["39"], rej.fields["102"], rej.fields["58"]) == ("9", "3", "0", "order is done for day")
    assert levels(ex)[0][0] == (D(79990), D(5))


def test_end_of_day_ends_every_resting_day_order_and_carries_todays_positions_as_yesterdays():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", side="1", qty="5", price="80010", pe="O"))
    ex.on_new_order("SHFE", C1, new_order("A2", qty="2", price="79000", tif="0"))
    ex.on_new_order("SHFE", C2, new_order("B1", qty="2", price="79000", tif="0", account="ACC2"))
    send.take()

    ex.events.end_of_day("SHFE")

    assert sorted((s.session, s.fields["11"], s.fields["150"]) for s in send.take()) == \
           [(C1, "A2", "3"), (C2, "B1", "3")]
    assert (position(ex).long_today, position(ex).long_yday) == (0, D(5))
    ex.on_new_order("SHFE", C1, new_order("A3", side="2", qty="5", price="79990", pe="T"))
    ex.on_new_order("SHFE", C1, new_order("A4", side="2", qty="5", price="79990", pe="Y"))
    assert [(r["11"], r["39"]) for r in reports(send.take(C1)) if r["150"] in ("8", "F")] == [("A3", "8"), ("A4", "2")]


def test_unsolicited_cancel_carries_a_text_and_a_reason_and_no_origclordid():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79000", tif="0"))
    send.take()

    _run(ex, "A1", "unsolicited_cancel", text="cancelled on price limit")

    [r] = reports(send.take(C1))
    assert (r["150"], r["39"], r["151"], r["58"], r["378"], r["11"]) == \
           ("4", "4", "0", "cancelled on price limit", "8", "A1")
    assert "41" not in r


def test_expiry_ends_the_order_expired():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79000", tif="0"))
    send.take()

    _run(ex, "A1", "expire")

    [r] = reports(send.take(C1))
    assert (r["150"], r["39"], r["151"]) == ("C", "C", "0")
    assert all(px != D(79000) for px, _ in levels(ex)[0])


def test_events_on_a_finished_order_do_nothing():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="80010", tif="3"))   # filled
    send.take()

    for action in ("restate", "done_for_day", "unsolicited_cancel", "suspend", "expire"):
        _run(ex, "A1", action)

    assert send.take() == []


# -- suspension ------------------------------------------------------------------------------------
def test_suspended_order_leaves_the_book_stays_open_and_comes_back_restated():
    clock = ManualClock()
    sched = ManualScheduler(clock)
    ex, send = make_exchange(clock=clock, schedule=sched)
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79990", tif="0"))
    send.take()

    _run(ex, "A1", "suspend", resume_ms=300)
    ex.on_status("SHFE", C1, status_request("A1"))
    ex.on_replace("SHFE", C1, replace("A2", "A1", qty="5", price="79980"))

    susp, status, rej = send.take(C1)
    assert (susp.fields["150"], susp.fields["39"], susp.fields["151"]) == ("9", "9", "5")
    assert (status.fields["150"], status.fields["39"]) == ("I", "9")
    assert (rej.msg_type, rej.fields["39"], rej.fields["102"]) == ("9", "9", "2")
    assert levels(ex)[0][0] == (D(79990), D(5))          # the market maker's only
    sched.advance(300)
    [back] = reports(send.take(C1))
    assert (back["150"], back["39"], back["378"], back["151"]) == ("D", "0", "8", "5")
    assert levels(ex)[0][0] == (D(79990), D(10))


def test_suspended_order_can_be_cancelled():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="5", price="79000", tif="0"))
    _run(ex, "A1", "suspend")
    send.take()

    ex.on_cancel("SHFE", C1, cancel("A2", "A1"))

    [r] = reports(send.take(C1))
    assert (r["150"], r["39"], r["41"]) == ("4", "4", "A1")


# -- orders from another terminal ------------------------------------------------------------------
@pytest.mark.parametrize("report_to, order_session, drop_copy", [
    ("both", True, True), ("order", True, False), ("drop_copy", False, True)])
def test_foreign_order_on_the_account_trades_and_reports_where_the_scenario_says(report_to, order_session, drop_copy):
    ex, send = make_exchange(drop_copies={"SHFE": [DropCopy(DC)]})
    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="79000", tif="0"))
    send.take()

    _run(ex, "A1", "foreign", side="sell", qty=D(2), report_to=report_to, position_effect="O")

    sent = send.take()
    mine = reports([s for s in sent if s.session == C1])
    copies = reports([s for s in sent if s.session == DC])
    assert bool(mine) is order_session and bool(copies) is drop_copy
    rs = mine or copies
    assert {r["11"] for r in rs} == {rs[0]["11"]} and rs[0]["11"].startswith("MANUAL-")
    assert [(r["150"], r["39"]) for r in rs] == [("0", "0"), ("F", "2")]
    assert (rs[-1]["1"], rs[-1]["54"], rs[-1]["14"], rs[-1]["40"]) == ("ACC1", "2", "2", "1")
    assert position(ex).short_today == D(2)


def test_foreign_limit_order_behind_the_touch_rests_and_is_the_sessions_to_ask_about():
    ex, send = make_exchange()
    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="79000", tif="0"))
    send.take()

    _run(ex, "A1", "foreign", side="buy", ticks=-2, report_to="order")

    [ack] = reports(send.take(C1))
    assert (ack["150"], ack["44"], ack["59"]) == ("0", "79990", "0")
    ex.on_status("SHFE", C1, status_request(ack["11"]))
    assert reports(send.take(C1))[0]["39"] == "0"


# -- scheduled by the scenario -------------------------------------------------------------------------
def test_scripted_bust_comes_the_scripted_time_after_the_fill(tmp_path):
    clock = ManualClock()
    sched = ManualScheduler(clock)
    b = scenario(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 2\naction = "bust"\nms = 250\n')
    ex, send = make_exchange(clock=clock, schedule=sched, behaviours=b)
    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="80010", tif="3"))
    ex.on_new_order("SHFE", C1, new_order("A2", qty="1", price="80010", tif="3"))
    send.take()

    sched.advance(249)
    assert send.take() == []
    sched.advance(1)
    [r] = reports(send.take(C1))
    assert (r["11"], r["150"]) == ("A2", "H")


def test_bust_rate_busts_every_order_with_a_fill(tmp_path):
    b = scenario(tmp_path, "[default]\nbust_rate = 1\nbust_ms = 0\n")
    ex, send = make_exchange(behaviours=b)

    for i in range(3):
        ex.on_new_order("SHFE", C1, new_order(f"A{i}", qty="1", price="80010", tif="3"))
    ex.on_new_order("SHFE", C1, new_order("R1", qty="1", price="70000", tif="3"))   # no fill: nothing

    busted = [r["11"] for r in reports(send.take(C1)) if r["150"] == "H"]
    assert busted == ["A0", "A1", "A2"]
    assert position(ex).long_today == 0


def test_end_of_day_after_the_scripted_seconds(tmp_path):
    clock = ManualClock()
    sched = ManualScheduler(clock)
    b = scenario(tmp_path, "[venues.SHFE]\nend_of_day_s = 5\n")
    ex, send = make_exchange(clock=clock, schedule=sched, behaviours=b)
    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="79000", tif="0"))
    send.take()

    sched.advance(4_999)
    assert send.take() == []
    sched.advance(1)
    assert [r["150"] for r in reports(send.take(C1))] == ["3"]


def test_initial_positions_from_the_market_file_and_the_scenario(tmp_path):
    from dataclasses import replace as dc_replace
    base = make_market()
    shfe = dc_replace(base.venues["SHFE"], positions=(InitialPosition("SHFE", "ACC1", "CU", long=D(4)),
                                                      InitialPosition("SHFE", "ACC2", "CU", short=D(1))))
    market = dc_replace(base, venues={**base.venues, "SHFE": shfe})
    b = scenario(tmp_path, '[[position]]\nvenue = "SHFE"\naccount = "ACC2"\nsymbol = "CU"\nlong_today = 3\n', market)

    ex, send = make_exchange(market, behaviours=b)

    assert (position(ex).long_yday, position(ex, account="ACC2").long_today,
            position(ex, account="ACC2").short_yday) == (D(4), D(3), 0)
    ex.on_new_order("SHFE", C1, new_order("A1", side="2", qty="4", price="79990", pe="Y"))
    assert reports(send.take(C1))[-1]["39"] == "2"


def test_a_resting_order_is_acknowledged_and_never_matched_however_marketable(tmp_path):
    # `rest`: the venue holds the order unmatched (a matching pause) until a cancel or its own act
    b = scenario(tmp_path, '[[script]]\nvenue = "SHFE"\norder = 1\naction = "rest"\n')
    ex, send = make_exchange(behaviours=b)
    ex.on_new_order("SHFE", C1, new_order("A1", qty="1", price="80010", tif="3"))     # an IOC that would fill
    [ack] = reports(send.take(C1))
    assert (ack["150"], ack["39"]) == ("0", "0")
    ex.on_status("SHFE", C1, status_request("A1"))
    assert reports(send.take(C1))[0]["39"] == "0"                                   # still live, nothing filled
    ex.on_new_order("SHFE", C1, new_order("A2", qty="1", price="80010", tif="3"))     # the next order trades
    assert [r["150"] for r in reports(send.take(C1))] == ["0", "F"]
    assert position(ex).long_today == 1
