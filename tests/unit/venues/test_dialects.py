"""Venue dialects: every entry's orders pass its own dictionary with every PositionEffect the engine
can ask for, carry only the PositionEffect values the dialect accepts, and time stamps at the
session's precision; the session key is checked like every other key. A new dialect needs no new
test here: the parametrised ones cover every entry of DIALECTS."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix

from tests.unit.venues.test_settings import default_section, refused, session_section, write_cfg
from xmc_fix import fixwire as fw
from xmc_fix.domain.commands import CancelOrder, NewOrder, ReplaceOrder
from xmc_fix.domain.enums import ExecType, OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.domain.instruments import Instrument
from xmc_fix.errors import ConfigError, FixTranslationError
from xmc_fix.venues import dialects
from xmc_fix.venues import translate as tr
from xmc_fix.venues.dialects import DIALECTS, Dialect, for_session
from xmc_fix.venues.settings import load_session_file

ROOT = Path(__file__).resolve().parents[3]
NOW = 1_704_164_645_123_456_789   # 20240102-03:04:05.123456789
EVERY = [pytest.param(d, id=name) for name, d in DIALECTS.items()]


# -- stub factories ----------------------------------------------------------------------------
def make_instrument(**overrides) -> Instrument:
    fields = dict(name="CU", venue="V", symbol="CU", currency="CNY", contract_size=D(5), unit="t", tick=D(10),
                  security_id="cu2601", position_effect=True)
    return Instrument(**{**fields, **overrides})


def make_new_order(pe: PositionEffect | None = PositionEffect.OPEN, **overrides) -> NewOrder:
    fields = dict(cl_ord_id="A1", instrument=make_instrument(), side=Side.BUY, qty=D(5), ord_type=OrdType.LIMIT,
                  price=D(80000), tif=TimeInForce.IOC, account="ACC1", position_effect=pe)
    return NewOrder(**{**fields, **overrides})


def make_replace(pe: PositionEffect | None = PositionEffect.OPEN) -> ReplaceOrder:
    return ReplaceOrder("A2", "A1", make_instrument(), Side.BUY, D(3), OrdType.LIMIT, D(80010), TimeInForce.DAY,
                        "ACC1", pe, "O1")


def validated(text: str, dialect: Dialect) -> fix.Message:
    """``text`` as the venue's QuickFIX reads it against the dialect's dictionary (header filled)."""
    dd = fix.DataDictionary(str(ROOT / "fixspecs" / dialect.dictionary))
    msg = fix.Message(text, dd, False)
    for tag, value in ((49, "XMC"), (56, "V"), (34, "2"), (52, "20240102-03:04:05.123")):
        msg.getHeader().setField(tag, value)
    dd.validate(msg)
    return msg


def session_values(dialect: Dialect, **extra) -> dict[str, str]:
    return {"BeginString": dialect.begin_string, "Dialect": dialect.name, **extra}


# -- every dialect -------------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", EVERY)
@pytest.mark.parametrize("pe", list(PositionEffect) + [None])
def test_every_order_passes_the_dialects_dictionary_with_an_accepted_position_effect(dialect, pe):
    for text in (tr.encode_new_order(make_new_order(pe), NOW, dialect), tr.encode_replace(make_replace(pe), NOW, dialect)):
        if pe is None and dialect.position_effect_required:
            # what the venue would refuse; the engine refuses such an instrument at start-up
            with pytest.raises(fix.RequiredTagMissing):
                validated(text, dialect)
            continue
        msg = validated(text, dialect)
        sent = fw.fields(text)
        assert sent["8"] == dialect.begin_string
        if pe is None:
            assert "77" not in sent
        else:
            assert sent["77"] in dialect.accepted_position_effects and msg.getField(77) == sent["77"]
        for tag, value in dialect.order_values:
            assert sent[str(tag)] == value


@pytest.mark.parametrize("dialect", EVERY)
def test_close_today_is_only_sent_where_closes_go_by_open_day(dialect):
    today = fw.fields(tr.encode_new_order(make_new_order(PositionEffect.CLOSE_TODAY), NOW, dialect))["77"]
    yesterday = fw.fields(tr.encode_new_order(make_new_order(PositionEffect.CLOSE_YESTERDAY), NOW, dialect))["77"]

    assert (today, yesterday) == (("T", "Y") if dialect.closes_by_day else ("C", "C"))


@pytest.mark.parametrize("dialect", EVERY)
def test_every_dialect_is_the_default_of_its_begin_string_or_named(dialect):
    assert for_session(session_values(dialect)).name == dialect.name
    assert dialects.DEFAULT_FOR_BEGIN[dialect.begin_string].begin_string == dialect.begin_string


@pytest.mark.parametrize("dialect", EVERY)
@pytest.mark.parametrize("digits", [0, 3, 6, 9])
def test_transact_time_has_the_sessions_precision_within_the_dialects(dialect, digits):
    values = session_values(dialect, TimestampPrecision=str(digits))
    if digits > dialect.max_timestamp_digits:
        with pytest.raises(ConfigError) as e:
            for_session(values, "v.cfg:3")
        assert e.value.key == "TimestampPrecision" and str(dialect.max_timestamp_digits) in e.value.remedy
        return
    session = for_session(values)
    for text in (tr.encode_new_order(make_new_order(), NOW, session), tr.encode_replace(make_replace(), NOW, session),
                 tr.encode_cancel(CancelOrder("A3", "A1", make_instrument(), Side.BUY, D(5)), NOW, session)):
        stamp = fw.fields(text)["60"]
        assert fw.fraction_digits(stamp) == digits and stamp == fw.format_utc(NOW, digits)


@pytest.mark.parametrize("dialect", EVERY)
def test_every_exec_type_the_dialect_reads_is_a_domain_exec_type(dialect):
    inbound = tr.Inbound(dialect)
    assert set(tr.EXEC_TYPE) <= set(inbound.exec_types)
    assert all(isinstance(v, ExecType) for v in inbound.exec_types.values())


# -- particular dialects ------------------------------------------------------------------------
def test_a_session_without_precision_stamps_as_quickfix_does():
    assert for_session({"BeginString": "FIX.4.4"}).timestamp_digits == 3
    assert for_session({"BeginString": "FIX.4.4", "MillisecondsInTimeStamp": "N"}).timestamp_digits == 0
    assert for_session({"BeginString": "FIX.4.4", "MillisecondsInTimeStamp": "N",
                        "TimestampPrecision": "6"}).timestamp_digits == 6


def test_fix42_fills_are_trades_only_where_the_dialect_says_so():
    er = ("8=FIX.4.2\x019=1\x0135=8\x0137=O1\x0111=A1\x0117=E1\x01150=2\x0139=2\x0155=CU\x0154=1\x01"
          "32=5\x0131=1\x01151=0\x0114=5\x016=1\x0110=000\x01")

    assert tr.decode_execution_report("V", er, 0, tr.Inbound(dialects.FIX42)).exec_type is ExecType.TRADE
    with pytest.raises(FixTranslationError) as e:
        tr.decode_execution_report("V", er, 0, tr.Inbound(dialects.FIX44))
    assert e.value.tag == 150 and not e.value.missing


def test_the_hedge_flag_follows_the_session_setting():
    session = for_session(session_values(dialects.SHFE, HedgeFlag="2"))

    assert fw.fields(tr.encode_new_order(make_new_order(), NOW, session))["9001"] == "2"
    assert fw.fields(tr.encode_new_order(make_new_order(), NOW, dialects.SHFE))["9001"] == "1"


def test_orders_of_one_instrument_in_two_dialects_are_rendered_each_in_its_own():
    order = make_new_order(PositionEffect.CLOSE_TODAY)

    shfe = tr.encode_new_order(order, NOW, dialects.SHFE)
    plain = tr.encode_new_order(order, NOW, dialects.FIX44)

    assert (fw.fields(shfe)["77"], fw.fields(plain)["77"]) == ("T", "C") and "9001" not in fw.fields(plain)


@pytest.mark.parametrize("values, key, words", [
    (dict(Dialect="NOPE"), "Dialect", ["unknown dialect 'NOPE'", "FIX42", "FIX44", "SHFE"]),
    (dict(Dialect="FIX42"), "Dialect", ["FIX.4.2", "BeginString=FIX.4.4"]),
    (dict(BeginString="FIX.4.3"), "Dialect", ["no default dialect", "FIX.4.3"]),
    (dict(HedgeFlag="1"), "HedgeFlag", ["dialect FIX44 sends no HedgeFlag"]),
    (dict(Dialect="SHFE", HedgeFlag="9"), "HedgeFlag", ["'9' is not a HedgeFlag value", "2 (arbitrage)"]),
    (dict(TimestampPrecision="micro"), "TimestampPrecision", ["'micro' is not a number of digits"]),
])
def test_a_wrong_dialect_setting_is_refused_naming_the_key(values, key, words):
    with pytest.raises(ConfigError) as e:
        for_session({"BeginString": "FIX.4.4", **values}, "venues.cfg:12")

    assert e.value.key == key and e.value.file == "venues.cfg:12"
    assert all(w in str(e.value) for w in words), str(e.value)


# -- the session file ---------------------------------------------------------------------------
def test_the_session_file_names_each_sessions_dialect(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section("SHFE", Dialect="SHFE", HedgeFlag="3"),
                                         session_section("LME", SocketConnectPort="9882")])

    shfe, lme = load_session_file(path, "initiator").sessions

    assert (shfe.dialect.name, shfe.dialect.order_values, lme.dialect.name) == ("SHFE", ((9001, "3"),), "FIX44")


def test_an_unknown_dialect_in_the_session_file_names_file_line_key_and_the_known_ones(tmp_path):
    path = write_cfg(tmp_path, sessions=[session_section("SHFE", Dialect="SHFE-CTP")])

    e = refused(path)

    assert e.key == "Dialect" and e.file.startswith(str(path)) and "SHFE-CTP" in e.problem
    assert e.remedy == "known dialects: FIX42, FIX44, SHFE"


def test_a_precision_the_dialect_cannot_take_is_refused_in_the_file(tmp_path):
    path = write_cfg(tmp_path, default=default_section(BeginString="FIX.4.2", TimestampPrecision="6",
                                                        UseDataDictionary="N"))

    e = refused(path)

    assert e.key == "TimestampPrecision" and "FIX42" in e.problem


@pytest.mark.parametrize("name", ["venues.cfg", "sim.cfg"])
def test_the_shipped_session_files_name_a_dialect_for_every_session(name):
    loaded = load_session_file(ROOT / "sessions" / name, "initiator" if name == "venues.cfg" else "acceptor")

    assert "Dialect" not in loaded.default and all("Dialect" in s.values for s in loaded.sessions)
    # the venues' FIX 4.4 order sessions (the simulator also has drop-copy sessions and a FIX 4.2 COMEX)
    by_venue = {s.venue: s.dialect.name for s in loaded.sessions
                if s.values.get("BeginString", loaded.default.get("BeginString")) == "FIX.4.4"
                and "DropCopyFor" not in s.values}
    assert by_venue == {"SHFE": "SHFE", "LME": "FIX44", "COMEX": "FIX44", "CNHFX": "FIX44"}


def test_an_instrument_without_position_effect_on_a_venue_that_requires_it_is_refused(tmp_path):
    from xmc_fix.app import check_venues
    from xmc_fix.config import load_strategy

    text = (ROOT / "sessions" / "strategy.toml").read_text()
    assert "position_effect = true" in text
    strategy = tmp_path / "strategy.toml"
    strategy.write_text(text.replace("position_effect = true", "position_effect = false"))

    with pytest.raises(ConfigError) as e:
        check_venues(load_session_file(ROOT / "sessions" / "venues.cfg", "initiator"), load_strategy(str(strategy)))

    assert (e.value.file, e.value.key) == (str(strategy), "instruments.SHFE_CU.position_effect")
    assert "SHFE" in e.value.problem and e.value.remedy == "set position_effect = true"


def test_a_copied_session_file_shares_its_dialects():
    import copy

    loaded = load_session_file(ROOT / "sessions" / "venues.cfg", "initiator")

    assert copy.deepcopy(loaded).sessions[0].dialect is loaded.sessions[0].dialect
