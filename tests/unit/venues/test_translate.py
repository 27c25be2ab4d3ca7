"""FIX <-> domain translation: decoding each application message the engine consumes, encoding each
command so that QuickFIX accepts it against the venue's dictionary, timestamps, decimals on the wire,
and every enum table entry in both directions."""

from __future__ import annotations

import calendar
from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from xmc_fix import fixwire as fw
from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, ReplaceOrder, SubscribeMarketData
from xmc_fix.domain.enums import (BookAction, BookSide, ExecType, OrdStatus, OrdType, PositionEffect, Side,
                                  TimeInForce)
from xmc_fix.domain.instruments import Instrument
from xmc_fix.errors import FixTranslationError
from xmc_fix.venues import dialects
from xmc_fix.venues import translate as tr

ROOT = Path(__file__).resolve().parents[3]
SHFE_DD = str(ROOT / "fixspecs" / "FIX44-SHFE.xml")
XMC_DD = str(ROOT / "fixspecs" / "FIX44-XMC.xml")
SOH = "\x01"
#: the SHFE broker gateway as sessions/venues.cfg configures it (microsecond timestamps)
SHFE = dialects.for_session({"BeginString": "FIX.4.4", "Dialect": "SHFE", "TimestampPrecision": "6"})
NOW = calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000_000 + 123_456_789   # 20240102-03:04:05.123456789


# -- stub factories ----------------------------------------------------------------------------
def wire(msg_type: str, *pairs: tuple[str, str], header: tuple[tuple[str, str], ...] = ()) -> str:
    body = "".join(f"{t}={v}{SOH}" for t, v in (*header, *pairs))
    return f"8=FIX.4.4{SOH}9={len(body)}{SOH}35={msg_type}{SOH}{body}10=123{SOH}"


HEADER = (("34", "7"), ("49", "SHFE"), ("52", "20240102-03:04:05.000100"), ("56", "XMC"))


def er_text(**tags: str | None) -> str:
    """A full fill of 5 CU at 80010 unless told otherwise; ``tag=None`` drops a tag."""
    fields = {"37": "O1", "11": "A1", "17": "E1", "150": "F", "39": "2", "55": "CU", "54": "1", "38": "5",
              "32": "5", "31": "80010", "151": "0", "14": "5", "6": "80010", "60": "20240102-03:04:05.123456"}
    fields.update({k.removeprefix("t"): v for k, v in tags.items()})
    return wire("8", *((k, v) for k, v in fields.items() if v is not None), header=HEADER)


def make_instrument(**overrides) -> Instrument:
    fields = dict(name="SHFE_CU", venue="SHFE", symbol="CU", currency="CNY", contract_size=D(5), unit="t",
                  tick=D(10), security_id="cu2601", position_effect=True)
    return Instrument(**{**fields, **overrides})


def lme() -> Instrument:
    return make_instrument(name="LME_CA", venue="LME", symbol="CA", currency="USD", contract_size=D(25),
                           tick=D("0.5"), security_id=None, position_effect=False)


def make_new_order(**overrides) -> NewOrder:
    fields = dict(cl_ord_id="A1", instrument=make_instrument(), side=Side.BUY, qty=D(5), ord_type=OrdType.LIMIT,
                  price=D(80000), tif=TimeInForce.IOC, account="ACC1", position_effect=PositionEffect.CLOSE_TODAY)
    return NewOrder(**{**fields, **overrides})


def make_replace(**overrides) -> ReplaceOrder:
    fields = dict(cl_ord_id="A3", orig_cl_ord_id="A1", instrument=make_instrument(), side=Side.SELL, qty=D(3),
                  ord_type=OrdType.LIMIT, price=D(80010), tif=TimeInForce.DAY, account="ACC1",
                  position_effect=PositionEffect.OPEN, order_id="O1")
    return ReplaceOrder(**{**fields, **overrides})


def make_cancel(**overrides) -> CancelOrder:
    fields = dict(cl_ord_id="A2", orig_cl_ord_id="A1", instrument=make_instrument(), side=Side.BUY, qty=D(5),
                  order_id="O1")
    return CancelOrder(**{**fields, **overrides})


def pairs(text: str) -> list[tuple[str, str]]:
    return fw.split(text)


def body_tags(text: str) -> list[str]:
    return [t for t, _ in pairs(text) if t not in ("8", "9", "35", "10")]


