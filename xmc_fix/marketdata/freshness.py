"""How old market data is by the venue's clock.

Our receive stamp says when QuickFIX handed a message to us; it cannot see a backlog in front of that
(the socket, QuickFIX's own buffer) nor, once we look at a book later, how long ago the venue sent
what it shows. The venue's SendingTime (52) can: a message the venue sent five seconds ago is five
seconds old whatever our stamps say.

The two clocks differ by an unknown offset, and every message by its path delay. :class:`DelayFloor`
keeps, per venue, the smallest ``receipt - SendingTime`` seen over the last five minutes (ten
windows of 30 s): the venue's clock offset plus the fastest path. A book's age by the venue's clock is
then ``now - SendingTime - floor``: zero for data that came as fast as data ever comes, the backlog
and the time since for the rest.

Why five minutes: a backlog that persists looks, from SendingTime alone, exactly like the venue's
clock stepping back; the floor cannot tell them apart and forgets the faster past only when it
leaves the horizon. A short horizon (it was one minute) let a backlog that lasted longer than that
pass for fresh data again. With five, a backlog is seen for five minutes (the pairs shed their
evaluations and the ``md_backlog`` alert says so for as long: far longer than a healthy engine takes to
drain one), and a venue clock that steps back holds the pairs on its data, on the safe side, for at
most as long. A clock that steps forward moves the floor at once. NTP-kept clocks drift by
microseconds a minute, far inside any quote-age limit.
"""

from __future__ import annotations

from collections import deque

WINDOW_NS = 30_000_000_000
WINDOWS = 10


class DelayFloor:
    __slots__ = ("_ring", "_floor", "_turn_ns")

    def __init__(self) -> None:
        self._ring: deque[dict[str, int]] = deque([{}], maxlen=WINDOWS)   # each window's smallest delay
        self._floor: dict[str, int] = {}        # the smallest over the ring: read on every evaluation
        self._turn_ns = 0

    def sample(self, venue: str, recv_ns: int, venue_ns: int | None) -> None:
        """One message's receipt and SendingTime."""
        if venue_ns is None:
            return
        if recv_ns >= self._turn_ns:
            self._turn(recv_ns)
        d = recv_ns - venue_ns
        cur = self._ring[-1]
        if d < cur.get(venue, d + 1):
            cur[venue] = d
            if d < self._floor.get(venue, d + 1):
                self._floor[venue] = d

    def _turn(self, recv_ns: int) -> None:
        """A new window (empty ones for the windows nothing came in); the floors of what is left."""
        ring = self._ring
        if self._turn_ns == 0:
            self._turn_ns = recv_ns
        skipped = 0
        while recv_ns >= self._turn_ns and skipped < WINDOWS:
            ring.append({})
            self._turn_ns += WINDOW_NS
            skipped += 1
        if recv_ns >= self._turn_ns:                    # silent for longer than the horizon
            self._turn_ns = recv_ns + WINDOW_NS
        floor: dict[str, int] = {}
        for w in ring:
            for v, d in w.items():
                if d < floor.get(v, d + 1):
                    floor[v] = d
        self._floor = floor

    def floor(self, venue: str) -> int | None:
        return self._floor.get(venue)

    def age_ns(self, venue: str, venue_ns: int | None, now_ns: int) -> int | None:
        """How old data the venue stamped ``venue_ns`` is now, by the venue's clock; None unknown."""
        f = self._floor.get(venue)
        if venue_ns is None or f is None:
            return None
        return max(0, now_ns - venue_ns - f)
