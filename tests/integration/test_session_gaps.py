"""The session layer keeps every number the venue used: a Logout that overtook a message (numbered past
the one expected) leaves that message to be resent at the next logon, over a real QuickFIX initiator
session against a raw-FIX venue (rawfix.FakeVenue)."""

from __future__ import annotations

import pytest
import quickfix as fix

from tests.integration.harness import FixClient
from tests.integration.rawfix import FakeVenue
from tests.integration.test_fix_client import DICTIONARY, ER, ROOT, _session_file
from xmc_fix.sim.faultproxy import field

pytestmark = pytest.mark.integration


def test_a_report_overtaken_by_a_logout_is_asked_for_again_at_the_next_logon(tmp_path):
    """The venue sends an execution report that is lost on the way, then a Logout numbered after it.
    QuickFIX alone counts the Logout as the missing number and never asks for the report; the
    engine keeps the number, and the next logon's ResendRequest brings the report back."""
    venue = FakeVenue("COMEX", dictionary=fix.DataDictionary(str(ROOT / "fixspecs" / DICTIONARY["FIX.4.4"])))
    client = FixClient({}, {}, tmp_path, config=_session_file(tmp_path, venue, "FIX.4.4", {}))
    try:
        client.start()
        peer = venue.wait_logged_on()
        assert peer is not None and "COMEX" in client.up
        lost = peer.next_out
        body = [(t, {17: "E-LOST", 150: "F", 39: "2", 32: "1", 31: "4.2", 14: "1", 151: "0"}.get(t, v))
                for t, v in ER]
        peer.store[lost] = ("8", body, b"20260101-00:00:00.000000")   # what the venue would resend
        peer.next_out += 1                                            # ... but it never arrived
        logons = venue.logons

        peer.send("5", [(58, "closing")])

        again = venue.wait_logged_on(after=logons)
        assert again is not None, "the engine did not log on again"
        ask = again.wait_for(lambda f: field(f, b"35") == b"2", 5.0)
        assert ask is not None and int(field(ask, b"7")) == lost, ask
        er = client.expect(lambda e: getattr(e, "exec_id", None) == "E-LOST")
        assert er.venue == "COMEX" and er.poss_dup
    finally:
        client.stop()
        venue.close()
