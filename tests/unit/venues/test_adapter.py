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
