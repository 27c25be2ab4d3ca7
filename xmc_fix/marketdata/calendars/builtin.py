"""The built-in calendars: SHFE, INE, LME, CME, FX and ALWAYS.

Their trading hours are written here, in each venue's local time; their holidays and early closes
come from the data files under ``data/`` (:mod:`.datafiles`), read once when the module is imported,
so the yearly refresh edits data and not code. A strategy file can replace or amend any of them
(``[calendars.SHFE] based_on = "SHFE"``, :mod:`.strategy`).

What it deliberately does not do: model every contract of a venue (SHFE gold runs its night to
02:30, rubber to 23:00: define those in the strategy file), model call auctions, the LME ring or
CME's thin holiday sessions, or know holidays beyond the years the data files cover (past the last
listed date a calendar simply repeats its week).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from types import MappingProxyType

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars.datafiles import DATA, read_holiday_data
from xmc_fix.marketdata.calendars.model import Calendar
from xmc_fix.marketdata.calendars.values import PREVIOUS_DAY, PREVIOUS_TRADING_DAY, Session, parse_time

__all__ = ["BUILTIN_CALENDARS", "builtin_calendars", "lookup"]

_MON_FRI = frozenset(range(5))


def _t(text: str) -> dt.time:
    return parse_time(text, key="built-in")


def _china(name: str, night: str, source: str) -> Calendar:
    """SHFE and INE: same day sessions, night session trading for the next trading day."""
    return Calendar(
        name=name, tz="Asia/Shanghai",
        sessions=(Session.parse("09:00-10:15", "morning"), Session.parse("10:30-11:30", "morning"),
                  Session.parse("13:30-15:00", "afternoon"), Session.parse(night, "night")),
        days=_MON_FRI, trading_day_rolls_at=_t("21:00"),
        night_sessions_on=PREVIOUS_TRADING_DAY, no_night_before_holiday=True, source=source)


# The trading week of each built-in, without holidays. ``source`` says what the hours model; the
# data files' sources are appended when the holidays are added.
_HOURS = (
    _china("SHFE", "21:00-01:00",
           "SHFE trading hours for copper, aluminium, zinc, lead, nickel, tin (night to 01:00; gold and "
           "silver run to 02:30, rubber and fuel oil to 23:00: define those in the strategy file); "
           "call auctions before 09:00 and 21:00 not modelled"),
    _china("INE", "21:00-02:30", "INE crude oil (SC) trading hours, night session to 02:30"),
    Calendar(
        name="LME", tz="Europe/London",
        sessions=(Session.parse("01:00-19:00", "LMEselect"),),
        days=_MON_FRI,
        source="LMEselect electronic market 01:00-19:00 London; ring and inter-office trading not modelled",
    ),
    Calendar(
        name="CME", tz="America/Chicago",
        sessions=(Session.parse("17:00-16:00", "Globex"),),
        days=_MON_FRI, trading_day_rolls_at=_t("17:00"), night_sessions_on=PREVIOUS_DAY,
        source="CME Globex metals (COMEX HG, GC, SI): Sunday-Friday 17:00-16:00 Chicago with the daily "
               "16:00-17:00 break",
    ),
    Calendar(
        name="FX", tz="America/New_York",
        sessions=(Session.parse("17:00-17:00", "FX"),),
        days=_MON_FRI, trading_day_rolls_at=_t("17:00"), night_sessions_on=PREVIOUS_DAY,
        source="OTC FX 24x5: Sunday 17:00 to Friday 17:00 New York, value-date roll at 17:00 New York; "
               "no holidays (liquidity is thin on Jan 1 and Dec 25 but the market does not close)",
    ),
    Calendar(
        name="ALWAYS", tz="UTC",
        sessions=(Session.parse("00:00-24:00", "24x7"),),
        days=frozenset(range(7)),
        source="always open: the simulator's demo world",
    ),
)

# Venues that close on holidays: without a data file they would silently trade every weekday, so a
# missing file (a packaging slip, a file deleted in a refresh) is an error instead.
_NEED_DATA = frozenset({"SHFE", "INE", "LME", "CME"})


def builtin_calendars(directory: Traversable = DATA) -> Mapping[str, Calendar]:
    """The built-in calendars with the holidays and early closes of the data files in ``directory``."""
    data = read_holiday_data(directory, [c.name for c in _HOURS])
    out: dict[str, Calendar] = {}
    for cal in _HOURS:
        d = data.get(cal.name)
        if d is None:
            if cal.name in _NEED_DATA:
                raise ConfigError(f"no holiday data for {cal.name}", file=str(directory),
                                  remedy=f'add a file with calendars = ["{cal.name}"] (README, "Markets, books '
                                         'and pricing"), or reinstall xmc_fix')
            out[cal.name] = cal
            continue
        try:
            out[cal.name] = dataclasses.replace(cal, holidays=d.holidays, early_closes=d.early_closes,
                                                source="; ".join((cal.source, *d.sources)))
        except ConfigError as e:   # e.g. an early close on a weekend: the calendar names the field only
            raise ConfigError(f"{cal.name}: {e.problem}", file=", ".join(d.files), key=e.key,
                              remedy=e.remedy) from None
    return MappingProxyType(out)


BUILTIN_CALENDARS: Mapping[str, Calendar] = builtin_calendars()


def lookup(name: str, calendars: Mapping[str, Calendar] = BUILTIN_CALENDARS, *,
           file: str | None = None, key: str | None = None) -> Calendar:
    """The calendar called ``name``, or a :class:`ConfigError` naming ``file``/``key`` and the choices."""
    try:
        return calendars[name]
    except KeyError:
        raise ConfigError(f"unknown calendar {name!r}", file=file, key=key,
                          remedy=f"define [calendars.{name}] or use one of {', '.join(sorted(calendars))}") from None