def validated(text: str, dd_path: str) -> fix.Message:
    """Parse as the adapter does and validate once the session would have set the header."""
    dd = fix.DataDictionary(dd_path)
    msg = fix.Message(text, dd, False)
    header = msg.getHeader()
    for tag, value in ((49, "XMC"), (56, "SHFE"), (34, "2"), (52, "20240102-03:04:05.123")):
        header.setField(tag, value)
    dd.validate(msg)
    return msg


# -- ExecutionReport -----------------------------------------------------------------------------
def test_execution_report_becomes_an_exec_report_event():
    rep = tr.decode_execution_report("SHFE", er_text(t58="done"), 42)

    assert (rep.venue, rep.cl_ord_id, rep.orig_cl_ord_id, rep.order_id, rep.exec_id) == ("SHFE", "A1", None, "O1", "E1")
    assert (rep.exec_type, rep.ord_status, rep.side, rep.symbol) == (ExecType.TRADE, OrdStatus.FILLED, Side.BUY, "CU")
    assert (rep.order_qty, rep.cum_qty, rep.leaves_qty) == (D(5), D(5), D(0))
    assert (rep.last_qty, rep.last_px, rep.avg_px) == (D(5), D(80010), D(80010))
    assert (rep.text, rep.poss_dup, rep.recv_ns) == ("done", False, 42)
    assert rep.venue_ns == calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000_000 + 123_456_000


def test_execution_report_quantities_are_exact_decimals():
    rep = tr.decode_execution_report("LME", er_text(t32="0.1", t14="0.3", t6="9500.25"), 0)

    assert (rep.last_qty, rep.cum_qty, rep.avg_px) == (D("0.1"), D("0.3"), D("9500.25"))


def test_execution_report_without_transact_time_takes_the_sending_time():
    rep = tr.decode_execution_report("SHFE", er_text(t60=None), 0)

    assert rep.venue_ns == calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000_000 + 100_000


@pytest.mark.parametrize("tag", ["43", "97"])
def test_possdup_or_possresend_marks_the_report_as_a_possible_duplicate(tag):
    rep = tr.decode_execution_report("SHFE", er_text(**{f"t{tag}": "Y"}), 0)

    assert rep.poss_dup is True


def test_execution_report_without_order_qty_has_none_and_missing_numbers_are_zero():
    rep = tr.decode_execution_report("SHFE", er_text(t38=None, t32=None, t31=None, t6=None, t150="0", t39="0"), 0)

    assert rep.order_qty is None
    assert (rep.last_qty, rep.last_px, rep.avg_px) == (0, 0, 0)


def test_cancel_report_carries_the_original_clordid():
    rep = tr.decode_execution_report("SHFE", er_text(t150="4", t39="4", t11="A2", t41="A1"), 0)

    assert (rep.exec_type, rep.ord_status, rep.cl_ord_id, rep.orig_cl_ord_id) == \
           (ExecType.CANCELED, OrdStatus.CANCELED, "A2", "A1")


@pytest.mark.parametrize("code", ["1", "2"])
def test_fix42_partial_fill_and_fill_exec_types_are_trades(code):
    assert tr.decode_execution_report("SHFE", er_text(t150=code), 0).exec_type is ExecType.TRADE


@pytest.mark.parametrize("tags, bad_tag", [
    (dict(t11=None), 11), (dict(t17=None), 17), (dict(t150="Z"), 150), (dict(t39="Z"), 39),
    (dict(t54="7"), 54), (dict(t14="five"), 14), (dict(t31="1,5"), 31),
])
def test_execution_report_that_cannot_be_translated_names_the_tag(tags, bad_tag):
    with pytest.raises(FixTranslationError) as e:
        tr.decode_execution_report("SHFE", er_text(**tags), 0)

    assert e.value.tag == bad_tag


