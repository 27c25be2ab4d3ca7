"""A price-level book for one instrument at one venue.

Levels are keyed by price; NEW and CHANGE set a level's size, DELETE removes it. The book knows its
venue time and our receive time of the last change, and RptSeq continuity: an update whose RptSeq
does not follow the last one marks the book invalid (``gap``) until a fresh snapshot arrives,
rather than leaving a silently wrong book.

RptSeq is per instrument and carried per entry. Venues number it two ways, and both are followed:
every entry (a refresh with three entries for one instrument carries n+1, n+2, n+3), or every message
(all its entries for the instrument carry n+1). Either way an update continues the book when its
first entry's number is the book's last plus one; an update wholly at or below the last is a
repeat; anything else is a gap. What the book cannot see is a gap inside one message (its entries
skipping a number): a venue that sends that is broken in a way no client can repair.
"""

from __future__ import annotations

from decimal import Decimal

from xmc_fix.domain.enums import BookAction, BookSide
from xmc_fix.domain.events import BookSnapshot, BookUpdate

ZERO = Decimal(0)


class Book:
    __slots__ = ("venue", "symbol", "_bids", "_asks", "_bid_levels", "_ask_levels", "_best_bid", "_best_ask",
                 "_mid", "rpt_seq", "venue_ns", "recv_ns", "valid", "gap", "updates")

    def __init__(self, venue: str, symbol: str) -> None:
        self.venue = venue
        self.symbol = symbol
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        # read caches, each dropped when its side changes: the sorted levels (for depth), the best
        # level (the evaluation reads it on every update), the mid (an FX book's, on every evaluation)
        self._bid_levels: list[tuple[Decimal, Decimal]] | None = []
        self._ask_levels: list[tuple[Decimal, Decimal]] | None = []
        self._best_bid: tuple[Decimal, Decimal] | None | bool = None
        self._best_ask: tuple[Decimal, Decimal] | None | bool = None
        self._mid: Decimal | None | bool = None
        self.rpt_seq: int | None = None
        self.venue_ns: int | None = None
        self.recv_ns: int = 0
        self.valid = False       # no snapshot yet, or a gap was detected
        self.gap = False
        self.updates = 0

    def apply_snapshot(self, snap: BookSnapshot) -> None:
        self._bids = {px: sz for px, sz in snap.bids if sz > 0}
        self._asks = {px: sz for px, sz in snap.asks if sz > 0}
        self._bid_levels = self._ask_levels = None
        self._best_bid = self._best_ask = self._mid = False
        self.rpt_seq = snap.rpt_seq
        self.venue_ns = snap.venue_ns
        self.recv_ns = snap.recv_ns
        self.valid = True
        self.gap = False
        self.updates += 1

    def apply(self, upd: BookUpdate) -> bool:
        """Apply an incremental refresh; False (and the book invalid) on a sequence gap."""
        last = upd.rpt_seq
        if last is not None and self.rpt_seq is not None:
            first = upd.first_rpt_seq if upd.first_rpt_seq is not None else last
            if first != self.rpt_seq + 1:
                if last <= self.rpt_seq:
                    return True  # a repeat of something already applied
                self.valid = False
                self.gap = True
                return False
        if not self.valid:
            # Incrementals before the first snapshot cannot make a correct book.
            if upd.rpt_seq is not None:
                self.rpt_seq = upd.rpt_seq
            return False
        bids, asks, delete, bid = self._bids, self._asks, BookAction.DELETE, BookSide.BID
        for e in upd.entries:
            if e.side is bid:
                levels = bids
                self._bid_levels = None
                self._best_bid = False
            else:
                levels = asks
                self._ask_levels = None
                self._best_ask = False
            if e.action is delete or e.size <= 0:
                levels.pop(e.price, None)
            else:
                levels[e.price] = e.size
        self._mid = False
        if upd.rpt_seq is not None:
            self.rpt_seq = upd.rpt_seq
        self.venue_ns = upd.venue_ns
        self.recv_ns = upd.recv_ns
        self.updates += 1
        return True

    def invalidate(self) -> None:
        self.valid = False

    @property
    def bids(self) -> list[tuple[Decimal, Decimal]]:
        """Bid levels, best (highest) first."""
        if self._bid_levels is None:
            self._bid_levels = sorted(self._bids.items(), reverse=True)
        return self._bid_levels

    @property
    def asks(self) -> list[tuple[Decimal, Decimal]]:
        """Ask levels, best (lowest) first."""
        if self._ask_levels is None:
            self._ask_levels = sorted(self._asks.items())
        return self._ask_levels

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        b = self._best_bid
        if b is False:
            if self._bid_levels is not None:
                b = self._bid_levels[0] if self._bid_levels else None
            else:       # the best alone: no need to sort the side
                b = (px := max(self._bids), self._bids[px]) if self._bids else None
            self._best_bid = b
        return b

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        a = self._best_ask
        if a is False:
            if self._ask_levels is not None:
                a = self._ask_levels[0] if self._ask_levels else None
            else:
                a = (px := min(self._asks), self._asks[px]) if self._asks else None
            self._best_ask = a
        return a

    def mid(self) -> Decimal | None:
        m = self._mid
        if m is False:
            b, a = self.best_bid(), self.best_ask()
            m = self._mid = None if b is None or a is None else (b[0] + a[0]) / 2
        return m

    def top(self) -> tuple:
        """((bid, size), (ask, size)) for the record; ``None`` for an empty side."""
        return (self.best_bid(), self.best_ask())

    def age_ns(self, now_ns: int) -> int:
        return now_ns - self.recv_ns
