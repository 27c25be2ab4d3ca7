"""The engine's FIX client against a venue that is not ours: a raw-FIX venue (rawfix.FakeVenue)
speaks to the engine's own session adapter over a real QuickFIX initiator session, and says what
QuickFIX venues never do — refresh entries without Symbol, execution reports we cannot read,
Rejects that name only a sequence number — while it reads every frame we send."""

from __future__ import annotations

import time
from decimal import Decimal as D
from pathlib import Path

import pytest
import quickfix as fix

from tests.integration.harness import FixClient
from tests.integration.rawfix import FakeVenue
from xmc_fix import fixwire as fw
from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, ReplaceOrder, SubscribeMarketData
from xmc_fix.domain.enums import BookAction, OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.domain.events import BookSnapshot, BookUpdate, MessageRejected, Uninterpretable
from xmc_fix.domain.instruments import Instrument
from xmc_fix.sim.faultproxy import field

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DICTIONARY = {"FIX.4.4": "FIX44-XMC.xml", "FIX.4.2": "FIX42.xml"}
HG = Instrument(name="COMEX_HG", venue="COMEX", symbol="HG", currency="USD", contract_size=D(25000), unit="lb",
                tick=D("0.0005"), security_id="HGH6", position_effect=True)


def _session_file(tmp_path: Path, venue: FakeVenue, begin: str, extra: dict[str, str]) -> Path:
    keys = {"ConnectionType": "initiator", "BeginString": begin, "SenderCompID": "XMC", "TargetCompID": "COMEX",
            "Venue": "COMEX", "SocketConnectHost": "127.0.0.1", "SocketConnectPort": str(venue.port),
            "HeartBtInt": "30", "ReconnectInterval": "1", "StartTime": "00:00:00", "EndTime": "00:00:00",
            "UseDataDictionary": "Y", "DataDictionary": str(ROOT / "fixspecs" / DICTIONARY[begin]), **extra}
    path = tmp_path / "venue.cfg"
    path.write_text("[DEFAULT]\n[SESSION]\n" + "".join(f"{k}={v}\n" for k, v in keys.items() if v is not None))
    return path


@pytest.fixture
def connect(tmp_path):
    """``connect(begin, **session keys)`` -> (client, the venue's end of the session)."""
    made: list[tuple[FixClient, FakeVenue]] = []

    def make(begin: str = "FIX.4.4", **extra):
        venue = FakeVenue("COMEX", begin=begin,
                          dictionary=fix.DataDictionary(str(ROOT / "fixspecs" / DICTIONARY[begin])))
        client = FixClient({}, {}, tmp_path, config=_session_file(tmp_path, venue, begin, extra))
        made.append((client, venue))
        client.start()
        peer = venue.wait_logged_on()
        assert peer is not None and "COMEX" in client.up, "the client did not log on to the raw venue"
        return client, peer

    yield make
    for client, venue in made:
        client.stop()
        venue.close()


def _received(peer, msg_type: bytes, start: int = 0, timeout: float = 5.0) -> bytes:
    frame = peer.wait_for(lambda f: field(f, b"35") == msg_type, timeout, start)
    assert frame is not None, f"the venue received no {msg_type.decode()}"
    return frame


def _session_rejects(peer) -> list[bytes]:
    return [f for f in peer.received if field(f, b"35") == b"3"]


# -- market data without Symbol ---------------------------------------------------------------------
def test_refresh_entries_without_symbol_move_the_book_their_md_req_id_names(connect):
    client, peer = connect()
    client.sender.subscribe(SubscribeMarketData("M-HG-1", HG, 5))
    req = _received(peer, b"V")
    assert field(req, b"262") == b"M-HG-1"
    peer.send("W", [(262, "M-HG-1"), (83, 7), (55, "HG"), (268, 2), (269, 0), (270, "4.5"), (271, 3),
                    (269, 1), (270, "4.501"), (271, 2)])
    snap = client.expect(lambda e: isinstance(e, BookSnapshot))

    # FIX 4.4: the instrument block of an MDIncGrp entry is optional; the MDReqID says which book
    peer.send("X", [(262, "M-HG-1"), (268, 2),
                    (279, 1), (269, 0), (270, "4.5"), (271, 9), (83, 8),
                    (279, 0), (269, 1), (270, "4.5005"), (271, 1), (83, 9)])
    upd = client.expect(lambda e: isinstance(e, BookUpdate))

    assert snap.symbol == upd.symbol == "HG" and upd.venue == "COMEX"
    assert [(e.action, e.price, e.size) for e in upd.entries] == [(BookAction.CHANGE, D("4.5"), D(9)),
                                                                  (BookAction.NEW, D("4.5005"), D(1))]
    assert (upd.first_rpt_seq, upd.rpt_seq) == (8, 9)
    assert peer.probe() and not _session_rejects(peer)


# -- application messages we cannot interpret -------------------------------------------------------
ER = [(37, "O1"), (11, "C1"), (17, "E1"), (150, "0"), (39, "0"), (55, "HG"), (54, "1"), (38, "1"), (151, "1"),
      (14, "0"), (6, "0")]


