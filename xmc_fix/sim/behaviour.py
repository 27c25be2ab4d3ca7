"""Venue behaviours for the simulator: the ways real venues make paired trading hard.

A scenario (README "Scenarios") gives each venue seeded rates — rejects, partial fills,
acknowledgement and fill latency, duplicate and out-of-order reports, fills reported after their
cancel, dropped connections — and an optional script of actions for particular orders ("reject the
1st order at LME"). Built in: ``calm`` (nothing) and ``chaos`` (sessions/scenarios/chaos.toml).
The same seed gives the same decisions for the same sequence of orders.

:meth:`Behaviour.plan` decides what happens to one new order; :mod:`xmc_fix.sim.exchange` carries
it out. Session-level faults (``[[fault]]``: dropped connections, skipped sequence numbers, garbled
messages, bad checksums, wrong CompIDs, stale SendingTimes) are parsed here into
:class:`FaultSpec` and carried out on the wire by :mod:`xmc_fix.sim.faultproxy`.
"""

from __future__ import annotations

import random
import tomllib
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xmc_fix.errors import ConfigError
from xmc_fix.tomlsection import Section

ACTIONS = ("reject", "partial", "delay", "duplicate", "reorder", "late_fill", "disconnect", "fill")
#: Session-level faults a scenario can script (README "Scenarios", ``[[fault]]``).
FAULTS = ("drop", "skip", "garble", "bad_checksum", "wrong_compid", "stale_sending_time")


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


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One ``[[fault]]`` entry: what happens to which venue->client messages of one venue.

    Messages are counted per venue over the whole run (every connection), only those of
    ``msg_type`` when it is given. Exactly one trigger: ``after`` (once: the ``after + 1``-th
    message), ``every`` (each ``every``-th) or ``rate`` (each message with this probability,
    seeded; with ``after``, only once that many messages have passed). ``count`` consecutive
    counted messages are affected from the trigger on (for ``skip``: that many are withheld);
    ``limit`` caps how many times an ``every`` or ``rate`` trigger fires.
    """

    venue: str
    fault: str
    after: int | None = None
    every: int | None = None
    rate: float = 0.0
    count: int = 1
    msg_type: str | None = None
    limit: int | None = None


@dataclass
class Behaviour:
    venue: str
    rates: Rates
    script: list[ScriptStep] = field(default_factory=list)
    seed: int = 0
    orders: int = 0
    faults: list[FaultSpec] = field(default_factory=list)

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
        remedy = f"use calm, {', '.join(known) or 'chaos'}, or a scenario file path"
        if "/" in name_or_path or name_or_path.endswith(".toml"):
            raise ConfigError("file not found", file=name_or_path, key="--scenario", remedy=remedy)
        raise ConfigError(f"unknown scenario {name_or_path!r}", key="--scenario", remedy=remedy)
    file = str(p)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=file, remedy="fix the syntax at that line") from None
    top = Section(file, "", data)
    top.used |= {"default", "venues", "script", "fault", "description"}
    top.check_unknown()
    default = _rates(Section(file, "default", data.get("default", {})), Rates())
    out: dict[str, Behaviour] = {}
    venues = data.get("venues", {})
    for v in venues:
        if v not in market.venues:
            raise ConfigError(f"unknown venue {v!r}", file=file, key=f"venues.{v}",
                              remedy=f"use one of {', '.join(market.venues)}")
    scripts: dict[str, list[ScriptStep]] = {}
    for i, raw in enumerate(data.get("script", [])):
        s = Section(file, f"script[{i}]", raw)
        venue = s.str("venue")
        if venue not in market.venues:
            raise s.error("venue", f"unknown venue {venue!r}", f"use one of {', '.join(market.venues)}")
        order = s.int("order", None, minimum=1)
        every = s.int("every", None, minimum=1)
        if (order is None) == (every is None):
            raise s.error("order", "give exactly one of order = N or every = N",
                          "order = 1 for the first order at the venue, every = 3 for each third")
        step = ScriptStep(order, every, s.str("action", choices=ACTIONS),
                          fraction=s.dec("fraction", Decimal("0.5"), positive=True), ms=float(s.dec("ms", Decimal(0), nonneg=True)))
        s.check_unknown()
        scripts.setdefault(venue, []).append(step)
    faults = _faults(file, data.get("fault", []), market)
    for v in market.venues:
        rates = _rates(Section(file, f"venues.{v}", venues.get(v, {})), default)
        out[v] = Behaviour(v, rates, scripts.get(v, []), seed=market.seed,
                           faults=[f for f in faults if f.venue == v])
    return out


def _faults(file: str, raw_list, market) -> list[FaultSpec]:
    if not isinstance(raw_list, list):
        raise ConfigError("expected [[fault]] tables", file=file, key="fault",
                          remedy='write each fault as [[fault]] with venue, fault and after, every or rate')
    out = []
    for i, raw in enumerate(raw_list):
        if not isinstance(raw, dict):
            raise ConfigError("expected a table", file=file, key=f"fault[{i}]", remedy="write it as [[fault]]")
        s = Section(file, f"fault[{i}]", raw)
        venue = s.str("venue")
        if venue not in market.venues:
            raise s.error("venue", f"unknown venue {venue!r}", f"use one of {', '.join(market.venues)}")
        kind = s.str("fault", choices=FAULTS)
        after = s.int("after", None, minimum=0)
        every = s.int("every", None, minimum=1)
        rate = s.dec("rate", None, nonneg=True)
        if rate is not None and not 0 < rate <= 1:
            raise s.error("rate", f"{rate} is not a share above 0 and at most 1", "e.g. rate = 0.01")
        if every is not None and (after is not None or rate is not None) or \
                (every is None and after is None and rate is None):
            raise s.error("after", "give one trigger: after = N, every = N, or rate = P (optionally with after)",
                          'e.g. after = 40 for the 41st venue->client message')
        count = s.int("count", 1, minimum=1)
        if every is not None and count >= every:
            raise s.error("count", f"{count} consecutive messages do not fit in every = {every}",
                          "lower count or raise every")
        msg_type = s.str("msg_type", None)
        limit = s.int("limit", None, minimum=1)
        if limit is not None and every is None and rate is None:
            raise s.error("limit", "only an every or rate trigger repeats", "remove limit, or use every or rate")
        s.check_unknown()
        out.append(FaultSpec(venue, kind, after=after, every=every, rate=float(rate or 0), count=count,
                             msg_type=msg_type, limit=limit))
    return out


def _window(s: Section, key: str, dflt):
    v = s.raw(key, None)
    if v is None:
        return dflt
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, Decimal)) for x in v) and 0 <= v[0] < v[1]:
        return (float(v[0]), float(v[1]))
    raise s.error(key, f"expected [start, end] seconds after the simulator started, got {v!r}",
                  f"e.g. {key} = [5, 8]")


def _rates(s: Section, base: Rates) -> Rates:
    def rng(key: str, dflt: tuple[float, float]) -> tuple[float, float]:
        v = s.raw(key, None)
        if v is None:
            return dflt
        if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, Decimal)) for x in v) and 0 <= v[0] <= v[1]:
            return (float(v[0]), float(v[1]))
        if isinstance(v, (int, Decimal)) and not isinstance(v, bool) and v >= 0:
            return (float(v), float(v))
        raise s.error(key, f"expected milliseconds or [low, high], got {v!r}", f"e.g. {key} = [0, 15]")

    def rate(key: str, dflt: float) -> float:
        v = s.dec(key, None, nonneg=True)
        if v is None:
            return dflt
        if v > 1:
            raise s.error(key, f"{v} is not a share between 0 and 1", f"e.g. {key} = 0.05")
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
