"""The executable basis of a pair.

``converted outer = outer price x unit factor x FX x tax factor + cost per unit``, in the inner
leg's currency per inner unit; the basis is ``inner - converted outer`` (spread),
``inner / converted outer`` (ratio), or a user's formula over the named inputs ``inner``, ``outer``,
``outer_converted``, ``fx``, ``unit_factor``, ``tax``, ``cost`` and the pair's own ``inputs``
(:mod:`xmc_fix.basis.formula`: arithmetic only, no code). "Executable" means each leg is priced on the side it would
trade, volume-weighted over the levels the ticket's size needs: selling the basis sells the inner at
its bids and buys the outer at its asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xmc_fix.config import FxSource, PairConfig
from xmc_fix.domain.enums import Direction, Side
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.units import price_factor

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Sweep:
    """The result of taking ``qty`` lots from one side of a book."""

    avg: Decimal      # volume-weighted price over the levels taken
    worst: Decimal    # the last level's price: the limit that fills the whole quantity
    qty: Decimal      # lots available (== requested unless the book is too thin)


def sweep(levels: list[tuple[Decimal, Decimal]], lots: Decimal) -> Sweep | None:
    """Walk ``levels`` (best first) until ``lots`` are covered."""
    if not levels or lots <= 0:
        return None
    need = lots
    notional = ZERO
    worst = levels[0][0]
    for px, size in levels:
        take = size if size < need else need
        notional += take * px
        need -= take
        worst = px
        if need <= 0:
            break
    got = lots - need
    return Sweep(notional / got, worst, got) if got > 0 else None


class PairPricer:
    """Conversion and basis for one pair; built once at start-up, pure afterwards."""

    __slots__ = ("cfg", "inner", "outer", "fx", "unit_factor", "fx_mode", "tax", "cost", "ratio", "formula")

    def __init__(self, cfg: PairConfig, inner: Instrument, outer: Instrument, fx: FxSource | None) -> None:
        self.cfg, self.inner, self.outer, self.fx = cfg, inner, outer, fx
        self.unit_factor = price_factor(outer.unit, inner.unit)
        if inner.currency == outer.currency:
            self.fx_mode = 0          # no conversion
        elif fx is not None and fx.base == outer.currency and fx.quote == inner.currency:
            self.fx_mode = 1          # outer ccy -> inner ccy: multiply (USD x USD/CNH)
        else:
            self.fx_mode = -1         # the FX pair is quoted the other way round: divide
        self.tax = cfg.tax_factor
        self.cost = cfg.cost_per_unit
        self.ratio = cfg.formula == "ratio"
        self.formula = None
        if cfg.formula not in ("spread", "ratio"):
            from xmc_fix.basis.formula import Formula
            from xmc_fix.config import FORMULA_NAMES
            self.formula = Formula(cfg.formula, allowed_names=set(FORMULA_NAMES) | set(cfg.inputs))

    @property
    def needs_fx(self) -> bool:
        return self.fx_mode != 0

    def convert(self, outer_px: Decimal, fx: Decimal | None) -> Decimal:
        """Outer price in inner currency per inner unit, with tax and costs."""
        px = outer_px * self.unit_factor
        if self.fx_mode == 1:
            px *= fx
        elif self.fx_mode == -1:
            px /= fx
        return px * self.tax + self.cost

    def basis(self, inner_px: Decimal, outer_px: Decimal, fx: Decimal | None) -> Decimal:
        return self._basis(inner_px, outer_px, self.convert(outer_px, fx), fx)

    def _basis(self, inner_px: Decimal, outer_px: Decimal, conv: Decimal, fx: Decimal | None) -> Decimal:
        if self.formula is not None:
            env = {"inner": inner_px, "outer": outer_px, "outer_converted": conv, "fx": fx or Decimal(1),
                   "unit_factor": self.unit_factor, "tax": self.tax, "cost": self.cost, **self.cfg.inputs}
            return self.formula(env)
        return inner_px / conv if self.ratio else inner_px - conv

    def executable(self, direction: Direction, inner_book, outer_book, inner_lots: Decimal,
                   outer_lots: Decimal, fx: Decimal | None) -> "Quote | None":
        """The basis this direction would trade at for the given lots, or None (no depth)."""
        if direction is Direction.SELL_BASIS:
            i = sweep(inner_book.bids, inner_lots)
            o = sweep(outer_book.asks, outer_lots)
        else:
            i = sweep(inner_book.asks, inner_lots)
            o = sweep(outer_book.bids, outer_lots)
        if i is None or o is None:
            return None
        conv = self.convert(o.avg, fx)
        return Quote(direction, self._basis(i.avg, o.avg, conv, fx), i, o, conv)


@dataclass(frozen=True, slots=True)
class Quote:
    direction: Direction
    basis: Decimal
    inner: Sweep
    outer: Sweep
    outer_converted: Decimal


def fx_rate(book, source: FxSource) -> Decimal | None:
    """The FX rate a source gives now: fixed, or the mid of its venue's book."""
    if source.rate is not None:
        return source.rate
    if book is None or not book.valid:
        return None
    return book.mid()


def limit_price(inst: Instrument, side: Side, worst: Decimal, ticks: int) -> Decimal:
    """A limit ``ticks`` beyond the worst level a size reaches (above it to buy, below to sell),
    on the instrument's tick grid."""
    px = worst + ticks * inst.tick if side is Side.BUY else worst - ticks * inst.tick
    return inst.round_price(px, side)
