"""The simulator's messages on the wire: every message each new behaviour produces passes the
receiving session's dictionary (FIX44-SHFE, FIX44-XMC, FIX42), and a FIX 4.2 session gets FIX 4.2
execution reports — ExecTransType new / cancel / correct / status, ExecType 1 / 2 for fills."""

from __future__ import annotations

import functools
from decimal import Decimal as D

import pytest
import quickfix as fix

from tests.unit.sim.sim_stubs import (ROOT, ManualScheduler, cancel, make_exchange, make_market, mass_status_request,
                                      md_request, new_order, positions_request, replace, reports, status_request,
                                      wire)
from xmc_fix.clock import ManualClock
from xmc_fix.sim.behaviour import VenueEvent
from xmc_fix.sim.outbox import DropCopy
from xmc_fix.sim.positions import InitialPosition
from xmc_fix.sim.reports import EXEC_TYPE_42, EXEC_TYPE_44, Kind

SPECS = ROOT / "fixspecs"
DICTIONARIES = {"SHFE": "FIX44-SHFE.xml", "LME": "FIX44-XMC.xml"}
S44, DC44 = "FIX.4.4:SHFE->C1", "FIX.4.4:SHFEDC->C1"
L44, L42, LDC = "FIX.4.4:LME->C1", "FIX.4.2:LME->C1", "FIX.4.4:LMEDC->C1"


def _begin(session: str) -> str:
    return session.split(":", 1)[0]


@functools.cache
def _dd(name: str) -> fix.DataDictionary:
    return fix.DataDictionary(str(SPECS / name))


def _dd_for(session: str) -> fix.DataDictionary:
    if session.startswith("FIX.4.2"):
        return _dd("FIX42.xml")
    return _dd(DICTIONARIES[session.split(":", 1)[1].split("->")[0].removesuffix("DC")])


def _validate(sent) -> None:
    for s in sent:
        dd = _dd_for(s.session)
        msg = fix.Message(s.text, dd, False)
        header = msg.getHeader()
        for tag, value in ((49, "V"), (56, "C1"), (34, "2"), (52, "20240102-03:04:05.123")):
            header.setField(tag, value)
        try:
            dd.validate(msg)
        except Exception as e:  # noqa: BLE001 - name the message that failed
            raise AssertionError(f"{s.session}: {type(e).__name__} {e} in {s.text.replace(chr(1), '|')}") from e


def _every_behaviour(ex, send, sched, session: str, dc: str, venue: str, sym: str, px: dict, pe: str | None):
    """Drive one venue through every new behaviour; return everything sent."""
    out = []
    ev = ex.events.run
    ex.on_md_request(venue, session, md_request("M1", sym))
    ex.on_new_order(venue, session, new_order("A1", symbol=sym, qty="3", price=px["cross"], tif="0", pe=pe))
    ex.on_new_order(venue, session, new_order("A0", symbol=sym, qty="0", price=px["cross"], tif="0", pe=pe))
    orders = ex.venues[venue].orders
    ev(venue, orders[(session, "A1")], VenueEvent("correct", ticks=1, fraction=D("0.5")))
    ev(venue, orders[(session, "A1")], VenueEvent("bust", fill=1))
    ex.on_new_order(venue, session, new_order("A2", symbol=sym, qty="4", price=px["far"], tif="0", pe=pe))
    ev(venue, orders[(session, "A2")], VenueEvent("restate", fraction=D("0.5")))
    ev(venue, orders[(session, "A2")], VenueEvent("suspend", resume_ms=100))
    sched.advance(100)
    ex.on_new_order(venue, session, new_order("A3", symbol=sym, qty="1", price=px["far"], tif="0", pe=pe))
    ex.on_new_order(venue, session, new_order("A4", symbol=sym, qty="1", price=px["far"], tif="0", pe=pe))
    ex.on_new_order(venue, session, new_order("A5", symbol=sym, qty="1", price=px["far"], tif="0", pe=pe))
    ev(venue, orders[(session, "A3")], VenueEvent("unsolicited_cancel"))
    ev(venue, orders[(session, "A4")], VenueEvent("expire"))
    ev(venue, orders[(session, "A5")], VenueEvent("done_for_day"))
    ev(venue, orders[(session, "A2")], VenueEvent("foreign", side="buy", qty=D(1), position_effect=None))
    ex.on_status(venue, session, status_request("A2"))
    ex.on_status(venue, session, status_request("NOPE"))
    ex.on_cancel(venue, session, cancel("A6", "A5"))
    ex.on_replace(venue, session, replace("A7", "A2", qty="2", price=px["far"], pe=pe))
    if not session.startswith("FIX.4.2"):
        ex.on_mass_status(venue, session, mass_status_request("MS1"))
        ex.on_mass_status(venue, session, mass_status_request("MS2", "1", symbol="NONE"))
        ex.on_mass_status(venue, session, mass_status_request("MS3", "3"))
        ex.on_positions_request(venue, session, positions_request("PR1", "ACC1"))
        ex.on_positions_request(venue, session, positions_request("PR2", "ACC0"))
        ex.on_positions_request(venue, session, positions_request("PR3", "ACC1", req_type="1"))
    ex.events.end_of_day(venue)
    for _ in range(3):
        ex.step()
    out += send.take()
    return out


