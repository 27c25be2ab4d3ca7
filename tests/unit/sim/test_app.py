"""The simulator's QuickFIX application, one callback at a time: nothing of a subscription follows
the venue's Logout on the wire, order reports still do (QuickFIX stores them for the resend)."""

from __future__ import annotations

import pytest
import quickfix as fix

from xmc_fix.execution.serial import Serializer
from xmc_fix.sim.app import SimApplication
from xmc_fix.venues.settings import SessionFile

SID = fix.SessionID("FIX.4.4", "LME", "XMC")


def _app() -> SimApplication:
    return SimApplication(SessionFile("sim.cfg", {}), {}, Serializer())


def _msg(msg_type: str) -> fix.Message:
    m = fix.Message()
    m.getHeader().setField(35, msg_type)
    return m


@pytest.mark.parametrize("msg_type", ["W", "X"])
def test_market_data_after_the_venues_logout_is_not_sent(msg_type):
    app = _app()
    app.onLogon(SID)
    app.toApp(_msg(msg_type), SID)               # logged on: goes out

    app.toAdmin(_msg("5"), SID)                  # the venue's Logout is on its way
    with pytest.raises(fix.DoNotSend):
        app.toApp(_msg(msg_type), SID)

    app.onLogon(SID)                             # a new logon: the client subscribes again
    app.toApp(_msg(msg_type), SID)


def test_market_data_for_a_session_that_went_down_is_not_sent():
    app = _app()
    app.onLogon(SID)
    app.onLogout(SID)
    with pytest.raises(fix.DoNotSend):
        app.toApp(_msg("X"), SID)


def test_order_reports_after_a_logout_are_handed_to_quickfix():
    app = _app()
    app.onLogon(SID)
    app.toAdmin(_msg("5"), SID)
    app.onLogout(SID)
    app.toApp(_msg("8"), SID)                    # stored by QuickFIX, resent when the client asks
    app.toApp(_msg("9"), SID)


def test_other_admin_messages_do_not_close_the_session():
    app = _app()
    app.onLogon(SID)
    for mt in ("0", "1", "2", "4"):
        app.toAdmin(_msg(mt), SID)
    app.toApp(_msg("X"), SID)


# -- a drop-copy session is read-only ----------------------------------------------------------------
DC_SID = fix.SessionID("FIX.4.4", "SHFEDC", "XMC")


def _dc_app(sent: list):
    from xmc_fix.venues.settings import SessionSpec
    specs = [SessionSpec({"Venue": "SHFE", "BeginString": "FIX.4.4", "SenderCompID": "SHFE", "TargetCompID": "XMC"}, 1),
             SessionSpec({"Venue": "SHFE", "DropCopyFor": "SHFE", "BeginString": "FIX.4.4", "SenderCompID": "SHFEDC",
                          "TargetCompID": "XMC"}, 2)]
    posted = []
    serial = Serializer()
    serial.post = lambda fn, *args: posted.append((fn, args))
    app = SimApplication(SessionFile("sim.cfg", {}, specs), {}, serial)
    app.send = lambda session, text, dd: sent.append((session, text)) or True
    return app, posted


@pytest.mark.parametrize("msg_type, ref, body", [
    ("D", "A1", "11=A1\x0155=CU\x0154=1\x0160=20240102-00:00:00\x0140=2\x0138=1\x0144=1\x0177=O\x01"),
    ("AF", "MS1", "584=MS1\x01585=7\x01"),
    ("AN", "PR1", "710=PR1\x01724=0\x011=A\x01581=1\x01715=20240102\x0160=20240102-00:00:00\x01"),
])
def test_application_messages_on_a_drop_copy_session_get_a_business_reject(msg_type, ref, body):
    sent: list = []
    app, posted = _dc_app(sent)
    text = (f"8=FIX.4.4\x019=10\x0135={msg_type}\x0134=7\x0149=XMC\x0156=SHFEDC\x0152=20240102-00:00:00\x01"
            f"{body}10=000\x01")

    app.fromApp(fix.Message(text, False), DC_SID)

    assert posted == []
    [(session, out)] = sent
    fields = dict(f.split("=", 1) for f in out.split("\x01") if f)
    assert (session, fields["35"], fields["45"], fields["372"], fields["380"], fields["379"]) == \
           ("FIX.4.4:SHFEDC->XMC", "j", "7", msg_type, "6", ref)
    assert fields["58"] == "drop-copy session is read-only"


def test_mass_status_and_position_requests_on_an_order_session_reach_the_exchange():
    sent: list = []
    app, posted = _dc_app(sent)

    class Ex:
        on_md_request = on_new_order = on_cancel = on_replace = on_status = None

        def on_mass_status(self, *a): ...

        def on_positions_request(self, *a): ...
    ex = Ex()
    app.bind(ex)
    for mt, body in (("AF", "584=M\x01585=7\x01"), ("AN", "710=P\x01724=0\x011=A\x01581=1\x01")):
        text = f"8=FIX.4.4\x019=10\x0135={mt}\x0134=7\x0149=XMC\x0156=SHFE\x0152=20240102-00:00:00\x01{body}10=000\x01"
        app.fromApp(fix.Message(text, False), fix.SessionID("FIX.4.4", "SHFE", "XMC"))

    assert [fn.__name__ for fn, _ in posted] == ["on_mass_status", "on_positions_request"]
    assert sent == []


# -- FIX 4.2 logons carry the password in RawData ----------------------------------------------------
@pytest.mark.parametrize("raw_data, accepted", [("s3cret", True), ("wrong", False)])
def test_a_fix42_logon_is_checked_by_the_password_in_raw_data(raw_data, accepted):
    from xmc_fix.venues.credentials import Credentials, Secret
    from xmc_fix.venues.settings import SessionSpec
    spec = SessionSpec({"Venue": "COMEX", "BeginString": "FIX.4.2", "SenderCompID": "COMEX", "TargetCompID": "XMC"}, 1)
    app = SimApplication(SessionFile("sim.cfg", {}, [spec]), {"COMEX": Credentials("trader", Secret("s3cret"))},
                         Serializer())
    logon = fix.Message(f"8=FIX.4.2\x019=5\x0135=A\x0134=1\x0198=0\x01108=30\x0195={len(raw_data)}\x01"
                        f"96={raw_data}\x0110=000\x01", False)

    if accepted:
        app.fromAdmin(logon, fix.SessionID("FIX.4.2", "COMEX", "XMC"))
    else:
        with pytest.raises(fix.RejectLogon):
            app.fromAdmin(logon, fix.SessionID("FIX.4.2", "COMEX", "XMC"))
