"""The value types of market calendars: sessions, holidays, early closes and the answer for a moment.

Frozen facts with no behaviour beyond parsing and printing themselves; :mod:`.model` turns them into
a venue's trading week. The time-of-day parser lives here because sessions, the built-in data and
the strategy file all write times the same way ("21:00", "24:00" as an end).

What it deliberately does not do: know time zones, dates of a week or any venue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from xmc_fix.errors import ConfigError

__all__ = [
    "NIGHT_MODES", "PREVIOUS_DAY", "PREVIOUS_TRADING_DAY", "WEEKDAYS", "EarlyClose", "Holiday", "MarketState",
    "Session", "fmt_time", "is_date", "parse_time",
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")   # index = date.weekday()
PREVIOUS_DAY = "previous_day"
PREVIOUS_TRADING_DAY = "previous_trading_day"
NIGHT_MODES = (PREVIOUS_DAY, PREVIOUS_TRADING_DAY)


@dataclass(frozen=True, slots=True)
class Session:
    """One span of the daily template, in the venue's local time.

    ``end <= start`` means the span ends on the next day; ``end == start`` means 24 hours. An empty
    ``label`` is filled in by the calendar: "night" for an evening span, else "day".
    """

    start: dt.time
    end: dt.time
    label: str = ""

    @classmethod
    def parse(cls, span: str, label: str = "") -> Session:
        """``Session.parse("21:00-01:00", "night")``; "24:00" is accepted as an end."""
        m = re.fullmatch(r"\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*-\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*", span)
        if not m:
            raise ConfigError(f"{span!r} is not a span like \"09:00-10:15\"", key="sessions",
                              remedy="write HH:MM-HH:MM in the venue's local time; an end before the start "
                                     "means the next day")
        return cls(parse_time(m.group(1), key="sessions"), parse_time(m.group(2), key="sessions", end=True),
                   label)

    @property
    def overnight(self) -> bool:
        """The span ends on the day after it starts."""
        return self.end <= self.start

    def __str__(self) -> str:
        end = "24:00" if self.end == dt.time(0) and self.overnight else fmt_time(self.end)
        return f"{fmt_time(self.start)}-{end}"


@dataclass(frozen=True, slots=True)
class Holiday:
    """A date that is not a trading day (for the trading day D it would have been)."""

    day: dt.date
    name: str = ""


@dataclass(frozen=True, slots=True)
class EarlyClose:
    """Trading day ``day`` stops at local time ``at`` on that date (sessions after it are dropped)."""

    day: dt.date
    at: dt.time
    name: str = ""


@dataclass(frozen=True, slots=True)
class MarketState:
    """What a calendar says about one moment.

    ``reason`` is for people ("night session", "lunch", "holiday 2026-10-01 (National Day)");
    ``session`` is the label of the session in progress (None when closed); ``next_change_ns`` is when
    ``open`` next flips (None: it never does, as for a 24x7 calendar); ``trading_day`` is the day the
    moment belongs to (see :meth:`Calendar.trading_day`).
    """

    calendar: str
    open: bool
    reason: str
    session: str | None
    next_change_ns: int | None
    trading_day: dt.date


# -- text -----------------------------------------------------------------------------------------------
def parse_time(text: str, *, key: str, end: bool = False) -> dt.time:
    """A local time of day from "HH:MM" or "HH:MM:SS"; with ``end``, "24:00" is midnight at the end of
    the day. A :class:`ConfigError` names ``key``."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if m:
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if end and (h, mi, s) == (24, 0, 0):
            return dt.time(0)
        if h < 24 and mi < 60 and s < 60:
            return dt.time(h, mi, s)
    raise ConfigError(f"{text!r} is not a time of day", key=key,
                      remedy="write HH:MM (24-hour clock, local time)" + ("; 24:00 for midnight" if end else ""))


def fmt_time(t: dt.time | None) -> str:
    if t is None:
        return "00:00"
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def is_date(d: object) -> bool:
    """A plain date (a datetime is also a date, and is refused)."""
    return isinstance(d, dt.date) and not isinstance(d, dt.datetime)
