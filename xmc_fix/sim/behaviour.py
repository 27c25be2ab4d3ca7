"""Venue behaviours for the simulator: the ways real venues make paired trading hard.

A scenario (README "Scenarios") gives each venue seeded rates — rejects, partial fills,
acknowledgement and fill latency, duplicate and out-of-order reports, fills reported after their
cancel, dropped connections; and what a venue does on its own: trade busts and corrections,
restatements, done for day, unsolicited cancels, suspensions, expiries, a gateway that goes silent
or a connection that goes quiet, reports withheld from the order session (the drop copy still gets
them), orders from another terminal on the same account — and an optional script of actions for
particular orders ("reject the 1st order at LME", "bust the 2nd order's fill after 200 ms"). It
may also give positions the accounts held before the simulator started (``[[position]]``).
Built in: ``calm`` (nothing) and ``chaos`` (sessions/scenarios/chaos.toml). The same seed gives the
same decisions for the same sequence of orders; the venue-side rates draw from a generator of
their own, so adding them to a scenario changes none of its other decisions.

:meth:`Behaviour.plan` decides what happens to one new order; :mod:`xmc_fix.sim.orders` and
:mod:`xmc_fix.sim.venue_events` carry it out. Session-level faults (``[[fault]]``: dropped
connections, skipped sequence numbers, garbled messages, bad checksums, wrong CompIDs, stale
SendingTimes) are parsed here into :class:`FaultSpec` and carried out on the wire by
:mod:`xmc_fix.sim.faultproxy`.
"""

from __future__ import annotations

import random
import tomllib
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xmc_fix.errors import ConfigError
from xmc_fix.sim.positions import InitialPosition, load_positions
from xmc_fix.tomlsection import Section

#: What a [[script]] step may do to its order, and the keys each action takes besides venue,
#: action and its trigger (order = N or every = N). README "Scenarios" describes each.
ACTION_KEYS: dict[str, frozenset[str]] = {
    # how the venue answers the order
    "reject": frozenset({"fraction", "ms"}), "partial": frozenset({"fraction", "ms"}),
    "delay": frozenset({"fraction", "ms"}), "duplicate": frozenset({"fraction", "ms"}),
    "reorder": frozenset({"fraction", "ms"}), "late_fill": frozenset({"fraction", "ms"}),
    "disconnect": frozenset({"fraction", "ms"}), "fill": frozenset({"fraction", "ms"}),
    "rest": frozenset({"fraction", "ms"}),
    # what the venue does on its own afterwards
    "bust": frozenset({"ms", "fill", "reopen"}),
    "correct": frozenset({"ms", "fill", "fraction", "ticks", "reopen"}),
    "restate": frozenset({"ms", "fraction", "reason"}),
    "done_for_day": frozenset({"ms"}),
    "end_of_day": frozenset({"ms"}),
    "unsolicited_cancel": frozenset({"ms", "reason", "text"}),
    "suspend": frozenset({"ms", "resume_ms"}),
    "expire": frozenset({"ms"}),
    "foreign": frozenset({"ms", "side", "qty", "symbol", "account", "report_to", "position_effect", "ticks"}),
    # the gateway and the connection
    "silent": frozenset({"ms", "held"}),
    "quiet": frozenset({"ms"}),
    "withhold": frozenset({"ms"}),
}
ACTIONS = tuple(ACTION_KEYS)
#: Actions that become a :class:`VenueEvent` (the venue acts on the order after its reports).
EVENT_ACTIONS = frozenset({"bust", "correct", "restate", "done_for_day", "end_of_day", "unsolicited_cancel",
                           "suspend", "expire", "foreign"})
REPORT_TO = ("both", "order", "drop_copy")
HELD = ("deliver", "drop")
FOREIGN_PE = {"open": "O", "close_today": "T", "close_yesterday": "Y"}
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
    events: tuple["VenueEvent", ...] = ()  # what the venue does to the order on its own afterwards
    withhold_ms: float | None = None    # its reports after the ack reach the order session this much
                                        # later (0: never); the drop copy gets them at once
    silent_ms: float | None = None      # from this order on, the session's gateway is silent this long
    silent_keep: bool = True            # ...and then delivers what it held (False: drops it)
    quiet_ms: float | None = None       # from this order on, the whole connection is quiet this long
    rest: bool = False                  # accepted and held unmatched whatever its price and TimeInForce
                                        # (a matching pause): it waits for a cancel or the venue's own act

    @property
    def normal(self) -> bool:
        return self == NORMAL


