"""How old market data is by the venue's clock.

Our receive stamp says when QuickFIX handed a message to us; it cannot see a backlog in front of that
(the socket, QuickFIX's own buffer) nor, once we look at a book later, how long ago the venue sent
what it shows. The venue's SendingTime (52) can: a message the venue sent five seconds ago is five
seconds old whatever our stamps say.

The two clocks differ by an unknown offset, and every message by its path delay. :class:`DelayFloor`
keeps, per venue, the smallest ``receipt - SendingTime`` seen lately (a sliding window of two
periods): the venue's clock offset plus the fastest path. A book's age by the venue's clock is then
``now - SendingTime - floor``: zero for data that came as fast as data ever comes, the backlog and
the time since for the rest. A venue whose clock jumps moves the floor within one window.
"""

from __future__ import annotations

WINDOW_NS = 30_000_000_000


class DelayFloor:
    __slots__ = ("_cur", "_prev", "_turn_ns")

    def __init__(self) -> None:
        self._cur: dict[str, int] = {}
        self._prev: dict[str, int] = {}
        self._turn_ns = 0

    def sample(self, venue: str, recv_ns: int, venue_ns: int | None) -> None:
        """One message's receipt and SendingTime."""
        if venue_ns is None:
            return
        if recv_ns >= self._turn_ns:
            self._prev, self._cur = self._cur, {}
            self._turn_ns = recv_ns + WINDOW_NS
        d = recv_ns - venue_ns
        cur = self._cur.get(venue)
        if cur is None or d < cur:
            self._cur[venue] = d

    def floor(self, venue: str) -> int | None:
        a, b = self._cur.get(venue), self._prev.get(venue)
        if a is None:
            return b
        return a if b is None or a < b else b

    def age_ns(self, venue: str, venue_ns: int | None, now_ns: int) -> int | None:
        """How old data the venue stamped ``venue_ns`` is now, by the venue's clock; None unknown."""
        f = self.floor(venue)
        if venue_ns is None or f is None:
            return None
        return max(0, now_ns - venue_ns - f)
