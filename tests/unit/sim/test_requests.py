"""What a client may ask a simulated venue: OrderMassStatusRequest (AF) in each scope, including the
"no orders" answer and the venues that do not serve it, and RequestForPositions (AN) answered with
a RequestForPositionsAck (AO) and a PositionReport (AP) per instrument, today's and yesterday's
holdings apart. Driven through the Exchange with a recording ``send``."""

from __future__ import annotations

from dataclasses import replace as dc_replace
from decimal import Decimal as D

import pytest
import quickfix as fix

from tests.unit.sim.sim_stubs import (C1, C2, make_exchange, make_instrument, make_market, mass_status_request,
                                      new_order, positions_request, reports, wire)
from xmc_fix.sim.positions import InitialPosition


def _market(**venue_overrides):
    base = make_market()
    cu2 = make_instrument(symbol="CU2", security_id="cu2602")
    shfe = dc_replace(base.venues["SHFE"], instruments={**base.venues["SHFE"].instruments, "CU2": cu2},
                      **venue_overrides)
    return dc_replace(base, venues={**base.venues, "SHFE": shfe})


def _resting(ex, session=C1, **kw):
    ex.on_new_order("SHFE", session, new_order(**{"qty": "1", "price": "79000", "tif": "0", **kw}))


# -- OrderMassStatusRequest ----------------------------------------------------------------------------
def test_mass_status_for_all_orders_reports_each_working_order_once_with_the_request_id_and_counts():
    ex, send = make_exchange(_market())
    _resting(ex, cl="A1")
    _resting(ex, cl="A2", symbol="CU2")
    ex.on_new_order("SHFE", C1, new_order("A3", qty="1", price="80010", tif="3"))     # filled: not working
    _resting(ex, C2, cl="B1")                                                           # another client's
    send.take()

    ex.on_mass_status("SHFE", C1, mass_status_request("MS1", "7"))

    rs = reports(send.take(C1))
    assert [(r["11"], r["150"], r["39"], r["584"], r["911"], r["912"]) for r in rs] == [
        ("A1", "I", "0", "MS1", "2", "N"), ("A2", "I", "0", "MS1", "2", "Y")]
    assert len({r["17"] for r in rs}) == 2


@pytest.mark.parametrize("scope, fields, expected", [
    ("1", {"symbol": "CU2"}, ["A2"]),
    ("1", {"security_id": "cu2602"}, ["A2"]),
    ("7", {"account": "ACC9"}, ["A3"]),
    ("7", {"side": "2"}, ["A4"]),
    ("1", {"symbol": "CU", "account": "ACC1", "side": "1"}, ["A1"]),
])
def test_mass_status_scope_by_security_account_and_side(scope, fields, expected):
    ex, send = make_exchange(_market())
    _resting(ex, cl="A1")
    _resting(ex, cl="A2", symbol="CU2")
    _resting(ex, cl="A3", account="ACC9")
    ex.on_new_order("SHFE", C1, new_order("A4", side="2", qty="1", price="81000", tif="0", pe="O"))
    send.take()

    ex.on_mass_status("SHFE", C1, mass_status_request("MS2", scope, **fields))

    assert [r["11"] for r in reports(send.take(C1))] == expected


def test_mass_status_without_a_matching_order_says_so_in_one_report():
    ex, send = make_exchange()
    _resting(ex, C2, cl="B1")
    send.take()

    ex.on_mass_status("SHFE", C1, mass_status_request("MS3"))

    [r] = reports(send.take(C1))
    assert (r["37"], r["150"], r["39"], r["584"], r["911"], r["912"], r["14"], r["151"]) == \
           ("NONE", "I", "8", "MS3", "0", "Y", "0", "0")
    assert r["58"] == "no orders match the request"


def test_mass_status_includes_suspended_orders_and_not_done_for_day_ones():
    ex, send = make_exchange()
    _resting(ex, cl="A1")
    _resting(ex, cl="A2")
    venue = ex.venues["SHFE"]
    ex.events.suspend(venue, venue.orders[(C1, "A1")])
    ex.events.done_for_day(venue, venue.orders[(C1, "A2")])
    send.take()

    ex.on_mass_status("SHFE", C1, mass_status_request())

    assert [(r["11"], r["39"]) for r in reports(send.take(C1))] == [("A1", "9")]


@pytest.mark.parametrize("scope, fields, reason, text", [
    ("3", {}, "0", "MassStatusReqType 3 not served"),
    ("1", {}, "5", "needs Symbol (55) or SecurityID (48)"),
])
def test_mass_status_scope_the_venue_does_not_serve_is_a_business_reject(scope, fields, reason, text):
    ex, send = make_exchange()

    ex.on_mass_status("SHFE", C1, mass_status_request("MS4", scope, **fields))

    [s] = send.take(C1)
    assert (s.msg_type, s.fields["372"], s.fields["380"], s.fields["379"]) == ("j", "AF", reason, "MS4")
    assert text in s.fields["58"]


def test_venue_without_mass_status_rejects_the_message_as_unsupported():
    ex, send = make_exchange(_market(order_mass_status=False))

    ex.on_mass_status("SHFE", C1, mass_status_request("MS5"))

    [s] = send.take(C1)
    assert (s.msg_type, s.fields["372"], s.fields["380"], s.fields["379"], s.fields["45"]) == \
           ("j", "AF", "3", "MS5", "0")


# -- RequestForPositions ---------------------------------------------------------------------------
def _positions(send):
    sent = send.take(C1)
    return sent[0].fields, [s for s in sent[1:]]