NORMAL = OrderPlan()


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """Something the venue does on its own to an order (or, for ``foreign`` and ``end_of_day``,
    because of it), ``ms`` after the order's reports went out. Which keys apply to which action:
    :data:`ACTION_KEYS`."""

    action: str
    ms: float = 0.0
    fill: int = 1                       # bust / correct: the order's n-th fill
    fraction: Decimal = Decimal(1)      # correct: share of the fill's quantity that stands;
                                        # restate: share of the open quantity the venue keeps
    ticks: int | None = None            # correct: LastPx moved by this many ticks;
                                        # foreign: a DAY limit this many ticks through the touch
                                        # (negative: behind it, resting); None: a market order
    reason: str | None = None           # ExecRestatementReason (378)
    resume_ms: float = 0.0              # suspend: resumed this long after (0: stays suspended)
    text: str | None = None
    side: str | None = None             # foreign: buy | sell (default: the trigger order's)
    qty: Decimal | None = None          # foreign: quantity (default: the instrument's minimum)
    symbol: str | None = None           # foreign: default the trigger order's
    account: str | None = None          # foreign: default the trigger order's
    report_to: str = "both"             # foreign: both | order (session only) | drop_copy (only)
    position_effect: str | None = None  # foreign on an open/close venue: O (default), T or Y
    reopen: bool = True                 # bust / correct: a filled DAY limit order works again for what
                                        # is gone (FIX's J.1.a); False: it ends Canceled


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
    # What the venue does on its own, as shares of new orders (drawn from their own generator) and
    # delays in ms after the order's reports went out, [low, high].
    bust_rate: float = 0.0              # the order's first fill is busted (Trade Cancel)
    bust_ms: tuple[float, float] = (200.0, 200.0)
    bust_reopen: bool = True            # busts and corrections by rate: see VenueEvent.reopen
    correct_rate: float = 0.0           # the order's first fill is corrected (Trade Correct)
    correct_ms: tuple[float, float] = (200.0, 200.0)
    correct_ticks: int = 1              # ...its price moved this many ticks
    correct_fraction: Decimal = Decimal(1)   # ...this share of its quantity standing
    restate_rate: float = 0.0           # a resting order's quantity is reduced (Restated)
    restate_ms: tuple[float, float] = (200.0, 200.0)
    restate_fraction: Decimal = Decimal("0.5")
    done_for_day_rate: float = 0.0      # a resting DAY order is done for the day
    done_for_day_ms: tuple[float, float] = (200.0, 200.0)
    unsolicited_cancel_rate: float = 0.0  # a resting order is cancelled by the venue
    unsolicited_cancel_ms: tuple[float, float] = (200.0, 200.0)
    suspend_rate: float = 0.0           # a resting order is suspended...
    suspend_ms: tuple[float, float] = (200.0, 200.0)
    resume_ms: tuple[float, float] = (0.0, 0.0)   # ...and resumed this long after (0: never)
    expire_rate: float = 0.0            # a resting order expires
    expire_ms: tuple[float, float] = (200.0, 200.0)
    foreign_rate: float = 0.0           # an order from another terminal trades on the same account
    foreign_ms: tuple[float, float] = (100.0, 100.0)
    foreign_report_to: str = "both"
    silent_rate: float = 0.0            # the order session's gateway goes silent
    silent_ms: tuple[float, float] = (2000.0, 2000.0)
    silent_held: str = "deliver"        # deliver | drop what it held
    quiet_rate: float = 0.0             # the order session's connection goes quiet (no heartbeats)
    quiet_ms: tuple[float, float] = (2000.0, 2000.0)
    withhold_rate: float = 0.0          # the order's reports after its ack skip the order session
    withhold_ms: tuple[float, float] = (0.0, 0.0)  # ...reaching it this much later (0: never)
    end_of_day_s: float | None = None   # the venue's end of day, seconds after the simulator started


