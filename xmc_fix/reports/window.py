"""What part of a run a report covers: a time window and a pair (``--from``, ``--to``, ``--pair``).

One rule everywhere, so every figure of a filtered report talks about the same tickets:

- a ticket belongs to the window its decision (``created_ns``) falls in, half-open
  ``[from, to)``; its orders, fills and transitions come with it even when they happen after ``to``;
- time-stamped rows that belong to no ticket (events, basis samples, FIX messages, clock samples)
  are kept when their own time is in the window;
- with a pair, only that pair's tickets (and their orders, fills, transitions) are kept; events
  naming another pair or another pair's ticket are dropped; FIX messages and venue events are kept
  when they are on one of the pair's venues and do not name another pair's order.

This module parses and holds the filter; :mod:`xmc_fix.reports.figures` applies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from xmc_fix.clock import ns_to_iso
from xmc_fix.errors import ConfigError

_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
                  r"(Z|[+-]\d{2}:?\d{2})?$")


def parse_time(text: str, option: str = "--from") -> int:
    """Epoch nanoseconds from ``text``: an integer (epoch ns) or ISO-8601 (``2026-01-02T03:04:05.5Z``;
    no zone means UTC; fractions down to the nanosecond are kept)."""
    s = text.strip()
    if s.isdigit():
        return int(s)
    m = _ISO.match(s)
    if m is None:
        raise ConfigError(f"{text!r} is not a time", key=option,
                          remedy="give ISO-8601 UTC (2026-01-02T03:04:05Z) or epoch nanoseconds")
    date, hh, mm, ss, frac, zone = m.groups()
    try:
        dt = datetime.fromisoformat(f"{date}T{hh or '00'}:{mm or '00'}:{ss or '00'}")
    except ValueError as e:
        raise ConfigError(f"{text!r}: {e}", key=option, remedy="give a valid ISO-8601 date and time") from None
    offset_s = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    secs = int(dt.replace(tzinfo=timezone.utc).timestamp()) - offset_s
    return secs * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """A time window ``[start_ns, end_ns)`` (either end open when None) and an optional pair."""

    start_ns: int | None = None
    end_ns: int | None = None
    pair: str | None = None

    def __post_init__(self) -> None:
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            raise ConfigError("the window is empty: --to is not after --from", key="--to",
                              remedy="give a --to later than --from")

    @classmethod
    def parse(cls, start: str | None = None, end: str | None = None, pair: str | None = None) -> "ReportFilter":
        return cls(parse_time(start, "--from") if start else None, parse_time(end, "--to") if end else None,
                   pair or None)

    @property
    def active(self) -> bool:
        return self.start_ns is not None or self.end_ns is not None or self.pair is not None

    def time_mask(self, ns):
        """Boolean mask (pandas) of the times in the window; missing times are outside a bounded window."""
        mask = ns.notna() if (self.start_ns is not None or self.end_ns is not None) else ns.notna() | ns.isna()
        if self.start_ns is not None:
            mask &= ns.fillna(self.start_ns - 1) >= self.start_ns
        if self.end_ns is not None:
            mask &= ns.fillna(self.end_ns) < self.end_ns
        return mask.astype(bool)

    def describe(self) -> dict:
        """The filter as it appears in the report (``filter`` key)."""
        return {"from": ns_to_iso(self.start_ns) if self.start_ns is not None else None,
                "to": ns_to_iso(self.end_ns) if self.end_ns is not None else None,
                "from_ns": self.start_ns, "to_ns": self.end_ns, "pair": self.pair}


NO_FILTER = ReportFilter()
