"""The simulator's order book: price-time priority, resting-price trades, DAY / IOC / FOK / market
remainders, cancel, replace and the aggregated levels it publishes."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmc_fix.domain.enums import OrdStatus, OrdType, Side, TimeInForce
from xmc_fix.sim.matching import OrderBook, SimOrder

BUY, SELL = Side.BUY, Side.SELL
DAY, IOC, FOK = TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK

_ids = itertools.count(1)


# -- stub factories ----------------------------------------------------------------------------
def make_order(side: Side = BUY, qty="5", price="100", **overrides) -> SimOrder:
    """A DAY limit order from client C1; ``price=None`` with ``ord_type=MARKET`` for a market order."""
    n = next(_ids)
    fields = dict(order_id=f"O{n}", owner="C1", cl_ord_id=f"C{n}", side=side, qty=D(str(qty)),
                  price=None if price is None else D(str(price)), ord_type=OrdType.LIMIT, tif=DAY,
                  symbol="CU")
    return SimOrder(**{**fields, **overrides})


def make_book() -> OrderBook:
    return OrderBook("CU")


def rest(book: OrderBook, side: Side, qty, price, **overrides) -> SimOrder:
    """Submit an order that must not trade, and return it resting."""
    o = make_order(side, qty, price, **overrides)
    assert book.submit(o) == []
    assert o.status is OrdStatus.NEW
    return o


def fills(trades) -> list[tuple[str, D, D]]:
    """(resting order id, qty, price) per trade: what the assertions compare."""
    return [(t.resting.order_id, t.qty, t.price) for t in trades]


# -- priority and price ------------------------------------------------------------------------
def test_orders_at_one_price_fill_in_arrival_order():
    book = make_book()
    first, second = rest(book, SELL, 5, 100), rest(book, SELL, 5, 100)

    trades = book.submit(make_order(BUY, 7, 100))

    assert fills(trades) == [(first.order_id, D(5), D(100)), (second.order_id, D(2), D(100))]
    assert first.status is OrdStatus.FILLED
    assert second.status is OrdStatus.PARTIALLY_FILLED and second.leaves == D(3)


def test_better_price_fills_before_an_earlier_worse_price():
    book = make_book()
    worse = rest(book, SELL, 5, 101)
    better = rest(book, SELL, 5, 100)

    trades = book.submit(make_order(BUY, 5, 101))

    assert fills(trades) == [(better.order_id, D(5), D(100))]
    assert worse.leaves == D(5)


def test_higher_bid_fills_first_when_a_seller_arrives():
    book = make_book()
    low = rest(book, BUY, 5, 99)
    high = rest(book, BUY, 5, 100)

    trades = book.submit(make_order(SELL, 5, 99))

    assert fills(trades) == [(high.order_id, D(5), D(100))]
    assert low.leaves == D(5)


@pytest.mark.parametrize("aggressor_side, resting_price, limit", [(BUY, "100", "105"), (SELL, "105", "100")])
def test_trade_executes_at_the_resting_price_not_the_aggressor_limit(aggressor_side, resting_price, limit):
    book = make_book()
    rest(book, aggressor_side.opposite, 5, resting_price)
    aggressor = make_order(aggressor_side, 5, limit)

    trades = book.submit(aggressor)

    assert [t.price for t in trades] == [D(resting_price)]
    assert aggressor.avg_px == D(resting_price)


def test_aggressor_sweeps_levels_up_to_its_limit_and_no_further():
    book = make_book()
    a100, a101 = rest(book, SELL, 5, 100), rest(book, SELL, 5, 101)
    a102 = rest(book, SELL, 5, 102)
    buy = make_order(BUY, 12, 101)

    trades = book.submit(buy)

    assert fills(trades) == [(a100.order_id, D(5), D(100)), (a101.order_id, D(5), D(101))]
    assert buy.cum_qty == D(10) and buy.avg_px == D("100.5")
    assert a102.leaves == D(5)


def test_partial_fill_keeps_the_resting_remainder_first_in_its_queue():
    book = make_book()
    first = rest(book, SELL, 10, 100)
    book.submit(make_order(BUY, 4, 100))
    later = rest(book, SELL, 5, 100)

    trades = book.submit(make_order(BUY, 6, 100))

    assert fills(trades) == [(first.order_id, D(6), D(100))]
    assert later.leaves == D(5)


def test_both_sides_of_a_trade_accumulate_quantity_and_notional():
    book = make_book()
    resting = rest(book, SELL, 10, 100)
    buy = make_order(BUY, 4, 100)

    book.submit(buy)

    assert (buy.cum_qty, buy.notional, buy.status) == (D(4), D(400), OrdStatus.FILLED)
    assert (resting.cum_qty, resting.notional, resting.status) == (D(4), D(400), OrdStatus.PARTIALLY_FILLED)
    assert resting.leaves == D(6)


# -- remainders by time in force ---------------------------------------------------------------
def test_non_crossing_limit_order_rests_without_trading():
    book = make_book()
    rest(book, SELL, 5, 101)

    bid = rest(book, BUY, 5, 100)

    assert book.best(BUY) == D(100) and book.best(SELL) == D(101)
    assert bid.leaves == D(5)


def test_day_limit_remainder_rests_at_its_limit():
    book = make_book()
    rest(book, SELL, 5, 100)
    buy = make_order(BUY, 8, 100, tif=DAY)

    book.submit(buy)

    assert buy.status is OrdStatus.PARTIALLY_FILLED and buy.leaves == D(3)
    assert book.levels(BUY, 5) == [(D(100), D(3))]
    assert book.levels(SELL, 5) == []


def test_ioc_remainder_is_cancelled_not_rested():
    book = make_book()
    rest(book, SELL, 5, 100)
    buy = make_order(BUY, 8, 100, tif=IOC)

    trades = book.submit(buy)

    assert [t.qty for t in trades] == [D(5)]
    assert buy.status is OrdStatus.CANCELED and buy.cum_qty == D(5) and buy.leaves == 0
    assert book.levels(BUY, 5) == []


def test_ioc_that_fills_completely_is_filled_not_cancelled():
    book = make_book()
    rest(book, SELL, 5, 100)
    buy = make_order(BUY, 5, 100, tif=IOC)

    book.submit(buy)

    assert buy.status is OrdStatus.FILLED


def test_ioc_that_cannot_trade_is_cancelled_with_nothing_filled():
    book = make_book()
    rest(book, SELL, 5, 101)
    buy = make_order(BUY, 5, 100, tif=IOC)

    assert book.submit(buy) == []
    assert buy.status is OrdStatus.CANCELED and buy.cum_qty == 0
    assert book.levels(BUY, 5) == []


def test_market_order_sweeps_every_level_and_cancels_its_remainder():
    book = make_book()
    rest(book, SELL, 5, 100)
    rest(book, SELL, 5, 150)
    buy = make_order(BUY, 12, None, ord_type=OrdType.MARKET, tif=IOC)

    trades = book.submit(buy)

    assert [(t.qty, t.price) for t in trades] == [(D(5), D(100)), (D(5), D(150))]
    assert buy.status is OrdStatus.CANCELED and buy.cum_qty == D(10)
    assert book.levels(BUY, 5) == [] and book.levels(SELL, 5) == []


def test_market_order_with_day_time_in_force_never_rests():
    book = make_book()
    buy = make_order(BUY, 5, None, ord_type=OrdType.MARKET, tif=DAY)

    assert book.submit(buy) == []
    assert buy.status is OrdStatus.CANCELED
    assert book.levels(BUY, 5) == []


def test_fok_that_cannot_fill_completely_trades_nothing_and_leaves_the_book_alone():
    book = make_book()
    ask = rest(book, SELL, 5, 100)
    buy = make_order(BUY, 6, 100, tif=FOK)

    assert book.submit(buy) == []
    assert buy.status is OrdStatus.CANCELED and buy.cum_qty == 0
    assert ask.leaves == D(5) and ask.status is OrdStatus.NEW


def test_fok_fills_completely_across_levels_when_enough_crosses():
    book = make_book()
    rest(book, SELL, 5, 100)
    rest(book, SELL, 5, 101)
    buy = make_order(BUY, 8, 101, tif=FOK)

    trades = book.submit(buy)

    assert [(t.qty, t.price) for t in trades] == [(D(5), D(100)), (D(3), D(101))]
    assert buy.status is OrdStatus.FILLED


def test_fok_does_not_count_quantity_beyond_its_limit():
    book = make_book()
    rest(book, SELL, 5, 100)
    rest(book, SELL, 5, 102)
    buy = make_order(BUY, 8, 101, tif=FOK)

    assert book.submit(buy) == []
    assert buy.status is OrdStatus.CANCELED


def test_available_sums_only_the_opposite_quantity_the_order_would_cross():
    book = make_book()
    rest(book, SELL, 5, 100)
    rest(book, SELL, 4, 101)
    rest(book, SELL, 7, 102)
    rest(book, BUY, 9, 99)

    assert book.available(make_order(BUY, 20, 101)) == D(9)
    assert book.available(make_order(BUY, 20, 99)) == 0
    assert book.available(make_order(SELL, 20, 99)) == D(9)


# -- cancel ------------------------------------------------------------------------------------
def test_cancel_takes_a_resting_order_off_the_book():
    book = make_book()
    bid = rest(book, BUY, 5, 100)

    assert book.cancel(bid) is True
    assert bid.status is OrdStatus.CANCELED and bid.leaves == 0
    assert book.best(BUY) is None and book.levels(BUY, 5) == []


def test_cancel_keeps_the_other_orders_of_the_level_in_their_order():
    book = make_book()
    first, second, third = (rest(book, SELL, 5, 100) for _ in range(3))

    book.cancel(second)
    trades = book.submit(make_order(BUY, 10, 100))

    assert [t.resting.order_id for t in trades] == [first.order_id, third.order_id]


def test_cancel_of_a_partially_filled_order_keeps_its_fills():
    book = make_book()
    ask = rest(book, SELL, 10, 100)
    book.submit(make_order(BUY, 4, 100))

    book.cancel(ask)

    assert ask.status is OrdStatus.CANCELED and ask.cum_qty == D(4) and ask.leaves == 0


@pytest.mark.parametrize("finish", ["filled", "cancelled"])
def test_cancel_of_a_finished_order_is_refused(finish):
    book = make_book()
    ask = rest(book, SELL, 5, 100)
    if finish == "filled":
        book.submit(make_order(BUY, 5, 100))
    else:
        book.cancel(ask)
    status = ask.status

    assert book.cancel(ask) is False
    assert ask.status is status


# -- replace -----------------------------------------------------------------------------------
def test_replace_down_at_the_same_price_keeps_queue_priority():
    book = make_book()
    first, second = rest(book, SELL, 5, 100), rest(book, SELL, 5, 100)

    assert book.replace(first, D(3), D(100)) == []
    trades = book.submit(make_order(BUY, 3, 100))

    assert fills(trades) == [(first.order_id, D(3), D(100))]
    assert second.leaves == D(5)


def test_replace_at_the_same_quantity_and_price_keeps_queue_priority():
    book = make_book()
    first, _ = rest(book, SELL, 5, 100), rest(book, SELL, 5, 100)

    book.replace(first, D(5), D(100))
    trades = book.submit(make_order(BUY, 1, 100))

    assert trades[0].resting is first


def test_replace_up_loses_queue_priority():
    book = make_book()
    first, second = rest(book, SELL, 5, 100), rest(book, SELL, 5, 100)

    book.replace(first, D(8), D(100))
    trades = book.submit(make_order(BUY, 5, 100))

    assert fills(trades) == [(second.order_id, D(5), D(100))]
    assert first.leaves == D(8)


def test_replace_to_another_price_and_back_loses_queue_priority():
    book = make_book()
    first, second = rest(book, SELL, 5, 100), rest(book, SELL, 5, 100)

    book.replace(first, D(5), D(101))
    book.replace(first, D(5), D(100))
    trades = book.submit(make_order(BUY, 5, 100))

    assert fills(trades) == [(second.order_id, D(5), D(100))]


def test_replace_moves_the_order_to_its_new_level():
    book = make_book()
    bid = rest(book, BUY, 5, 100)

    book.replace(bid, D(7), D(98))

    assert book.levels(BUY, 5) == [(D(98), D(7))]
    assert (bid.qty, bid.price, bid.status) == (D(7), D(98), OrdStatus.NEW)


def test_replace_to_a_crossing_price_trades_at_the_resting_price():
    book = make_book()
    bid = rest(book, BUY, 3, 99)
    ask = rest(book, SELL, 5, 101)

    trades = book.replace(ask, D(5), D(98))

    assert fills(trades) == [(bid.order_id, D(3), D(99))]
    assert ask.status is OrdStatus.PARTIALLY_FILLED and ask.leaves == D(2)
    assert book.levels(SELL, 5) == [(D(98), D(2))]


def test_replace_of_a_partially_filled_order_keeps_its_fills():
    book = make_book()
    ask = rest(book, SELL, 10, 100)
    book.submit(make_order(BUY, 4, 100))

    book.replace(ask, D(8), D(101))

    assert (ask.cum_qty, ask.leaves, ask.status) == (D(4), D(4), OrdStatus.PARTIALLY_FILLED)
    assert book.levels(SELL, 5) == [(D(101), D(4))]


@pytest.mark.parametrize("new_qty", ["4", "2"])
def test_replace_down_to_the_filled_quantity_completes_the_order(new_qty):
    book = make_book()
    ask = rest(book, SELL, 10, 100)
    book.submit(make_order(BUY, 4, 100))

    assert book.replace(ask, D(new_qty), D(100)) == []

    assert (ask.qty, ask.cum_qty, ask.leaves, ask.status) == (D(4), D(4), D(0), OrdStatus.FILLED)
    assert book.levels(SELL, 5) == []


def test_replace_of_an_unfilled_order_to_zero_cancels_it():
    book = make_book()
    ask = rest(book, SELL, 10, 100)

    book.replace(ask, D(0), D(100))

    assert ask.status is OrdStatus.CANCELED
    assert book.levels(SELL, 5) == []


def test_replace_of_a_finished_order_changes_nothing():
    book = make_book()
    ask = rest(book, SELL, 5, 100)
    book.cancel(ask)

    assert book.replace(ask, D(9), D(99)) == []
    assert (ask.qty, ask.price, ask.status) == (D(5), D(100), OrdStatus.CANCELED)
    assert book.levels(SELL, 5) == []


# -- levels ------------------------------------------------------------------------------------
def test_levels_aggregate_orders_per_price_best_first_up_to_depth():
    book = make_book()
    for qty, px in ((5, 100), (3, 100), (2, 99), (1, 98)):
        rest(book, BUY, qty, px)
    for qty, px in ((4, 102), (6, 101), (1, 101), (9, 103)):
        rest(book, SELL, qty, px)

    assert book.levels(BUY, 2) == [(D(100), D(8)), (D(99), D(2))]
    assert book.levels(SELL, 2) == [(D(101), D(7)), (D(102), D(4))]
    assert book.levels(SELL, 10) == [(D(101), D(7)), (D(102), D(4)), (D(103), D(9))]


def test_levels_show_what_is_left_after_partial_fills():
    book = make_book()
    rest(book, SELL, 5, 100)
    rest(book, SELL, 5, 100)

    book.submit(make_order(BUY, 7, 100))

    assert book.levels(SELL, 5) == [(D(100), D(3))]


def test_best_is_none_for_an_empty_side():
    book = make_book()

    assert book.best(BUY) is None and book.best(SELL) is None
    assert book.levels(BUY, 5) == [] and book.levels(SELL, 5) == []


# -- invariants over random order flow ---------------------------------------------------------
_order_flow = st.lists(
    st.tuples(st.sampled_from([BUY, SELL]), st.integers(1, 10), st.integers(95, 105),
              st.sampled_from([DAY, DAY, IOC, FOK])),
    min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(_order_flow)
def test_random_order_flow_never_leaves_a_crossed_book_and_conserves_quantity(flow):
    book = make_book()
    orders, traded = [], {}
    for side, qty, px, tif in flow:
        o = make_order(side, qty, px, tif=tif)
        orders.append(o)
        for t in book.submit(o):
            assert t.aggressor.crosses(t.price) and t.resting.price == t.price
            for x in (t.aggressor, t.resting):
                traded[x.order_id] = traded.get(x.order_id, D(0)) + t.qty
        bid, ask = book.best(BUY), book.best(SELL)
        assert bid is None or ask is None or bid < ask
    for o in orders:
        assert o.cum_qty == traded.get(o.order_id, D(0))
        assert o.cum_qty <= o.qty
        if o.tif is FOK:
            assert o.cum_qty in (0, o.qty)
    resting = {o.order_id: o.leaves for s in (BUY, SELL) for o in book.orders(s)}
    assert all(v > 0 for v in resting.values())
    assert resting == {o.order_id: o.leaves for o in orders if not o.status.is_terminal}
