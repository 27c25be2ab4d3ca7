"""Market calendars: when a venue trades, in its own time zone, and why it does not.

A :class:`Calendar` answers for one moment (epoch nanoseconds, UTC, like the rest of the package)
whether the market is open, why not ("lunch", "weekend", "holiday 2026-10-01 (National Day)"), which
trading day the moment belongs to, and when that changes. Sessions are written in the venue's local
time and turned into instants through the IANA time-zone database (:mod:`zoneinfo`), so a
daylight-saving change moves a session in UTC and never on the venue's wall clock.

What it deliberately does not do: read the clock (every query takes the moment), know instruments or
the engine (the engine asks ``state``/``is_open`` for each leg and shows the reason), or know the
future: holidays are data, and the built-in samples must be refreshed from each exchange's notice.

The model
---------
* ``days`` are the weekdays that are trading days; ``holidays`` are dates that are not.
* Every trading day D trades the same template of ``sessions``, half-open local-time spans
  ``[start, end)``; a span whose end is not after its start ends on the next day ("21:00-01:00"),
  and one whose end equals its start lasts 24 hours.
* A span starting at or after ``trading_day_rolls_at`` is an *evening* span: it trades for D but runs
  the evening before, either on the calendar day before D (``night_sessions_on="previous_day"``: CME
  Globex opens Monday's trading day at Sunday 17:00) or on the evening of the trading day before D
  (``"previous_trading_day"``: SHFE's Friday 21:00 night session trades for Monday).
  ``no_night_before_holiday`` adds the Chinese exchanges' rule: no night session on the evening before
  a weekday holiday (weekends do not count), so none on Friday before a holiday Monday.
* ``early_closes`` end every session of a trading day at a local time on that day.
* Sessions that touch merge: FX's five 24-hour spans are one open week.
* A local time inside a spring-forward gap is read with the offset in force before the change (PEP
  495, ``fold=0``): "02:30" on 2026-03-08 in Chicago is 03:30 CDT. A repeated local time (autumn) is
  its first occurrence. No built-in session starts or ends inside a change (changes fall on Sundays
  at night when the built-in venues are shut).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xmc_fix.errors import ConfigError

if TYPE_CHECKING:
    from xmc_fix.config import _Section

__all__ = [
    "BUILTIN_CALENDARS", "WEEKDAYS", "Calendar", "EarlyClose", "Holiday", "MarketState", "Session",
    "calendars_from_toml", "lookup",
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")   # index = date.weekday()
PREVIOUS_DAY = "previous_day"
PREVIOUS_TRADING_DAY = "previous_trading_day"
NIGHT_MODES = (PREVIOUS_DAY, PREVIOUS_TRADING_DAY)

_NS = 1_000_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DAY = dt.timedelta(days=1)
_SECONDS_PER_DAY = 86_400
_DAILY_BREAK_MAX_NS = 2 * 3600 * _NS   # a gap between trading days up to this long is a "daily break"
_CACHE_MAX = 4096                      # dates of generated sessions kept per calendar


# -- value types ------------------------------------------------------------------------------------
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
        return cls(_parse_time(m.group(1), key="sessions"), _parse_time(m.group(2), key="sessions", end=True),
                   label)

    @property
    def overnight(self) -> bool:
        """The span ends on the day after it starts."""
        return self.end <= self.start

    def __str__(self) -> str:
        end = "24:00" if self.end == dt.time(0) and self.overnight else _fmt_time(self.end)
        return f"{_fmt_time(self.start)}-{end}"


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


@dataclass(frozen=True, slots=True)
class _Span:
    """A template session with what the calendar derived about it."""

    session: Session
    label: str
    evening: bool


@dataclass(frozen=True, slots=True)
class _Interval:
    """One concrete session: [start_ns, end_ns) trading for ``trading_day``."""

    start_ns: int
    end_ns: int
    label: str
    trading_day: dt.date
    evening: bool


# -- the calendar -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Calendar:
    """A venue's trading week, holidays and early closes, validated when built.

    Construction problems raise :class:`ConfigError` with ``key`` set to the offending field, so a
    loader can prefix it with the file and table. All queries are pure functions of the moment given;
    the sessions generated for each date are memoised in a small private cache, which two threads may
    share (at worst a date is generated twice).
    """

    name: str
    tz: str
    sessions: tuple[Session, ...]
    days: frozenset[int]
    holidays: tuple[Holiday, ...] = ()
    early_closes: tuple[EarlyClose, ...] = ()
    trading_day_rolls_at: dt.time | None = None
    night_sessions_on: str = PREVIOUS_DAY
    no_night_before_holiday: bool = False
    source: str = ""

    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _spans: tuple[_Span, ...] = field(init=False, repr=False, compare=False)
    _holiday: dict[dt.date, Holiday] = field(init=False, repr=False, compare=False)
    _early: dict[dt.date, EarlyClose] = field(init=False, repr=False, compare=False)
    _last_special: dt.date | None = field(init=False, repr=False, compare=False)
    _plain: Calendar = field(init=False, repr=False, compare=False)
    _cache: dict[dt.date, tuple[_Interval, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"calendar name {self.name!r} is empty", key="name")
        put(self, "_zone", _zone(self.tz))
        put(self, "sessions", tuple(self.sessions))
        put(self, "days", _days(self.days))
        put(self, "holidays", tuple(self.holidays))
        put(self, "early_closes", tuple(self.early_closes))
        roll = self.trading_day_rolls_at
        if roll is not None and (not isinstance(roll, dt.time) or roll.tzinfo is not None):
            raise ConfigError(f"{roll!r} is not a local time of day", key="trading_day_rolls_at")
        if roll == dt.time(0):
            put(self, "trading_day_rolls_at", None)   # rolling at midnight is the calendar date
        if self.night_sessions_on not in NIGHT_MODES:
            raise ConfigError(f"{self.night_sessions_on!r} is not one of {', '.join(NIGHT_MODES)}",
                              key="night_sessions_on")
        if self.no_night_before_holiday and self.night_sessions_on != PREVIOUS_TRADING_DAY:
            raise ConfigError("only applies when night sessions run on the previous trading day",
                              key="no_night_before_holiday",
                              remedy=f'add night_sessions_on = "{PREVIOUS_TRADING_DAY}" (SHFE style: '
                                     "Friday's night session trades for Monday)")
        put(self, "_spans", self._check_sessions())
        put(self, "_holiday", self._check_holidays())
        put(self, "_early", self._check_early_closes())
        put(self, "holidays", tuple(sorted(self.holidays, key=lambda h: h.day)))
        put(self, "early_closes", tuple(sorted(self.early_closes, key=lambda e: e.day)))
        specials = list(self._holiday) + list(self._early)
        put(self, "_last_special", max(specials) if specials else None)
        put(self, "_cache", {})
        put(self, "_plain", dataclasses.replace(self, holidays=(), early_closes=()) if specials else self)

    # -- validation ---------------------------------------------------------------------------------
    def _check_sessions(self) -> tuple[_Span, ...]:
        if not self.sessions:
            raise ConfigError("no sessions", key="sessions", remedy='list the local-time spans, e.g. ["09:00-15:00"]')
        roll = self.trading_day_rolls_at
        roll_s = _secs(roll) if roll is not None else _SECONDS_PER_DAY
        placed: list[tuple[int, int, Session]] = []
        spans = []
        for s in self.sessions:
            if not isinstance(s, Session):
                raise ConfigError(f"{s!r} is not a Session", key="sessions")
            for t in (s.start, s.end):
                if t.tzinfo is not None:
                    raise ConfigError(f"{s}: times must be local (naive)", key="sessions")
            start = _secs(s.start)
            end = _secs(s.end) + (_SECONDS_PER_DAY if s.overnight else 0)
            evening = roll is not None and start >= roll_s
            if evening:
                # runs the evening before its trading day D: place it on D's timeline
                start, end = start - _SECONDS_PER_DAY, end - _SECONDS_PER_DAY
                if end > roll_s:
                    raise ConfigError(f"{s} runs past trading_day_rolls_at {_fmt_time(roll)} on the next day",
                                      key="sessions", remedy="shorten the span; a span may not belong to two "
                                                             "trading days")
            elif end > roll_s:
                if roll is None:
                    raise ConfigError(f"{s} crosses midnight but the trading day rolls at midnight",
                                      key="sessions", remedy='set trading_day_rolls_at to the evening time from '
                                                             'which a moment belongs to the next trading day')
                raise ConfigError(f"{s} starts before and ends after trading_day_rolls_at {_fmt_time(roll)}",
                                  key="sessions", remedy="split it at the roll time, or move the roll time")
            label = s.label or ("night" if evening else "day")
            placed.append((start, end, s))
            spans.append(_Span(s, label, evening))
        placed.sort(key=lambda p: p[0])
        for (_, a_end, a), (b_start, _, b) in zip(placed, placed[1:]):
            if a_end > b_start:
                raise ConfigError(f"sessions {a} and {b} overlap", key="sessions",
                                  remedy="make the spans disjoint (touching is fine)")
        return tuple(sorted(spans, key=lambda sp: _secs(sp.session.start)))

    def _check_holidays(self) -> dict[dt.date, Holiday]:
        out: dict[dt.date, Holiday] = {}
        for h in self.holidays:
            if not isinstance(h, Holiday) or not _is_date(h.day):
                raise ConfigError(f"{h!r} is not a Holiday with a date", key="holidays")
            if h.day in out:
                raise ConfigError(f"{h.day} is listed twice", key="holidays", remedy="list each date once")
            out[h.day] = h
        return out

    def _check_early_closes(self) -> dict[dt.date, EarlyClose]:
        out: dict[dt.date, EarlyClose] = {}
        for e in self.early_closes:
            if not isinstance(e, EarlyClose) or not _is_date(e.day) or not isinstance(e.at, dt.time):
                raise ConfigError(f"{e!r} is not an EarlyClose with a date and a time", key="early_closes")
            if e.day in out:
                raise ConfigError(f"{e.day} is listed twice", key="early_closes", remedy="list each date once")
            if e.day in self._holiday:
                raise ConfigError(f"{e.day} is also a holiday", key="early_closes",
                                  remedy="a date is either a holiday or an early close")
            if e.day.weekday() not in self.days:
                raise ConfigError(f"{e.day} is a {WEEKDAYS[e.day.weekday()]}, not a trading weekday",
                                  key="early_closes", remedy="early closes apply to trading days")
            out[e.day] = e
        return out

    # -- queries --------------------------------------------------------------------------------------
    def is_open(self, ns: int) -> bool:
        """The market is in a session at ``ns``."""
        day = self._local(ns).date()
        return any(iv.start_ns <= ns < iv.end_ns
                   for d in (day - _DAY, day) for iv in self._starts_on(d))

    def state(self, ns: int) -> MarketState:
        """Open or closed at ``ns``, why, and when that next changes."""
        ahead = self._forward(ns)
        first = next(ahead, None)
        td = self.trading_day(ns)
        if first is not None and first.start_ns <= ns:
            return MarketState(self.name, True, f"{first.label} session", first.label,
                               _chain_end(first, ahead), td)
        return MarketState(self.name, False, self._closed_reason(ns, first), None,
                           first.start_ns if first is not None else None, td)

    def next_open(self, ns: int) -> int | None:
        """The first moment at or after ``ns`` when the market is open (``ns`` itself when open);
        None when no session lies ahead."""
        first = next(self._forward(ns), None)
        return None if first is None else max(first.start_ns, ns)

    def next_close(self, ns: int) -> int | None:
        """The end of the open period that contains ``ns``, or of the next one when closed; None when
        the market never closes again (24x7)."""
        ahead = self._forward(ns)
        first = next(ahead, None)
        return None if first is None else _chain_end(first, ahead)

    def trading_day(self, ns: int) -> dt.date:
        """The trading day ``ns`` belongs to.

        From ``trading_day_rolls_at`` local time a moment belongs to the next trading day (SHFE's
        night session from 21:00, CME's evening from 17:00 Chicago); before it, to the local date if
        that is a trading day, else to the next one (a weekend or holiday belongs to the day trading
        resumes). This agrees with the trading day of every session.
        """
        local = self._local(ns)
        day = local.date()
        roll = self.trading_day_rolls_at
        if roll is not None and local.time() >= roll:
            nxt = self._next_trading_after(day)
        else:
            nxt = day if self._is_trading(day) else self._next_trading_after(day)
        return nxt if nxt is not None else day

    def is_trading_day(self, day: dt.date) -> bool:
        return self._is_trading(day)

    def holiday(self, day: dt.date) -> Holiday | None:
        return self._holiday.get(day)

    def sessions_on(self, day: dt.date) -> tuple[tuple[int, int, str], ...]:
        """The concrete sessions trading for trading day ``day`` as ``(start_ns, end_ns, label)``;
        empty when ``day`` is not a trading day. For display and tests."""
        out = []
        d = self._prev_trading_before(day) or day - _DAY   # the earliest evening a session can start
        d = min(d, day - _DAY)
        while d <= day:
            out.extend((iv.start_ns, iv.end_ns, iv.label) for iv in self._starts_on(d) if iv.trading_day == day)
            d += _DAY
        return tuple(out)

    # -- generation -------------------------------------------------------------------------------------
    def _local(self, ns: int) -> dt.datetime:
        return (_EPOCH + dt.timedelta(microseconds=ns // 1000)).astimezone(self._zone)

    def _at(self, day: dt.date, t: dt.time) -> int:
        return _to_ns(dt.datetime.combine(day, t, tzinfo=self._zone))

    def _is_trading(self, day: dt.date) -> bool:
        return day.weekday() in self.days and day not in self._holiday

    def _scan_end(self, day: dt.date) -> dt.date:
        # Past the last holiday or early close the week repeats, so from any day the next session
        # starts within 7 days and, unless the week is 24x7, its open period ends within 7 more: an
        # open period still running 16 days out never ends.
        last = self._last_special
        return (day if last is None or last < day else last) + dt.timedelta(days=16)

    def _next_trading_after(self, day: dt.date) -> dt.date | None:
        stop = self._scan_end(day)
        d = day + _DAY
        while d <= stop:
            if self._is_trading(d):
                return d
            d += _DAY
        return None

    def _prev_trading_before(self, day: dt.date) -> dt.date | None:
        first = self.holidays[0].day if self.holidays else day
        stop = min(first, day) - dt.timedelta(days=8)
        d = day - _DAY
        while d >= stop:
            if self._is_trading(d):
                return d
            d -= _DAY
        return None

    def _next_scheduled_after(self, day: dt.date) -> dt.date:
        d = day + _DAY
        while d.weekday() not in self.days:
            d += _DAY
        return d

    def _evening_serves(self, day: dt.date) -> dt.date | None:
        """The trading day an evening span starting on ``day`` trades for, or None if it does not run."""
        if self.night_sessions_on == PREVIOUS_DAY:
            nxt = day + _DAY
            return nxt if self._is_trading(nxt) else None
        if not self._is_trading(day):
            return None
        if self.no_night_before_holiday and self._next_scheduled_after(day) in self._holiday:
            return None
        return self._next_trading_after(day)

    def _starts_on(self, day: dt.date) -> tuple[_Interval, ...]:
        """The concrete sessions that start on local date ``day``, in order."""
        hit = self._cache.get(day)
        if hit is not None:
            return hit
        out: list[_Interval] = []
        evening_td: dt.date | None | bool = False      # computed once, when first needed
        for sp in self._spans:
            if sp.evening:
                if evening_td is False:
                    evening_td = self._evening_serves(day)
                td = evening_td
            else:
                td = day if self._is_trading(day) else None
            if td is None:
                continue
            s = sp.session
            start = self._at(day, s.start)
            end = self._at(day + _DAY if s.overnight else day, s.end)
            early = self._early.get(td)
            if early is not None:
                end = min(end, self._at(td, early.at))
            if end > start:
                out.append(_Interval(start, end, sp.label, td, sp.evening))
        out.sort(key=lambda iv: iv.start_ns)
        result = tuple(out)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[day] = result
        return result

    def _forward(self, ns: int) -> _Ahead:
        """Sessions that have not ended by ``ns``, in order, up to the scan horizon."""
        day = self._local(ns).date() - _DAY
        stop = self._scan_end(day)

        def walk(day: dt.date) -> Iterator[_Interval]:
            while day <= stop:
                for iv in self._starts_on(day):
                    if iv.end_ns > ns:
                        yield iv
                day += _DAY
        return _Ahead(walk(day), self._at(stop + _DAY, dt.time(0)))

    def _backward(self, ns: int) -> Iterator[_Interval]:
        """Sessions that ended by ``ns``, latest first, going back at most 9 days."""
        day = self._local(ns).date()
        stop = day - dt.timedelta(days=9)
        while day >= stop:
            for iv in reversed(self._starts_on(day)):
                if iv.end_ns <= ns:
                    yield iv
            day -= _DAY

    # -- reasons ------------------------------------------------------------------------------------------
    def _closed_reason(self, ns: int, upcoming: _Interval | None) -> str:
        """Why the market is closed at ``ns``: compare with the same week without holidays or early
        closes (``_plain``); where that one would trade, name what removed the session."""
        local = self._local(ns)
        today = self._holiday.get(local.date())
        if today is not None:
            return _holiday_text(today)
        plain = self._plain
        expected = next(plain._forward(ns), None)
        if expected is not None and (expected.start_ns <= ns or upcoming is None
                                     or upcoming.start_ns != expected.start_ns):
            return self._why_missing(expected)
        return plain._gap_reason(local, next(plain._backward(ns), None), expected)

    def _why_missing(self, iv: _Interval) -> str:
        early = self._early.get(iv.trading_day)
        if early is not None and self._at(iv.trading_day, early.at) < iv.end_ns:
            return "early close " + _named(early.day, early.name)
        started = self._holiday.get(self._local(iv.start_ns).date())
        if started is not None:
            return _holiday_text(started)
        h = self._holiday.get(iv.trading_day)
        if h is not None:
            if iv.evening and self.night_sessions_on == PREVIOUS_TRADING_DAY:
                return f"no {iv.label} session before " + _holiday_text(h)
            return _holiday_text(h)
        if iv.evening and self.no_night_before_holiday:   # the plain next trading day is a holiday
            nxt = self._holiday.get(self._next_scheduled_after(self._local(iv.start_ns).date()))
            if nxt is not None:
                return f"no {iv.label} session before " + _holiday_text(nxt)
        return "closed"

    def _gap_reason(self, local: dt.datetime, before: _Interval | None, after: _Interval | None) -> str:
        """Name an ordinary gap in the weekly template (no holidays involved)."""
        if local.date().weekday() not in self.days:
            return "weekend"
        if before is None or after is None:
            return "closed"
        gap_start, gap_end = self._local(before.end_ns), self._local(after.start_ns)
        d = gap_start.date()
        while d <= gap_end.date():
            if d.weekday() not in self.days:
                return "weekend"
            d += _DAY
        if before.trading_day == after.trading_day:
            if gap_start.date() != gap_end.date() or gap_start.time() < dt.time(6):
                return "closed for the night"
            if gap_start.time() >= dt.time(18):
                return "evening break"
            if gap_end.time() <= dt.time(12):
                return "morning break"
            if gap_start.time() < dt.time(14):
                return "lunch"
            return "afternoon break"
        if after.start_ns - before.end_ns <= _DAILY_BREAK_MAX_NS:
            return "daily break"
        if after.evening:
            return f"closed until the {after.label} session"
        return "closed for the night"


# -- helpers ------------------------------------------------------------------------------------------
class _Ahead:
    """The sessions ahead of a moment, and the instant before which the scan has seen every start."""

    __slots__ = ("_it", "horizon_ns")

    def __init__(self, it: Iterator[_Interval], horizon_ns: int) -> None:
        self._it, self.horizon_ns = it, horizon_ns

    def __iter__(self) -> Iterator[_Interval]:
        return self._it

    def __next__(self) -> _Interval:
        return next(self._it)


def _chain_end(first: _Interval, rest: _Ahead) -> int | None:
    """End of the open period starting with ``first`` (touching sessions merge); None if it runs
    through the scan horizon, i.e. never ends."""
    end = first.end_ns
    for iv in rest:
        if iv.start_ns > end:
            return end
        end = max(end, iv.end_ns)
    return end if end < rest.horizon_ns else None


def _to_ns(t: dt.datetime) -> int:
    delta = t - _EPOCH
    return (delta.days * _SECONDS_PER_DAY + delta.seconds) * _NS + delta.microseconds * 1000


def _secs(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _fmt_time(t: dt.time | None) -> str:
    if t is None:
        return "00:00"
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _is_date(d: object) -> bool:
    return isinstance(d, dt.date) and not isinstance(d, dt.datetime)


def _named(day: dt.date, name: str) -> str:
    return f"{day.isoformat()} ({name})" if name else day.isoformat()


def _holiday_text(h: Holiday) -> str:
    return "holiday " + _named(h.day, h.name)


def _zone(tz: str) -> ZoneInfo:
    try:
        if not isinstance(tz, str) or not tz:
            raise ValueError
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {tz!r}", key="tz",
                          remedy="use an IANA name such as Asia/Shanghai, Europe/London or America/Chicago "
                                 "(the tz database comes from the system or the tzdata package)") from None


def _days(days: Iterable[int | str]) -> frozenset[int]:
    out = set()
    for d in days:
        if isinstance(d, str) and d.title() in WEEKDAYS:
            out.add(WEEKDAYS.index(d.title()))
        elif isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6:
            out.add(d)
        else:
            raise ConfigError(f"{d!r} is not a weekday", key="days", remedy=f"use {', '.join(WEEKDAYS)}")
    if not out:
        raise ConfigError("no trading weekdays", key="days", remedy='list them, e.g. ["Mon-Fri"]')
    return frozenset(out)


def _parse_time(text: str, *, key: str, end: bool = False) -> dt.time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if m:
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if end and (h, mi, s) == (24, 0, 0):
            return dt.time(0)
        if h < 24 and mi < 60 and s < 60:
            return dt.time(h, mi, s)
    raise ConfigError(f"{text!r} is not a time of day", key=key,
                      remedy="write HH:MM (24-hour clock, local time)" + ("; 24:00 for midnight" if end else ""))


# -- built-in calendars -------------------------------------------------------------------------------
def _t(text: str) -> dt.time:
    return _parse_time(text, key="built-in")


_MON_FRI = frozenset(range(5))

# Chinese futures exchanges (SHFE, INE, DCE, ZCE, CFFEX) close on the weekdays of the State Council's
# public-holiday schedule; the weekend "make-up working days" (2026: Jan 4, Feb 14, Feb 28, May 9,
# Sep 20, Oct 10) are NOT trading days. 2026 sample from the State Council notice of November 2025,
# cross-checked against the python `holidays` package (CN, 2026). MUST be updated every year from the
# exchange's own holiday notice (SHFE publishes it in December for the next year).
_CN_2026 = (
    Holiday(dt.date(2026, 1, 1), "New Year's Day"), Holiday(dt.date(2026, 1, 2), "New Year's Day"),
    *(Holiday(dt.date(2026, 2, d), "Spring Festival") for d in (16, 17, 18, 19, 20, 23)),
    Holiday(dt.date(2026, 4, 6), "Qingming"),
    *(Holiday(dt.date(2026, 5, d), "Labour Day") for d in (1, 4, 5)),
    Holiday(dt.date(2026, 6, 19), "Dragon Boat Festival"),
    Holiday(dt.date(2026, 9, 25), "Mid-Autumn Festival"),
    *(Holiday(dt.date(2026, 10, d), "National Day") for d in (1, 2, 5, 6, 7)),
)

# LME (and LMEselect) close on England & Wales bank holidays. 2026 sample from GOV.UK's list; update
# yearly from the LME's trading calendar. The LME's early closes on Christmas and New Year's Eve are
# not modelled.
_UK_2026 = (
    Holiday(dt.date(2026, 1, 1), "New Year's Day"),
    Holiday(dt.date(2026, 4, 3), "Good Friday"),
    Holiday(dt.date(2026, 4, 6), "Easter Monday"),
    Holiday(dt.date(2026, 5, 4), "Early May bank holiday"),
    Holiday(dt.date(2026, 5, 25), "Spring bank holiday"),
    Holiday(dt.date(2026, 8, 31), "Summer bank holiday"),
    Holiday(dt.date(2026, 12, 25), "Christmas Day"),
    Holiday(dt.date(2026, 12, 28), "Boxing Day (substitute day)"),
)

# CME Group exchange holidays 2026 (the NYSE list minus none, plus Juneteenth). Simplification: on
# most of them (MLK, Presidents', Memorial, Juneteenth, Independence, Labor Day, Thanksgiving) CME
# Globex metals actually trade a thin session that halts early and is dated the next trading day;
# here the whole trading day is closed, which is the conservative choice for opening new tickets.
# Update yearly from CME Group's holiday calendar.
_US_2026 = (
    Holiday(dt.date(2026, 1, 1), "New Year's Day"),
    Holiday(dt.date(2026, 1, 19), "Martin Luther King Jr. Day"),
    Holiday(dt.date(2026, 2, 16), "Presidents' Day"),
    Holiday(dt.date(2026, 4, 3), "Good Friday"),
    Holiday(dt.date(2026, 5, 25), "Memorial Day"),
    Holiday(dt.date(2026, 6, 19), "Juneteenth"),
    Holiday(dt.date(2026, 7, 3), "Independence Day (observed)"),
    Holiday(dt.date(2026, 9, 7), "Labor Day"),
    Holiday(dt.date(2026, 11, 26), "Thanksgiving Day"),
    Holiday(dt.date(2026, 12, 25), "Christmas Day"),
)
# Metals' usual early halts at 12:45 Chicago; check each year's CME holiday schedule.
_US_EARLY_2026 = (
    EarlyClose(dt.date(2026, 11, 27), _t("12:45"), "day after Thanksgiving"),
    EarlyClose(dt.date(2026, 12, 24), _t("12:45"), "Christmas Eve"),
)

SHFE = Calendar(
    name="SHFE", tz="Asia/Shanghai",
    sessions=(Session.parse("09:00-10:15", "morning"), Session.parse("10:30-11:30", "morning"),
              Session.parse("13:30-15:00", "afternoon"), Session.parse("21:00-01:00", "night")),
    days=_MON_FRI, holidays=_CN_2026, trading_day_rolls_at=_t("21:00"),
    night_sessions_on=PREVIOUS_TRADING_DAY, no_night_before_holiday=True,
    source="SHFE trading hours for copper, aluminium, zinc, lead, nickel, tin (night to 01:00; gold and "
           "silver run to 02:30, rubber and fuel oil to 23:00: define those in the strategy file); "
           "call auctions before 09:00 and 21:00 not modelled; 2026 Chinese exchange holidays",
)

INE = Calendar(
    name="INE", tz="Asia/Shanghai",
    sessions=(Session.parse("09:00-10:15", "morning"), Session.parse("10:30-11:30", "morning"),
              Session.parse("13:30-15:00", "afternoon"), Session.parse("21:00-02:30", "night")),
    days=_MON_FRI, holidays=_CN_2026, trading_day_rolls_at=_t("21:00"),
    night_sessions_on=PREVIOUS_TRADING_DAY, no_night_before_holiday=True,
    source="INE crude oil (SC) trading hours, night session to 02:30; 2026 Chinese exchange holidays",
)

LME = Calendar(
    name="LME", tz="Europe/London",
    sessions=(Session.parse("01:00-19:00", "LMEselect"),),
    days=_MON_FRI, holidays=_UK_2026,
    source="LMEselect electronic market 01:00-19:00 London; ring and inter-office trading not modelled; "
           "2026 England & Wales bank holidays",
)

CME = Calendar(
    name="CME", tz="America/Chicago",
    sessions=(Session.parse("17:00-16:00", "Globex"),),
    days=_MON_FRI, holidays=_US_2026, early_closes=_US_EARLY_2026, trading_day_rolls_at=_t("17:00"),
    night_sessions_on=PREVIOUS_DAY,
    source="CME Globex metals (COMEX HG, GC, SI): Sunday-Friday 17:00-16:00 Chicago with the daily "
           "16:00-17:00 break; 2026 CME holidays treated as closed; early halts 12:45",
)

FX = Calendar(
    name="FX", tz="America/New_York",
    sessions=(Session.parse("17:00-17:00", "FX"),),
    days=_MON_FRI, trading_day_rolls_at=_t("17:00"), night_sessions_on=PREVIOUS_DAY,
    source="OTC FX 24x5: Sunday 17:00 to Friday 17:00 New York, value-date roll at 17:00 New York; "
           "no holidays (liquidity is thin on Jan 1 and Dec 25 but the market does not close)",
)

ALWAYS = Calendar(
    name="ALWAYS", tz="UTC",
    sessions=(Session.parse("00:00-24:00", "24x7"),),
    days=frozenset(range(7)),
    source="always open: the simulator's demo world",
)

BUILTIN_CALENDARS: Mapping[str, Calendar] = MappingProxyType(
    {c.name: c for c in (SHFE, INE, LME, CME, FX, ALWAYS)})


def lookup(name: str, calendars: Mapping[str, Calendar] = BUILTIN_CALENDARS, *,
           file: str | None = None, key: str | None = None) -> Calendar:
    """The calendar called ``name``, or a :class:`ConfigError` naming ``file``/``key`` and the choices."""
    try:
        return calendars[name]
    except KeyError:
        raise ConfigError(f"unknown calendar {name!r}", file=file, key=key,
                          remedy=f"define [calendars.{name}] or use one of {', '.join(sorted(calendars))}") from None


# -- TOML -------------------------------------------------------------------------------------------------
def calendars_from_toml(data: Mapping[str, Any], file: str) -> dict[str, Calendar]:
    """The built-in calendars plus those defined under ``[calendars.NAME]`` in the parsed TOML
    document ``data`` (only its ``calendars`` table is read; ``file`` is for error messages).

    A defined calendar replaces a built-in of the same name; ``based_on = "NAME"`` starts from a
    built-in or another calendar of the file and changes only the keys given (so next year's
    holidays need no code: ``[calendars.SHFE]  based_on = "SHFE"  holidays = [...]``). Keys::

        tz = "Asia/Shanghai"                      # IANA name; required without based_on
        sessions = ["09:00-10:15", { label = "night", span = "21:00-01:00" }]   # local time
        days = ["Mon-Fri"]                        # trading weekdays: Mon..Sun, ranges allowed
        holidays = ["2026-10-01", { date = "2026-10-02", name = "National Day" }]
        early_closes = [{ date = "2026-12-24", at = "12:45", name = "Christmas Eve" }]
        trading_day_rolls_at = "21:00"            # from then on a moment belongs to the next trading day
        night_sessions_on = "previous_trading_day"   # or "previous_day" (the default, CME style)
        no_night_before_holiday = true            # SHFE rule; needs previous_trading_day
        source = "where the data came from"

    Every problem raises :class:`ConfigError` naming ``file``, the dotted key and a remedy.
    """
    # The strategy loader's typed table reader, for the same error shape. Imported here because
    # config.py will import this module to load [calendars] itself.
    from xmc_fix.config import _Section

    tables = data.get("calendars", {})
    if not isinstance(tables, dict):
        raise ConfigError("expected a table", file=file, key="calendars",
                          remedy="define each calendar as [calendars.NAME]")
    out: dict[str, Calendar] = dict(BUILTIN_CALENDARS)
    built: dict[str, Calendar] = {}

    def build(name: str, chain: tuple[str, ...]) -> Calendar:
        if name in built:
            return built[name]
        body = tables[name]
        prefix = f"calendars.{name}"
        if not isinstance(body, dict):
            raise ConfigError("expected a table", file=file, key=prefix, remedy=f"write it as [{prefix}]")
        s = _Section(file, prefix, body)
        base_name = s.str("based_on", None)
        base: Calendar | None = None
        if base_name is not None:
            if base_name in tables and base_name != name:
                if base_name in chain:
                    raise s.error("based_on", f"circular: {' -> '.join(chain + (name, base_name))}",
                                  "base each calendar on a built-in or on one that does not lead back")
                base = build(base_name, chain + (name,))
            elif base_name in BUILTIN_CALENDARS:
                base = BUILTIN_CALENDARS[base_name]
            else:
                raise s.error("based_on", f"unknown calendar {base_name!r}",
                              f"use one of {', '.join(sorted(set(BUILTIN_CALENDARS) | set(tables) - {name}))}")
        cal = _calendar_from_section(s, name, base)
        built[name] = cal
        return cal

    for name in tables:
        out[name] = build(name, ())
    return out


def _calendar_from_section(s: _Section, name: str, base: Calendar | None) -> Calendar:
    """One ``[calendars.NAME]`` table through the config module's ``_Section`` reader."""
    kw: dict[str, Any] = {} if base is None else {
        f.name: getattr(base, f.name) for f in dataclasses.fields(Calendar) if f.init}
    kw["name"] = name
    need = ... if base is None else None   # ``...`` is _Section's "required" marker
    tz = s.str("tz", need)
    if tz is not None:
        kw["tz"] = tz
    raw_sessions = s.raw("sessions", need)
    if raw_sessions is not None:
        kw["sessions"] = _toml_sessions(s, raw_sessions)
    raw_days = s.raw("days", need)
    if raw_days is not None:
        kw["days"] = _toml_days(s, raw_days)
    raw = s.raw("holidays", None)
    if raw is not None:
        kw["holidays"] = _toml_holidays(s, raw)
    raw = s.raw("early_closes", None)
    if raw is not None:
        kw["early_closes"] = _toml_early_closes(s, raw)
    raw = s.raw("trading_day_rolls_at", None)
    if raw is not None:
        kw["trading_day_rolls_at"] = _toml_time(s, "trading_day_rolls_at", raw)
    mode = s.str("night_sessions_on", None, choices=NIGHT_MODES)
    if mode is not None:
        kw["night_sessions_on"] = mode
    if "no_night_before_holiday" in s.data:
        kw["no_night_before_holiday"] = s.bool("no_night_before_holiday")
    else:
        s.used.add("no_night_before_holiday")
    src = s.str("source", None)
    if src is not None:
        kw["source"] = src
    s.check_unknown()
    try:
        return Calendar(**kw)
    except ConfigError as e:
        key = s.key(e.key) if e.key else s.prefix
        raise ConfigError(e.problem, file=s.file, key=key, remedy=e.remedy) from None


def _toml_list(s: _Section, k: str, raw: Any) -> list:
    if not isinstance(raw, list):
        raise s.error(k, f"expected a list, got {raw!r}", f"write it as {k} = [...]")
    return raw


def _toml_sessions(s: _Section, raw: Any) -> tuple[Session, ...]:
    out = []
    for i, item in enumerate(_toml_list(s, "sessions", raw)):
        k = f"sessions[{i}]"
        label = ""
        if isinstance(item, dict):
            extra = sorted(set(item) - {"label", "span"})
            if extra:
                raise s.error(f"{k}.{extra[0]}", "unknown key", "a session has only span and label")
            label = item.get("label", "")
            if not isinstance(label, str) or not label:
                raise s.error(f"{k}.label", f"expected a non-empty string, got {label!r}")
            if "span" not in item:
                raise s.error(f"{k}.span", "missing", 'add span = "HH:MM-HH:MM"')
            item = item["span"]
            k += ".span"
        if not isinstance(item, str):
            raise s.error(k, f"expected a span like \"09:00-10:15\", got {item!r}")
        try:
            out.append(Session.parse(item, label))
        except ConfigError as e:
            raise s.error(k, e.problem, e.remedy) from None
    return tuple(out)


def _toml_days(s: _Section, raw: Any) -> frozenset[int]:
    out: set[int] = set()
    for i, item in enumerate(_toml_list(s, "days", raw)):
        parts = item.split("-") if isinstance(item, str) else [item]
        idx = [WEEKDAYS.index(p.strip().title()) if isinstance(p, str) and p.strip().title() in WEEKDAYS else None
               for p in parts]
        if len(idx) not in (1, 2) or None in idx:
            raise s.error(f"days[{i}]", f"{item!r} is not a weekday or range",
                          f"use {', '.join(WEEKDAYS)} or a range such as \"Mon-Fri\"")
        d = idx[0]
        out.add(d)
        while d != idx[-1]:
            d = (d + 1) % 7
            out.add(d)
    if not out:
        raise s.error("days", "no trading weekdays", 'list them, e.g. ["Mon-Fri"]')
    return frozenset(out)


def _toml_date(s: _Section, k: str, raw: Any) -> dt.date:
    if _is_date(raw):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise s.error(k, f"{raw!r} is not a date", 'write YYYY-MM-DD, e.g. "2026-10-01"')


def _toml_time(s: _Section, k: str, raw: Any) -> dt.time:
    if isinstance(raw, dt.time) and raw.tzinfo is None:
        return raw
    if isinstance(raw, str):
        try:
            return _parse_time(raw, key=k)
        except ConfigError as e:
            raise s.error(k, e.problem, e.remedy) from None
    raise s.error(k, f"{raw!r} is not a time of day", "write HH:MM (24-hour clock, local time)")


def _toml_entry(s: _Section, k: str, item: dict, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    extra = sorted(set(item) - set(required) - set(optional))
    if extra:
        raise s.error(f"{k}.{extra[0]}", "unknown key", f"use {', '.join(required + optional)}")
    for r in required:
        if r not in item:
            raise s.error(f"{k}.{r}", "missing", "add this key")
    name = item.get("name", "")
    if not isinstance(name, str):
        raise s.error(f"{k}.name", f"expected a string, got {name!r}")


def _toml_holidays(s: _Section, raw: Any) -> tuple[Holiday, ...]:
    out = []
    for i, item in enumerate(_toml_list(s, "holidays", raw)):
        k = f"holidays[{i}]"
        if isinstance(item, dict):
            _toml_entry(s, k, item, ("date",), ("name",))
            out.append(Holiday(_toml_date(s, f"{k}.date", item["date"]), item.get("name", "")))
        else:
            out.append(Holiday(_toml_date(s, k, item)))
    return tuple(out)


def _toml_early_closes(s: _Section, raw: Any) -> tuple[EarlyClose, ...]:
    out = []
    for i, item in enumerate(_toml_list(s, "early_closes", raw)):
        k = f"early_closes[{i}]"
        if not isinstance(item, dict):
            raise s.error(k, f"expected a table, got {item!r}", '{ date = "2026-12-24", at = "12:45" }')
        _toml_entry(s, k, item, ("date", "at"), ("name",))
        out.append(EarlyClose(_toml_date(s, f"{k}.date", item["date"]), _toml_time(s, f"{k}.at", item["at"]),
                              item.get("name", "")))
    return tuple(out)
