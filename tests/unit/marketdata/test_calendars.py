"""Market calendars at hand-checked moments.

Every moment is written in UTC with the local-time arithmetic beside it, so the tests show what a
daylight-saving change does: the session stays at the same local time and moves by an hour in UTC.
Offsets used: Asia/Shanghai UTC+8 all year; Europe/London GMT (UTC+0) until 2026-03-29 01:00 UTC,
BST (UTC+1) until 2026-10-25 01:00 UTC; America/Chicago CST (UTC-6) until 2026-03-08 08:00 UTC, CDT
(UTC-5) until 2026-11-01 07:00 UTC; America/New_York EST (UTC-5) / EDT (UTC-4) on the same dates.
"""

from __future__ import annotations

import calendar as _stdcal
import dataclasses
from datetime import date, time

import pytest

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars import (
    BUILTIN_CALENDARS, Calendar, EarlyClose, Holiday, MarketState, Session, lookup,
)

SHFE = BUILTIN_CALENDARS["SHFE"]
INE = BUILTIN_CALENDARS["INE"]
LME = BUILTIN_CALENDARS["LME"]
CME = BUILTIN_CALENDARS["CME"]
FX = BUILTIN_CALENDARS["FX"]
ALWAYS = BUILTIN_CALENDARS["ALWAYS"]
SECOND = 1_000_000_000


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    """Epoch ns of a UTC wall time (computed without the module under test)."""
    return _stdcal.timegm((y, mo, d, h, mi, s)) * SECOND


# -- stub factories ----------------------------------------------------------------------------
def calendar(**overrides) -> Calendar:
    fields = dict(name="TEST", tz="Europe/London", sessions=(Session.parse("08:00-16:00"),),
                  days=frozenset(range(5)))
    return Calendar(**{**fields, **overrides})


def closed_because(cal: Calendar, ns: int) -> str:
    st = cal.state(ns)
    assert not st.open, f"{cal.name} is open at {ns}"
    return st.reason


# -- London across both DST changes ---------------------------------------------------------------
def test_lme_opens_at_0100_london_before_and_after_the_spring_change():
    # Fri 2026-03-27 is GMT: 01:00 London = 01:00 UTC, 19:00 London = 19:00 UTC
    assert not LME.is_open(utc(2026, 3, 27, 0, 59, 59))
    assert LME.is_open(utc(2026, 3, 27, 1, 0))
    assert LME.is_open(utc(2026, 3, 27, 18, 59, 59))
    assert not LME.is_open(utc(2026, 3, 27, 19, 0))
    # Sun 2026-03-29 01:00 UTC clocks go forward; Mon 2026-03-30 is BST: 01:00 London = 00:00 UTC
    assert closed_because(LME, utc(2026, 3, 29, 23, 59)) == "weekend"
    assert LME.is_open(utc(2026, 3, 30, 0, 0))
    assert LME.is_open(utc(2026, 3, 30, 17, 59, 59))
    assert not LME.is_open(utc(2026, 3, 30, 18, 0))            # 19:00 BST


def test_lme_opens_at_0100_london_before_and_after_the_autumn_change():
    # Fri 2026-10-23 is BST: 01:00 London = 00:00 UTC, 19:00 London = 18:00 UTC
    assert LME.next_open(utc(2026, 10, 22, 22, 0)) == utc(2026, 10, 23, 0, 0)
    assert LME.next_close(utc(2026, 10, 23, 12, 0)) == utc(2026, 10, 23, 18, 0)
    # Sun 2026-10-25 01:00 UTC clocks go back; Mon 2026-10-26 is GMT: 01:00 London = 01:00 UTC
    assert LME.next_open(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 26, 1, 0)
    assert closed_because(LME, utc(2026, 10, 26, 0, 30)) == "weekend"   # an hour later in UTC than on Friday
    assert LME.next_close(utc(2026, 10, 26, 12, 0)) == utc(2026, 10, 26, 19, 0)


