"""The decision rule (:func:`decide`) on its own: entries each way, exits of the position held, a
threshold met exactly, and no trade. The rule only knows the position's sign: how large a position
may grow is the risk gate's (``max_position``), not the rule's.

Thresholds throughout: sell the basis at or above 300, buy it back at or below 100; buy the basis
at or below -300, sell it back at or above -100."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from xmc_fix.basis.signal import Signal, crosses, decide
from xmc_fix.config import PairConfig
from xmc_fix.domain.enums import Direction, TicketIntent

SELL, BUY = Direction.SELL_BASIS, Direction.BUY_BASIS
OPEN, CLOSE = TicketIntent.OPEN, TicketIntent.CLOSE
FLAT, LONG, SHORT = D(0), D(5), D(-5)


def pair(**over) -> PairConfig:
    thresholds = dict(entry_above=D(300), exit_above=D(100), entry_below=D(-300), exit_below=D(-100))
    return PairConfig("P", "SHFE_CU", "LME_CA", "USDCNH", **{**thresholds, **over})


def what(sig: Signal | None):
    return None if sig is None else (sig.direction, sig.intent, sig.key, sig.threshold)


# -- entries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sell", [D("300"), D("300.0001"), D("450")])
def test_flat_and_the_sell_basis_at_or_above_entry_above_sells_the_basis(sell):
    assert what(decide(sell, D("310"), FLAT, pair())) == (SELL, OPEN, "entry_above", D(300))


@pytest.mark.parametrize("buy", [D("-300"), D("-300.0001"), D("-450")])
def test_flat_and_the_buy_basis_at_or_below_entry_below_buys_the_basis(buy):
    assert what(decide(D("-310"), buy, FLAT, pair())) == (BUY, OPEN, "entry_below", D(-300))


def test_an_entry_adds_to_a_position_of_the_same_side():
    # short basis and the basis still rich: sell more (the gate's max_position says how far)
    assert what(decide(D(320), D(330), SHORT, pair())) == (SELL, OPEN, "entry_above", D(300))
    assert what(decide(D(-330), D(-320), LONG, pair())) == (BUY, OPEN, "entry_below", D(-300))


# -- exits ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("buy", [D("100"), D("99.9999"), D("-50")])
def test_short_basis_and_the_buy_basis_at_or_below_exit_above_buys_it_back(buy):
    assert what(decide(buy - 10, buy, SHORT, pair())) == (BUY, CLOSE, "exit_above", D(100))


@pytest.mark.parametrize("sell", [D("-100"), D("-99.9999"), D("50")])
def test_long_basis_and_the_sell_basis_at_or_above_exit_below_sells_it_back(sell):
    assert what(decide(sell, sell + 10, LONG, pair())) == (SELL, CLOSE, "exit_below", D(-100))


def test_the_position_held_turns_an_entry_level_basis_into_an_exit_not_the_opposite_entry():
    # long basis, and the basis one can sell at is above entry_above: close the long, do not go short
    assert what(decide(D(350), D(360), LONG, pair())) == (SELL, CLOSE, "exit_below", D(-100))
    # short basis, and the basis one can buy at is below entry_below: close the short, do not go long
    assert what(decide(D(-360), D(-350), SHORT, pair())) == (BUY, CLOSE, "exit_above", D(100))


def test_exit_levels_mean_nothing_without_a_position_on_that_side():
    # flat: a basis between the exit and entry levels trades nothing either way
    assert decide(D(-50), D(50), FLAT, pair()) is None
    # long: a buy basis below exit_above is not an exit of a long
    assert decide(D(-150), D(50), LONG, pair()) is None
    # short: a sell basis above exit_below is not an exit of a short
    assert decide(D(-50), D(150), SHORT, pair()) is None


# -- no trade ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sell, buy, position", [
    (D("299.9999"), D("310"), FLAT),        # just short of entry_above
    (D("-310"), D("-299.9999"), FLAT),      # just short of entry_below
    (D("-100.0001"), D("-90"), LONG),       # just short of exit_below
    (D("90"), D("100.0001"), SHORT),        # just short of exit_above
    (None, None, FLAT),                     # no prices
    (None, D(200), SHORT),                  # no sell price, and the buy price does not exit
])
def test_no_signal_short_of_every_threshold_or_without_prices(sell, buy, position):
    assert decide(sell, buy, position, pair()) is None


def test_a_threshold_left_out_of_the_strategy_never_signals():
    no_sell_side = pair(entry_above=None, exit_below=None)
    assert decide(D(10_000), D(10_010), FLAT, no_sell_side) is None
    assert decide(D(10_000), D(10_010), LONG, no_sell_side) is None
    assert what(decide(D(-400), D(-390), FLAT, no_sell_side)) == (BUY, OPEN, "entry_below", D(-300))


def test_selling_is_looked_at_first_when_both_ways_cross():
    # only possible with thresholds that overlap; the rule's order decides
    overlapping = pair(entry_above=D(0), entry_below=D(0))
    assert what(decide(D(1), D(-1), FLAT, overlapping)) == (SELL, OPEN, "entry_above", D(0))


def test_only_a_price_on_the_side_that_trades_is_needed():
    assert what(decide(D(300), None, FLAT, pair())) == (SELL, OPEN, "entry_above", D(300))
    assert what(decide(None, D(100), SHORT, pair())) == (BUY, CLOSE, "exit_above", D(100))


# -- the signal as screens show it, and the check at the ticket's size -------------------------------
def test_a_signal_says_what_it_does_and_which_threshold_it_crossed():
    assert decide(D(300), D(310), FLAT, pair()).describe() == "sell basis (open: entry_above 300 crossed)"
    assert decide(D(-10), D(100), SHORT, pair()).describe() == "buy basis (close: exit_above 100 crossed)"


@pytest.mark.parametrize("direction, basis, threshold, expected", [
    (SELL, D(300), D(300), True), (SELL, D("299.99"), D(300), False), (SELL, D(301), D(300), True),
    (BUY, D(-300), D(-300), True), (BUY, D("-299.99"), D(-300), False), (BUY, D(-301), D(-300), True),
])
def test_crosses_counts_the_threshold_itself_on_the_trading_side(direction, basis, threshold, expected):
    assert crosses(direction, basis, threshold) is expected
