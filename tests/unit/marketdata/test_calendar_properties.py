"""Calendar properties over random moments of 2026 (and a little either side), for every built-in.

* ``state``, ``is_open``, ``next_open`` and ``next_close`` agree: a moment is open iff it lies in an
  open period whose close is after it; ``next_open`` is open and nothing before it is (checked with a
  coarse scan); the state's ``next_change_ns`` is the next flip.
* Without holidays, each built-in matches a naive predicate on the venue's wall clock, written
  independently here from the published trading hours.
* The trading day never goes backwards and is always a trading day.
"""

from __future__ import annotations

import calendar as _stdcal
import dataclasses
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmc_fix.marketdata.calendars import (
    BUILTIN_CALENDARS, PREVIOUS_DAY, PREVIOUS_TRADING_DAY, Calendar, EarlyClose, Holiday, Session,
)

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
SCAN_STEP = 7 * MINUTE          # no built-in session or gap is shorter than 15 minutes
START = _stdcal.timegm((2025, 12, 1, 0, 0, 0)) * SECOND
END = _stdcal.timegm((2027, 1, 31, 0, 0, 0)) * SECOND
moments = st.integers(min_value=START, max_value=END)
CALENDARS = sorted(BUILTIN_CALENDARS)


@pytest.mark.parametrize("name", CALENDARS)
@settings(max_examples=150, deadline=None)
@given(t=moments)
def test_open_iff_inside_an_open_period_that_closes_after_t(name, t):
    cal = BUILTIN_CALENDARS[name]
    state = cal.state(t)
    assert state.open == cal.is_open(t)
    close = cal.next_close(t)
    if state.open:
        assert cal.next_open(t) == t
        assert state.session is not None
        assert state.next_change_ns == close
        if close is None:                 # 24x7: nothing ahead closes
            return
        assert close > t
        assert cal.is_open(close - 1) and not cal.is_open(close)
        assert all(cal.is_open(u) for u in range(t, close, SCAN_STEP))
    else:
        opens = cal.next_open(t)
        assert opens is not None and opens > t
        assert state.next_change_ns == opens
        assert state.session is None and state.reason
        assert close is not None and close > opens


@pytest.mark.parametrize("name", CALENDARS)
@settings(max_examples=150, deadline=None)
@given(t=moments)
def test_next_open_is_open_and_nothing_before_it_is(name, t):
    cal = BUILTIN_CALENDARS[name]
    opens = cal.next_open(t)
    assert opens is not None and opens >= t
    assert cal.is_open(opens)
    if opens > t:
        assert not cal.is_open(opens - 1)
        assert not any(cal.is_open(u) for u in range(t, opens, SCAN_STEP))


