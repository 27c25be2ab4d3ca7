"""What each account holds at a simulated venue: the venue's own book of positions, the truth a
client's view is compared against.

Holdings are kept per (account, symbol) in four buckets: long and short, opened today and carried
from before today ("yesterday"). On a venue with open/close (``position_effect``, SHFE-style) an
order says which bucket it opens or closes, and a close may only take what the bucket holds (less
what working close orders have reserved). Every other venue nets: a buy first covers shorts
(yesterday's, then today's) and only the rest is a new long; a sell the same the other way.

A busted or corrected trade is undone here as well (:meth:`Position.reverse`); the venue's end of
day turns today's holdings into yesterday's (:meth:`Position.roll`). What the venue reports to a
client (PositionReport, the JSON written at stop) is :meth:`Position.as_dict`.

This module keeps quantities only: no cost basis, no P&L, no margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from xmc_fix.tomlsection import Section
from xmc_fix.domain.enums import PositionEffect, Side

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class InitialPosition:
    """A holding the account had before the simulator (and the engine) started, in lots."""

    venue: str
    account: str
    symbol: str
    long: Decimal = ZERO          # carried from before today
    short: Decimal = ZERO
    long_today: Decimal = ZERO    # opened earlier today, before the engine started
    short_today: Decimal = ZERO


@dataclass(slots=True)
class Position:
    long_today: Decimal = ZERO
    long_yday: Decimal = ZERO
    short_today: Decimal = ZERO
    short_yday: Decimal = ZERO
    frozen: dict = field(default_factory=dict)  # bucket name -> lots reserved by working close orders

    @classmethod
    def initial(cls, p: InitialPosition) -> "Position":
        return cls(long_today=p.long_today, long_yday=p.long, short_today=p.short_today, short_yday=p.short)

    # -- queries -----------------------------------------------------------------------------
    @staticmethod
    def bucket(side: Side, pe: PositionEffect | None) -> str | None:
        """Which holding a closing order draws on (selling closes longs, buying closes shorts)."""
        if pe is None or pe is PositionEffect.OPEN:
            return None
        held = "long" if side is Side.SELL else "short"
        return f"{held}_{'today' if pe is PositionEffect.CLOSE_TODAY else 'yday'}"

    def available(self, bucket: str) -> Decimal:
        return getattr(self, bucket) - self.frozen.get(bucket, ZERO)

    @property
    def long(self) -> Decimal:
        return self.long_today + self.long_yday

    @property
    def short(self) -> Decimal:
        return self.short_today + self.short_yday

    @property
    def net(self) -> Decimal:
        return self.long - self.short

    @property
    def empty(self) -> bool:
        return not (self.long_today or self.long_yday or self.short_today or self.short_yday)

    def as_dict(self) -> dict[str, str]:
        """Decimals as text, for JSON and reports."""
        return {"long_today": _txt(self.long_today), "long_yday": _txt(self.long_yday),
                "short_today": _txt(self.short_today), "short_yday": _txt(self.short_yday),
                "net": _txt(self.net)}

    # -- changes -----------------------------------------------------------------------------
    def trade(self, side: Side, qty: Decimal, pe: PositionEffect | None, *, netting: bool) -> None:
        """Apply a fill of ``qty`` lots."""
        if netting:
            self._net_trade(side, qty)
            return
        bucket = self.bucket(side, pe)
        if bucket is None:
            name = "long_today" if side is Side.BUY else "short_today"
            setattr(self, name, getattr(self, name) + qty)
        else:
            setattr(self, bucket, getattr(self, bucket) - qty)
            self.frozen[bucket] = self.frozen.get(bucket, ZERO) - qty

    def reverse(self, side: Side, qty: Decimal, pe: PositionEffect | None, *, netting: bool) -> None:
        """Undo ``qty`` lots of an earlier fill (a trade bust, or a correction to a smaller
        quantity). A close is undone into the bucket it took from; an opening fill comes off what
        the side holds, today's first, and what is no longer there (it was closed since) becomes a
        holding on the other side."""
        if netting:
            self._net_trade(side.opposite, qty)
            return
        bucket = self.bucket(side, pe)
        if bucket is not None:
            setattr(self, bucket, getattr(self, bucket) + qty)
            return
        held, other = ("long", "short") if side is Side.BUY else ("short", "long")
        rest = qty
        for name in (f"{held}_today", f"{held}_yday"):
            take = min(getattr(self, name), rest)
            setattr(self, name, getattr(self, name) - take)
            rest -= take
        if rest > 0:
            setattr(self, f"{other}_today", getattr(self, f"{other}_today") + rest)

    def roll(self) -> None:
        """The venue's end of day: today's holdings are carried as yesterday's."""
        self.long_yday += self.long_today
        self.short_yday += self.short_today
        self.long_today = self.short_today = ZERO

    def _net_trade(self, side: Side, qty: Decimal) -> None:
        covered, added = ("short", "long") if side is Side.BUY else ("long", "short")
        rest = qty
        for name in (f"{covered}_yday", f"{covered}_today"):
            take = min(getattr(self, name), rest)
            setattr(self, name, getattr(self, name) - take)
            rest -= take
        if rest > 0:
            setattr(self, f"{added}_today", getattr(self, f"{added}_today") + rest)


def load_positions(file: str, key: str, tables: list[dict], venues: dict,
                   venue: str | None = None) -> list[InitialPosition]:
    """Initial holdings from TOML tables: a scenario's ``[[position]]`` (each naming its ``venue``)
    or a market file's ``[[venues.NAME.positions]]`` (``venue`` given). Keys: ``account``,
    ``symbol``, and lots ``long`` / ``short`` (carried from before today), ``long_today`` /
    ``short_today`` (opened earlier today); ``venues`` maps names to venue settings."""
    out = []
    for i, raw in enumerate(tables):
        s = Section(file, f"{key}[{i}]", raw)
        name = venue if venue is not None else s.str("venue")
        if name not in venues:
            raise s.error("venue", f"unknown venue {name!r}", f"use one of {', '.join(venues)}")
        symbol = s.str("symbol")
        if symbol not in venues[name].instruments:
            raise s.error("symbol", f"{name} has no instrument {symbol!r}",
                          f"use one of {', '.join(venues[name].instruments)}")
        p = InitialPosition(name, s.str("account"), symbol,
                            long=s.dec("long", ZERO, nonneg=True), short=s.dec("short", ZERO, nonneg=True),
                            long_today=s.dec("long_today", ZERO, nonneg=True),
                            short_today=s.dec("short_today", ZERO, nonneg=True))
        s.check_unknown()
        if not venues[name].position_effect and (p.long + p.long_today) and (p.short + p.short_today):
            raise s.error("short", f"{name} nets positions: an account is long or short there, not both",
                          "give the net holding as long or short")
        out.append(p)
    return out


def _txt(d: Decimal) -> str:
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"
