"""The simulator's price model and market makers.

Factors move once per step: ``walk`` factors are geometric random walks (the world copper price,
USD/CNH), ``ou`` factors are mean-reverting (each venue's basis to the world price). An instrument's
fair value is a formula over factors plus a little independent noise, so venues move together and
the basis between them drifts, reverts, and crosses thresholds. One seeded generator drives every
draw in a fixed order, so a run is reproducible under ``--seed``.

Market makers quote ``levels`` price levels each side around the fair value. On each step they keep
the levels that are still wanted (their queue position with them), cancel the rest, and post the
missing ones; a level traded below its minimum size is refreshed.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from xmc_fix.sim.config import MarketCfg, SimInstrumentCfg


class PriceModel:
    def __init__(self, cfg: MarketCfg) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.values = {name: f.start for name, f in cfg.factors.items()}
        self.steps = 0
        self.fair: dict[tuple[str, str], float] = {}
        self._insts = [i for v in cfg.venues.values() for i in v.instruments.values()]
        self._compute_fair(noise=False)

    def step(self) -> None:
        g = self.rng.gauss
        for name, f in self.cfg.factors.items():
            x = self.values[name]
            if f.kind == "walk":
                x *= math.exp(f.vol * g(0.0, 1.0))
            else:
                x += f.kappa * (f.mean - x) + f.sigma * g(0.0, 1.0)
            self.values[name] = x
        self.steps += 1
        self._compute_fair(noise=True)

    def _compute_fair(self, noise: bool) -> None:
        g = self.rng.gauss
        for inst in self._insts:
            v = inst.fair(self.values)
            if noise and inst.noise:
                v += inst.noise * g(0.0, 1.0)
            self.fair[(inst.venue, inst.symbol)] = v


def quote_ladder(inst: SimInstrumentCfg, fair: float) -> tuple[list[Decimal], list[Decimal]]:
    """Bid and ask prices a market maker wants around ``fair``, best first, on the tick grid."""
    tick = inst.tick
    mm = inst.mm
    f = Decimal(repr(fair))
    best_bid = (f / tick).to_integral_value(ROUND_FLOOR) * tick - mm.half_spread_ticks * tick
    best_ask = (f / tick).to_integral_value(ROUND_CEILING) * tick + mm.half_spread_ticks * tick
    if best_ask <= best_bid:
        best_ask = best_bid + tick
    gap = mm.gap_ticks * tick
    bids = [(best_bid - k * gap).quantize(tick) for k in range(mm.levels)]
    asks = [(best_ask + k * gap).quantize(tick) for k in range(mm.levels)]
    return [b for b in bids if b > 0], asks