@pytest.mark.parametrize("name", CALENDARS)
@settings(max_examples=100, deadline=None)
@given(t=moments, dt_ns=st.integers(min_value=0, max_value=10 * 24 * 3600 * SECOND))
def test_trading_day_never_goes_back_and_is_a_trading_day(name, t, dt_ns):
    cal = BUILTIN_CALENDARS[name]
    d1, d2 = cal.trading_day(t), cal.trading_day(t + dt_ns)
    assert d1 <= d2
    assert cal.is_trading_day(d1)
    assert d1 >= datetime.fromtimestamp(t // SECOND, ZoneInfo(cal.tz)).date()


# -- independent wall-clock predicates for the holiday-free week ------------------------------------
def _shfe(wd: int, m: int, night_end: int) -> bool:
    day = wd < 5 and (9 * 60 <= m < 10 * 60 + 15 or 10 * 60 + 30 <= m < 11 * 60 + 30 or 13 * 60 + 30 <= m < 15 * 60)
    night = (wd < 5 and m >= 21 * 60) or (1 <= wd <= 5 and m < night_end)   # Fri night spills into Sat
    return day or night


def _cme(wd: int, m: int) -> bool:
    weekend = wd == 5 or (wd == 6 and m < 17 * 60) or (wd == 4 and m >= 16 * 60)
    return not weekend and not (16 * 60 <= m < 17 * 60)


def _fx(wd: int, m: int) -> bool:
    return not (wd == 5 or (wd == 6 and m < 17 * 60) or (wd == 4 and m >= 17 * 60))


WALL_CLOCK = {
    "SHFE": lambda wd, m: _shfe(wd, m, 60),
    "INE": lambda wd, m: _shfe(wd, m, 150),
    "LME": lambda wd, m: wd < 5 and 60 <= m < 19 * 60,
    "CME": _cme,
    "FX": _fx,
    "ALWAYS": lambda wd, m: True,
}


def plain(cal: Calendar) -> Calendar:
    return dataclasses.replace(cal, holidays=(), early_closes=())


PLAIN = {name: plain(BUILTIN_CALENDARS[name]) for name in CALENDARS}


@pytest.mark.parametrize("name", CALENDARS)
@settings(max_examples=300, deadline=None)
@given(t=moments)
def test_holiday_free_week_matches_the_published_hours_on_the_wall_clock(name, t):
    cal = PLAIN[name]
    local = datetime.fromtimestamp(t // SECOND, ZoneInfo(cal.tz))
    assert cal.is_open(t) == WALL_CLOCK[name](local.weekday(), local.hour * 60 + local.minute), local


@pytest.mark.parametrize("name", CALENDARS)
def test_holidays_only_ever_close_the_market(name):
    """Every open moment of the real calendar is open in the holiday-free one (hourly over 2026)."""
    cal, free = BUILTIN_CALENDARS[name], PLAIN[name]
    for t in range(START, END, 3600 * SECOND):
        if cal.is_open(t):
            assert free.is_open(t), t


# -- the same properties for arbitrary valid calendars ------------------------------------------------
ZONES = ("UTC", "Asia/Shanghai", "Europe/London", "America/Chicago", "America/New_York", "Australia/Sydney")
DAY_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def calendars(draw) -> Calendar:
    """Random valid calendars: spans on a 15-minute grid laid out on one trading day's timeline
    (evening spans before midnight when there is a roll), random weekdays, holidays and early closes."""
    roll = draw(st.sampled_from([None, 17 * 60, 20 * 60, 21 * 60]))
    lo, hi = (0, 24 * 60) if roll is None else (roll - 24 * 60, roll)
    cuts = draw(st.lists(st.integers(lo // 15, hi // 15), min_size=2, max_size=8, unique=True))
    cuts = sorted(c * 15 for c in cuts)
    if len(cuts) % 2:
        cuts = cuts[:-1]
    sessions = []
    for i, (a, b) in enumerate(zip(cuts[::2], cuts[1::2])):
        start, end = a % (24 * 60), b % (24 * 60)
        sessions.append(Session(time(start // 60, start % 60), time(end // 60, end % 60), f"s{i}"))
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    mode = PREVIOUS_DAY if roll is None else draw(st.sampled_from([PREVIOUS_DAY, PREVIOUS_TRADING_DAY]))
    no_night = mode == PREVIOUS_TRADING_DAY and draw(st.booleans())
    holidays = draw(st.sets(DAY_2026, max_size=12))
    early = [d for d in draw(st.sets(DAY_2026, max_size=4)) if d not in holidays and d.weekday() in days]
    early_at = draw(st.integers(0, 24 * 4 - 1))
    return Calendar(
        name="RANDOM", tz=draw(st.sampled_from(ZONES)), sessions=tuple(sessions), days=frozenset(days),
        holidays=tuple(Holiday(d, "h") for d in holidays),
        early_closes=tuple(EarlyClose(d, time(early_at // 4, early_at % 4 * 15)) for d in early),
        trading_day_rolls_at=None if roll is None else time(roll // 60, roll % 60),
        night_sessions_on=mode, no_night_before_holiday=no_night)


YEAR_2026 = st.integers(min_value=_stdcal.timegm((2026, 1, 1, 0, 0, 0)) * SECOND,
                        max_value=_stdcal.timegm((2027, 1, 1, 0, 0, 0)) * SECOND)


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), t=YEAR_2026)
def test_any_calendar_is_consistent_with_itself(cal, t):
    state = cal.state(t)
    assert state.open == cal.is_open(t)
    day = cal.trading_day(t)
    assert cal.is_trading_day(day)
    if state.open:
        # the roll rule and the session's own trading day agree
        assert any(s <= t < e for s, e, _ in cal.sessions_on(day)), (day, cal.sessions_on(day))
        close = cal.next_close(t)
        assert state.next_change_ns == close
        if close is not None:
            assert cal.is_open(close - 1) and not cal.is_open(close)
            assert all(cal.is_open(u) for u in range(t, close, SCAN_STEP))
    else:
        opens = cal.next_open(t)
        assert state.next_change_ns == opens
        assert state.reason and state.reason != "closed"
        if opens is not None:
            assert opens > t and cal.is_open(opens) and not cal.is_open(opens - 1)
            assert not any(cal.is_open(u) for u in range(t, opens, SCAN_STEP))