# -- market data ---------------------------------------------------------------------------------
def test_incremental_refresh_with_several_symbols_gives_one_update_per_symbol():
    raw = wire("X", ("262", "M1"), ("268", "4"),
               ("279", "0"), ("269", "0"), ("55", "CU"), ("270", "80000"), ("271", "5"), ("83", "11"),
               ("279", "1"), ("269", "1"), ("55", "CA"), ("270", "9500.5"), ("271", "3"), ("83", "40"),
               ("279", "2"), ("269", "1"), ("55", "CU"), ("270", "80020"), ("83", "11"),
               ("279", "1"), ("269", "1"), ("55", "CA"), ("270", "9501"), ("271", "2"), ("83", "40"),
               header=HEADER)

    cu, ca = tr.decode_incremental("SHFE", raw, 9)

    assert (cu.symbol, cu.rpt_seq, ca.symbol, ca.rpt_seq) == ("CU", 11, "CA", 40)
    assert [(e.action, e.side, e.price, e.size) for e in cu.entries] == [
        (BookAction.NEW, BookSide.BID, D(80000), D(5)), (BookAction.DELETE, BookSide.ASK, D(80020), D(0))]
    assert [(e.action, e.price, e.size) for e in ca.entries] == [
        (BookAction.CHANGE, D("9500.5"), D(3)), (BookAction.CHANGE, D(9501), D(2))]
    assert (cu.venue, cu.recv_ns) == ("SHFE", 9)
    assert cu.venue_ns == ca.venue_ns == calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000_000 + 100_000


def test_incremental_entry_without_rptseq_leaves_it_unknown():
    raw = wire("X", ("262", "M1"), ("268", "1"), ("279", "0"), ("269", "0"), ("55", "CU"), ("270", "1"),
               ("271", "1"))

    [upd] = tr.decode_incremental("SHFE", raw, 0)

    assert upd.rpt_seq is None and upd.venue_ns is None


@pytest.mark.parametrize("entry, bad_tag", [
    ((("279", "0"), ("269", "0"), ("270", "1"), ("271", "1")), 55),
    ((("279", "5"), ("269", "0"), ("55", "CU"), ("270", "1")), 279),
    ((("279", "0"), ("269", "2"), ("55", "CU"), ("270", "1")), 269),
    ((("279", "0"), ("269", "0"), ("55", "CU"), ("270", "x")), 270),
])
def test_incremental_entry_that_cannot_be_translated_names_the_tag(entry, bad_tag):
    raw = wire("X", ("262", "M1"), ("268", "1"), *entry)

    with pytest.raises(FixTranslationError) as e:
        tr.decode_incremental("SHFE", raw, 0)

    assert e.value.tag == bad_tag


def test_snapshot_gives_sorted_levels_and_skips_entries_that_are_not_book_levels():
    raw = wire("W", ("262", "M1"), ("83", "17"), ("55", "CU"), ("48", "cu2601"), ("22", "8"), ("268", "5"),
               ("269", "0"), ("270", "79990"), ("271", "4"),
               ("269", "1"), ("270", "80020"), ("271", "6"),
               ("269", "0"), ("270", "80000"), ("271", "2"),
               ("269", "2"), ("270", "80005"), ("271", "1"),
               ("269", "1"), ("270", "80010"), ("271", "3"),
               header=HEADER)

    snap = tr.decode_snapshot("SHFE", raw, 5)

    assert (snap.venue, snap.symbol, snap.rpt_seq, snap.recv_ns) == ("SHFE", "CU", 17, 5)
    assert snap.bids == ((D(80000), D(2)), (D(79990), D(4)))
    assert snap.asks == ((D(80010), D(3)), (D(80020), D(6)))
    assert snap.venue_ns == calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000_000 + 100_000


def test_empty_snapshot_without_rptseq():
    snap = tr.decode_snapshot("SHFE", wire("W", ("262", "M1"), ("55", "CU"), ("268", "0")), 0)

    assert (snap.bids, snap.asks, snap.rpt_seq) == ((), (), None)


def test_snapshot_without_symbol_is_refused():
    with pytest.raises(FixTranslationError) as e:
        tr.decode_snapshot("SHFE", wire("W", ("262", "M1"), ("268", "0")), 0)

    assert e.value.tag == 55


def test_market_data_reject_gives_the_text_or_the_reason_code():
    with_text = tr.decode_md_reject("SHFE", wire("Y", ("262", "M1"), ("281", "0"), ("58", "unknown symbol ZN")), 3)
    without = tr.decode_md_reject("SHFE", wire("Y", ("262", "M2"), ("281", "1")), 3)

    assert (with_text.md_req_id, with_text.reason, with_text.recv_ns) == ("M1", "unknown symbol ZN", 3)
    assert (without.md_req_id, without.reason) == ("M2", "reason 1")


# -- rejects -------------------------------------------------------------------------------------
def test_session_reject_names_the_reason_the_tag_and_the_refused_message():
    raw = wire("3", ("45", "12"), ("371", "77"), ("372", "D"), ("373", "1"), ("58", "Required tag missing"),
               header=HEADER)

    rej = tr.decode_reject("SHFE", raw, 8)

    assert (rej.venue, rej.business, rej.ref_seq_num, rej.ref_msg_type, rej.ref_id, rej.recv_ns) == \
           ("SHFE", False, 12, "D", None, 8)
    assert rej.reason == "required tag missing (tag 77): Required tag missing"