def test_lme_state_reports_session_and_next_change():
    # Tue 2026-03-31 12:00 BST = 11:00 UTC; closes 19:00 BST = 18:00 UTC
    assert LME.state(utc(2026, 3, 31, 11, 0)) == MarketState(
        calendar="LME", open=True, reason="LMEselect session", session="LMEselect",
        next_change_ns=utc(2026, 3, 31, 18, 0), trading_day=date(2026, 3, 31))
    # 20:00 BST: closed for the night until 01:00 BST Wed = 00:00 UTC
    st = LME.state(utc(2026, 3, 31, 19, 0))
    assert (st.open, st.reason, st.session, st.next_change_ns) == (
        False, "closed for the night", None, utc(2026, 4, 1, 0, 0))


def test_lme_is_shut_on_uk_bank_holidays():
    # Good Friday 2026-04-03 and Easter Monday 2026-04-06; reopens Tue 01:00 BST = Mon 00:00 UTC
    assert closed_because(LME, utc(2026, 4, 3, 11, 0)) == "holiday 2026-04-03 (Good Friday)"
    assert closed_because(LME, utc(2026, 4, 6, 11, 0)) == "holiday 2026-04-06 (Easter Monday)"
    assert LME.next_open(utc(2026, 4, 2, 18, 0)) == utc(2026, 4, 7, 0, 0)


# -- Chicago across both DST changes ----------------------------------------------------------------
def test_cme_daily_break_is_1600_to_1700_chicago_in_cst_and_cdt():
    # Thu 2026-03-05 CST: 16:00-17:00 Chicago = 22:00-23:00 UTC
    assert CME.is_open(utc(2026, 3, 5, 21, 59, 59))
    st = CME.state(utc(2026, 3, 5, 22, 0))
    assert (st.open, st.reason, st.next_change_ns) == (False, "daily break", utc(2026, 3, 5, 23, 0))
    assert CME.is_open(utc(2026, 3, 5, 23, 0))
    # Tue 2026-03-10 CDT: 16:00-17:00 Chicago = 21:00-22:00 UTC
    assert not CME.is_open(utc(2026, 3, 10, 21, 0))
    assert CME.is_open(utc(2026, 3, 10, 20, 59, 59))
    assert CME.is_open(utc(2026, 3, 10, 22, 0))


def test_cme_sunday_open_moves_an_hour_earlier_in_utc_after_the_spring_change():
    # Fri 2026-03-06 16:00 CST = 22:00 UTC closes for the weekend
    assert CME.next_close(utc(2026, 3, 6, 12, 0)) == utc(2026, 3, 6, 22, 0)
    assert closed_because(CME, utc(2026, 3, 7, 12, 0)) == "weekend"
    # Sun 2026-03-08: DST from 02:00 local; the 17:00 CDT open is 22:00 UTC (it was 23:00 UTC in CST)
    assert CME.next_open(utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 8, 22, 0)
    assert closed_because(CME, utc(2026, 3, 8, 21, 59, 59)) == "weekend"
    st = CME.state(utc(2026, 3, 8, 22, 0))
    assert (st.open, st.session, st.trading_day) == (True, "Globex", date(2026, 3, 9))   # Sunday trades for Monday
    assert st.next_change_ns == utc(2026, 3, 9, 21, 0)                                   # Mon 16:00 CDT


def test_cme_sunday_open_moves_an_hour_later_in_utc_after_the_autumn_change():
    # Fri 2026-10-30 16:00 CDT = 21:00 UTC; Sun 2026-11-01 (CST from 02:00) 17:00 CST = 23:00 UTC
    assert CME.next_close(utc(2026, 10, 30, 12, 0)) == utc(2026, 10, 30, 21, 0)
    assert CME.next_open(utc(2026, 10, 31, 12, 0)) == utc(2026, 11, 1, 23, 0)
    assert closed_because(CME, utc(2026, 11, 1, 22, 0)) == "weekend"     # 16:00 CST, an hour before the open
    assert CME.is_open(utc(2026, 11, 1, 23, 0))
    # Mon 2026-11-02 break 16:00-17:00 CST = 22:00-23:00 UTC
    assert CME.next_close(utc(2026, 11, 2, 12, 0)) == utc(2026, 11, 2, 22, 0)


