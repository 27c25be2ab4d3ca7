"""Calendars defined in TOML: built-ins come for free, user tables build or adjust calendars, and
every mistake is a ConfigError naming the file, the dotted key and what to change."""

from __future__ import annotations

import calendar as _stdcal
import tomllib
from datetime import date, time

import pytest

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars import BUILTIN_CALENDARS, EarlyClose, Holiday, Session, calendars_from_toml

FILE = "strategy.toml"
SECOND = 1_000_000_000


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return _stdcal.timegm((y, mo, d, h, mi, 0)) * SECOND


# -- stub factories ----------------------------------------------------------------------------
DCE_LIKE = """
[calendars.DCE]
tz = "Asia/Shanghai"
sessions = [
    { label = "morning", span = "09:00-10:15" },
    { label = "morning", span = "10:30-11:30" },
    { label = "afternoon", span = "13:30-15:00" },
    { label = "night", span = "21:00-23:00" },
]
days = ["Mon-Fri"]
holidays = ["2026-06-19", { date = "2026-09-25", name = "Mid-Autumn Festival" }]
trading_day_rolls_at = "21:00"
night_sessions_on = "previous_trading_day"
no_night_before_holiday = true
source = "DCE iron ore hours, sample"
"""


def load(text: str):
    return calendars_from_toml(tomllib.loads(text), FILE)