def test_business_reject_names_the_reason_and_the_refused_id():
    raw = wire("j", ("45", "13"), ("372", "H"), ("379", "A1"), ("380", "3"), header=HEADER)

    rej = tr.decode_reject("SHFE", raw, 0)

    assert (rej.business, rej.ref_seq_num, rej.ref_msg_type, rej.ref_id, rej.reason) == \
           (True, 13, "H", "A1", "unsupported message type")


@pytest.mark.parametrize("msg_type, reason_tag", [("3", "373"), ("j", "380")])
def test_reject_with_an_unknown_reason_code_keeps_the_code(msg_type, reason_tag):
    rej = tr.decode_reject("SHFE", wire(msg_type, ("45", "x"), (reason_tag, "77")), 0)

    assert rej.reason == "77" and rej.ref_seq_num is None


def test_reject_without_a_reason_says_unspecified():
    assert tr.decode_reject("SHFE", wire("3", ("45", "1")), 0).reason == "unspecified"


def test_cancel_reject_names_the_orders_and_the_reason():
    raw = wire("9", ("37", "O1"), ("11", "A2"), ("41", "A1"), ("39", "2"), ("434", "1"), ("102", "0"),
               ("58", "order is FILLED"))

    rej = tr.decode_cancel_reject("SHFE", raw, 4)

    assert (rej.venue, rej.cl_ord_id, rej.orig_cl_ord_id, rej.order_id, rej.ord_status, rej.recv_ns) == \
           ("SHFE", "A2", "A1", "O1", OrdStatus.FILLED, 4)
    assert rej.reason == "too late to cancel: order is FILLED"


def test_cancel_reject_of_an_unknown_order_without_status_or_text():
    rej = tr.decode_cancel_reject("SHFE", wire("9", ("11", "A2"), ("41", "A1"), ("102", "1")), 0)

    assert (rej.reason, rej.ord_status, rej.order_id) == ("unknown order", None, None)


def test_cancel_reject_without_clordid_is_refused():
    with pytest.raises(FixTranslationError) as e:
        tr.decode_cancel_reject("SHFE", wire("9", ("41", "A1"), ("102", "1")), 0)

    assert e.value.tag == 11


@pytest.mark.parametrize("msg_type, decoder", [
    ("8", tr.decode_execution_report), ("X", tr.decode_incremental), ("W", tr.decode_snapshot),
    ("Y", tr.decode_md_reject), ("9", tr.decode_cancel_reject), ("j", tr.decode_reject)])
def test_each_consumed_message_type_has_its_decoder(msg_type, decoder):
    assert tr.APP_DECODERS[msg_type] is decoder


# -- encoding commands -----------------------------------------------------------------------------
def test_new_order_carries_every_field_of_the_command():
    text = tr.encode_new_order(make_new_order(), NOW, SHFE)

    assert body_tags(text) == ["11", "1", "55", "48", "22", "54", "60", "38", "40", "44", "59", "77", "9001"]
    assert pairs(text)[2:-1] == [("35", "D"), ("11", "A1"), ("1", "ACC1"), ("55", "CU"), ("48", "cu2601"), ("22", "8"),
                                 ("54", "1"), ("60", "20240102-03:04:05.123456"), ("38", "5"), ("40", "2"),
                                 ("44", "80000"), ("59", "3"), ("77", "T"), ("9001", "1")]


def test_new_order_without_account_security_id_or_position_effect_leaves_them_out():
    text = tr.encode_new_order(make_new_order(instrument=lme(), account=None, position_effect=None,
                                              side=Side.SELL, price=D("9500.5"), tif=TimeInForce.FOK), NOW)

    assert body_tags(text) == ["11", "55", "54", "60", "38", "40", "44", "59"]
    assert (fw.fields(text)["54"], fw.fields(text)["44"], fw.fields(text)["59"]) == ("2", "9500.5", "4")


def test_market_order_never_carries_a_price():
    text = tr.encode_new_order(make_new_order(ord_type=OrdType.MARKET, price=D(80000)), NOW)

    assert "44" not in fw.fields(text) and fw.fields(text)["40"] == "1"