def test_cme_holiday_monday_skips_the_sunday_evening_and_reopens_monday_evening():
    # MLK Day Mon 2026-01-19 is not a trading day: no Sunday 17:00 open (it would trade for Monday);
    # Monday 17:00 CST = 23:00 UTC opens Tuesday's trading day
    assert closed_because(CME, utc(2026, 1, 18, 23, 30)) == "holiday 2026-01-19 (Martin Luther King Jr. Day)"
    assert closed_because(CME, utc(2026, 1, 19, 18, 0)) == "holiday 2026-01-19 (Martin Luther King Jr. Day)"
    assert CME.next_open(utc(2026, 1, 17, 0, 0)) == utc(2026, 1, 19, 23, 0)
    assert CME.trading_day(utc(2026, 1, 19, 23, 0)) == date(2026, 1, 20)


def test_cme_early_close_after_thanksgiving():
    # Thanksgiving Thu 2026-11-26 closed; its evening 17:00 CST = 23:00 UTC opens Friday's trading day,
    # which stops at 12:45 CST = 18:45 UTC
    assert CME.next_open(utc(2026, 11, 26, 12, 0)) == utc(2026, 11, 26, 23, 0)
    assert CME.next_close(utc(2026, 11, 27, 12, 0)) == utc(2026, 11, 27, 18, 45)
    assert closed_because(CME, utc(2026, 11, 27, 19, 0)) == "early close 2026-11-27 (day after Thanksgiving)"
    assert closed_because(CME, utc(2026, 11, 27, 23, 0)) == "weekend"


# -- SHFE and INE: breaks, night session past midnight, holidays --------------------------------------
def test_shfe_day_sessions_with_the_morning_break_and_lunch():
    # Wed 2026-03-11, Shanghai = UTC+8
    cases = [
        (utc(2026, 3, 11, 0, 59), False, "closed for the night", utc(2026, 3, 11, 1, 0)),     # 08:59
        (utc(2026, 3, 11, 1, 0), True, "morning session", utc(2026, 3, 11, 2, 15)),           # 09:00
        (utc(2026, 3, 11, 2, 15), False, "morning break", utc(2026, 3, 11, 2, 30)),           # 10:15
        (utc(2026, 3, 11, 2, 30), True, "morning session", utc(2026, 3, 11, 3, 30)),          # 10:30
        (utc(2026, 3, 11, 3, 30), False, "lunch", utc(2026, 3, 11, 5, 30)),                   # 11:30
        (utc(2026, 3, 11, 5, 30), True, "afternoon session", utc(2026, 3, 11, 7, 0)),         # 13:30
        (utc(2026, 3, 11, 7, 0), False, "closed until the night session", utc(2026, 3, 11, 13, 0)),  # 15:00
    ]
    for ns, is_open, reason, change in cases:
        st = SHFE.state(ns)
        assert (st.open, st.reason, st.next_change_ns) == (is_open, reason, change), ns
        assert st.trading_day == date(2026, 3, 11)


def test_shfe_night_session_runs_past_midnight_and_trades_for_the_next_day():
    # Wed 21:00 Shanghai = 13:00 UTC to Thu 01:00 Shanghai = Wed 17:00 UTC
    st = SHFE.state(utc(2026, 3, 11, 13, 0))
    assert (st.open, st.reason, st.session, st.trading_day) == (True, "night session", "night", date(2026, 3, 12))
    assert st.next_change_ns == utc(2026, 3, 11, 17, 0)
    assert SHFE.is_open(utc(2026, 3, 11, 16, 59, 59))                 # Thu 00:59:59 Shanghai
    st = SHFE.state(utc(2026, 3, 11, 17, 0))                          # Thu 01:00
    assert (st.open, st.reason, st.trading_day) == (False, "closed for the night", date(2026, 3, 12))
    assert st.next_change_ns == utc(2026, 3, 12, 1, 0)                # Thu 09:00


