"""A simulated venue's holdings per account and instrument: open/close buckets (today / yesterday)
on SHFE-style venues, netting elsewhere, undoing a fill, and the end of day."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from xmc_fix.domain.enums import PositionEffect as PE
from xmc_fix.domain.enums import Side
from xmc_fix.sim.positions import InitialPosition, Position


def test_open_and_close_buckets_on_an_open_close_venue():
    p = Position(long_yday=D(4))

    p.trade(Side.BUY, D(3), PE.OPEN, netting=False)
    p.trade(Side.SELL, D(1), PE.CLOSE_TODAY, netting=False)
    p.trade(Side.SELL, D(2), PE.CLOSE_YESTERDAY, netting=False)
    p.trade(Side.SELL, D(5), PE.OPEN, netting=False)

    assert (p.long_today, p.long_yday, p.short_today, p.short_yday, p.net) == (D(2), D(2), D(5), 0, D(-1))


@pytest.mark.parametrize("start, side, qty, expected", [
    (dict(short_yday=D(2), short_today=D(1)), Side.BUY, D(5), dict(long_today=D(2))),
    (dict(short_yday=D(2), short_today=D(1)), Side.BUY, D(2), dict(short_today=D(1))),
    (dict(long_yday=D(3)), Side.SELL, D(1), dict(long_yday=D(2))),
])
def test_a_netting_venue_covers_yesterdays_then_todays_before_adding_the_other_side(start, side, qty, expected):
    p = Position(**start)

    p.trade(side, qty, None, netting=True)

    assert {k: v for k, v in p.as_dict().items() if k != "net" and v != "0"} == {k: str(v) for k, v in expected.items()}


def test_reversing_a_close_puts_it_back_into_its_bucket():
    p = Position(long_yday=D(5))
    p.trade(Side.SELL, D(2), PE.CLOSE_YESTERDAY, netting=False)

    p.reverse(Side.SELL, D(2), PE.CLOSE_YESTERDAY, netting=False)

    assert p.long_yday == D(5)


def test_reversing_an_open_takes_todays_first_then_yesterdays_then_goes_short():
    p = Position(long_today=D(1), long_yday=D(2))

    p.reverse(Side.BUY, D(5), PE.OPEN, netting=False)

    assert (p.long_today, p.long_yday, p.short_today) == (0, 0, D(2))


def test_reversing_on_a_netting_venue_is_the_opposite_trade():
    p = Position()
    p.trade(Side.SELL, D(3), None, netting=True)

    p.reverse(Side.SELL, D(3), None, netting=True)

    assert p.empty and p.net == 0


def test_end_of_day_carries_today_into_yesterday():
    p = Position(long_today=D(2), long_yday=D(1), short_today=D(4))

    p.roll()

    assert (p.long_today, p.long_yday, p.short_today, p.short_yday) == (0, D(3), 0, D(4))


def test_initial_position_maps_carried_and_todays_holdings():
    p = Position.initial(InitialPosition("SHFE", "A", "CU", long=D(1), short=D(2), long_today=D(3), short_today=D(4)))

    assert p.as_dict() == {"long_today": "3", "long_yday": "1", "short_today": "4", "short_yday": "2", "net": "-2"}
