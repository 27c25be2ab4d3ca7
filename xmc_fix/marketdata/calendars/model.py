"""The calendar model: when a venue trades, in its own time zone, and why it does not.

A :class:`Calendar` answers for one moment (epoch nanoseconds, UTC, like the rest of the package)
whether the market is open, why not ("lunch", "weekend", "holiday 2026-10-01 (National Day)"), which
trading day the moment belongs to, and when that changes. Sessions are written in the venue's local
time and turned into instants through the IANA time-zone database (:mod:`zoneinfo`), so a
daylight-saving change moves a session in UTC and never on the venue's wall clock.

What it deliberately does not do: read the clock (every query takes the moment), know instruments or
the engine (the engine asks ``state``/``is_open`` for each leg and shows the reason), or know the
future: holidays are data (:mod:`.builtin` reads the built-in ones from ``data/``, a strategy file
adds its own through :mod:`.strategy`).

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars.values import (
    NIGHT_MODES, PREVIOUS_DAY, PREVIOUS_TRADING_DAY, WEEKDAYS, EarlyClose, Holiday, MarketState, Session, fmt_time,
    is_date,
)

__all__ = ["Calendar"]

_NS = 1_000_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DAY = dt.timedelta(days=1)
_SECONDS_PER_DAY = 86_400
_DAILY_BREAK_MAX_NS = 2 * 3600 * _NS   # a gap between trading days up to this long is a "daily break"
_CACHE_MAX = 4096                      # dates of generated sessions kept per calendar


# -- derived types ----------------------------------------------------------------------------------
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
                    raise ConfigError(f"{s} runs past trading_day_rolls_at {fmt_time(roll)} on the next day",
                                      key="sessions", remedy="shorten the span; a span may not belong to two "
                                                             "trading days")
            elif end > roll_s:
                if roll is None:
                    raise ConfigError(f"{s} crosses midnight but the trading day rolls at midnight",
                                      key="sessions", remedy='set trading_day_rolls_at to the evening time from '
                                                             'which a moment belongs to the next trading day')
                raise ConfigError(f"{s} starts before and ends after trading_day_rolls_at {fmt_time(roll)}",
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
            if not isinstance(h, Holiday) or not is_date(h.day):
                raise ConfigError(f"{h!r} is not a Holiday with a date", key="holidays")
            if h.day in out:
                raise ConfigError(f"{h.day} is listed twice", key="holidays", remedy="list each date once")
            out[h.day] = h
        return out

    def _check_early_closes(self) -> dict[dt.date, EarlyClose]:
        out: dict[dt.date, EarlyClose] = {}
        for e in self.early_closes:
            if not isinstance(e, EarlyClose) or not is_date(e.day) or not isinstance(e.at, dt.time):
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