@dataclass(frozen=True, slots=True)
class ScriptStep:
    order: int | None                   # the n-th new order at the venue (1-based)
    every: int | None                   # or every n-th
    action: str
    fraction: Decimal = Decimal("0.5")
    ms: float = 0.0
    event: VenueEvent | None = None     # the venue-side actions' parameters
    held: str = "deliver"               # silent: deliver | drop


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
    positions: list[InitialPosition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed ^ zlib.crc32(self.venue.encode()))
        self.truth_rng = random.Random(self.seed ^ zlib.crc32(b"truth:" + self.venue.encode()))

    @property
    def may_go_quiet(self) -> bool:
        """Can this venue's connections go quiet (then it is served through a fault proxy)?"""
        return self.rates.quiet_rate > 0 or any(s.action == "quiet" for s in self.script)

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
        events = self._drawn_events(kw)
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
                elif a == "rest":
                    kw.update(rest=True, reject=False, partial=None)
                elif a == "late_fill":
                    kw["late_fill"] = True
                    if step.ms:
                        kw["late_ms"] = step.ms
                elif a in EVENT_ACTIONS:
                    events.append(step.event)
                elif a == "silent":
                    kw.update(silent_ms=step.ms, silent_keep=step.held == "deliver")
                elif a == "quiet":
                    kw["quiet_ms"] = step.ms
                elif a == "withhold":
                    kw["withhold_ms"] = step.ms
                else:  # duplicate, reorder, disconnect
                    kw[a] = True
        return OrderPlan(**kw, events=tuple(events))

    def _drawn_events(self, kw: dict) -> list[VenueEvent]:
        """The venue-side rates for one order, from their own generator: every draw is made for
        every order, so one rate changes no other decision."""
        r = self.rates
        g = self.truth_rng
        draws = [g.random() for _ in range(11)]
        delays = [g.uniform(*span) for span in (r.bust_ms, r.correct_ms, r.restate_ms, r.done_for_day_ms,
                                                 r.unsolicited_cancel_ms, r.suspend_ms, r.expire_ms,
                                                 r.foreign_ms, r.silent_ms, r.quiet_ms, r.withhold_ms,
                                                 r.resume_ms)]
        buy = g.random() < 0.5
        out = []
        if draws[0] < r.bust_rate:
            out.append(VenueEvent("bust", delays[0], reopen=r.bust_reopen))
        if draws[1] < r.correct_rate:
            out.append(VenueEvent("correct", delays[1], fraction=r.correct_fraction, ticks=r.correct_ticks,
                                  reopen=r.bust_reopen))
        if draws[2] < r.restate_rate:
            out.append(VenueEvent("restate", delays[2], fraction=r.restate_fraction))
        if draws[3] < r.done_for_day_rate:
            out.append(VenueEvent("done_for_day", delays[3]))
        if draws[4] < r.unsolicited_cancel_rate:
            out.append(VenueEvent("unsolicited_cancel", delays[4]))
        if draws[5] < r.suspend_rate:
            out.append(VenueEvent("suspend", delays[5], resume_ms=delays[11]))
        if draws[6] < r.expire_rate:
            out.append(VenueEvent("expire", delays[6]))
        if draws[7] < r.foreign_rate:
            out.append(VenueEvent("foreign", delays[7], side="buy" if buy else "sell", report_to=r.foreign_report_to))
        if draws[8] < r.silent_rate:
            kw.update(silent_ms=delays[8], silent_keep=r.silent_held == "deliver")
        if draws[9] < r.quiet_rate:
            kw["quiet_ms"] = delays[9]
        if draws[10] < r.withhold_rate:
            kw["withhold_ms"] = delays[10]
        return out


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
    top.used |= {"default", "venues", "script", "fault", "position", "description"}
    top.check_unknown()
    default = _rates(Section(file, "default", data.get("default", {})), Rates())
    out: dict[str, Behaviour] = {}
    venues = data.get("venues", {})
    for v in venues:
        if v not in market.venues:
            raise ConfigError(f"unknown venue {v!r}", file=file, key=f"venues.{v}",
                              remedy=f"use one of {', '.join(market.venues)}")
    scripts: dict[str, list[ScriptStep]] = {}
    for i, raw in enumerate(_tables(file, data.get("script", []), "script")):
        step, venue = _script_step(Section(file, f"script[{i}]", raw), market)
        scripts.setdefault(venue, []).append(step)
    faults = _faults(file, data.get("fault", []), market)
    positions = load_positions(file, "position", _tables(file, data.get("position", []), "position"), market.venues)
    for v in market.venues:
        rates = _rates(Section(file, f"venues.{v}", venues.get(v, {})), default)
        out[v] = Behaviour(v, rates, scripts.get(v, []), seed=market.seed,
                           faults=[f for f in faults if f.venue == v],
                           positions=[p for p in positions if p.venue == v])
    return out


def _tables(file: str, raw_list, key: str) -> list[dict]:
    if not isinstance(raw_list, list) or not all(isinstance(x, dict) for x in raw_list):
        raise ConfigError(f"expected [[{key}]] tables", file=file, key=key, remedy=f"write each one as [[{key}]]")
    return raw_list