def _entries(ap_text: str) -> list[tuple[str, str, str]]:
    pairs = [f.split("=", 1) for f in ap_text.split("\x01") if f]
    out, cur = [], None
    for tag, value in pairs:
        if tag == "703":
            cur = [value]
            out.append(cur)
        elif tag in ("704", "705") and cur is not None:
            cur.append(value)
    return [tuple(e) for e in out]


def test_positions_answer_is_an_ack_then_one_report_per_instrument_with_today_and_yesterday_apart():
    market = _market(positions=(InitialPosition("SHFE", "ACC1", "CU", long=D(4), short_today=D(1)),
                                InitialPosition("SHFE", "ACC2", "CU", long=D(9))))
    ex, send = make_exchange(market)
    ex.on_new_order("SHFE", C1, new_order("A1", qty="2", price="80010", tif="3"))
    ex.on_new_order("SHFE", C1, new_order("A2", qty="3", price="80010", tif="3", symbol="CU2"))
    send.take()

    ex.on_positions_request("SHFE", C1, positions_request("PR1", "ACC1"))

    ack, aps = _positions(send)
    assert (ack["35"], ack["710"], ack["727"], ack["728"], ack["729"], ack["1"], ack["581"]) == \
           ("AO", "PR1", "2", "0", "0", "ACC1", "1")
    assert [s.msg_type for s in aps] == ["AP", "AP"] and all(s.needs_dd for s in aps)
    cu, cu2 = (s.fields for s in aps)
    assert (cu["55"], cu["710"], cu["727"], cu["728"], cu["1"], cu["730"], cu["731"], cu["734"]) == \
           ("CU", "PR1", "2", "0", "ACC1", "80000", "2", "80000")
    assert (cu2["55"], cu2["48"], cu2["22"]) == ("CU2", "cu2602", "8")
    assert len(cu["715"]) == 8 and cu["721"] != cu2["721"] != ack["721"]
    assert _entries(aps[0].text) == [("SOD", "4", "0"), ("TQ", "2", "1")]
    assert _entries(aps[1].text) == [("SOD", "0", "0"), ("TQ", "3", "0")]


def test_positions_of_one_instrument_when_the_request_names_it():
    ex, send = make_exchange(_market(positions=(InitialPosition("SHFE", "ACC1", "CU", long=D(4)),
                                                InitialPosition("SHFE", "ACC1", "CU2", long=D(1)))))

    ex.on_positions_request("SHFE", C1, positions_request("PR2", symbol="CU2"))

    ack, [ap] = _positions(send)
    assert (ack["727"], ap.fields["55"]) == ("1", "CU2")


def test_positions_request_for_an_account_without_holdings_says_none_found():
    ex, send = make_exchange()

    ex.on_positions_request("SHFE", C1, positions_request("PR3", "ACC7"))

    [s] = send.take(C1)
    assert (s.msg_type, s.fields["728"], s.fields["729"], s.fields["727"]) == ("AO", "2", "0", "0")


@pytest.mark.parametrize("kw", [dict(req_type="1"), dict(subscription="1")])
def test_positions_request_the_venue_does_not_serve_is_refused_in_the_ack(kw):
    ex, send = make_exchange(_market(positions=(InitialPosition("SHFE", "ACC1", "CU", long=D(4)),)))

    ex.on_positions_request("SHFE", C1, positions_request("PR4", **kw))

    [s] = send.take(C1)
    assert (s.msg_type, s.fields["728"], s.fields["729"]) == ("AO", "1", "2")


def test_venue_without_position_requests_rejects_the_message_as_unsupported():
    ex, send = make_exchange(_market(request_for_positions=False))

    ex.on_positions_request("SHFE", C1, positions_request("PR5"))

    [s] = send.take(C1)
    assert (s.msg_type, s.fields["372"], s.fields["380"], s.fields["379"]) == ("j", "AN", "3", "PR5")


def test_a_netting_venue_reports_its_net_holding():
    ex, send = make_exchange()
    ex.on_new_order("LME", C1, new_order("L1", symbol="CA", qty="3", price="9500.5", pe=None, tif="3"))
    ex.on_new_order("LME", C1, new_order("L2", symbol="CA", side="2", qty="5", price="9499.5", pe=None, tif="3"))
    send.take()

    ex.on_positions_request("LME", C1, positions_request("PR6"))

    _, [ap] = _positions(send)
    assert _entries(ap.text) == [("SOD", "0", "0"), ("TQ", "0", "2")]


# -- OrderStatusRequest ------------------------------------------------------------------------------
def test_status_request_id_is_echoed():
    ex, send = make_exchange()
    _resting(ex, cl="A1")
    send.take()

    ex.on_status("SHFE", C1, wire("H", ("11", "A1"), ("790", "Q1"), ("55", "CU"), ("54", "1")))
    ex.on_status("SHFE", C1, wire("H", ("11", "NOPE"), ("790", "Q2"), ("55", "CU"), ("54", "1")))

    assert [(r["11"], r["790"]) for r in reports(send.take(C1))] == [("A1", "Q1"), ("NOPE", "Q2")]


def test_position_report_group_parses_with_the_venue_dictionary():
    from tests.unit.sim.sim_stubs import SHFE_DD
    dd = fix.DataDictionary(str(SHFE_DD))
    ex, send = make_exchange(_market(positions=(InitialPosition("SHFE", "ACC1", "CU", long=D(4), long_today=D(2)),)))
    ex.on_positions_request("SHFE", C1, positions_request("PR7"))

    _, [ap] = _positions(send)
    msg = fix.Message(ap.text, dd, False)

    group = fix.Group(702, 703)
    msg.getGroup(2, group)
    assert (group.getField(703), group.getField(704), group.getField(705)) == ("TQ", "2", "0")
