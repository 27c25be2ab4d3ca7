"""Venue behaviours for the simulator: the ways real venues make paired trading hard.

A scenario (README "Scenarios") gives each venue seeded rates — rejects, partial fills,
acknowledgement and fill latency, duplicate and out-of-order reports, fills reported after their
cancel, dropped connections — and an optional script of actions for particular orders ("reject the
1st order at LME"). Built in: ``calm`` (nothing) and ``chaos`` (sessions/scenarios/chaos.toml).
The same seed gives the same decisions for the same sequence of orders.

:meth:`Behaviour.plan` decides what happens to one new order; :mod:`xmc_fix.sim.exchange` carries
it out.
"""

from __future__ import annotations

import random
import tomllib
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xmc_fix.config import _Section
from xmc_fix.errors import ConfigError

ACTIONS = ("reject", "partial", "delay", "duplicate", "reorder", "late_fill", "disconnect", "fill")


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """What the venue does with one new order (all defaults: behave normally)."""

    reject: bool = False
    partial: Decimal | None = None      # share of the quantity that may fill (IOC / market)
    ack_ms: float = 0.0                 # every report of the order is held this long
    fill_ms: float = 0.0                # trade reports are held this much longer
    duplicate: bool = False             # every report sent twice, the copy with PossResend=Y
    reorder: bool = False               # trade reports overtake the acknowledgement
    late_fill: bool = False             # Canceled (CumQty 0) first, the fills after it
    late_ms: float = 150.0
    disconnect: bool = False            # drop the session with this order's reports in flight

    @property
    def normal(self) -> bool:
        return self == NORMAL


NORMAL = OrderPlan()


@dataclass(frozen=True, slots=True)
class Rates:
    reject_rate: float = 0.0
    partial_fill_rate: float = 0.0
    partial_fill_fraction: Decimal = Decimal("0.5")
    ack_latency_ms: tuple[float, float] = (0.0, 0.0)
    fill_latency_ms: tuple[float, float] = (0.0, 0.0)
    duplicate_rate: float = 0.0
    out_of_order_rate: float = 0.0
    late_fill_rate: float = 0.0
    late_fill_ms: float = 150.0
    drop_every_orders: int = 0          # drop the session at every N-th order (0: never)
    md_freeze_s: tuple[float, float] | None = None   # no market data from the venue in this window
                                                     # (seconds after the simulator started)


@dataclass(frozen=True, slots=True)
class ScriptStep:
    order: int | None                   # the n-th new order at the venue (1-based)
    every: int | None                   # or every n-th
    action: str
    fraction: Decimal = Decimal("0.5")
    ms: float = 0.0


@dataclass
class Behaviour:
    venue: str
    rates: Rates
    script: list[ScriptStep] = field(default_factory=list)
    seed: int = 0
    orders: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed ^ zlib.crc32(self.venue.encode()))

    def plan(self) -> OrderPlan:
        """Decide for the next new order at this venue (call once per order, in arrival order)."""
        self.orders += 1
        n = self.orders
        r = self.rates
        u = self.rng.random
        # Draw every variable for every order, so one rate change does not shift the others.
        draws = [u() for _ in range(6)]
        ack = self.rng.uniform(*r.ack_latency_ms)
        fill = self.rng.uniform(*r.fill_latency_ms)
        kw = dict(
            reject=draws[0] < r.reject_rate,
            partial=r.partial_fill_fraction if draws[1] < r.partial_fill_rate else None,
            ack_ms=ack, fill_ms=fill,
            duplicate=draws[2] < r.duplicate_rate,
            reorder=draws[3] < r.out_of_order_rate,
            late_fill=draws[4] < r.late_fill_rate, late_ms=r.late_fill_ms,
            disconnect=bool(r.drop_every_orders) and n % r.drop_every_orders == 0,
        )
        for step in self.script:
            if step.order == n or (step.every and n % step.every == 0):
                a = step.action
                if a == "fill":
                    kw.update(reject=False, partial=None)
                elif a == "reject":
                    kw["reject"] = True
                elif a == "partial":
                    kw["partial"] = step.fraction
                elif a == "delay":
                    kw["ack_ms"] = step.ms
                elif a == "late_fill":
                    kw["late_fill"] = True
                    if step.ms:
                        kw["late_ms"] = step.ms
                else:  # duplicate, reorder, disconnect
                    kw[a] = True
        return OrderPlan(**kw)


