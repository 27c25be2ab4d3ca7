"""Clocks, injected everywhere time is read: domain code never calls ``time`` directly.

All timestamps are integer nanoseconds since the Unix epoch (UTC). ``perf_ns`` is a monotonic
counter for durations (how long a protective action took): it never jumps with the wall clock,
and only differences between two of its readings mean anything.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Wall-clock time in ns since the epoch."""

    def perf_ns(self) -> int:
        """A monotonic counter in ns, for durations."""


class SystemClock:
    """The machine's real-time clock (``clock_gettime(CLOCK_REALTIME)``)."""

    __slots__ = ()

    def now_ns(self) -> int:
        return time.time_ns()

    def perf_ns(self) -> int:
        return time.perf_counter_ns()


class OffsetClock:
    """The real clock moved by a fixed offset: a running engine that believes it is another moment
    (tests of calendars at a break or a daylight-saving change, without waiting for one)."""

    __slots__ = ("offset_ns",)

    def __init__(self, offset_ns: int) -> None:
        self.offset_ns = offset_ns

    def now_ns(self) -> int:
        return time.time_ns() + self.offset_ns

    def perf_ns(self) -> int:
        return time.perf_counter_ns()


class ManualClock:
    """A clock that moves only when told to; for tests. Its monotonic counter moves with it (a test
    that advances the clock inside an action sees the action take that long)."""

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def perf_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> None:
        self._now += ns

    def set(self, ns: int) -> None:
        self._now = ns


def ns_to_iso(ns: int) -> str:
    """Render epoch ns as ISO-8601 UTC with microseconds (for reports and logs)."""
    secs, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem // 1000:06d}Z"
