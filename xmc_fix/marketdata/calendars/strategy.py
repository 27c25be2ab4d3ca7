"""The ``[calendars.NAME]`` tables of a strategy file: new calendars, or built-ins amended.

:func:`calendars_from_toml` is what the strategy loader (:mod:`xmc_fix.config`) calls with the parsed
file; it resolves ``based_on`` between the file's tables and the built-ins and leaves the reading of
each table's keys to :mod:`.reading`.

What it deliberately does not do: read the file (the loader parses it once for all its tables) or
check that instruments name known calendars (the loader does, with :func:`~.builtin.lookup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars.builtin import BUILTIN_CALENDARS
from xmc_fix.marketdata.calendars.model import Calendar
from xmc_fix.marketdata.calendars.reading import calendar_from_section
from xmc_fix.tomlsection import Section

__all__ = ["calendars_from_toml"]


def calendars_from_toml(data: Mapping[str, Any], file: str) -> dict[str, Calendar]:
    """The built-in calendars plus those defined under ``[calendars.NAME]`` in the parsed TOML
    document ``data`` (only its ``calendars`` table is read; ``file`` is for error messages).

    A defined calendar replaces a built-in of the same name; ``based_on = "NAME"`` starts from a
    built-in or another calendar of the file and changes only the keys given (so one strategy can
    correct a built-in's holidays without touching the package's data: ``[calendars.SHFE]
    based_on = "SHFE"  holidays = [...]``, a list that replaces the built-in one). Keys::

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
        s = Section(file, prefix, body)
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
        cal = calendar_from_section(s, name, base)
        built[name] = cal
        return cal

    for name in tables:
        out[name] = build(name, ())
    return out
