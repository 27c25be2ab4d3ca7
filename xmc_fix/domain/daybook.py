"""Lots held by the trading day they were opened, per account and instrument, on venues whose
closes say which day's position they close (SHFE and INE: close today ``T``, close yesterday ``Y``).

Such a venue keeps four buckets per account and contract — long and short, opened today and carried
from an earlier day — and a close may take only what its bucket holds: a close-today of a position
opened yesterday is rejected ("insufficient today position"). The engine keeps the same four buckets
from its own fills (an order's PositionEffect says which bucket it opened or closed), rolls today's
into yesterday's when the instrument's trading day changes, and takes the venue's own numbers (its
PositionReport's SOD and TQ quantities) whenever a reconciliation round compares positions.

:meth:`DayBook.closes` splits a closing quantity by bucket: yesterday's lots first (first in, first
out, what a broker's "close" does on these venues), then today's; what neither holds goes out as a
close-today, for the venue to refuse if it does not hold it either (its refusal is then the truth).

This module keeps quantities only: no prices, no pairs (the ledger has those).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xmc_fix.domain.enums import PositionEffect, Side

ZERO = Decimal(0)


@dataclass(slots=True)
class DayPosition:
    long_today: Decimal = ZERO
    long_yday: Decimal = ZERO
    short_today: Decimal = ZERO
    short_yday: Decimal = ZERO
    day: int | None = None          # the trading day "today" means

    @property
    def net(self) -> Decimal:
        return self.long_today + self.long_yday - self.short_today - self.short_yday

    def roll(self, day: int | None) -> None:
        if day is None:
            return
        if self.day is not None and day != self.day:
            self.long_yday += self.long_today
            self.short_yday += self.short_today
            self.long_today = self.short_today = ZERO
        self.day = day


def _take(have: Decimal, want: Decimal) -> tuple[Decimal, Decimal]:
    """(what is left, what is still wanted) after taking up to ``want`` from ``have``."""
    got = min(max(have, ZERO), want)
    return have - got, want - got


class DayBook:
    def __init__(self) -> None:
        self.positions: dict[tuple[str, str], DayPosition] = {}

    def get(self, account: str | None, instrument: str, day: int | None = None) -> DayPosition:
        p = self.positions.get((account or "", instrument))
        if p is None:
            p = self.positions[(account or "", instrument)] = DayPosition(day=day)
        p.roll(day)
        return p

    def on_fill(self, account: str | None, instrument: str, side: Side, qty: Decimal,
                effect: PositionEffect | None, day: int | None) -> None:
        """Book a fill (``qty`` negative: a bust or correction taking one back, undone as it was done).
        ``effect`` None: an order that said nothing (not ours, or a netting venue): it covers the
        other side first (yesterday's, then today's) and opens today with the rest."""
        p = self.get(account, instrument, day)
        if qty < 0:
            return self._undo(p, side, -qty, effect)
        if effect is PositionEffect.OPEN:
            if side is Side.BUY:
                p.long_today += qty
            else:
                p.short_today += qty
            return
        today_first = effect is PositionEffect.CLOSE_TODAY
        rest = self._close(p, side, qty, today_first)
        if rest and effect is None:           # nothing left to cover: the rest opens today
            if side is Side.BUY:
                p.long_today += rest
            else:
                p.short_today += rest
        elif rest:                            # a close of more than we knew of: the venue allowed it
            self._close_beyond(p, side, rest)

    @staticmethod
    def _close(p: DayPosition, side: Side, qty: Decimal, today_first: bool) -> Decimal:
        """Take ``qty`` off the other side's buckets (the named one first); what could not be taken."""
        if side is Side.SELL:       # a sell closes longs
            if today_first:
                p.long_today, qty = _take(p.long_today, qty)
                p.long_yday, qty = _take(p.long_yday, qty)
            else:
                p.long_yday, qty = _take(p.long_yday, qty)
                p.long_today, qty = _take(p.long_today, qty)
        else:
            if today_first:
                p.short_today, qty = _take(p.short_today, qty)
                p.short_yday, qty = _take(p.short_yday, qty)
            else:
                p.short_yday, qty = _take(p.short_yday, qty)
                p.short_today, qty = _take(p.short_today, qty)
        return qty

    @staticmethod
    def _close_beyond(p: DayPosition, side: Side, qty: Decimal) -> None:
        # our buckets were short of the venue's: the net position still follows the fill
        if side is Side.SELL:
            p.short_today += qty
        else:
            p.long_today += qty

    def _undo(self, p: DayPosition, side: Side, qty: Decimal, effect: PositionEffect | None) -> None:
        if effect is PositionEffect.OPEN:
            # the opened lots go away (today's first: that is where they went)
            self._close(p, Side.SELL if side is Side.BUY else Side.BUY, qty, True)
        elif effect is PositionEffect.CLOSE_TODAY:
            if side is Side.SELL:
                p.long_today += qty
            else:
                p.short_today += qty
        elif effect in (PositionEffect.CLOSE, PositionEffect.CLOSE_YESTERDAY):
            if side is Side.SELL:
                p.long_yday += qty
            else:
                p.short_yday += qty
        else:                       # a netting fill taken back: the opposite fill, netted
            rest = self._close(p, Side.SELL if side is Side.BUY else Side.BUY, qty, True)
            if rest:
                if side is Side.BUY:
                    p.short_today += rest
                else:
                    p.long_today += rest

    def closes(self, account: str | None, instrument: str, side: Side, qty: Decimal,
               day: int | None) -> list[tuple[PositionEffect, Decimal]]:
        """How to close ``qty`` lots with a ``side`` order: [(CLOSE_YESTERDAY, n), (CLOSE_TODAY, m)],
        yesterday's first; whatever the buckets do not hold goes with the close-today part."""
        p = self.get(account, instrument, day)
        yday, today = (p.long_yday, p.long_today) if side is Side.SELL else (p.short_yday, p.short_today)
        from_yday = min(max(yday, ZERO), qty)
        parts = []
        if from_yday:
            parts.append((PositionEffect.CLOSE_YESTERDAY, from_yday))
        if qty - from_yday:
            parts.append((PositionEffect.CLOSE_TODAY, qty - from_yday))
        return parts

    def set(self, account: str | None, instrument: str, long_today: Decimal, long_yday: Decimal,
            short_today: Decimal, short_yday: Decimal, day: int | None) -> None:
        """The venue's own numbers (a PositionReport's TQ and SOD quantities)."""
        self.positions[(account or "", instrument)] = DayPosition(long_today, long_yday, short_today, short_yday,
                                                                  day)

    def snapshot(self) -> list[list]:
        return [[a, i, str(p.long_today), str(p.long_yday), str(p.short_today), str(p.short_yday), p.day]
                for (a, i), p in self.positions.items() if p.net or p.long_today or p.short_today
                or p.long_yday or p.short_yday]

    def load(self, rows: list[list]) -> None:
        for a, i, lt, ly, st, sy, day in rows:
            self.positions[(a, i)] = DayPosition(Decimal(lt), Decimal(ly), Decimal(st), Decimal(sy), day)