def _script_step(s: Section, market) -> tuple[ScriptStep, str]:
    venue = s.str("venue")
    if venue not in market.venues:
        raise s.error("venue", f"unknown venue {venue!r}", f"use one of {', '.join(market.venues)}")
    order = s.int("order", None, minimum=1)
    every = s.int("every", None, minimum=1)
    if (order is None) == (every is None):
        raise s.error("order", "give exactly one of order = N or every = N",
                      "order = 1 for the first order at the venue, every = 3 for each third")
    action = s.str("action", choices=ACTIONS)
    allowed = ACTION_KEYS[action]
    for k in s.data:
        if k not in allowed and k not in ("venue", "order", "every", "action"):
            raise s.error(k, f"does not apply to action {action!r}",
                          f"{action} takes {', '.join(sorted(allowed)) or 'no other key'}")
    ms = float(s.dec("ms", Decimal(0), nonneg=True))
    if action in ("silent", "quiet") and ms <= 0:
        raise s.error("ms", f"{action} needs how long it lasts", "e.g. ms = 3000")
    fraction = s.dec("fraction", None, positive=True)
    if fraction is not None and action in ("correct", "restate") and fraction > 1:
        raise s.error("fraction", f"{fraction} is not a share of at most 1", "e.g. fraction = 0.5")
    event = None
    if action in EVENT_ACTIONS:
        default_ticks = 1 if action == "correct" else None
        side = s.str("side", None, choices=("buy", "sell"))
        pe = s.str("position_effect", None, choices=tuple(FOREIGN_PE))
        event = VenueEvent(
            action, ms, fill=s.int("fill", 1, minimum=1),
            fraction=fraction if fraction is not None else (Decimal("0.5") if action == "restate" else Decimal(1)),
            ticks=s.int("ticks", default_ticks) if "ticks" in s.data else default_ticks,
            reason=_reason(s), resume_ms=float(s.dec("resume_ms", Decimal(0), nonneg=True)),
            text=s.str("text", None), side=side, qty=s.dec("qty", None, positive=True),
            symbol=s.str("symbol", None), account=s.str("account", None),
            report_to=s.str("report_to", "both", choices=REPORT_TO),
            position_effect=FOREIGN_PE[pe] if pe else None, reopen=s.bool("reopen", True))
        if event.symbol is not None and event.symbol not in market.venues[venue].instruments:
            raise s.error("symbol", f"{venue} has no instrument {event.symbol!r}",
                          f"use one of {', '.join(market.venues[venue].instruments)}")
    step = ScriptStep(order, every, action, fraction=fraction if fraction is not None else Decimal("0.5"), ms=ms,
                      event=event, held=s.str("held", "deliver", choices=HELD))
    s.check_unknown()
    return step, venue


def _reason(s: Section) -> str | None:
    v = s.int("reason", None, minimum=0)
    return None if v is None else str(v)


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

    def share(key: str, dflt: Decimal) -> Decimal:
        v = s.dec(key, None, positive=True)
        if v is None:
            return dflt
        if v > 1:
            raise s.error(key, f"{v} is not a share of at most 1", f"e.g. {key} = 0.5")
        return v

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
        bust_rate=rate("bust_rate", base.bust_rate), bust_ms=rng("bust_ms", base.bust_ms),
        bust_reopen=s.bool("bust_reopen", base.bust_reopen),
        correct_rate=rate("correct_rate", base.correct_rate), correct_ms=rng("correct_ms", base.correct_ms),
        correct_ticks=s.int("correct_ticks", base.correct_ticks),
        correct_fraction=share("correct_fraction", base.correct_fraction),
        restate_rate=rate("restate_rate", base.restate_rate), restate_ms=rng("restate_ms", base.restate_ms),
        restate_fraction=share("restate_fraction", base.restate_fraction),
        done_for_day_rate=rate("done_for_day_rate", base.done_for_day_rate),
        done_for_day_ms=rng("done_for_day_ms", base.done_for_day_ms),
        unsolicited_cancel_rate=rate("unsolicited_cancel_rate", base.unsolicited_cancel_rate),
        unsolicited_cancel_ms=rng("unsolicited_cancel_ms", base.unsolicited_cancel_ms),
        suspend_rate=rate("suspend_rate", base.suspend_rate), suspend_ms=rng("suspend_ms", base.suspend_ms),
        resume_ms=rng("resume_ms", base.resume_ms),
        expire_rate=rate("expire_rate", base.expire_rate), expire_ms=rng("expire_ms", base.expire_ms),
        foreign_rate=rate("foreign_rate", base.foreign_rate), foreign_ms=rng("foreign_ms", base.foreign_ms),
        foreign_report_to=s.str("foreign_report_to", base.foreign_report_to, choices=REPORT_TO),
        silent_rate=rate("silent_rate", base.silent_rate), silent_ms=rng("silent_ms", base.silent_ms),
        silent_held=s.str("silent_held", base.silent_held, choices=HELD),
        quiet_rate=rate("quiet_rate", base.quiet_rate), quiet_ms=rng("quiet_ms", base.quiet_ms),
        withhold_rate=rate("withhold_rate", base.withhold_rate), withhold_ms=rng("withhold_ms", base.withhold_ms),
        end_of_day_s=_seconds(s, "end_of_day_s", base.end_of_day_s),
    )
    s.check_unknown()
    return r


def _seconds(s: Section, key: str, dflt: float | None) -> float | None:
    v = s.dec(key, None, positive=True)
    return dflt if v is None else float(v)