def refused(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load(text)
    assert e.value.file == FILE
    return e.value


def table(body: str, name: str = "X") -> str:
    return f"[calendars.{name}]\n" + body


MINIMAL = 'tz = "Europe/London"\nsessions = ["08:00-16:00"]\ndays = ["Mon-Fri"]\n'


# -- what loads -------------------------------------------------------------------------------------
def test_builtins_are_there_without_a_calendars_table():
    assert load("[engine]\nnamespace = \"X\"\n") == dict(BUILTIN_CALENDARS)


def test_a_calendar_defined_in_toml():
    cals = load(DCE_LIKE)
    dce = cals["DCE"]
    assert set(cals) == set(BUILTIN_CALENDARS) | {"DCE"}
    assert dce.sessions[3] == Session(time(21), time(23), "night")
    assert dce.days == frozenset(range(5))
    assert dce.holidays == (Holiday(date(2026, 6, 19)), Holiday(date(2026, 9, 25), "Mid-Autumn Festival"))
    # Thu 2026-09-24 has no night session before the Friday holiday (21:30 Shanghai = 13:30 UTC)
    assert dce.state(utc(2026, 9, 24, 13, 30)).reason == (
        "no night session before holiday 2026-09-25 (Mid-Autumn Festival)")
    # an ordinary Tuesday night trades for Wednesday until 23:00 Shanghai = 15:00 UTC
    st = dce.state(utc(2026, 3, 10, 13, 30))
    assert (st.open, st.trading_day, st.next_change_ns) == (True, date(2026, 3, 11), utc(2026, 3, 10, 15, 0))


def test_toml_dates_and_times_and_unlabelled_sessions():
    cals = load(table('tz = "Asia/Shanghai"\nsessions = ["09:00-11:30", "21:00-01:00"]\ndays = ["Mon", "tue", '
                      '"Wed-Fri"]\nholidays = [2026-10-01]\ntrading_day_rolls_at = 21:00:00\n'
                      'night_sessions_on = "previous_trading_day"\n'
                      'early_closes = [{ date = 2026-12-31, at = "10:00", name = "year end" }]\n'))
    x = cals["X"]
    assert [s.label for s in x.sessions] == ["", ""]
    assert x.state(utc(2026, 3, 10, 13, 0)).session == "night"      # default labels: day / night
    assert x.state(utc(2026, 3, 10, 2, 0)).session == "day"
    assert x.holidays == (Holiday(date(2026, 10, 1)),)
    assert x.early_closes == (EarlyClose(date(2026, 12, 31), time(10), "year end"),)
    assert x.trading_day_rolls_at == time(21)


def test_based_on_a_builtin_changes_only_the_keys_given():
    cals = load(table('based_on = "SHFE"\nholidays = [{ date = "2027-02-08", name = "Spring Festival" }]\n',
                      name="SHFE"))
    shfe = cals["SHFE"]
    assert shfe.sessions == BUILTIN_CALENDARS["SHFE"].sessions
    assert shfe.no_night_before_holiday and shfe.tz == "Asia/Shanghai"
    assert shfe.holidays == (Holiday(date(2027, 2, 8), "Spring Festival"),)
    assert shfe.is_trading_day(date(2026, 10, 1))                    # this year's list replaced the old


def test_based_on_another_calendar_of_the_file():
    cals = load(DCE_LIKE + table('based_on = "DCE"\nsessions = ["09:00-11:30", "13:30-15:00"]\n', name="DCE_DAY"))
    assert cals["DCE_DAY"].tz == "Asia/Shanghai"
    assert cals["DCE_DAY"].holidays == cals["DCE"].holidays
    assert not cals["DCE_DAY"].is_open(utc(2026, 3, 10, 13, 30))


# -- what is refused --------------------------------------------------------------------------------
@pytest.mark.parametrize("body, key, words", [
    ('sessions = ["08:00-16:00"]\ndays = ["Mon"]\n', "calendars.X.tz", "missing"),
    ('tz = "Europe/Londn"\nsessions = ["08:00-16:00"]\ndays = ["Mon"]\n', "calendars.X.tz", "unknown time zone"),
    (MINIMAL + 'trading_day_roll = "21:00"\n', "calendars.X.trading_day_roll",
     "did you mean 'trading_day_rolls_at'?"),
    ('tz = "UTC"\nsessions = "08:00-16:00"\ndays = ["Mon"]\n', "calendars.X.sessions", "expected a list"),
    ('tz = "UTC"\nsessions = ["08:00-16:00", "9-10"]\ndays = ["Mon"]\n', "calendars.X.sessions[1]",
     "not a span"),
    ('tz = "UTC"\nsessions = ["08:00-25:00"]\ndays = ["Mon"]\n', "calendars.X.sessions[0]", "not a time of day"),
    ('tz = "UTC"\nsessions = [{ lable = "x", span = "08:00-16:00" }]\ndays = ["Mon"]\n',
     "calendars.X.sessions[0].lable", "unknown key"),
    ('tz = "UTC"\nsessions = [{ label = "x" }]\ndays = ["Mon"]\n', "calendars.X.sessions[0].span", "missing"),
    ('tz = "UTC"\nsessions = ["08:00-12:00", "11:00-16:00"]\ndays = ["Mon"]\n', "calendars.X.sessions",
     "overlap"),
    ('tz = "UTC"\nsessions = ["21:00-01:00"]\ndays = ["Mon"]\n', "calendars.X.sessions",
     "set trading_day_rolls_at"),
    ('tz = "UTC"\nsessions = ["08:00-16:00"]\ndays = ["Mon", "Fry"]\n', "calendars.X.days[1]", "not a weekday"),
    ('tz = "UTC"\nsessions = ["08:00-16:00"]\ndays = []\n', "calendars.X.days", "no trading weekdays"),
    (MINIMAL + 'holidays = ["2026-13-01"]\n', "calendars.X.holidays[0]", "not a date"),
    (MINIMAL + 'holidays = [{ day = "2026-12-25" }]\n', "calendars.X.holidays[0].day", "unknown key"),
    (MINIMAL + 'holidays = ["2026-12-25", "2026-12-25"]\n', "calendars.X.holidays", "listed twice"),
    (MINIMAL + 'early_closes = [{ date = "2026-12-24" }]\n', "calendars.X.early_closes[0].at", "missing"),
    (MINIMAL + 'early_closes = [{ date = "2026-12-24", at = "noon" }]\n', "calendars.X.early_closes[0].at",
     "not a time of day"),
    (MINIMAL + 'trading_day_rolls_at = "9pm"\n', "calendars.X.trading_day_rolls_at", "not a time of day"),
    (MINIMAL + 'night_sessions_on = "friday"\n', "calendars.X.night_sessions_on", "use one of"),
    (MINIMAL + 'no_night_before_holiday = "yes"\n', "calendars.X.no_night_before_holiday", "true or false"),
    (MINIMAL + 'no_night_before_holiday = true\n', "calendars.X.no_night_before_holiday",
     'night_sessions_on = "previous_trading_day"'),
    ('based_on = "NYMEX"\n', "calendars.X.based_on", "unknown calendar 'NYMEX'"),
])
def test_mistakes_name_the_file_the_key_and_the_fix(body, key, words):
    e = refused(table(body))
    assert e.key == key
    assert words in str(e)
    assert str(e).startswith(f"{FILE}: {key}: ")


def test_calendars_must_be_tables():
    assert refused('calendars = ["SHFE"]\n').key == "calendars"
    assert refused('[calendars]\nX = "SHFE"\n').key == "calendars.X"


def test_circular_based_on_is_refused():
    e = refused(table('based_on = "B"\n', name="A") + table('based_on = "A"\n', name="B"))
    assert e.key == "calendars.A.based_on" or e.key == "calendars.B.based_on"
    assert "circular" in str(e)
