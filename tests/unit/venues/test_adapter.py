"""The engine's QuickFIX application without a session: what it measures takes the engine's clock.

QuickFIX objects are real (a Logon message, a SessionID); no socket is opened."""

from __future__ import annotations

from pathlib import Path

import quickfix as fix

from xmc_fix.clock import ManualClock
from xmc_fix.venues.adapter import EngineApplication
from xmc_fix.venues.credentials import Credentials, Secret
from xmc_fix.venues.settings import load_sessions

SESSIONS = Path(__file__).resolve().parents[3] / "sessions"
PASSWORD = "hunter2-Sup3rSecret"


def _logon() -> fix.Message:
    m = fix.Message()
    h = m.getHeader()
    h.setField(fix.BeginString("FIX.4.4"))
    h.setField(fix.MsgType(fix.MsgType_Logon))
    h.setField(fix.MsgSeqNum(1))
    h.setField(fix.SenderCompID("XMC"))
    h.setField(fix.TargetCompID("SHFE"))
    m.setField(fix.EncryptMethod(0))
    m.setField(fix.HeartBtInt(10))
    return m


def test_the_time_a_logons_password_sits_in_the_store_is_taken_on_the_engines_clock(tmp_path):
    sessions = load_sessions(SESSIONS / "venues.cfg", "initiator", store=tmp_path)
    clock = ManualClock()
    app = EngineApplication(sessions, {"SHFE": Credentials("trader", Secret(PASSWORD))}, handler=lambda e: None,
                            clock=clock)
    sid = fix.SessionID("FIX.4.4", "XMC", "SHFE")
    logon = _logon()

    app.toAdmin(logon, sid)                     # the password handed to QuickFIX
    raw = logon.toString()
    assert f"\x01554={PASSWORD}\x01" in raw
    body = tmp_path / "FIX.4.4-XMC-SHFE.body"
    body.write_bytes(raw.encode())              # ... QuickFIX stores it
    clock.advance(2_500_000)
    app.on_outgoing(sid.toString(), raw)        # ... and the message log sees it go out

    assert app.logon_scrub_us == [2500.0]
    assert PASSWORD.encode() not in body.read_bytes()


def _app(tmp_path) -> EngineApplication:
    sessions = load_sessions(SESSIONS / "venues.cfg", "initiator", store=tmp_path)
    return EngineApplication(sessions, {}, handler=lambda e: None, clock=ManualClock())


def _app_message(msg_type: str, seq: int, *, poss_dup: bool = False, cl_ord_id: str = "B-1") -> fix.Message:
    s = "\x01"
    dup = f"43=Y{s}122=20261129-10:00:00.000000{s}" if poss_dup else ""
    return fix.Message(f"8=FIX.4.4{s}9=0{s}35={msg_type}{s}34={seq}{s}{dup}49=XMC{s}52=20261129-10:00:01.000000{s}"
                       f"56=SHFE{s}11={cl_ord_id}{s}55=CU{s}54=1{s}60=20261129-10:00:01.000000{s}38=5{s}40=2{s}"
                       f"44=77300{s}10=000{s}", False)


def test_an_order_sent_is_remembered_by_its_sequence_number(tmp_path):
    app = _app(tmp_path)
    sid = fix.SessionID("FIX.4.4", "XMC", "SHFE")
    app._sending = ("SHFE", "D", "B-7")          # as QuickFixSender._send sets it around the send
    app.toApp(_app_message("D", 1234, cl_ord_id="B-7"), sid)
    assert app._sent_seq[("SHFE", 1234)] == ("D", "B-7")


def test_an_order_quickfix_would_replay_is_never_sent_again(tmp_path):
    app = _app(tmp_path)
    sid = fix.SessionID("FIX.4.4", "XMC", "SHFE")
    for mt in ("D", "G"):
        try:
            app.toApp(_app_message(mt, 12, poss_dup=True), sid)
        except fix.DoNotSend:
            pass
        else:
            raise AssertionError(f"a replayed {mt} was let through")
    app.toApp(_app_message("H", 13, poss_dup=True), sid)     # a status request may go again
    assert app._sent_seq == {}