def test_begin_string_is_the_sessions():
    assert tr.encode_new_order(make_new_order(), NOW, dialects.FIX42).startswith("8=FIX.4.2\x01")


def test_cancel_names_the_order_to_cancel():
    f = fw.fields(tr.encode_cancel(make_cancel(), NOW))

    assert (f["35"], f["41"], f["11"], f["37"], f["55"], f["54"], f["38"]) == ("F", "A1", "A2", "O1", "CU", "1", "5")
    assert "37" not in fw.fields(tr.encode_cancel(make_cancel(order_id=None), NOW))


def test_replace_carries_the_new_terms():
    f = fw.fields(tr.encode_replace(make_replace(), NOW))

    assert (f["35"], f["41"], f["11"], f["37"], f["38"], f["44"], f["59"], f["77"]) == \
           ("G", "A1", "A3", "O1", "3", "80010", "0", "O")


def test_status_request_puts_the_order_id_first_when_known():
    assert body_tags(tr.encode_status_request(QueryOrderStatus("A1", make_instrument(), Side.BUY, "O1"))) == \
           ["37", "11", "55", "48", "22", "54"]
    assert body_tags(tr.encode_status_request(QueryOrderStatus("A1", make_instrument(), Side.BUY))) == \
           ["11", "55", "48", "22", "54"]


def test_market_data_request_subscribes_to_both_sides_at_the_depth_asked():
    text = tr.encode_md_request(SubscribeMarketData("M1", make_instrument(), 7))

    assert pairs(text)[3:] == [("262", "M1"), ("263", "1"), ("264", "7"), ("265", "1"), ("267", "2"),
                               ("269", "0"), ("269", "1"), ("146", "1"), ("55", "CU"), ("48", "cu2601"),
                               ("22", "8"), ("10", "000")]


ENCODED = [
    ("new order, close today", tr.encode_new_order(make_new_order(), NOW, SHFE), SHFE_DD),
    ("new order, market", tr.encode_new_order(make_new_order(ord_type=OrdType.MARKET,
                                                             position_effect=PositionEffect.OPEN), NOW), SHFE_DD),
    ("new order, no position effect", tr.encode_new_order(make_new_order(instrument=lme(), position_effect=None),
                                                          NOW), XMC_DD),
    ("cancel", tr.encode_cancel(make_cancel(), NOW), SHFE_DD),
    ("cancel, no order id", tr.encode_cancel(make_cancel(order_id=None, instrument=lme()), NOW), XMC_DD),
    ("replace", tr.encode_replace(make_replace(), NOW, SHFE), SHFE_DD),
    ("replace, no position effect", tr.encode_replace(make_replace(instrument=lme(), position_effect=None,
                                                                   price=D("9500.5")), NOW), XMC_DD),
    ("status", tr.encode_status_request(QueryOrderStatus("A1", make_instrument(), Side.SELL, "O1")), SHFE_DD),
    ("status, no order id", tr.encode_status_request(QueryOrderStatus("A1", lme(), Side.BUY)), XMC_DD),
    ("market data", tr.encode_md_request(SubscribeMarketData("M1", make_instrument(), 5)), SHFE_DD),
    ("market data, no security id", tr.encode_md_request(SubscribeMarketData("M1", lme(), 5)), XMC_DD),
]


@pytest.mark.parametrize("text, dd_path", [pytest.param(t, d, id=n) for n, t, d in ENCODED])
def test_encoded_command_passes_the_venue_dictionary_with_nothing_lost(text, dd_path):
    msg = validated(text, dd_path)

    def body(raw: str) -> list[tuple[str, str]]:
        return sorted(p for p in fw.split(raw) if p[0] not in ("8", "9", "10", "34", "49", "52", "56"))

    assert body(msg.toString()) == body(text)


def test_market_data_request_keeps_both_entry_types_in_its_group():
    msg = validated(tr.encode_md_request(SubscribeMarketData("M1", make_instrument(), 5)), SHFE_DD)

    group = fix.Group(267, 269)
    types = []
    for i in (1, 2):
        msg.getGroup(i, group)
        types.append(group.getField(269))
    assert types == ["0", "1"]


def test_venue_dictionary_catches_what_the_venue_requires():
    # the check above is not a formality: SHFE needs PositionEffect, the common dictionary has no T
    with pytest.raises(fix.RequiredTagMissing):
        validated(tr.encode_new_order(make_new_order(position_effect=None), NOW), SHFE_DD)
    with pytest.raises(fix.IncorrectTagValue):
        validated(tr.encode_new_order(make_new_order(), NOW, SHFE), XMC_DD)


