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
