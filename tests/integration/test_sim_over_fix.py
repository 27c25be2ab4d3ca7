"""The simulator as a FIX venue, message by message, over real QuickFIX sessions on loopback."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from tests.integration.harness import FixClient
from xmc_fix.config import load_strategy
from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, ReplaceOrder, SubscribeMarketData
from xmc_fix.domain.enums import ExecType, OrdStatus, OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.domain.events import BookSnapshot, BookUpdate, CancelRejected, ExecReport, MessageRejected
from xmc_fix.marketdata.book import Book

pytestmark = pytest.mark.integration

STRATEGY = load_strategy("sessions/strategy.toml")
LME = STRATEGY.instruments["LME_CA"]
SHFE = STRATEGY.instruments["SHFE_CU"]


@pytest.fixture
def client(sim, tmp_path):
    c = FixClient(sim.ports, sim.credentials, tmp_path).start()
    yield c
    c.stop()


def _book(client, inst) -> Book:
    client.sender.subscribe(SubscribeMarketData(f"M-{inst.symbol}", inst, 5))
    snap = client.expect(lambda e: isinstance(e, BookSnapshot) and e.symbol == inst.symbol)
    book = Book(inst.venue, inst.symbol)
    book.apply_snapshot(snap)
    return book


def _reports(client, cl_ord_id, until, timeout=5.0):
    out = []
    while True:
        er = client.expect(lambda e: isinstance(e, ExecReport) and e.cl_ord_id == cl_ord_id, timeout)
        out.append(er)
        if until(er):
            return out


def test_market_data_snapshot_then_incrementals_with_consecutive_rptseq(client):
    book = _book(client, LME)
    assert book.best_bid()[0] < book.best_ask()[0]
    seqs = []
    for _ in range(5):
        upd = client.expect(lambda e: isinstance(e, BookUpdate) and e.symbol == "CA")
        assert book.apply(upd), "incremental did not follow the snapshot"
        seqs.append(upd.rpt_seq)
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert len(book.bids) == 5 and len(book.asks) == 5


def test_aggressive_ioc_order_fills_at_the_resting_price(client):
    book = _book(client, LME)
    ask, size = book.best_ask()
    cmd = NewOrder("ioc-1", LME, Side.BUY, D(1), OrdType.LIMIT, ask + 20, TimeInForce.IOC, "ACC")
    assert client.sender.send_new(cmd, time.time_ns())
    ers = _reports(client, "ioc-1", lambda e: e.ord_status.is_terminal)
    assert ers[0].exec_type is ExecType.NEW
    fills = [e for e in ers if e.exec_type is ExecType.TRADE]
    assert sum(f.last_qty for f in fills) == 1 and ers[-1].ord_status is OrdStatus.FILLED
    assert all(f.last_px <= ask + 20 for f in fills)
    assert ers[-1].cum_qty == 1 and ers[-1].leaves_qty == 0


@pytest.mark.parametrize("price, qty, text", [
    (D("9500.3"), D(1), "not on the tick grid"),
    (D("9500"), D("0.5"), "must be a multiple"),
])
def test_bad_orders_are_rejected_with_a_reason(client, price, qty, text):
    cmd = NewOrder(f"bad-{price}-{qty}", LME, Side.BUY, qty, OrdType.LIMIT, price, TimeInForce.DAY, "ACC")
    client.sender.send_new(cmd, time.time_ns())
    (er,) = _reports(client, cmd.cl_ord_id, lambda e: e.ord_status.is_terminal)
    assert er.exec_type is ExecType.REJECTED and text in er.text


def test_unknown_symbol_is_rejected(client):
    from dataclasses import replace
    ghost = replace(LME, symbol="ZZ", security_id=None)
    cmd = NewOrder("ghost-1", ghost, Side.BUY, D(1), OrdType.LIMIT, D("9500"), TimeInForce.DAY, "ACC")
    client.sender.send_new(cmd, time.time_ns())
    (er,) = _reports(client, "ghost-1", lambda e: e.ord_status.is_terminal)
    assert er.ord_status is OrdStatus.REJECTED and "unknown symbol" in er.text


def test_resting_order_can_be_queried_replaced_and_cancelled(client):
    book = _book(client, LME)
    far = book.best_bid()[0] - 500
    client.sender.send_new(NewOrder("day-1", LME, Side.BUY, D(2), OrdType.LIMIT, far, TimeInForce.DAY, "ACC"),
                           time.time_ns())
    _reports(client, "day-1", lambda e: e.exec_type is ExecType.NEW)
    client.sender.send_status(QueryOrderStatus("day-1", LME, Side.BUY))
    st = client.expect(lambda e: isinstance(e, ExecReport) and e.exec_type is ExecType.ORDER_STATUS)
    assert st.ord_status is OrdStatus.NEW and st.leaves_qty == 2
    client.sender.send_replace(ReplaceOrder("day-2", "day-1", LME, Side.BUY, D(3), OrdType.LIMIT, far - 1,
                                            TimeInForce.DAY, "ACC"), time.time_ns())
    rep = client.expect(lambda e: isinstance(e, ExecReport) and e.cl_ord_id == "day-2")
    assert rep.exec_type is ExecType.REPLACED and rep.orig_cl_ord_id == "day-1" and rep.leaves_qty == 3
    client.sender.send_cancel(CancelOrder("day-3", "day-2", LME, Side.BUY, D(3)), time.time_ns())
    cxl = client.expect(lambda e: isinstance(e, ExecReport) and e.cl_ord_id == "day-3")
    assert cxl.exec_type is ExecType.CANCELED and cxl.ord_status is OrdStatus.CANCELED


def test_cancel_of_an_unknown_order_is_rejected(client):
    client.sender.send_cancel(CancelOrder("c-1", "never-sent", LME, Side.BUY, D(1)), time.time_ns())
    rej = client.expect(lambda e: isinstance(e, CancelRejected))
    assert rej.cl_ord_id == "c-1" and "unknown order" in rej.reason


def test_status_of_an_unknown_order_says_so(client):
    client.sender.send_status(QueryOrderStatus("ghost-2", LME, Side.SELL))
    st = client.expect(lambda e: isinstance(e, ExecReport) and e.cl_ord_id == "ghost-2")
    assert st.exec_type is ExecType.ORDER_STATUS and st.ord_status is OrdStatus.REJECTED
    assert st.text == "unknown order"


def test_shfe_requires_position_effect_and_a_position_to_close_today(client):
    book = _book(client, SHFE)
    bid = book.best_bid()[0]
    # closing today without holding anything: refused by the exchange
    client.sender.send_new(NewOrder("s-1", SHFE, Side.SELL, D(1), OrdType.LIMIT, bid - 50, TimeInForce.IOC, "ACC",
                                    PositionEffect.CLOSE_TODAY), time.time_ns())
    (er,) = _reports(client, "s-1", lambda e: e.ord_status.is_terminal)
    assert er.ord_status is OrdStatus.REJECTED and "insufficient long today position" in er.text
    # open a long today, then close it today
    ask = book.best_ask()[0]
    client.sender.send_new(NewOrder("s-2", SHFE, Side.BUY, D(1), OrdType.LIMIT, ask + 50, TimeInForce.IOC, "ACC",
                                    PositionEffect.OPEN), time.time_ns())
    assert _reports(client, "s-2", lambda e: e.ord_status.is_terminal)[-1].ord_status is OrdStatus.FILLED
    client.sender.send_new(NewOrder("s-3", SHFE, Side.SELL, D(1), OrdType.LIMIT, bid - 100, TimeInForce.IOC, "ACC",
                                    PositionEffect.CLOSE_TODAY), time.time_ns())
    assert _reports(client, "s-3", lambda e: e.ord_status.is_terminal)[-1].ord_status is OrdStatus.FILLED


def test_shfe_order_without_position_effect_is_refused_at_session_level(client):
    """PositionEffect is required by the SHFE dictionary: QuickFIX at the venue rejects the message
    (35=3, required tag missing) and the client learns which order it was."""
    client.sender.send_new(NewOrder("s-4", SHFE, Side.BUY, D(1), OrdType.LIMIT, D("70000"), TimeInForce.DAY, "ACC"),
                           time.time_ns())
    rej = client.expect(lambda e: isinstance(e, MessageRejected))
    assert rej.ref_id == "s-4" and "required tag missing" in rej.reason and "77" in rej.reason