# -- decimals on the wire -----------------------------------------------------------------------------
@pytest.mark.parametrize("value, text", [
    ("1E+3", "1000"), ("1.23E+5", "123000"), ("1.500", "1.5"), ("100", "100"), ("0.00001", "0.00001"),
    ("1E-10", "0.0000000001"), ("0E-8", "0"), ("0", "0"), ("-2.50", "-2.5"), ("80013.75", "80013.75"),
])
def test_fmt_dec_writes_plain_decimal_text(value, text):
    assert tr.fmt_dec(D(value)) == text


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=D("-1e12"), max_value=D("1e12")))
def test_fmt_dec_never_uses_exponent_notation_and_keeps_the_value(d):
    s = tr.fmt_dec(d)

    assert "E" not in s.upper()
    assert D(s) == d


# -- enum tables ---------------------------------------------------------------------------------
TWO_WAY = [
    ("Side", tr.SIDE, tr.FIX_SIDE, Side),
    ("OrdType", tr.ORD_TYPE, tr.FIX_ORD_TYPE, OrdType),
    ("TimeInForce", tr.TIME_IN_FORCE, tr.FIX_TIME_IN_FORCE, TimeInForce),
    ("PositionEffect", tr.POSITION_EFFECT, tr.FIX_POSITION_EFFECT, PositionEffect),
    ("OrdStatus", tr.ORD_STATUS_FIX, tr.ORD_STATUS, OrdStatus),
    ("ExecType", tr.EXEC_TYPE_FIX, tr.EXEC_TYPE, ExecType),
    ("BookSide", tr.BOOK_SIDE_FIX, tr.MD_ENTRY_TYPE, BookSide),
    ("BookAction", tr.BOOK_ACTION_FIX, tr.MD_UPDATE_ACTION, BookAction),
]
ENTRIES = [pytest.param(to_fix, from_fix, member, id=f"{name}.{member.name}")
           for name, to_fix, from_fix, enum in TWO_WAY for member in enum]


@pytest.mark.parametrize("to_fix, from_fix, member", ENTRIES)
def test_every_domain_value_has_a_fix_code_that_maps_back(to_fix, from_fix, member):
    assert from_fix[to_fix[member]] is member


@pytest.mark.parametrize("name, to_fix, from_fix, enum", TWO_WAY, ids=[t[0] for t in TWO_WAY])
def test_every_fix_code_maps_to_a_domain_value_and_back(name, to_fix, from_fix, enum):
    for code, member in from_fix.items():
        if name == "ExecType" and code in ("1", "2"):
            assert member is ExecType.TRADE  # FIX 4.2 partial fill / fill, decoded only
            continue
        assert to_fix[member] == code


TAGS = {"Side": 54, "OrdType": 40, "TimeInForce": 59, "PositionEffect": 77, "OrdStatus": 39, "ExecType": 150,
        "BookSide": 269, "BookAction": 279}


@pytest.mark.parametrize("to_fix, from_fix, member", ENTRIES)
def test_every_fix_code_we_send_or_expect_is_in_the_shfe_dictionary(to_fix, from_fix, member):
    dd = fix.DataDictionary(SHFE_DD)
    tag = TAGS[type(member).__name__]
    code = to_fix[member]
    if member is OrdStatus.REPLACED:
        assert not dd.isFieldValue(tag, code)  # FIX 4.2's 39=5, decoded from older venues only
    elif member in FIX50_ONLY:
        assert not dd.isFieldValue(tag, code)  # FIX 5.0 codes, decoded from FIX 5.0 venues only
        assert fix.DataDictionary(str(Path(SHFE_DD).parent / "FIX50SP2.xml")).isFieldValue(tag, code)
    else:
        assert dd.isFieldValue(tag, code)


FIX50_ONLY = {ExecType.TRADE_IN_CLEARING_HOLD, ExecType.TRADE_RELEASED_TO_CLEARING, ExecType.TRIGGERED}


@pytest.mark.parametrize("tag, table", [(102, tr.CXL_REJ_REASON), (373, tr.SESSION_REJECT_REASON),
                                        (380, tr.BUSINESS_REJECT_REASON)])
def test_every_reject_reason_text_is_for_a_code_the_dictionary_knows(tag, table):
    dd = fix.DataDictionary(XMC_DD)

    assert [c for c in table if not dd.isFieldValue(tag, c)] == []


