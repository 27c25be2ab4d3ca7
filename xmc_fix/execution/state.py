"""The engine's state, in one holder: books, pairs, tickets, orders, positions, trading states.

Like NautilusTrader's Cache: every part of the engine (deciding, running tickets, post-trade risk,
recovery, operator commands) receives this one object and changes it only through the engine thread
(the :class:`~xmc_fix.execution.serial.Serializer`); nothing else holds a second copy. What a
status screen, ``xmc watch``, the web view or the metrics scrape read goes through
:class:`StateView`, which cannot change it (its limits: see there).

It holds no behaviour beyond derived values (a pair's basis position and residual, its effective
trading state): what to do with the state is the other modules' business. Its two big tables,
tickets' progress and orders, keep their own indexes (:mod:`xmc_fix.execution.tables`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from xmc_fix.basis.alignment import Alignment, align
from xmc_fix.basis.pricing import PairPricer
from xmc_fix.config import PairConfig, Strategy
from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import Direction, LegRole, TradingState
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.positions import Ledger
from xmc_fix.domain.tickets import Ticket
from xmc_fix.errors import ConfigError
from xmc_fix.execution.tables import OrderTable, ProgressTable
from xmc_fix.marketdata.book import Book
from xmc_fix.marketdata.freshness import DelayFloor
from xmc_fix.risk.gate import DenyReason
from xmc_fix.risk.states import ScopeState, StateTrigger, effective

ZERO = Decimal(0)


@dataclass(slots=True)
class Holding:
    """Lots one opening ticket left (signed: bought positive), closed by later closing tickets."""

    ticket_id: str
    direction: Direction
    opened_ns: int
    inner_lots: Decimal
    outer_lots: Decimal

    @property
    def empty(self) -> bool:
        return self.inner_lots == 0 and self.outer_lots == 0

    def closed_by(self, direction: Direction) -> bool:
        """Whether a ticket of ``direction`` takes these lots off: selling the basis closes lots
        bought (inner long), buying it closes lots sold. A holding of the other sign only grows."""
        sign = self.inner_lots if self.inner_lots else -self.outer_lots
        return sign > 0 if direction is Direction.SELL_BASIS else sign < 0


@dataclass(slots=True)
class PaperPosition:
    """A shadow pair's position (README "Gray release"): what its shadow tickets left, filled on
    paper, starting from what the pair really held when it went shadow. Never in the ledger: the
    venues' positions, the risk limits and the exposure a stop reports see only what was traded."""

    inner: Instrument
    outer: Instrument
    inner_lots: Decimal = ZERO                 # signed, as PairRuntime.inner_lots
    outer_lots: Decimal = ZERO
    holdings: deque = field(default_factory=deque)

    @property
    def position_units(self) -> Decimal:
        return self.inner.lots_to_units(self.inner_lots)

    @property
    def residual_units(self) -> Decimal:
        return self.inner.lots_to_units(self.inner_lots) + self.outer.lots_to_units(self.outer_lots, self.inner.unit)


def ticket_size(cfg: PairConfig, shadow: bool, live_max_qty: Decimal | None) -> Decimal:
    """The size a pair's opening tickets are aligned for: ``ticket_qty``, capped by the live size cap
    while the pair trades live (a shadow pair decides at the full size: that is what it shows)."""
    if shadow or live_max_qty is None:
        return cfg.ticket_qty
    return min(cfg.ticket_qty, live_max_qty)


@dataclass(slots=True)
class TicketProgress:
    """What the engine tracks about a ticket beyond the domain object: repair attempts and pauses,
    a sequential ticket's second leg, the holding a closing ticket closes."""

    ticket: Ticket
    closes: str | None = None                 # the holding a closing ticket closes
    pending: NewOrder | None = None           # sequential submission: the second leg, not sent yet
    attempts: Counter = field(default_factory=Counter)
    legged_ns: int | None = None
    next_ns: int = 0                          # earliest time for the next repair step
    repairs: list[str] = field(default_factory=list)
    ended_net: tuple[Decimal, Decimal] | None = None   # net lots when last finished (holdings)
    flatten: bool = False                     # a ticket of the flatten path
    superseded: str | None = None             # the flatten ticket that takes over this one's exposure
    episode: int = 0                          # the pair's crossing episode it was decided in (PairRuntime.signals)


