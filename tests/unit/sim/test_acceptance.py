"""The acceptance-test acceptor: the sessions the QuickFIX scripts expect, and the small echo
application behind them (duplicates by PossResend dropped within a logon, never across)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import quickfix as fix

from xmc_fix.sim.acceptance import SESSIONS, SPEC_DIR, AcceptanceApplication, settings_text

AT_README = Path(__file__).resolve().parents[2] / "conformance" / "quickfix-at" / "README.md"


def order(cl_ord_id: str, poss_resend: bool = False, begin: str = "FIX.4.2") -> fix.Message:
    extra = "97=Y\x01" if poss_resend else ""
    text = (f"8={begin}\x019=0\x0135=D\x0134=2\x0149=TW42\x0152=20240305-14:07:09\x0156=ISLD\x01{extra}"
            f"11={cl_ord_id}\x0121=3\x0140=1\x0154=1\x0155=MSFT\x0110=000\x01")
    return fix.Message(text, False)


SID = fix.SessionID("FIX.4.2", "ISLD", "TW42")
OTHER = fix.SessionID("FIX.4.4", "ISLD", "TW44")


def readme_sessions() -> set[tuple[str, str]]:
    rows = re.findall(r"^\| (FIXT?\.\d\.\d) \| (\w+) \|", AT_README.read_text(), re.M)
    return set(rows)


def test_every_session_of_the_readme_table_is_served():
    assert {(s.begin_string, s.target_comp_id) for s in SESSIONS} == readme_sessions()
    assert len(readme_sessions()) == 10


def test_settings_load_in_quickfix_with_one_port_isld_reset_on_logon_and_24_hours():
    settings = fix.SessionSettings()
    settings.setFromString(settings_text(9999))
    d = settings.get()
    assert d.getString("SenderCompID") == "ISLD" and d.getString("ResetOnLogon") == "Y"
    assert d.getString("StartTime") == d.getString("EndTime") == "00:00:00"
    assert d.getString("SocketAcceptPort") == "9999"
    sids = settings.getSessions()
    assert len(sids) == 10
    by_target = {sid.getTargetCompID().getValue(): settings.get(sid) for sid in sids}
    assert by_target["TW50SP2"].getString("DefaultApplVerID") == "FIX.5.0SP2"
    assert by_target["TW50SP2"].getString("AppDataDictionary") == str(SPEC_DIR / "FIX50SP2.xml")
    assert by_target["TW50"].getString("TransportDataDictionary") == str(SPEC_DIR / "FIXT11.xml")
    assert by_target["NO_CHECK_FIELDS_HAVE_VALUES"].getString("ValidateFieldsHaveValues") == "N"
    assert not by_target["TW"].has("ValidateFieldsHaveValues")
    for cfg in by_target.values():
        for key in ("DataDictionary", "AppDataDictionary", "TransportDataDictionary"):
            if cfg.has(key):
                assert Path(cfg.getString(key)).is_file()


def test_a_possresend_order_already_seen_in_this_logon_is_dropped():
    app = AcceptanceApplication()
    assert app._first_sight(order("id"), SID)
    assert not app._first_sight(order("id", poss_resend=True), SID)


def test_a_possresend_order_not_seen_before_is_processed():
    app = AcceptanceApplication()
    assert app._first_sight(order("id"), SID)
    assert app._first_sight(order("other", poss_resend=True), SID)


def test_a_repeated_clordid_without_possresend_is_processed():
    app = AcceptanceApplication()
    assert app._first_sight(order("id"), SID) and app._first_sight(order("id"), SID)


def test_seen_clordids_are_per_session_and_forgotten_at_logout():
    app = AcceptanceApplication()
    app._first_sight(order("id"), SID)
    assert app._first_sight(order("id", poss_resend=True, begin="FIX.4.4"), OTHER)
    app.onLogout(SID)
    assert app._first_sight(order("id", poss_resend=True), SID)


def test_other_application_messages_are_unsupported():
    app = AcceptanceApplication()
    report = fix.Message("8=FIX.4.2\x019=0\x0135=8\x0134=2\x0110=000\x01", False)
    with pytest.raises(fix.UnsupportedMessageType):
        app.fromApp(report, SID)


def test_an_unexpected_error_never_escapes_a_callback():
    app = AcceptanceApplication()
    for callback in (app.fromApp, app.fromAdmin, app.toApp, app.toAdmin):
        callback(None, SID)
    for callback in (app.onCreate, app.onLogon, app.onLogout):
        callback(None)