def test_ine_crude_night_session_runs_to_0230():
    # Thu 02:29:59 Shanghai = Wed 18:29:59 UTC
    assert INE.is_open(utc(2026, 3, 11, 18, 29, 59))
    assert not INE.is_open(utc(2026, 3, 11, 18, 30))
    assert not SHFE.is_open(utc(2026, 3, 11, 18, 0))                  # copper stopped at 01:00
    assert INE.next_close(utc(2026, 3, 11, 13, 0)) == utc(2026, 3, 11, 18, 30)


def test_shfe_friday_night_belongs_to_monday_and_the_weekend_follows():
    # Fri 2026-03-13 21:30 Shanghai = 13:30 UTC
    st = SHFE.state(utc(2026, 3, 13, 13, 30))
    assert (st.open, st.session, st.trading_day) == (True, "night", date(2026, 3, 16))
    assert st.next_change_ns == utc(2026, 3, 13, 17, 0)               # Sat 01:00 Shanghai
    assert SHFE.trading_day(utc(2026, 3, 13, 16, 30)) == date(2026, 3, 16)   # Sat 00:30
    assert closed_because(SHFE, utc(2026, 3, 13, 17, 0)) == "weekend"
    assert closed_because(SHFE, utc(2026, 3, 16, 0, 0)) == "weekend"  # Mon 08:00: the weekend gap
    assert SHFE.next_open(utc(2026, 3, 14, 4, 0)) == utc(2026, 3, 16, 1, 0)   # Mon 09:00
    assert not SHFE.is_open(utc(2026, 3, 15, 13, 30))                 # no Sunday night session


def test_shfe_holiday_and_the_missing_night_session_before_it():
    # National Day: no trading 2026-10-01..07 (Thu-Wed). Wed 2026-09-30 trades its day sessions but
    # has no night session (SHFE: none on the eve of a holiday); trading resumes Thu 10-08 09:00.
    assert SHFE.is_open(utc(2026, 9, 30, 6, 0))                       # 14:00 Shanghai
    assert SHFE.next_close(utc(2026, 9, 30, 6, 0)) == utc(2026, 9, 30, 7, 0)
    assert closed_because(SHFE, utc(2026, 9, 30, 13, 30)) == "no night session before holiday 2026-10-01 (National Day)"
    assert closed_because(SHFE, utc(2026, 10, 1, 2, 0)) == "holiday 2026-10-01 (National Day)"
    assert closed_because(SHFE, utc(2026, 10, 7, 13, 30)) == "holiday 2026-10-07 (National Day)"   # its evening too
    assert SHFE.next_open(utc(2026, 9, 30, 7, 0)) == utc(2026, 10, 8, 1, 0)
    assert not SHFE.is_trading_day(date(2026, 10, 1))
    assert SHFE.holiday(date(2026, 10, 1)) == Holiday(date(2026, 10, 1), "National Day")
    # Thu 10-08 evening runs again (for Fri 10-09)
    st = SHFE.state(utc(2026, 10, 8, 13, 0))
    assert (st.open, st.trading_day) == (True, date(2026, 10, 9))


def test_shfe_no_friday_night_session_before_a_holiday_monday():
    # Qingming: Mon 2026-04-06 closed. Fri 04-03 has no night session; Mon evening (a holiday) none
    # either; Tue 04-07 09:00 Shanghai = 01:00 UTC reopens.
    assert SHFE.is_open(utc(2026, 4, 3, 6, 0))
    assert closed_because(SHFE, utc(2026, 4, 3, 13, 30)) == "no night session before holiday 2026-04-06 (Qingming)"
    assert SHFE.next_open(utc(2026, 4, 3, 7, 0)) == utc(2026, 4, 7, 1, 0)
    assert SHFE.trading_day(utc(2026, 4, 3, 13, 30)) == date(2026, 4, 7)