@dataclass(slots=True)
class PairRuntime:
    """One pair as the engine runs it: configuration, pricing, its trading state, the ticket in
    progress, the holdings its tickets left, and what the last evaluation saw."""

    cfg: PairConfig
    pricer: PairPricer
    inner: Instrument
    outer: Instrument
    fx_key: tuple[str, str] | None
    fx_max_age_ms: int
    entry: Alignment
    ledger: Ledger
    trading: ScopeState = None                 # the pair's trading state (its holds); set in __post_init__
    active: Ticket | None = None
    holdings: deque = field(default_factory=deque)
    legged: set = field(default_factory=set)   # ids of this pair's tickets being repaired
    flatten_request: tuple | None = None       # (who, detected perf ns) until the flatten path has run
    calendars: tuple = (None, None)            # the legs' market calendars (None: always open)
    market_until_ns: int = 0                   # the legs' market states hold until then
    carry_cache: dict = field(default_factory=dict)
    quiet_screen: tuple | None = None          # best prices, FX, position when nothing last crossed
    last_denial: DenyReason | None = None
    denied: dict | None = None                 # the last denial while it stands: reason, detail, direction, ts_ns
    crossing: str | None = None                # the threshold key the executable basis crosses now (an episode)
    signals: int = 0                           # crossing episodes
    denials: int = 0                           # episodes with at least one refusal
    denied_episode: int = 0
    captured: int = 0                          # episodes in which a ticket completed
    captured_episode: int = 0
    last_basis: tuple[Decimal | None, Decimal | None] = (None, None)
    live_max_qty: Decimal | None = None        # the live size cap now (the strategy's, or set on the engine)
    paper: PaperPosition | None = None         # set while the pair is in shadow mode (its paper position)
    shadow_tickets: int = 0                    # shadow tickets decided this run

    def __post_init__(self) -> None:
        if self.trading is None:
            self.trading = ScopeState(self.cfg.name)

    @property
    def mode(self) -> str:
        """``live`` or ``shadow`` (README "Gray release")."""
        return "live" if self.paper is None else "shadow"

    @property
    def ticket_qty(self) -> Decimal:
        """The size its opening tickets are aligned for now (:func:`ticket_size`)."""
        return ticket_size(self.cfg, self.paper is not None, self.live_max_qty)

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def state(self) -> TradingState:
        """The pair's own state (:meth:`EngineState.pair_state` combines it with the global one)."""
        return self.trading.state

    @property
    def state_reason(self) -> str:
        return self.trading.reason

    @property
    def venues(self) -> tuple[str, ...]:
        return (self.inner.venue, self.outer.venue) + ((self.fx_key[0],) if self.fx_key else ())

    @property
    def inner_lots(self) -> Decimal:
        """Signed lots of the inner leg, net of every fill on this pair (from the ledger)."""
        return self.ledger.leg_lots(self.cfg.name, LegRole.INNER)

    @property
    def outer_lots(self) -> Decimal:
        return self.ledger.leg_lots(self.cfg.name, LegRole.OUTER)

    @property
    def position_units(self) -> Decimal:
        """The basis position in the inner leg's unit: positive long basis (long inner)."""
        return self.inner.lots_to_units(self.inner_lots)

    @property
    def residual_units(self) -> Decimal:
        """Inner minus outer exposure in the inner's unit, signs taken as a basis position:
        long inner plus short outer is matched, zero residual."""
        return self.inner.lots_to_units(self.inner_lots) + self.outer.lots_to_units(self.outer_lots, self.inner.unit)


@dataclass(slots=True)
class EngineStats:
    tickets: int = 0
    fills: dict = field(default_factory=dict)          # venue -> count
    rejects: dict = field(default_factory=dict)        # venue -> count
    orders: dict = field(default_factory=dict)         # venue -> count
    md_updates: int = 0
    duplicates: int = 0
    unknown_reports: int = 0
    legged: int = 0                                     # legging incidents
    decision_to_send_ns: deque = field(default_factory=lambda: deque(maxlen=100_000))   # the latest
    trace: bool = False       # xmc bench: stage timings and market-data lag samples
    stages: list = field(default_factory=list)          # (recv, evaluate, decide, first sent, last sent) ns
    md_lag: list = field(default_factory=list)          # (recv_ns, recv_ns - venue SendingTime) every 16th
    shed: int = 0                                       # evaluations skipped: the data was already too old
    acks: deque = field(default_factory=lambda: deque(maxlen=100_000))  # (venue, send-to-first-ack ns), the latest


# ExecIDs the ledger took are remembered this long (a venue resends at most a session's history, and a
# session lasts a trading day); kept in memory and across journal compactions
ACCOUNTED_KEEP_NS = 3 * 86_400 * 1_000_000_000