@pytest.mark.parametrize("change, reason_code, words", [
    ({11: None}, b"5", "tag 11 missing"),          # ClOrdID is optional in the dictionary, not for us
    ({54: "5"}, b"0", "tag 54='5' not supported"),    # Sell short: valid FIX 4.4, not a side we trade
])
def test_a_report_we_cannot_interpret_is_handed_on_and_answered_with_a_business_reject(connect, change, reason_code,
                                                                                       words):
    client, peer = connect()
    body = [(t, change.get(t, v)) for t, v in ER if change.get(t, v) is not None]
    start = len(peer.received)
    seq = peer.next_out

    peer.send("8", body)

    ev = client.expect(lambda e: isinstance(e, Uninterpretable))
    assert (ev.venue, ev.msg_type, ev.ref_seq_num) == ("COMEX", "8", seq) and words in ev.reason
    assert fw.value_of(ev.raw, 17) == "E1"
    reply = _received(peer, b"j", start)
    assert (field(reply, b"45"), field(reply, b"372"), field(reply, b"380")) == (str(seq).encode(), b"8", reason_code)
    assert words.encode() in field(reply, b"58")
    assert peer.probe() and not _session_rejects(peer)     # the session goes on; nothing to resend


def test_unreadable_market_data_names_the_book_to_refresh(connect):
    client, peer = connect()
    client.sender.subscribe(SubscribeMarketData("M-HG-2", HG, 5))
    _received(peer, b"V")

    peer.send("X", [(262, "M-HG-2"), (268, 1), (279, 1), (269, 0), (270, "4.5"), (271, 1), (83, "x9")])

    ev = client.expect(lambda e: isinstance(e, Uninterpretable))
    assert (ev.msg_type, ev.symbols) == ("X", ("HG",)) and "83" in ev.reason
    assert field(_received(peer, b"j"), b"380") == b"0" and not _session_rejects(peer)


# -- timestamps we send ---------------------------------------------------------------------------------
@pytest.mark.parametrize("begin, extra, digits", [
    ("FIX.4.4", {"TimestampPrecision": "3"}, 3),
    ("FIX.4.4", {"TimestampPrecision": "6"}, 6),
    ("FIX.4.4", {}, 3),                              # QuickFIX's default
    ("FIX.4.2", {}, 3),
])
def test_every_timestamp_we_send_has_the_sessions_precision(connect, begin, extra, digits):
    client, peer = connect(begin, **extra)
    now = time.time_ns()
    start = len(peer.received)

    assert client.sender.send_new(NewOrder("C1", HG, Side.BUY, D(1), OrdType.LIMIT, D("4.5"), TimeInForce.DAY,
                                           "ACC", PositionEffect.OPEN), now)
    assert client.sender.send_cancel(CancelOrder("C2", "C1", HG, Side.BUY, D(1), "O1"), now)
    assert client.sender.send_replace(ReplaceOrder("C3", "C1", HG, Side.BUY, D(2), OrdType.LIMIT, D("4.5"),
                                                   TimeInForce.DAY, "ACC", PositionEffect.OPEN, "O1"), now)

    for mt in (b"D", b"F", b"G"):
        frame = _received(peer, mt, start)
        sent, stamped = field(frame, b"60"), field(frame, b"52")
        assert fw.fraction_digits(sent) == digits == fw.fraction_digits(stamped), (mt, sent, stamped)
        assert sent == fw.format_utc(now, digits).encode()


def test_a_plain_fix44_venue_never_receives_close_today(connect):
    client, peer = connect()
    start = len(peer.received)

    client.sender.send_new(NewOrder("C1", HG, Side.SELL, D(1), OrdType.LIMIT, D("4.5"), TimeInForce.IOC, "ACC",
                                    PositionEffect.CLOSE_TODAY), time.time_ns())

    frame = _received(peer, b"D", start)
    assert field(frame, b"77") == b"C" and field(frame, b"9001") is None


# -- Rejects that name only a sequence number -----------------------------------------------------------
def test_a_reject_without_ref_msg_type_is_mapped_to_the_message_it_rejects(connect):
    client, peer = connect()
    start = len(peer.received)
    client.sender.send_cancel(CancelOrder("X2", "X1", HG, Side.BUY, D(1), "O1"), time.time_ns())
    client.sender.send_status(QueryOrderStatus("X1", HG, Side.BUY, "O1"))
    client.sender.send_new(NewOrder("X3", HG, Side.BUY, D(1), OrdType.LIMIT, D("4.5"), TimeInForce.DAY, "ACC",
                                    PositionEffect.OPEN), time.time_ns())
    cancel, status, order = (_received(peer, mt, start) for mt in (b"F", b"H", b"D"))

    # Rejects that give RefSeqNum and nothing else; a BusinessMessageReject without the id it rejects
    peer.send("3", [(45, field(cancel, b"34")), (373, 99), (58, "cannot process")])
    peer.send("j", [(45, field(status, b"34")), (372, "H"), (380, 0), (58, "not now")])
    peer.send("3", [(45, field(order, b"34")), (373, 99)])
    got = [client.expect(lambda e: isinstance(e, MessageRejected)) for _ in range(3)]

    assert [(r.ref_msg_type, r.ref_id, r.business) for r in got] == [("F", "X2", False), ("H", "X1", True),
                                                                     ("D", "X3", False)]


def test_a_reject_that_names_its_message_keeps_what_the_venue_said(connect):
    client, peer = connect()
    start = len(peer.received)
    client.sender.send_cancel(CancelOrder("Y2", "Y1", HG, Side.BUY, D(1)), time.time_ns())
    cancel = _received(peer, b"F", start)

    peer.send("j", [(45, field(cancel, b"34")), (372, "F"), (379, "Y1"), (380, 1)])
    rej = client.expect(lambda e: isinstance(e, MessageRejected))

    assert (rej.ref_msg_type, rej.ref_id) == ("F", "Y1")