# -- what cannot be interpreted ----------------------------------------------------------------------
def test_an_uninterpretable_message_keeps_its_text_with_secrets_masked():
    raw = wire("8", ("11", "A1"), ("554", "hunter2"), ("150", "H"), header=HEADER)

    ev = tr.uninterpretable("SHFE", raw, "tag 150='H' not supported", 42)

    assert (ev.venue, ev.msg_type, ev.ref_seq_num, ev.recv_ns, ev.symbols) == ("SHFE", "8", 7, 42, ())
    assert "hunter2" not in ev.raw and fw.value_of(ev.raw, 554) == "***" and fw.value_of(ev.raw, 11) == "A1"


def test_unreadable_market_data_names_its_books_from_symbol_and_md_req_id():
    inbound = tr.Inbound()
    inbound.subscribed("M7", "CA")
    raw = wire("X", ("262", "M7"), ("268", "2"), ("279", "0"), ("269", "0"), ("55", "CU"), ("270", "x"),
               ("279", "0"), ("269", "0"), ("270", "1"))

    with pytest.raises(FixTranslationError) as e:
        tr.decode_incremental("SHFE", raw, 0, inbound)

    assert tr.uninterpretable("SHFE", raw, str(e.value), 0, inbound).symbols == ("CU", "CA")


def test_refresh_entries_without_symbol_belong_to_the_book_of_their_md_req_id():
    inbound = tr.Inbound()
    inbound.subscribed("M7", "CA")
    raw = wire("X", ("262", "M7"), ("268", "2"), ("279", "0"), ("269", "0"), ("270", "1"), ("271", "2"), ("83", "5"),
               ("279", "2"), ("269", "1"), ("270", "3"), ("83", "6"))

    [upd] = tr.decode_incremental("LME", raw, 0, inbound)

    assert (upd.symbol, upd.first_rpt_seq, upd.rpt_seq, len(upd.entries)) == ("CA", 5, 6, 2)
    with pytest.raises(FixTranslationError) as e:
        tr.decode_incremental("LME", raw.replace("262=M7", "262=M8"), 0, inbound)   # not a request of ours
    assert e.value.tag == 55 and e.value.missing


def test_a_snapshot_without_symbol_belongs_to_the_book_of_its_md_req_id():
    inbound = tr.Inbound()
    inbound.subscribed("M7", "CA")

    snap = tr.decode_snapshot("LME", wire("W", ("262", "M7"), ("268", "1"), ("269", "0"), ("270", "1"), ("271", "2")),
                              0, inbound)

    assert (snap.symbol, snap.bids) == ("CA", ((D(1), D(2)),))


@pytest.mark.parametrize("tags, missing", [(dict(t11=None), True), (dict(t150=""), True), (dict(t150="Z"), False),
                                           (dict(t14="five"), False)])
def test_a_translation_error_tells_a_missing_tag_from_a_bad_value(tags, missing):
    with pytest.raises(FixTranslationError) as e:
        tr.decode_execution_report("SHFE", er_text(**tags), 0)

    assert e.value.missing is missing


def test_a_business_reject_names_the_message_its_type_and_why():
    text = tr.encode_business_reject(7, "8", tr.BUSINESS_REJECT_FIELD_MISSING, "tag 11\x01missing", "A1", "FIX.4.2")

    msg = validated(text, str(ROOT / "fixspecs" / "FIX42.xml"))
    assert msg.getHeader().getField(35) == "j"
    assert fw.split(text)[3:-1] == [("45", "7"), ("372", "8"), ("379", "A1"), ("380", "5"), ("58", "tag 11 missing")]


# -- reconciliation messages ------------------------------------------------------------------------
def test_mass_status_and_position_requests_pass_the_venue_dictionary():
    from xmc_fix.domain.commands import RequestMassStatus, RequestPositions
    from xmc_fix.venues.dialects import FIX44
    dd = fix.DataDictionary(str(ROOT / "fixspecs" / "FIX44-XMC.xml"))
    af = tr.encode_mass_status_request(RequestMassStatus("S-1", "LME", "XMC01"), FIX44)
    an = tr.encode_positions_request(RequestPositions("P-1", "LME", "XMC01", "20261129"), 1_795_000_000_000_000_000, FIX44)
    for text in (af, an):
        msg = fix.Message(text, dd, False)
        msg.getHeader().setField(49, "XMC"), msg.getHeader().setField(56, "LME"), msg.getHeader().setField(34, "2")
        msg.getHeader().setField(52, "20261129-06:00:00.000")
        dd.validate(fix.Message(msg.toString(), dd, True))
    assert "584=S-1" in af and "585=7" in af and "1=XMC01" in af
    assert "710=P-1" in an and "724=0" in an and "715=20261129" in an


