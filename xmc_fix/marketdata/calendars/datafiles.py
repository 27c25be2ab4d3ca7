"""The built-in holiday data: ``data/*.toml``, one file per holiday schedule and year.

Holidays change every year and trading hours almost never, so the hours of the built-in calendars
are code (:mod:`.builtin`) and their holidays and early closes are data that a yearly refresh edits
without touching code. A file names the calendars it applies to (the Chinese exchanges share one
schedule) and the one year it covers::

    calendars = ["SHFE", "INE"]
    year = 2026
    source = "2026 Chinese exchange holidays (State Council notice of November 2025)"
    holidays = [{ date = "2026-10-01", name = "National Day" }, ...]
    early_closes = [{ date = "2026-12-24", at = "12:45", name = "Christmas Eve" }]   # optional

Entries are written exactly as in a strategy file's ``[calendars.NAME]`` table (same reader,
:mod:`.reading`). Every mistake is a :class:`ConfigError` naming the data file and the key: a file
that is not TOML, an unknown calendar, a date outside the file's year (the usual slip when a file
is copied for the next year), a date listed twice for one calendar, in one file or across files.

The files ship inside the package (``setup.cfg`` ``package_data``) and are found through
:mod:`importlib.resources`, so a non-editable install reads the same data as a checkout.

What it deliberately does not do: know trading hours, decide which calendars need data (the caller
says), or look anywhere but the one folder it is given.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.calendars.reading import early_closes_from, holidays_from
from xmc_fix.marketdata.calendars.values import EarlyClose, Holiday
from xmc_fix.tomlsection import Section

__all__ = ["DATA", "HolidayData", "read_holiday_data"]

#: The folder of the built-in data files, wherever the package is installed.
DATA: Traversable = resources.files("xmc_fix.marketdata.calendars") / "data"


@dataclass(frozen=True, slots=True)
class HolidayData:
    """What the data files say about one calendar, gathered over all files that name it."""

    holidays: tuple[Holiday, ...] = ()
    early_closes: tuple[EarlyClose, ...] = ()
    sources: tuple[str, ...] = ()     # each file's ``source`` with the file's name
    files: tuple[str, ...] = ()       # the files, as paths for error messages


@dataclass(frozen=True, slots=True)
class _File:
    path: str
    name: str
    calendars: tuple[str, ...]
    holidays: tuple[Holiday, ...]
    early_closes: tuple[EarlyClose, ...]
    source: str


def read_holiday_data(directory: Traversable, calendars: Collection[str]) -> dict[str, HolidayData]:
    """Every ``*.toml`` file in ``directory``, read in name order and gathered per calendar.

    ``calendars`` are the names a file may list. A calendar no file names is absent from the result.
    """
    if not directory.is_dir():
        raise ConfigError("holiday data folder not found", file=str(directory),
                          remedy="reinstall xmc_fix: the data files ship with the package")
    files = [_read_file(e, calendars) for e in sorted(directory.iterdir(), key=lambda e: e.name)
             if e.name.endswith(".toml") and e.is_file()]
    seen: dict[tuple[str, dt.date], str] = {}     # (calendar, date) -> the file that listed it
    out: dict[str, HolidayData] = {}
    for f in files:
        dated = [(f"holidays[{i}]", h.day) for i, h in enumerate(f.holidays)]
        dated += [(f"early_closes[{i}]", e.day) for i, e in enumerate(f.early_closes)]
        for name in f.calendars:
            for key, day in dated:
                other = seen.get((name, day))
                if other is not None:
                    raise ConfigError(f"{day} is already listed for {name} in {other}", file=f.path, key=key,
                                      remedy="list each date once per calendar (a date is either a holiday "
                                             "or an early close)")
                seen[name, day] = f.name
            d = out.get(name, HolidayData())
            out[name] = HolidayData(d.holidays + f.holidays, d.early_closes + f.early_closes,
                                    d.sources + (f"{f.source} ({f.name})",), d.files + (f.path,))
    return out


def _read_file(entry: Traversable, calendars: Collection[str]) -> _File:
    path = str(entry)
    try:
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=path, remedy="fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=path, remedy="save the file as UTF-8") from None
    s = Section(path, "", data)
    names = s.raw("calendars")
    if not isinstance(names, list) or not names:
        raise s.error("calendars", f"expected a list of calendar names, got {names!r}",
                      'write e.g. calendars = ["SHFE", "INE"]')
    for i, name in enumerate(names):
        if name not in calendars or names.index(name) != i:
            problem = f"{name!r} is listed twice" if name in calendars else f"unknown calendar {name!r}"
            raise s.error(f"calendars[{i}]", problem, f"use each of {', '.join(sorted(calendars))} at most once")
    year = s.int("year", minimum=1970)
    source = s.str("source")
    holidays = holidays_from(s, s.raw("holidays"))
    early = early_closes_from(s, s.raw("early_closes", []))
    s.check_unknown()
    for k, items in (("holidays", holidays), ("early_closes", early)):
        for i, item in enumerate(items):
            if item.day.year != year:
                raise s.error(f"{k}[{i}]", f"{item.day} is not in {year}",
                              f"a file holds one year: fix the date, or move it to a file with "
                              f"year = {item.day.year}")
    return _File(path, entry.name, tuple(names), holidays, early, source)