def load_scenario(name_or_path: str, market, *, search_dir: str | Path) -> dict[str, Behaviour]:
    """Behaviours per venue of ``market`` for a scenario name (``calm``, ``chaos``, or a file under
    ``search_dir``) or a path to a scenario file."""
    if name_or_path in ("", "calm", None):
        return {}
    p = Path(name_or_path)
    if not p.is_file():
        p = Path(search_dir) / f"{name_or_path}.toml"
    if not p.is_file():
        known = sorted(x.stem for x in Path(search_dir).glob("*.toml")) if Path(search_dir).is_dir() else []
        raise ConfigError(f"unknown scenario {name_or_path!r}", key="--scenario",
                          remedy=f"use calm, {', '.join(known) or 'chaos'}, or a scenario file path")
    file = str(p)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=file) from None
    top = _Section(file, "", data)
    top.used |= {"default", "venues", "script", "description"}
    top.check_unknown()
    default = _rates(_Section(file, "default", data.get("default", {})), Rates())
    out: dict[str, Behaviour] = {}
    venues = data.get("venues", {})
    for v in venues:
        if v not in market.venues:
            raise ConfigError(f"unknown venue {v!r}", file=file, key=f"venues.{v}",
                              remedy=f"use one of {', '.join(market.venues)}")
    scripts: dict[str, list[ScriptStep]] = {}
    for i, raw in enumerate(data.get("script", [])):
        s = _Section(file, f"script[{i}]", raw)
        venue = s.str("venue")
        if venue not in market.venues:
            raise s.error("venue", f"unknown venue {venue!r}", f"use one of {', '.join(market.venues)}")
        order = s.int("order", None, minimum=1)
        every = s.int("every", None, minimum=1)
        if (order is None) == (every is None):
            raise s.error("order", "give exactly one of order = N or every = N")
        step = ScriptStep(order, every, s.str("action", choices=ACTIONS),
                          fraction=s.dec("fraction", Decimal("0.5"), positive=True), ms=float(s.dec("ms", Decimal(0), nonneg=True)))
        s.check_unknown()
        scripts.setdefault(venue, []).append(step)
    for v in market.venues:
        rates = _rates(_Section(file, f"venues.{v}", venues.get(v, {})), default)
        out[v] = Behaviour(v, rates, scripts.get(v, []), seed=market.seed)
    return out


def _window(s: _Section, key: str, dflt):
    v = s.raw(key, None)
    if v is None:
        return dflt
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, Decimal)) for x in v) and 0 <= v[0] < v[1]:
        return (float(v[0]), float(v[1]))
    raise s.error(key, f"expected [start, end] seconds after the simulator started, got {v!r}")


def _rates(s: _Section, base: Rates) -> Rates:
    def rng(key: str, dflt: tuple[float, float]) -> tuple[float, float]:
        v = s.raw(key, None)
        if v is None:
            return dflt
        if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, Decimal)) for x in v) and 0 <= v[0] <= v[1]:
            return (float(v[0]), float(v[1]))
        if isinstance(v, (int, Decimal)) and not isinstance(v, bool) and v >= 0:
            return (float(v), float(v))
        raise s.error(key, f"expected milliseconds or [low, high], got {v!r}")

    def rate(key: str, dflt: float) -> float:
        v = s.dec(key, None, nonneg=True)
        if v is None:
            return dflt
        if v > 1:
            raise s.error(key, f"{v} is not a share between 0 and 1")
        return float(v)

    r = Rates(
        reject_rate=rate("reject_rate", base.reject_rate),
        partial_fill_rate=rate("partial_fill_rate", base.partial_fill_rate),
        partial_fill_fraction=s.dec("partial_fill_fraction", base.partial_fill_fraction, positive=True),
        ack_latency_ms=rng("ack_latency_ms", base.ack_latency_ms),
        fill_latency_ms=rng("fill_latency_ms", base.fill_latency_ms),
        duplicate_rate=rate("duplicate_rate", base.duplicate_rate),
        out_of_order_rate=rate("out_of_order_rate", base.out_of_order_rate),
        late_fill_rate=rate("late_fill_rate", base.late_fill_rate),
        late_fill_ms=float(s.dec("late_fill_ms", Decimal(str(base.late_fill_ms)), nonneg=True)),
        drop_every_orders=s.int("drop_every_orders", base.drop_every_orders, minimum=0),
        md_freeze_s=_window(s, "md_freeze_s", base.md_freeze_s),
    )
    s.check_unknown()
    return r