def test_shfe_sessions_of_a_trading_day_start_the_evening_before():
    # Mon 2026-03-16: Fri 21:00-Sat 01:00, then 09:00-10:15, 10:30-11:30, 13:30-15:00 Shanghai
    assert SHFE.sessions_on(date(2026, 3, 16)) == (
        (utc(2026, 3, 13, 13, 0), utc(2026, 3, 13, 17, 0), "night"),
        (utc(2026, 3, 16, 1, 0), utc(2026, 3, 16, 2, 15), "morning"),
        (utc(2026, 3, 16, 2, 30), utc(2026, 3, 16, 3, 30), "morning"),
        (utc(2026, 3, 16, 5, 30), utc(2026, 3, 16, 7, 0), "afternoon"),
    )
    assert SHFE.sessions_on(date(2026, 10, 8))[0][2] == "morning"     # no night session after the holiday
    assert SHFE.sessions_on(date(2026, 10, 3)) == ()


# -- FX and ALWAYS ------------------------------------------------------------------------------------
def test_fx_is_one_open_week_from_sunday_1700_to_friday_1700_new_york():
    # Fri 2026-03-06 17:00 EST = 22:00 UTC; Sun 2026-03-08 17:00 EDT = 21:00 UTC
    assert FX.is_open(utc(2026, 3, 6, 21, 59, 59))
    assert closed_because(FX, utc(2026, 3, 6, 22, 0)) == "weekend"
    assert FX.next_open(utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 8, 21, 0)
    # the daily 17:00 roll is not a break: from Sunday the next close is Friday 17:00 EDT = 21:00 UTC
    assert FX.next_close(utc(2026, 3, 8, 21, 0)) == utc(2026, 3, 13, 21, 0)
    assert FX.is_open(utc(2026, 3, 11, 21, 0))                        # Wed 17:00 EDT
    # closed on Friday evening, the next close is the end of next week's open run
    assert FX.next_close(utc(2026, 3, 6, 22, 0)) == utc(2026, 3, 13, 21, 0)
    assert FX.trading_day(utc(2026, 3, 11, 21, 0)) == date(2026, 3, 12)


def test_always_is_open_and_never_changes():
    st = ALWAYS.state(utc(2026, 3, 29, 1, 0))
    assert (st.open, st.reason, st.next_change_ns) == (True, "24x7 session", None)
    assert ALWAYS.next_close(utc(2026, 12, 31, 23, 59)) is None
    assert ALWAYS.next_open(utc(2026, 6, 6, 6, 6)) == utc(2026, 6, 6, 6, 6)


# -- trading day across the roll ----------------------------------------------------------------------
@pytest.mark.parametrize("cal, ns, expected", [
    (SHFE, utc(2026, 3, 10, 12, 59, 59), date(2026, 3, 10)),   # Tue 20:59:59 Shanghai
    (SHFE, utc(2026, 3, 10, 13, 0), date(2026, 3, 11)),        # Tue 21:00: the night trades for Wed
    (SHFE, utc(2026, 3, 14, 4, 0), date(2026, 3, 16)),         # Sat noon belongs to Monday
    (CME, utc(2026, 3, 6, 21, 59), date(2026, 3, 6)),          # Fri 15:59 CST
    (CME, utc(2026, 3, 8, 21, 59), date(2026, 3, 9)),          # Sun 16:59 CDT: before the roll, Monday is next
    (CME, utc(2026, 3, 10, 22, 0), date(2026, 3, 11)),         # Tue 17:00 CDT
    (LME, utc(2026, 3, 30, 23, 30), date(2026, 3, 31)),        # Tue 00:30 BST: no roll, calendar date
    (LME, utc(2026, 3, 28, 12, 0), date(2026, 3, 30)),         # Saturday belongs to Monday
    (ALWAYS, utc(2026, 3, 28, 23, 59), date(2026, 3, 28)),
])
def test_trading_day_rolls_at_the_local_roll_time(cal, ns, expected):
    assert cal.trading_day(ns) == expected
    assert cal.state(ns).trading_day == expected