class EngineState:
    """Everything the engine knows. Built once from the strategy; changed only on the engine thread."""

    def was_accounted(self, venue: str, exec_id: str | None) -> bool:
        return bool(exec_id) and f"{venue}|{exec_id}" in self.accounted

    def account_for(self, venue: str, exec_id: str | None, now_ns: int) -> None:
        if exec_id:
            self.accounted[f"{venue}|{exec_id}"] = now_ns

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.ledger = Ledger()
        self.trading = ScopeState("global")        # the global trading state (its holds)
        self.books: dict[tuple[str, str], Book] = {}
        self.freshness = DelayFloor()              # how late each venue's data is by its own clock
        self.md_req: dict[tuple[str, str], str] = {}
        self.pairs: dict[str, PairRuntime] = {}
        self.pairs_by_key: dict[tuple[str, str], list[PairRuntime]] = {}
        self.instruments_by_venue: dict[str, list[Instrument]] = {}
        self.instruments_by_key: dict[tuple[str, str], Instrument] = strategy.by_venue_symbol()
        self.tickets: dict[str, Ticket] = {}
        self.progress: ProgressTable = ProgressTable()
        self.orders: OrderTable = OrderTable()
        self.venues_up: set[str] = set()
        self.asked: set[str] = set()               # orders we sent a status request or cancel for
        self.foreign_fills: dict[str, tuple] = {}  # ExecID -> (instrument, side, qty, price, account)
        # every fill, bust and correction the ledger has taken, "VENUE|ExecID" -> receipt ns; kept in the
        # journal across restarts: a venue's resend or a drop copy of one is never counted twice, even
        # when the order it belongs to is long finished and forgotten
        self.accounted: dict[str, int] = {}
        self.breaches: set[tuple[str, str]] = set()   # (kind, scope) alerted and not yet resumed
        self.stats = EngineStats()
        self.stopping = False     # no new tickets; working ones finish and legged ones are repaired
        self.closing = False      # the sessions are closing: nothing more is sent
        self.last_activity_ns = 0  # the last order sent or report applied (the drain waits for quiet)
        self._build()

    def _build(self) -> None:
        s = self.strategy
        for inst in s.instruments.values():
            self.books[inst.key] = Book(inst.venue, inst.symbol)
            self.instruments_by_venue.setdefault(inst.venue, []).append(inst)
        for src in s.fx.values():
            if src.venue and src.symbol and (src.venue, src.symbol) not in self.books:
                fx_inst = Instrument(name=f"FX:{src.name}", venue=src.venue, symbol=src.symbol,
                                     currency=src.quote, contract_size=Decimal(1), unit="unit",
                                     tick=Decimal("0.00001"))
                self.books[fx_inst.key] = Book(src.venue, src.symbol)
                self.instruments_by_venue.setdefault(src.venue, []).append(fx_inst)
        for pc in s.pairs.values():
            inner, outer = s.instruments[pc.inner], s.instruments[pc.outer]
            src = s.fx.get(pc.fx) if pc.fx else None
            pricer = PairPricer(pc, inner, outer, src)
            entry = align(ticket_size(pc, pc.mode == "shadow", pc.live_max_qty), inner, outer,
                          tolerance=pc.residual_tolerance, max_inner_lots=inner.max_order_qty,
                          max_outer_lots=outer.max_order_qty)
            if entry is None:
                raise ConfigError(f"no lot combination of {inner.name} and {outer.name} matches "
                                  f"{pc.ticket_qty} {inner.unit} within {pc.residual_tolerance}",
                                  file=s.path, key=f"pairs.{pc.name}.residual_tolerance",
                                  remedy="raise residual_tolerance or change ticket_qty")
            fx_key = (src.venue, src.symbol) if src is not None and src.rate is None and pricer.needs_fx else None
            pr = PairRuntime(pc, pricer, inner, outer, fx_key, src.max_age_ms if src else 0, entry, self.ledger)
            pr.live_max_qty = pc.live_max_qty
            if pc.mode == "shadow":
                pr.paper = PaperPosition(inner, outer)     # the journal's restore seeds it from what is held
            pr.calendars = tuple(s.calendars.get(i.calendar) if i.calendar else None for i in (inner, outer))
            if not pc.enabled:
                pr.trading.apply(StateTrigger.AUTO_HALT, 0, "disabled in the strategy file", key="config")
            self.pairs[pc.name] = pr
            for key in (inner.key, outer.key) + ((fx_key,) if fx_key else ()):
                self.pairs_by_key.setdefault(key, []).append(pr)

    # -- derived -----------------------------------------------------------------------------
    def pair_state(self, pr: PairRuntime) -> TradingState:
        """A pair's effective state: the more restrictive of its own and the global one."""
        return effective(self.trading.state, pr.trading.state)

    def trading_day(self, inst: Instrument, ns: int) -> int:
        """The trading day ``ns`` falls in at the instrument's venue (its calendar's; without one,
        SHFE/INE's rule: the night session from 21:00 Asia/Shanghai belongs to the next day)."""
        cal = self.strategy.calendars.get(inst.calendar) if inst.calendar else None
        if cal is not None:
            day = cal.trading_day(ns)
            return day.toordinal() if hasattr(day, "toordinal") else day
        return (ns // 1_000_000_000 + 11 * 3600) // 86400   # +8 h to Shanghai, +3 h so 21:00 rolls over

    def pairs_on(self, venue: str) -> list[PairRuntime]:
        return [pr for pr in self.pairs.values() if venue in pr.venues]

    def scope(self, pair: str | None) -> list[PairRuntime]:
        """The pairs an operator command names (all of them for ``None``)."""
        if pair is None:
            return list(self.pairs.values())
        if pair not in self.pairs:
            raise KeyError(f"unknown pair {pair!r}; pairs: {', '.join(self.pairs)}")
        return [self.pairs[pair]]

    def release_finished(self, now_ns: int, retain_ns: int) -> int:
        """Forget tickets that ended more than ``retain_ns`` ago, with their orders: a process that
        runs for weeks stays flat. The audit database and the journal keep them; a report that
        still arrives for a forgotten order is a duplicate if the ledger took its ExecID, else handled as
        one the engine did not send (its fills become foreign lots, alerted and held). ExecIDs older
        than ``ACCOUNTED_KEEP_NS`` are forgotten too. The number of tickets forgotten."""
        if len(self.accounted) > 50_000:
            horizon = now_ns - ACCOUNTED_KEEP_NS
            self.accounted = {k: v for k, v in self.accounted.items() if v >= horizon}
        gone, held = [], []
        for ended, tid in self.progress.expired(now_ns - retain_ns):
            t = self.progress[tid].ticket
            (held if self.pairs[t.pair].active is t else gone).append((ended, tid))
        self.progress.look_again(held)      # still its pair's active ticket
        if not gone:
            return 0
        for _, tid in gone:
            del self.progress[tid]
            self.tickets.pop(tid, None)
            for cl in self.orders.forget_ticket(tid):   # cancels' ClOrdIDs too
                self.asked.discard(cl)
        return len(gone)

    def open_progress(self):
        """Tickets not finished (working, legged or repairing), with their progress: read from the
        table's index of open tickets, never by scanning the finished ones it retains (the timer
        asks several times a tick, and a busy day retains thousands)."""
        return (p for p in list(self.progress.settle().values()) if not p.ticket.state.is_terminal)

    @property
    def working(self) -> bool:
        return any(True for _ in self.open_progress())

    def tickets_by_state(self) -> dict[str, int]:
        """Tickets held (open, and finished within ``retain_finished_ms``) by state."""
        open_ = self.progress.settle()
        counts = Counter(self.progress.finished)
        counts.update(p.ticket.state for p in open_.values())
        return {s.value: n for s, n in counts.items() if n > 0}

    def view(self) -> "StateView":
        return StateView(self)


class _ReadOnly:
    """Views whose attributes cannot be set or deleted (their own slots are filled once, in
    ``__init__``, through ``object.__setattr__``)."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only: cannot set {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is read-only: cannot delete {name!r}")


class ScopeView(_ReadOnly):
    """A trading scope's state, holds and reason, read-only: what :class:`ScopeState` shows without
    ``apply``. Live: it reads the scope as it is now, so one view serves every screen."""

    __slots__ = ("_s",)

    def __init__(self, scope: ScopeState) -> None:
        object.__setattr__(self, "_s", scope)

    scope = property(lambda self: self._s.scope)
    state = property(lambda self: self._s.state)
    reason = property(lambda self: self._s.reason)
    holds = property(lambda self: MappingProxyType(self._s.holds))   # Hold is frozen


class SamplesView(_ReadOnly, Sequence):
    """A bounded deque of latency samples, readable and not changeable: a scrape each second reads
    the new samples without copying a hundred thousand of them on the engine thread."""

    __slots__ = ("_d",)

    def __init__(self, samples: deque) -> None:
        object.__setattr__(self, "_d", samples)

    def __len__(self) -> int:
        return len(self._d)

    def __getitem__(self, i):
        return self._d[i]

    def __iter__(self):
        return iter(self._d)


class StatsView(_ReadOnly):
    """The engine's counters (:class:`EngineStats`), read-only: per-venue counts as read-only
    mappings, the decision-to-send samples as a :class:`SamplesView`."""

    __slots__ = ("_s",)

    def __init__(self, stats: EngineStats) -> None:
        object.__setattr__(self, "_s", stats)

    tickets = property(lambda self: self._s.tickets)
    md_updates = property(lambda self: self._s.md_updates)
    duplicates = property(lambda self: self._s.duplicates)
    unknown_reports = property(lambda self: self._s.unknown_reports)
    legged = property(lambda self: self._s.legged)
    shed = property(lambda self: self._s.shed)
    orders = property(lambda self: MappingProxyType(self._s.orders))
    fills = property(lambda self: MappingProxyType(self._s.fills))
    rejects = property(lambda self: MappingProxyType(self._s.rejects))
    decision_to_send_ns = property(lambda self: SamplesView(self._s.decision_to_send_ns))
    acks = property(lambda self: SamplesView(self._s.acks))


def _read_only_strategy(s: Strategy) -> Strategy:
    """The strategy with its tables as read-only mappings (the strategy itself is frozen; the engine
    never changes it after start-up, so one copy made with the view stays true)."""
    return replace(s, instruments=MappingProxyType(s.instruments), fx=MappingProxyType(s.fx),
                   pairs=MappingProxyType(s.pairs), calendars=MappingProxyType(s.calendars))


class StateView(_ReadOnly):
    """Read-only access to the engine's state for status screens, ``xmc watch``, the web view and
    the metrics scrape.

    Nothing it hands out can change what the engine holds: its own attributes cannot be set,
    collections come as read-only mappings (:class:`~types.MappingProxyType` over the engine's
    own, so they are live and cost no copy), frozensets, tuples or fresh copies, the global trading
    state as a :class:`ScopeView` and the counters as a :class:`StatsView`.

    What is not wrapped: the objects inside those collections are the engine's live objects —
    :class:`PairRuntime` (and its ``trading`` scope), :class:`~xmc_fix.domain.tickets.Ticket`,
    :class:`TicketProgress`, :class:`~xmc_fix.domain.orders.Order`, :class:`~xmc_fix.marketdata.book.Book`.
    Readers read their fields and call only their reading methods; a reader that changed one would
    change the engine. Copying them for every screen or scrape would cost the engine thread more than
    it can spare (the view is read inside the engine's Serializer, between two callbacks), so that
    rule is the readers' to keep.
    """

    __slots__ = ("_s", "_strategy")

    def __init__(self, state: EngineState) -> None:
        object.__setattr__(self, "_s", state)
        object.__setattr__(self, "_strategy", _read_only_strategy(state.strategy))

    strategy = property(lambda self: self._strategy)
    pairs = property(lambda self: MappingProxyType(self._s.pairs))
    books = property(lambda self: MappingProxyType(self._s.books))
    tickets = property(lambda self: MappingProxyType(self._s.tickets))
    progress = property(lambda self: MappingProxyType(self._s.progress))
    settled = property(lambda self: SamplesView(self._s.progress.settled))
    #: ``venue_age_ns(venue, venue_ns, now_ns)``: how old data the venue stamped is, by its clock
    venue_age_ns = property(lambda self: self._s.freshness.age_ns)
    orders = property(lambda self: MappingProxyType(self._s.orders))
    positions = property(lambda self: MappingProxyType(self._s.ledger.positions))
    by_account = property(lambda self: MappingProxyType(self._s.ledger.by_account))   # (account, instrument)
    foreign = property(lambda self: MappingProxyType(self._s.ledger.foreign))          # lots no pair traded
    realised = property(lambda self: MappingProxyType(self._s.ledger.realised))
    venues_up = property(lambda self: frozenset(self._s.venues_up))
    trading = property(lambda self: ScopeView(self._s.trading))
    stats = property(lambda self: StatsView(self._s.stats))
    stopping = property(lambda self: self._s.stopping)

    def pair_state(self, pr: PairRuntime) -> TradingState:
        return self._s.pair_state(pr)

    def scope(self, pair: str | None) -> tuple[PairRuntime, ...]:
        return tuple(self._s.scope(pair))

    def open_progress(self):
        return self._s.open_progress()

    def tickets_by_state(self) -> dict[str, int]:
        return self._s.tickets_by_state()
