"""Lots by the trading day they were opened (SHFE/INE close today vs close yesterday)."""

from __future__ import annotations

from decimal import Decimal as D

from xmc_fix.domain.daybook import DayBook
from xmc_fix.domain.enums import PositionEffect as PE
from xmc_fix.domain.enums import Side


def _lots(book, day=1):
    p = book.get("A", "CU", day)
    return p.long_today, p.long_yday, p.short_today, p.short_yday


def test_opened_lots_are_today_s_until_the_trading_day_changes():
    b = DayBook()
    b.on_fill("A", "CU", Side.BUY, D(5), PE.OPEN, 1)
    assert _lots(b, 1) == (5, 0, 0, 0)
    assert _lots(b, 2) == (0, 5, 0, 0)
    b.on_fill("A", "CU", Side.SELL, D(2), PE.OPEN, 2)      # a short opened beside the long (SHFE keeps both)
    assert _lots(b, 2) == (0, 5, 2, 0)


def test_a_close_is_split_yesterday_s_lots_first_and_the_rest_as_close_today():
    b = DayBook()
    b.on_fill("A", "CU", Side.BUY, D(3), PE.OPEN, 1)
    b.on_fill("A", "CU", Side.BUY, D(4), PE.OPEN, 2)
    assert b.closes("A", "CU", Side.SELL, D(5), 2) == [(PE.CLOSE_YESTERDAY, D(3)), (PE.CLOSE_TODAY, D(2))]
    assert b.closes("A", "CU", Side.SELL, D(2), 2) == [(PE.CLOSE_YESTERDAY, D(2))]
    assert b.closes("A", "CU", Side.BUY, D(1), 2) == [(PE.CLOSE_TODAY, D(1))]   # no short held: the venue says


def test_closes_take_from_the_bucket_they_name_and_a_bust_gives_it_back():
    b = DayBook()
    b.on_fill("A", "CU", Side.BUY, D(3), PE.OPEN, 1)
    b.on_fill("A", "CU", Side.BUY, D(4), PE.OPEN, 2)
    b.on_fill("A", "CU", Side.SELL, D(3), PE.CLOSE_YESTERDAY, 2)
    b.on_fill("A", "CU", Side.SELL, D(1), PE.CLOSE_TODAY, 2)
    assert _lots(b, 2) == (3, 0, 0, 0)
    b.on_fill("A", "CU", Side.SELL, D(-3), PE.CLOSE_YESTERDAY, 2)      # busted: yesterday's lots are back
    assert _lots(b, 2) == (3, 3, 0, 0)
    b.on_fill("A", "CU", Side.BUY, D(-3), PE.OPEN, 2)                  # today's opening busted
    assert _lots(b, 2) == (0, 3, 0, 0)


def test_a_fill_that_names_no_day_nets_like_the_venue():
    b = DayBook()
    b.on_fill("A", "CU", Side.SELL, D(2), PE.OPEN, 1)
    b.on_fill("A", "CU", Side.BUY, D(5), None, 2)       # not ours: covers the short, the rest is long today
    assert _lots(b, 2) == (3, 0, 0, 0)


def test_the_venue_s_numbers_replace_ours_and_survive_a_snapshot():
    b = DayBook()
    b.on_fill("A", "CU", Side.BUY, D(5), PE.OPEN, 1)
    b.set("A", "CU", D(1), D(4), D(0), D(2), 3)
    again = DayBook()
    again.load(b.snapshot())
    assert _lots(again, 3) == (1, 4, 0, 2)
    assert _lots(again, 4) == (0, 5, 0, 2)
