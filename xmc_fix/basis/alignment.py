"""Quantity alignment: integer lots on each leg that match in underlying units.

Five SHFE lots (5 x 5 t) match one LME lot (25 t) exactly; SHFE tonnes against COMEX pounds
(1 HG lot = 25,000 lb = 11.3398 t) never match exactly, so for a target tonnage we choose the lot
pair that trades the most matched quantity without exceeding the target, and among those the
smallest residual, within the pair's tolerance. The residual is stated, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from xmc_fix.domain.instruments import Instrument

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Alignment:
    inner_lots: Decimal
    outer_lots: Decimal
    inner_units: Decimal
    outer_units: Decimal
    unit: str

    @property
    def residual(self) -> Decimal:
        """Inner minus outer, in ``unit`` (positive: the inner leg is larger)."""
        return self.inner_units - self.outer_units

    @property
    def matched(self) -> Decimal:
        return min(self.inner_units, self.outer_units)

    @property
    def error(self) -> Decimal:
        """Relative alignment error: |residual| over the larger leg."""
        big = max(self.inner_units, self.outer_units)
        return abs(self.residual) / big if big else ZERO


def _lots_grid(inst: Instrument, upto_lots: Decimal) -> list[Decimal]:
    step = inst.lot_step
    n = inst.min_qty
    # round min_qty up onto the step grid
    n = (n / step).to_integral_value(ROUND_CEILING) * step
    out = []
    while n <= upto_lots:
        out.append(n)
        n += step
    return out


def align(target: Decimal, inner: Instrument, outer: Instrument, *, tolerance: Decimal,
          carry: Decimal = ZERO, max_inner_lots: Decimal | None = None,
          max_outer_lots: Decimal | None = None) -> Alignment | None:
    """Best lot pair for ``target`` underlying units (in the inner leg's unit).

    Both legs stay at or below ``target + tolerance``; ``|residual + carry| <= tolerance``; among
    those, the largest matched quantity, then the smallest ``|residual + carry|``, then the fewest
    lots. ``carry`` is a residual brought forward from earlier tickets (policy "carry"), which this
    ticket may offset. ``None`` if no combination fits.
    """
    unit = inner.unit
    a = inner.lots_to_units(Decimal(1), unit)
    b = outer.lots_to_units(Decimal(1), unit)
    cap = target + tolerance
    max_i = (cap / a).to_integral_value(ROUND_FLOOR)
    max_o = (cap / b).to_integral_value(ROUND_FLOOR)
    if max_inner_lots is not None:
        max_i = min(max_i, max_inner_lots)
    if max_outer_lots is not None:
        max_o = min(max_o, max_outer_lots)
    best: tuple | None = None
    inner_grid = _lots_grid(inner, max_i)
    for n in _lots_grid(outer, max_o):
        ou = n * b
        # The best inner lots for this n are among: those nearest the outer quantity net of carry
        # (smallest residual), those nearest the outer quantity itself (most matched), and the most
        # the tolerance allows (most matched when a carry or a lot limit keeps the others out of
        # reach); each on the inner's grid and clamped to it.
        ideal = (ou - carry) / a
        candidates = {_snap(ideal, inner, ROUND_FLOOR), _snap(ideal, inner, ROUND_CEILING),
                      _snap(ou / a, inner, ROUND_FLOOR), _snap(ou / a, inner, ROUND_CEILING),
                      _snap((ou - carry + tolerance) / a, inner, ROUND_FLOOR)}
        for m in {min(max(m, inner_grid[0]), inner_grid[-1]) for m in candidates if m is not None and inner_grid}:
            iu = m * a
            res = abs(iu - ou + carry)
            if res > tolerance:
                continue
            key = (min(iu, ou), -res, -(m + n))
            if best is None or key > best[0]:
                best = (key, m, n, iu, ou)
    if best is None:
        return None
    _, m, n, iu, ou = best
    return Alignment(m, n, iu, ou, unit)


def smallest_size(inner: Instrument, outer: Instrument, *, tolerance: Decimal, upto: Decimal,
                  max_inner_lots: Decimal | None = None, max_outer_lots: Decimal | None = None) -> Decimal | None:
    """The smallest size, in the inner leg's unit and at most ``upto``, that :func:`align` finds lots
    for: the size to suggest when a smaller one cannot be traded (None: nothing up to ``upto``)."""
    unit = inner.unit
    sizes = set()
    for inst, most in ((inner, max_inner_lots), (outer, max_outer_lots)):
        size = inst.lots_to_units(Decimal(1), unit)
        limit = (upto + tolerance) / size
        sizes |= {n * size for n in _lots_grid(inst, limit if most is None else min(limit, most))}
    for target in sorted(s for s in sizes if s <= upto):
        if align(target, inner, outer, tolerance=tolerance, max_inner_lots=max_inner_lots,
                 max_outer_lots=max_outer_lots) is not None:
            return target
    return None


def _snap(lots: Decimal, inst: Instrument, rounding) -> Decimal | None:
    if lots < 0:
        return None
    step = inst.lot_step
    return (lots / step).to_integral_value(rounding) * step
