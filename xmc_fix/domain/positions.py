"""The position ledger: what the engine holds, in one place.

Signed lots (bought positive) per instrument, per account and instrument, and per pair and leg (the
lots each pair's tickets traded, which the pair's basis position and residual are computed from);
average cost per pair and instrument with the P&L each fill realises; lots still working per
instrument and side (the worst case the risk gate adds to a position); on venues whose closes name
the day, the lots by the trading day they were opened (:mod:`xmc_fix.domain.daybook`). The engine changes it on
every fill and order; the risk gate and the operator's views only read it.

It does not decide anything, convert currencies or know about venues' sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from xmc_fix.domain.daybook import DayBook
from xmc_fix.domain.enums import LegRole, PositionEffect, Side
from xmc_fix.domain.instruments import Instrument

ZERO = Decimal(0)


@dataclass
class CostBasis:
    lots: Decimal = ZERO          # signed
    avg: Decimal = ZERO


@dataclass
class Ledger:
    positions: dict[str, Decimal] = field(default_factory=dict)                  # instrument -> lots
    by_account: dict[tuple[str, str], Decimal] = field(default_factory=dict)     # (account, instrument)
    pair_lots: dict[str, list[Decimal]] = field(default_factory=dict)            # pair -> [inner, outer]
    working: dict[tuple[str, Side], Decimal] = field(default_factory=dict)       # (instrument, side) -> lots
    realised: dict[str, Decimal] = field(default_factory=dict)                   # pair -> inner currency
    realised_day: dict[str, int] = field(default_factory=dict)                   # pair -> its trading day
    cost: dict[tuple[str, str], CostBasis] = field(default_factory=dict)         # (pair, instrument)
    #: lots no pair traded: fills of orders the engine did not send, and differences a venue's
    #: position reports showed; (account, instrument) -> signed lots. Nobody's hedge: exposure.
    foreign: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    #: instruments whose closes name the day (SHFE, INE): lots by the trading day they were opened
    days: DayBook = field(default_factory=DayBook)

    # -- reading ------------------------------------------------------------------------------
    def position(self, instrument: str) -> Decimal:
        return self.positions.get(instrument, ZERO)

    def leg_lots(self, pair: str, leg: LegRole) -> Decimal:
        lots = self.pair_lots.get(pair)
        return lots[0 if leg is LegRole.INNER else 1] if lots else ZERO

    def working_lots(self, instrument: str, side: Side) -> Decimal:
        return self.working.get((instrument, side), ZERO)

    def exposure_lots(self, instrument: str) -> Decimal:
        """Gross lots an instrument ties up: the position and every working order, either side."""
        return (abs(self.positions.get(instrument, ZERO)) + self.working.get((instrument, Side.BUY), ZERO)
                + self.working.get((instrument, Side.SELL), ZERO))

    def foreign_lots(self) -> dict[tuple[str, str], Decimal]:
        return {k: v for k, v in self.foreign.items() if v}

    def gross(self, instruments: list[Instrument]) -> Decimal:
        return sum((self.exposure_lots(i.name) for i in instruments), ZERO)

    # -- changing -----------------------------------------------------------------------------
    def add_working(self, inst: Instrument, side: Side, lots: Decimal) -> None:
        key = (inst.name, side)
        self.working[key] = self.working.get(key, ZERO) + lots

    def add_pair_lots(self, pair: str, leg: LegRole, lots: Decimal) -> None:
        """Lots a pair holds without a fill to show for them (restored from the journal)."""
        held = self.pair_lots.setdefault(pair, [ZERO, ZERO])
        held[0 if leg is LegRole.INNER else 1] += lots

    def on_fill(self, pair: str, inst: Instrument, side: Side, qty: Decimal, price: Decimal, *,
                leg: LegRole | None = None, account: str | None = None, effect: PositionEffect | None = None,
                day: int | None = None) -> Decimal:
        """Book a fill; the P&L it realises in the instrument's currency (average cost). ``effect``
        and ``day`` (the instrument's trading day) keep the lots by open day where closes name it."""
        signed = qty * side.sign
        if inst.position_effect:
            self.days.on_fill(account, inst.name, side, qty, effect, day)
        self.positions[inst.name] = self.positions.get(inst.name, ZERO) + signed
        key = (account or "", inst.name)
        self.by_account[key] = self.by_account.get(key, ZERO) + signed
        if leg is not None:
            self.add_pair_lots(pair, leg, signed)
        cb = self.cost.setdefault((pair, inst.name), CostBasis())
        realised = ZERO
        if cb.lots and (cb.lots > 0) != (signed > 0):
            closing = min(abs(signed), abs(cb.lots))
            direction = 1 if cb.lots > 0 else -1
            realised = (price - cb.avg) * closing * direction * inst.contract_size
            cb.lots += closing * (1 if signed > 0 else -1)
            rest = abs(signed) - closing
            if rest:
                cb.lots = rest * (1 if signed > 0 else -1)
                cb.avg = price
            elif cb.lots == 0:
                cb.avg = ZERO
        else:
            total = cb.lots + signed
            cb.avg = (cb.avg * abs(cb.lots) + price * abs(signed)) / abs(total) if total else ZERO
            cb.lots = total
        return realised

    def on_foreign_fill(self, inst: Instrument, side: Side, qty: Decimal, price: Decimal,
                        account: str | None, day: int | None = None) -> None:
        """A fill of an order no pair sent: it moves the instrument's and the account's position and
        is held apart as foreign lots (``qty`` negative to take one back, e.g. a bust)."""
        self.on_fill("", inst, side, qty, price, account=account, day=day)
        key = (account or "", inst.name)
        self.foreign[key] = self.foreign.get(key, ZERO) + qty * side.sign

    def add_realised(self, pair: str, amount: Decimal) -> Decimal:
        """Add realised P&L (inner currency) to a pair; the pair's total for its trading day."""
        total = self.realised[pair] = self.realised.get(pair, ZERO) + amount
        return total

    def roll_day(self, pair: str, day: int) -> bool:
        """A pair's trading day: realised P&L (and so its daily loss limit) starts again from zero at
        the day boundary. True when the day changed."""
        if self.realised_day.get(pair) == day:
            return False
        self.realised_day[pair] = day
        self.realised[pair] = ZERO
        return True

    # -- journal -------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The ledger as plain data (decimals as text), for the journal's compaction."""
        return {"positions": {k: str(v) for k, v in self.positions.items() if v},
                "by_account": [[a, i, str(v)] for (a, i), v in self.by_account.items() if v],
                "pair_lots": {p: [str(x) for x in v] for p, v in self.pair_lots.items()},
                "cost": [[p, i, str(c.lots), str(c.avg)] for (p, i), c in self.cost.items() if c.lots],
                "realised": {p: [str(v), self.realised_day.get(p)] for p, v in self.realised.items()},
                "foreign": [[a, i, str(v)] for (a, i), v in self.foreign.items() if v],
                "days": self.days.snapshot()}

    def load(self, snap: dict) -> None:
        """Take a :meth:`snapshot` back (the ledger starts empty)."""
        self.positions = {k: Decimal(v) for k, v in snap.get("positions", {}).items()}
        self.by_account = {(a, i): Decimal(v) for a, i, v in snap.get("by_account", [])}
        self.pair_lots = {p: [Decimal(x) for x in v] for p, v in snap.get("pair_lots", {}).items()}
        self.cost = {(p, i): CostBasis(Decimal(n), Decimal(avg)) for p, i, n, avg in snap.get("cost", [])}
        self.realised = {p: Decimal(v[0]) for p, v in snap.get("realised", {}).items()}
        self.realised_day = {p: v[1] for p, v in snap.get("realised", {}).items() if v[1] is not None}
        self.foreign = {(a, i): Decimal(v) for a, i, v in snap.get("foreign", [])}
        self.days = DayBook()
        self.days.load(snap.get("days", []))
