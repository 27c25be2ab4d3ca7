"""Market calendars: when each venue trades, in its own time zone, and why it does not.

The package is split by job:

* :mod:`.values`: the frozen facts (``Session``, ``Holiday``, ``EarlyClose``, ``MarketState``);
* :mod:`.model`: :class:`Calendar`, the trading week in the venue's time zone (breaks, night sessions
  past midnight, holidays, early closes, daylight saving) answering ``state(ns)``, ``is_open``,
  ``next_open``/``next_close``, ``trading_day`` and ``sessions_on``;
* :mod:`.builtin`: SHFE, INE, LME, CME, FX and ALWAYS, with hours in code and holidays read from the
  data files under ``data/`` (:mod:`.datafiles`; README "Markets, books and pricing" tells how to
  refresh them each year);
* :mod:`.reading` and :mod:`.strategy`: the ``[calendars.NAME]`` tables of a strategy file.

What it deliberately does not do: read the clock, or know instruments and the engine (the engine
asks each leg's calendar for ``state`` and shows the reason).
"""

from xmc_fix.marketdata.calendars.builtin import BUILTIN_CALENDARS, builtin_calendars, lookup
from xmc_fix.marketdata.calendars.model import Calendar
from xmc_fix.marketdata.calendars.strategy import calendars_from_toml
from xmc_fix.marketdata.calendars.values import (
    NIGHT_MODES, PREVIOUS_DAY, PREVIOUS_TRADING_DAY, WEEKDAYS, EarlyClose, Holiday, MarketState, Session,
)

__all__ = [
    "BUILTIN_CALENDARS", "NIGHT_MODES", "PREVIOUS_DAY", "PREVIOUS_TRADING_DAY", "WEEKDAYS", "Calendar",
    "EarlyClose", "Holiday", "MarketState", "Session", "builtin_calendars", "calendars_from_toml", "lookup",
]
