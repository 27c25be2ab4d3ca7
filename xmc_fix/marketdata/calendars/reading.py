"""Reading calendar keys from a TOML table: sessions, weekdays, holidays, early closes, times.

One reader for both places calendars are written in TOML: the ``[calendars.NAME]`` tables of a
strategy file (:mod:`.strategy`) and the built-in holiday data files (:mod:`.datafiles`), so an entry
copied from one to the other means the same thing. Every problem is a :class:`ConfigError` naming the
table's file, the dotted key ("calendars.X.holidays[3].date") and a remedy, through
:class:`~xmc_fix.tomlsection.Section`.

What it deliberately does not do: parse the file, resolve ``based_on`` or know the built-in
calendars (callers do), or check what the calendar itself checks (overlaps, duplicates, early closes
on holidays: :class:`~.model.Calendar` raises those with the field as key, and
:func:`calendar_from_section` prefixes it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars.model import Calendar
from xmc_fix.marketdata.calendars.values import (
    NIGHT_MODES, WEEKDAYS, EarlyClose, Holiday, Session, is_date, parse_time,
)
from xmc_fix.tomlsection import Section

__all__ = ["calendar_from_section", "early_closes_from", "holidays_from"]


def calendar_from_section(s: Section, name: str, base: Calendar | None) -> Calendar:
    """One ``[calendars.NAME]`` table through the config module's ``Section`` reader."""
    kw: dict[str, Any] = {} if base is None else {
        f.name: getattr(base, f.name) for f in dataclasses.fields(Calendar) if f.init}
    kw["name"] = name
    need = ... if base is None else None   # ``...`` is Section's "required" marker
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
        kw["holidays"] = holidays_from(s, raw)
    raw = s.raw("early_closes", None)
    if raw is not None:
        kw["early_closes"] = early_closes_from(s, raw)
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


def _toml_list(s: Section, k: str, raw: Any) -> list:
    if not isinstance(raw, list):
        raise s.error(k, f"expected a list, got {raw!r}", f"write it as {k} = [...]")
    return raw


def _toml_sessions(s: Section, raw: Any) -> tuple[Session, ...]:
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


def _toml_days(s: Section, raw: Any) -> frozenset[int]:
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


def _toml_date(s: Section, k: str, raw: Any) -> dt.date:
    if is_date(raw):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise s.error(k, f"{raw!r} is not a date", 'write YYYY-MM-DD, e.g. "2026-10-01"')


def _toml_time(s: Section, k: str, raw: Any) -> dt.time:
    if isinstance(raw, dt.time) and raw.tzinfo is None:
        return raw
    if isinstance(raw, str):
        try:
            return parse_time(raw, key=k)
        except ConfigError as e:
            raise s.error(k, e.problem, e.remedy) from None
    raise s.error(k, f"{raw!r} is not a time of day", "write HH:MM (24-hour clock, local time)")


def _toml_entry(s: Section, k: str, item: dict, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    extra = sorted(set(item) - set(required) - set(optional))
    if extra:
        raise s.error(f"{k}.{extra[0]}", "unknown key", f"use {', '.join(required + optional)}")
    for r in required:
        if r not in item:
            raise s.error(f"{k}.{r}", "missing", "add this key")
    name = item.get("name", "")
    if not isinstance(name, str):
        raise s.error(f"{k}.name", f"expected a string, got {name!r}")


def holidays_from(s: Section, raw: Any) -> tuple[Holiday, ...]:
    out = []
    for i, item in enumerate(_toml_list(s, "holidays", raw)):
        k = f"holidays[{i}]"
        if isinstance(item, dict):
            _toml_entry(s, k, item, ("date",), ("name",))
            out.append(Holiday(_toml_date(s, f"{k}.date", item["date"]), item.get("name", "")))
        else:
            out.append(Holiday(_toml_date(s, k, item)))
    return tuple(out)


def early_closes_from(s: Section, raw: Any) -> tuple[EarlyClose, ...]:
    out = []
    for i, item in enumerate(_toml_list(s, "early_closes", raw)):
        k = f"early_closes[{i}]"
        if not isinstance(item, dict):
            raise s.error(k, f"expected a table, got {item!r}", '{ date = "2026-12-24", at = "12:45" }')
        _toml_entry(s, k, item, ("date", "at"), ("name",))
        out.append(EarlyClose(_toml_date(s, f"{k}.date", item["date"]), _toml_time(s, f"{k}.at", item["at"]),
                              item.get("name", "")))
    return tuple(out)