@pytest.mark.parametrize("venue, session, dc, sym, px, pe", [
    ("SHFE", S44, DC44, "CU", {"cross": "80010", "far": "79000"}, "O"),
    ("LME", L44, LDC, "CA", {"cross": "9500.5", "far": "9400"}, None),
    ("LME", L42, LDC, "CA", {"cross": "9500.5", "far": "9400"}, None),
])
def test_every_message_of_every_new_behaviour_passes_the_receiving_dictionary(venue, session, dc, sym, px, pe):
    clock = ManualClock(1_704_164_645_000_000_000)
    sched = ManualScheduler(clock)
    market = make_market()
    from dataclasses import replace as dc_replace
    v = dc_replace(market.venues[venue], positions=(InitialPosition(venue, "ACC1", sym, long=D(2)),))
    market = dc_replace(market, venues={**market.venues, venue: v})
    ex, send = make_exchange(market, clock, schedule=sched, begin_string=_begin, drop_copies={venue: [DropCopy(dc)]})

    sent = _every_behaviour(ex, send, sched, session, dc, venue, sym, px, pe)

    kinds = {(s.msg_type, s.fields.get("150")) for s in sent}
    want = {("8", t) for t in ("0", "D", "9", "4", "C", "3", "8")} | {("9", None), ("X", None), ("W", None)}
    want |= {("8", "I"), ("8", "F"), ("8", "G"), ("8", "H")} if "4.4" in session else {("8", "1"), ("8", "2")}
    want |= {("AO", None), ("AP", None), ("j", None)} if "4.4" in session else set()
    assert want <= kinds, want - kinds
    assert any(s.session == dc for s in sent)
    _validate(sent)


def test_fix42_reports_carry_exectranstype_and_fill_exectypes():
    ex, send = make_exchange(begin_string=_begin)
    ex.on_new_order("LME", L42, new_order("A1", symbol="CA", qty="8", price="9501", tif="3", pe=None))
    order = ex.venues["LME"].orders[(L42, "A1")]
    ex.events.correct(ex.venues["LME"], order, 1, ticks=1)
    ex.events.bust(ex.venues["LME"], order, 2)
    ex.on_status("LME", L42, status_request("A1"))

    rs = reports(send.take(L42))
    assert [(r["20"], r["150"], r["39"]) for r in rs] == [
        ("0", "0", "0"), ("0", "1", "1"), ("0", "2", "2"), ("2", "2", "2"), ("1", "1", "4"), ("3", "4", "4")]
    correct, bust = rs[3], rs[4]
    assert (correct["19"], correct["32"], correct["31"], correct["6"]) == (rs[1]["17"], "5", "9501", "9501")
    assert (bust["19"], bust["32"], bust["14"], bust["151"]) == (rs[2]["17"], "0", "5", "0")
    assert all("797" not in r and "584" not in r for r in rs)


def test_fix42_market_data_has_no_rptseq():
    ex, send = make_exchange(begin_string=_begin)

    ex.on_md_request("LME", L42, md_request("M1", "CA"))
    ex.on_md_request("LME", L44, md_request("M1", "CA"))
    ex.on_new_order("LME", "other", new_order("X1", symbol="CA", side="2", qty="1", price="9500", tif="0", pe=None))

    by = {(s.session, s.msg_type): s.fields for s in send.take() if s.msg_type in ("W", "X")}
    assert "83" not in by[(L42, "W")] and "83" not in by[(L42, "X")]
    assert "83" in by[(L44, "W")] and "83" in by[(L44, "X")]


def test_reject_reasons_fix42_does_not_define_are_sent_as_broker_option():
    ex, send = make_exchange(begin_string=_begin)

    ex.on_new_order("LME", L42, new_order("A1", symbol="CA", qty="0.5", price="9400", tif="0", pe=None))
    ex.on_new_order("LME", L44, new_order("A1", symbol="CA", qty="0.5", price="9400", tif="0", pe=None))

    assert [(s.session, s.fields["103"]) for s in send.take()] == [(L42, "0"), (L44, "13")]


def test_restatement_reasons_fix42_does_not_define_are_sent_as_broker_option():
    ex, send = make_exchange(begin_string=_begin)
    ex.on_new_order("LME", L42, new_order("A1", symbol="CA", qty="1", price="9400", tif="0", pe=None))
    send.take()

    ex.events.unsolicited_cancel(ex.venues["LME"], ex.venues["LME"].orders[(L42, "A1")])

    [r] = reports(send.take(L42))
    assert (r["150"], r["378"]) == ("4", "4")


def test_every_kind_has_an_exectype_in_both_dialects():
    assert set(EXEC_TYPE_44) == set(Kind) == set(EXEC_TYPE_42)


def test_business_reject_of_an_unsupported_request_names_message_and_request():
    from dataclasses import replace as dc_replace
    market = make_market()
    market = dc_replace(market, venues={**market.venues, "LME": dc_replace(market.venues["LME"],
                                                                            request_for_positions=False)})
    ex, send = make_exchange(market)

    ex.on_positions_request("LME", L44, wire("AN", ("710", "R9"), ("724", "0"), ("1", "A"), ("581", "1"),
                                             ("715", "20240102"), ("60", "20240102-00:00:00")))

    _validate(send.sent)
    [s] = send.take()
    assert (s.fields["372"], s.fields["379"], s.fields["380"]) == ("AN", "R9", "3")


def test_cancel_reject_reasons_fix42_does_not_define_are_sent_as_broker_option():
    ex, send = make_exchange(begin_string=_begin)
    ex.on_new_order("LME", L42, new_order("A1", symbol="CA", qty="1", price="9400", tif="0", pe=None))
    send.take()

    ex.on_replace("LME", L42, replace("A2", "A1", qty="1", price="9400.3", symbol="CA", pe=None))

    _validate(send.sent)
    [rej] = send.take()
    assert (rej.msg_type, rej.fields["102"], rej.fields["58"]) == ("9", "2", "quantity or price off the grid")