def test_a_position_report_is_read_whatever_order_its_fields_come_in():
    raw = ("8=FIX.4.4\x019=1\x0135=AP\x011=XMC01\x0155=CU\x01581=1\x01702=2\x01703=SOD\x01704=4\x01705=0\x01"
           "703=TQ\x01704=0\x01705=1\x01710=P-9\x01715=20261129\x01721=R1\x01727=1\x01728=0\x0110=000\x01")
    rep = tr.decode_position_report("SHFE", raw, 1)
    assert (rep.req_id, rep.account, rep.symbol, rep.total) == ("P-9", "XMC01", "CU", 1)
    assert rep.quantities == (("SOD", D(4), D(0)), ("TQ", D(0), D(1))) and rep.net == D(3)
    ack = tr.decode_positions_ack("SHFE", "8=FIX.4.4\x019=1\x0135=AO\x011=XMC01\x01710=P-9\x01721=R0\x01727=0\x01"
                                          "728=2\x01729=0\x0158=no positions found\x0110=000\x01", 1)
    assert (ack.req_id, ack.result, ack.total, ack.text) == ("P-9", "2", 0, "no positions found")


def _reference_refresh(venue: str, raw: str, recv_ns: int, inbound: tr.Inbound) -> list:
    """What a refresh says, read the slow and obvious way: every field in order, a dict per entry."""
    pairs = fw.split(raw)
    head = dict(p for p in pairs[:next(i for i, (t, _) in enumerate(pairs) if t == "279")])
    entries: list[dict] = []
    for tag, value in pairs:
        if tag == "279":
            entries.append({})
        if entries and tag != "10":
            entries[-1].setdefault(tag, value)
    by_symbol: dict[str, list] = {}
    seqs: dict[str, list[int]] = {}
    for e in entries:
        s = e.get("55") or inbound.md_symbols.get(head.get("262", ""))
        by_symbol.setdefault(s, []).append((tr.MD_UPDATE_ACTION[e["279"]], tr.MD_ENTRY_TYPE[e["269"]],
                                            D(e.get("270") or 0), D(e.get("271") or 0)))
        if "83" in e:
            seqs.setdefault(s, []).append(int(e["83"]))
    return [(venue, s, tuple(es), (seqs.get(s) or [None])[-1], fw.parse_utc_ns(head.get("52")), recv_ns,
             (seqs.get(s) or [None])[0]) for s, es in by_symbol.items()]


_md_entry = st.tuples(st.sampled_from("012"), st.sampled_from("01"), st.sampled_from(["CU", "CA", None]),
                      st.decimals(min_value=D("0.0001"), max_value=D(100000), places=4), st.integers(0, 500),
                      st.one_of(st.none(), st.integers(1, 10**6)))


@given(st.lists(_md_entry, min_size=1, max_size=8), st.booleans(), st.sampled_from(["M7", "M8"]))
def test_a_refresh_decodes_as_read_field_by_field(entries, sending_time, md_req_id):
    """The decoder finds SendingTime and MDReqID by searching the header and walks only the entries;
    what it gives is what reading every field in order gives."""
    inbound = tr.Inbound()
    inbound.subscribed("M7", "HG")
    header = (("52", "20261129-14:40:15.123456"),) if sending_time else ()
    pairs = [("262", md_req_id), ("268", str(len(entries)))]
    for action, side, sym, px, size, seq in entries:
        pairs += [("279", action), ("269", side)] + ([("55", sym)] if sym else []) + [("270", str(px)),
                                                                                     ("271", str(size))]
        pairs += [("83", str(seq))] if seq is not None else []
    raw = wire("X", *pairs, header=(("34", "9"), ("49", "SHFE"), *header))
    if md_req_id == "M8" and any(sym is None for _, _, sym, _, _, _ in entries):   # whose book, then?
        with pytest.raises(FixTranslationError):
            tr.decode_incremental("SHFE", raw, 7, inbound)
        return
    assert [tuple(u) for u in tr.decode_incremental("SHFE", raw, 7, inbound)] == \
        _reference_refresh("SHFE", raw, 7, inbound)
