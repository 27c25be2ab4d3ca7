"""Money for cost figures: a leg's price difference over some lots, in the pair's inner currency.

Costs are counted the way the basis counts them, so that the slippage of both legs adds up to the
change of the basis: an inner-leg price difference times the inner units, an outer-leg price
difference converted like the basis converts the outer price (unit factor x FX x ``tax_factor``;
``cost_per_unit`` cancels in a difference) times the outer leg's units in the inner unit. The FX
rate is the one recorded with the ticket at its decision: FX moves after the decision are not part
of the execution cost here.

Where the figures come from, in order:

1. the strategy file named in the run's ``runs.config`` (or one given explicitly), through
   :class:`~xmc_fix.basis.pricing.PairPricer` and the instruments' contract sizes and ticks;
2. if that file is gone or unreadable, the ticket's own record: ``outer_converted / outer_px`` is
   the outer price's conversion factor per inner unit (exact when the pair's ``cost_per_unit`` is 0)
   and the formula is recognised from ``basis`` against ``inner_px - outer_converted``. Contract
   sizes and ticks are not in the database, so per-unit figures remain and money totals and tick
   counts are missing (NaN); :attr:`Conversions.note` says so.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xmc_fix.errors import XmcError

NAN = float("nan")
INNER, OUTER = "INNER", "OUTER"


def _f(v) -> float:
    if v is None:
        return NAN
    try:
        x = float(v)
    except (TypeError, ValueError):
        return NAN
    return x


@dataclass
class PairConversion:
    """One pair's conversions. Without a strategy (``pricer is None``) it works from the ticket."""

    pair: str
    pricer: object | None = None     # xmc_fix.basis.pricing.PairPricer
    currency: str | None = None      # the inner leg's currency: every money figure is in it
    unit: str | None = None          # the inner leg's unit: every "per unit" figure is per one of it
    thresholds: dict = field(default_factory=dict)

    # -- instruments -------------------------------------------------------------------------
    def _inst(self, leg: str):
        if self.pricer is None:
            return None
        return self.pricer.inner if leg == INNER else self.pricer.outer

    def tick(self, leg: str) -> float:
        inst = self._inst(leg)
        return float(inst.tick) if inst is not None else NAN

    def venue(self, leg: str) -> str | None:
        inst = self._inst(leg)
        return inst.venue if inst is not None else None

    def units(self, leg: str, lots: float) -> float:
        """``lots`` of the leg in the pair's inner unit (NaN without contract sizes)."""
        inst = self._inst(leg)
        if inst is None or lots is None or (isinstance(lots, float) and math.isnan(lots)):
            return NAN
        return float(inst.lots_to_units(Decimal(str(lots)), self.pricer.inner.unit))

    # -- prices ------------------------------------------------------------------------------
    def factor(self, leg: str, ticket) -> float:
        """Inner currency per inner unit for one price unit of the leg, at the ticket's FX."""
        if leg == INNER:
            return 1.0
        p = self.pricer
        if p is not None:
            fx = _f(ticket.get("fx"))
            fxm = 1.0 if p.fx_mode == 0 else (fx if p.fx_mode == 1 else 1.0 / fx)
            return float(p.unit_factor) * fxm * float(p.tax)
        conv, px = _f(ticket.get("outer_converted")), _f(ticket.get("outer_px"))
        return conv / px if px else NAN

    def per_unit(self, leg: str, px_diff: float, ticket) -> float:
        """A price difference on a leg, in inner currency per inner unit."""
        return px_diff * self.factor(leg, ticket)

    def money(self, leg: str, px_diff: float, lots: float, ticket) -> float:
        """A price difference on a leg over ``lots``, in inner currency (NaN without contract sizes)."""
        if lots == 0 and not math.isnan(px_diff):
            return 0.0
        return px_diff * self.factor(leg, ticket) * self.units(leg, lots)

    def is_ratio(self, ticket) -> bool:
        if self.pricer is not None:
            return bool(self.pricer.ratio)
        b, i, c = _f(ticket.get("basis")), _f(ticket.get("inner_px")), _f(ticket.get("outer_converted"))
        return not math.isclose(b, i - c, rel_tol=1e-9, abs_tol=1e-6) and math.isclose(b, i / c if c else NAN,
                                                                                          rel_tol=1e-9)

    def basis(self, inner_px: float, outer_px: float, ticket) -> float:
        """The basis at these leg prices and the ticket's FX (the pair's ``cost_per_unit`` included
        when the strategy is known; from the ticket, ``outer_converted`` scales linearly)."""
        if self.pricer is not None:
            fx = ticket.get("fx")
            fx = Decimal(str(fx)) if fx is not None and not (isinstance(fx, float) and math.isnan(fx)) else None
            try:
                return float(self.pricer.basis(Decimal(str(inner_px)), Decimal(str(outer_px)), fx))
            except (ArithmeticError, TypeError, ValueError):
                return NAN
        conv = outer_px * self.factor(OUTER, ticket)
        return inner_px / conv if self.is_ratio(ticket) else inner_px - conv


@dataclass
class Conversions:
    """Every pair's conversions, and where they came from (reported under ``conversions``)."""

    source: str                       # "strategy" | "ticket"
    strategy_path: str | None
    note: str | None
    pairs: dict[str, PairConversion]

    def for_pair(self, pair: str) -> PairConversion:
        pc = self.pairs.get(pair)
        if pc is None:
            pc = self.pairs[pair] = PairConversion(pair)
        return pc

    def describe(self) -> dict:
        return {"source": self.source, "strategy": self.strategy_path, "note": self.note}


def _sha16(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def load_conversions(run: dict, strategy_path: str | None = None) -> Conversions:
    """Conversions for a run: from ``strategy_path`` if given, else from the strategy file recorded in
    ``runs.config``; from the tickets themselves when neither can be read."""
    from xmc_fix.basis.pricing import PairPricer
    from xmc_fix.config import load_strategy

    recorded_hash = None
    try:
        cfg = json.loads(run.get("config") or "{}")
    except ValueError:
        cfg = {}
    explicit = strategy_path is not None
    path = strategy_path or cfg.get("strategy")
    recorded_hash = cfg.get("strategy_sha256")
    fallback = ("contract sizes and ticks unknown: money totals and tick counts are not computed; "
                "per-unit figures use each ticket's recorded FX and outer_converted/outer_px "
                "(exact when cost_per_unit is 0)")
    if not path:
        return Conversions("ticket", None, "the run records no strategy file; " + fallback, {})
    try:
        strategy = load_strategy(path)
    except XmcError as e:
        return Conversions("ticket", str(path), f"strategy file not usable ({e}); " + fallback, {})
    note = None
    if not explicit and recorded_hash:
        try:
            if _sha16(path) != recorded_hash:
                note = f"{path} changed since the run (sha256 prefix {recorded_hash} recorded); its instruments are used"
        except OSError:
            pass
    pairs = {}
    for name, pc in strategy.pairs.items():
        inner, outer = strategy.instruments[pc.inner], strategy.instruments[pc.outer]
        fx = strategy.fx.get(pc.fx) if pc.fx else None
        try:
            pricer = PairPricer(pc, inner, outer, fx)
        except XmcError:
            continue
        thresholds = {k: float(v) for k, v in (("entry_above", pc.entry_above), ("exit_above", pc.exit_above),
                                               ("entry_below", pc.entry_below), ("exit_below", pc.exit_below))
                      if v is not None}
        pairs[name] = PairConversion(name, pricer, inner.currency, inner.unit, thresholds)
    return Conversions("strategy", str(path), note, pairs)