# -- a user calendar with a session across the DST change itself -------------------------------------
def test_a_session_across_the_change_is_an_hour_shorter_or_longer():
    cal = calendar(sessions=(Session.parse("20:00-03:00", "night"),), days=frozenset(range(7)),
                   trading_day_rolls_at=time(20))
    # Sat 2026-03-28 20:00 GMT = 20:00 UTC to Sun 03:00 BST = 02:00 UTC: 6 hours, not 7
    assert cal.next_close(utc(2026, 3, 28, 20, 0)) == utc(2026, 3, 29, 2, 0)
    # Sat 2026-10-24 20:00 BST = 19:00 UTC to Sun 03:00 GMT = 03:00 UTC: 8 hours
    assert cal.next_open(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 24, 19, 0)
    assert cal.next_close(utc(2026, 10, 24, 19, 0)) == utc(2026, 10, 25, 3, 0)


def test_a_local_time_inside_the_spring_gap_reads_with_the_old_offset():
    # 01:30 London does not exist on 2026-03-29; read as GMT it is 01:30 UTC (02:30 BST)
    cal = calendar(sessions=(Session.parse("20:00-01:30"),), days=frozenset(range(7)),
                   trading_day_rolls_at=time(20))
    assert cal.next_close(utc(2026, 3, 28, 21, 0)) == utc(2026, 3, 29, 1, 30)


# -- construction ---------------------------------------------------------------------------------------
def test_calendars_are_frozen_and_hashable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SHFE.tz = "UTC"  # type: ignore[misc]
    assert len({SHFE, INE, LME, CME, FX, ALWAYS, SHFE}) == 6
    assert dataclasses.replace(SHFE, holidays=()) != SHFE


@pytest.mark.parametrize("overrides, key, words", [
    (dict(tz="Asia/Shangai"), "tz", "unknown time zone"),
    (dict(sessions=()), "sessions", "no sessions"),
    (dict(sessions=(Session.parse("09:00-12:00"), Session.parse("11:00-13:00"))), "sessions", "overlap"),
    (dict(sessions=(Session.parse("21:00-01:00"),)), "sessions", "crosses midnight"),
    (dict(sessions=(Session.parse("20:00-22:00"),), trading_day_rolls_at=time(21)), "sessions", "split it"),
    (dict(sessions=(Session.parse("22:00-21:30"),), trading_day_rolls_at=time(21)), "sessions", "runs past"),
    (dict(days=frozenset()), "days", "no trading weekdays"),
    (dict(holidays=(Holiday(date(2026, 1, 1)), Holiday(date(2026, 1, 1)))), "holidays", "twice"),
    (dict(early_closes=(EarlyClose(date(2026, 3, 28), time(12)),)), "early_closes", "not a trading weekday"),
    (dict(no_night_before_holiday=True), "no_night_before_holiday", "previous trading day"),
    (dict(night_sessions_on="sunday"), "night_sessions_on", "not one of"),
])
def test_invalid_calendars_are_refused_naming_the_field(overrides, key, words):
    with pytest.raises(ConfigError) as e:
        calendar(**overrides)
    assert e.value.key == key
    assert words in str(e.value)


def test_lookup_names_the_choices():
    assert lookup("SHFE") is SHFE
    with pytest.raises(ConfigError) as e:
        lookup("SHFX", file="strategy.toml", key="instruments.SHFE_CU.calendar")
    assert str(e.value).startswith("strategy.toml: instruments.SHFE_CU.calendar: unknown calendar 'SHFX'")
    assert "ALWAYS, CME, FX, INE, LME, SHFE" in str(e.value)
