"""The ticket engine: books in, paired orders out, execution reports reconciled, legged tickets
repaired.

Single-threaded by construction: every method here runs inside the :class:`Serializer`, on the
QuickFIX session thread for market data and execution reports, or on the timer thread for
deadlines. Nothing here blocks on the network or touches SQL; the audit sink is a queue and the
journal one ``os.write``.

The hot path is ``on_book_update -> _evaluate -> _start_ticket``: read the two books and the FX
book, price the executable basis for the ticket's precomputed lots, pass the risk gate, journal the
intent, and send both legs' NewOrderSingles back to back from the same callback. Everything written
to the audit trail about the ticket is written after both orders have left.

A ticket's progress is driven by its orders: once none is live and none is uncertain (a timeout or
a disconnect left its outcome unknown and the venue has not yet answered a status request), the
fills decide: matched (COMPLETED), nothing (MISSED), or legged — and a legged ticket is repaired
step by step (:mod:`repair`) until matched, unwound, or given up (FAILED, pair halted, alert).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from xmc_fix.basis.alignment import Alignment, align
from xmc_fix.basis.pricing import PairPricer, Quote, fx_rate
from xmc_fix.clock import Clock
from xmc_fix.config import PairConfig, Strategy
from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, SubscribeMarketData
from xmc_fix.domain.enums import (Direction, LegRole, OrderRole, OrdStatus, OrdType, PositionEffect, Side,
                                  TicketIntent, TimeInForce, TradingState)
from xmc_fix.domain.events import (BookSnapshot, BookUpdate, CancelRejected, ExecReport, MarketDataRejected,
                                   MessageRejected, SessionDown, SessionUp)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import Order
from xmc_fix.domain.tickets import Decision, Leg, Ticket, TicketState, TicketTrigger
from xmc_fix.errors import ConfigError
from xmc_fix.execution import repair
from xmc_fix.execution.journal import JournalState
from xmc_fix.marketdata.book import Book
from xmc_fix.risk.alerts import Alert, Alerter
from xmc_fix.risk.gate import Denial, DenyReason, LegPlan, OrderKind, RiskGate
from xmc_fix.risk.states import ScopeState, StateChange, StateTrigger, effective

log = logging.getLogger("xmc.engine")
ZERO = Decimal(0)
MS = 1_000_000
LIVE_TIF = (TimeInForce.DAY, TimeInForce.GTC)


class OrderSender(Protocol):
    """Where orders go: the QuickFIX sessions in production, a recorder in unit tests."""

    def is_up(self, venue: str) -> bool: ...
    def send_new(self, cmd: NewOrder, now_ns: int) -> bool: ...
    def send_cancel(self, cmd: CancelOrder, now_ns: int) -> bool: ...
    def send_status(self, cmd: QueryOrderStatus) -> bool: ...
    def subscribe(self, cmd: SubscribeMarketData) -> bool: ...


class AuditSink(Protocol):
    run_id: str

    def record(self, table: str, row: dict) -> None: ...
    def event(self, kind: str, ts_ns: int, **kw) -> None: ...


class JournalSink(Protocol):
    def write(self, kind: str, **fields) -> None: ...


class NullJournal:
    def write(self, kind: str, **fields) -> None:
        pass


@dataclass(slots=True)
class Bundle:
    """Lots one opening ticket left (signed: bought positive), closed by later closing tickets."""

    ticket_id: str
    direction: Direction
    opened_ns: int
    inner_lots: Decimal
    outer_lots: Decimal

    @property
    def empty(self) -> bool:
        return self.inner_lots == 0 and self.outer_lots == 0


@dataclass(slots=True)
class Work:
    """What the engine tracks about a ticket beyond the domain object."""

    ticket: Ticket
    closes: str | None = None                 # the bundle a closing ticket closes
    pending: NewOrder | None = None           # sequential submission: the second leg, not sent yet
    attempts: Counter = field(default_factory=Counter)
    legged_ns: int | None = None
    next_ns: int = 0                          # earliest time for the next repair step
    repairs: list[str] = field(default_factory=list)
    ended_net: tuple[Decimal, Decimal] | None = None   # net lots when last finished (bundles)
    flatten: bool = False                     # a ticket of the flatten path
    superseded: str | None = None             # the flatten ticket that takes over this one's exposure


@dataclass(slots=True)
class PairRuntime:
    cfg: PairConfig
    pricer: PairPricer
    inner: Instrument
    outer: Instrument
    fx_key: tuple[str, str] | None
    fx_max_age_ms: int
    entry: Alignment
    hold: ScopeState = None              # the pair's trading state (holds); set in __post_init__
    active: Ticket | None = None
    inner_lots: Decimal = ZERO          # signed, net of every fill on this pair
    outer_lots: Decimal = ZERO
    bundles: deque = field(default_factory=deque)
    legged: set = field(default_factory=set)   # ids of this pair's tickets being repaired
    flatten_request: tuple | None = None       # (who, detected perf ns) until the flatten path has run
    calendars: tuple = (None, None)            # the legs' market calendars (None: always open)
    market_until_ns: int = 0                   # the legs' market states hold until then
    carry_cache: dict = field(default_factory=dict)
    quiet_screen: tuple | None = None          # best prices, FX, position when nothing last crossed
    last_denial: DenyReason | None = None
    signals: int = 0
    denials: int = 0
    last_basis: tuple[Decimal | None, Decimal | None] = (None, None)

    def __post_init__(self) -> None:
        if self.hold is None:
            self.hold = ScopeState(self.cfg.name)

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def state(self) -> TradingState:
        """The pair's own state (the engine combines it with the global one)."""
        return self.hold.state

    @property
    def state_reason(self) -> str:
        return self.hold.reason

    @property
    def venues(self) -> tuple[str, ...]:
        return (self.inner.venue, self.outer.venue) + ((self.fx_key[0],) if self.fx_key else ())

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
    decision_to_send_ns: list = field(default_factory=list)
    trace: bool = False       # xmc bench: stage timings and market-data lag samples
    stages: list = field(default_factory=list)          # (recv, evaluate, decide, first sent, last sent) ns
    md_lag: list = field(default_factory=list)          # (recv_ns, recv_ns - venue SendingTime) every 16th


class Engine:
    def __init__(self, strategy: Strategy, sender: OrderSender, audit: AuditSink, clock: Clock,
                 ids: IdGenerator, journal: JournalSink | None = None, alerter: Alerter | None = None) -> None:
        self.strategy = strategy
        self.sender = sender
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.journal = journal or NullJournal()
        self.alerts = alerter or Alerter(audit, strategy.risk.alerts)
        self.gate = RiskGate(strategy.risk)
        self.hold = ScopeState("global")
        self.account = strategy.engine.account
        self.stopping = False     # no new tickets; working ones finish and legged ones are repaired
        self.closing = False      # the sessions are closing: nothing more is sent (see close())
        self.last_activity_ns = 0  # the last order sent or report applied (the drain waits for quiet)
        self._breaches: set[tuple[str, str]] = set()   # (kind, scope) alerted and not yet resumed
        self.stats = EngineStats()
        self.books: dict[tuple[str, str], Book] = {}
        self.md_req: dict[tuple[str, str], str] = {}
        self.pairs: dict[str, PairRuntime] = {}
        self._pairs_by_key: dict[tuple[str, str], list[PairRuntime]] = {}
        self.tickets: dict[str, Ticket] = {}
        self.work: dict[str, Work] = {}
        self.orders: dict[str, Order] = {}
        self.venues_up: set[str] = set()
        self._asked: set[str] = set()          # orders we sent a status request or cancel for
        self._next_sample_ns = 0
        self._t_eval = 0
        self._instruments_by_venue: dict[str, list[Instrument]] = {}
        self._build()

    # -- construction ----------------------------------------------------------------------
    def _build(self) -> None:
        s = self.strategy
        for inst in s.instruments.values():
            self.books[inst.key] = Book(inst.venue, inst.symbol)
            self._instruments_by_venue.setdefault(inst.venue, []).append(inst)
        for src in s.fx.values():
            if src.venue and src.symbol and (src.venue, src.symbol) not in self.books:
                fx_inst = Instrument(name=f"FX:{src.name}", venue=src.venue, symbol=src.symbol,
                                     currency=src.quote, contract_size=Decimal(1), unit="unit",
                                     tick=Decimal("0.00001"))
                self.books[fx_inst.key] = Book(src.venue, src.symbol)
                self._instruments_by_venue.setdefault(src.venue, []).append(fx_inst)
        for pc in s.pairs.values():
            inner, outer = s.instruments[pc.inner], s.instruments[pc.outer]
            src = s.fx.get(pc.fx) if pc.fx else None
            pricer = PairPricer(pc, inner, outer, src)
            entry = align(pc.ticket_qty, inner, outer, tolerance=pc.residual_tolerance,
                          max_inner_lots=inner.max_order_qty, max_outer_lots=outer.max_order_qty)
            if entry is None:
                raise ConfigError(f"no lot combination of {inner.name} and {outer.name} matches "
                                  f"{pc.ticket_qty} {inner.unit} within {pc.residual_tolerance}",
                                  file=s.path, key=f"pairs.{pc.name}.residual_tolerance",
                                  remedy="raise residual_tolerance or change ticket_qty")
            fx_key = (src.venue, src.symbol) if src is not None and src.rate is None and pricer.needs_fx else None
            pr = PairRuntime(pc, pricer, inner, outer, fx_key, src.max_age_ms if src else 0, entry)
            pr.calendars = tuple(s.calendars.get(i.calendar) if i.calendar else None for i in (inner, outer))
            if not pc.enabled:
                pr.hold.apply(StateTrigger.AUTO_HALT, 0, "disabled in the strategy file", key="config")
            self.pairs[pc.name] = pr
            for key in (inner.key, outer.key) + ((fx_key,) if fx_key else ()):
                self._pairs_by_key.setdefault(key, []).append(pr)

    # -- recovery --------------------------------------------------------------------------
    def restore(self, state: JournalState) -> dict:
        """Load what the journal says is held and still open, before any session is up. Open
        tickets' orders are marked uncertain: the venue is asked about each on logon, and nothing
        is repaired before it answers. Nothing is re-sent."""
        now = self.clock.now_ns()
        restored = {"held": 0, "tickets": 0, "orders": 0}
        for h in state.held:
            pr = self.pairs.get(h["pair"])
            if pr is None:
                log.error("journal holds lots for unknown pair %s; ignored", h["pair"])
                continue
            b = Bundle(h["ticket_id"], Direction(h["direction"]), int(h["opened_ns"]), Decimal(h["inner"]),
                       Decimal(h["outer"]))
            pr.bundles.append(b)
            pr.inner_lots += b.inner_lots
            pr.outer_lots += b.outer_lots
            restored["held"] += 1
        for pair, st in state.pair_states.items():
            pr = self.pairs.get(pair)
            if pr is not None and st.get("state") in (TradingState.HALTED.value, TradingState.REDUCING.value):
                trigger = StateTrigger.HALT if st["state"] == TradingState.HALTED.value else StateTrigger.REDUCE
                pr.hold.apply(trigger, now, st.get("reason", "held before restart"))
        for ot in state.open_tickets.values():
            rec = ot.record
            pr = self.pairs.get(rec["pair"])
            if pr is None:
                log.error("journal has open ticket %s of unknown pair %s", rec["ticket_id"], rec["pair"])
                continue
            t = self._ticket_from_record(pr, rec)
            w = Work(t, closes=rec.get("closes"))
            for o in ot.orders:
                order = self._order_from_record(o, now)
                t.legs[LegRole(o["leg"])].orders.append(order)
                self.orders[order.cl_ord_id] = order
                restored["orders"] += 1
            t.state = TicketState(rec.get("state", "WORKING")) if rec.get("state") else TicketState.WORKING
            if t.state is TicketState.PENDING:
                t.state = TicketState.WORKING
            self.tickets[t.ticket_id] = t
            self.work[t.ticket_id] = w
            pr.active = t
            if t.state in (TicketState.LEGGED, TicketState.REPAIRING):
                pr.legged.add(t.ticket_id)
            restored["tickets"] += 1
            self.audit.event("ticket_recovered", now, pair=pr.name, ticket_id=t.ticket_id,
                             orders=[o["cl_ord_id"] for o in ot.orders])
        return restored

    def _ticket_from_record(self, pr: PairRuntime, rec: dict) -> Ticket:
        d = rec.get("decision", {})
        dec = Decision(ts_ns=int(rec["created_ns"]), basis=Decimal(d.get("basis", "0")),
                       threshold=Decimal(d.get("threshold", "0")), inner_px=Decimal(d.get("inner_px", "0")),
                       outer_px=Decimal(d.get("outer_px", "0")), outer_converted=Decimal(d.get("outer_converted", "0")),
                       fx=Decimal(d.get("fx", "1")), inner_book=(None, None), outer_book=(None, None), fx_age_ns=None,
                       inner_age_ns=0, outer_age_ns=0, planned_residual=Decimal(d.get("planned_residual", "0")))
        direction = Direction(rec["direction"])
        legs = {}
        for role, inst in ((LegRole.INNER, pr.inner), (LegRole.OUTER, pr.outer)):
            legs[role] = Leg(role, inst, direction.side(role), Decimal(rec["lots"][role.value]))
        return Ticket(rec["ticket_id"], pr.name, direction, TicketIntent(rec["intent"]), int(rec["created_ns"]), dec,
                      legs, pr.inner.unit, pr.cfg.residual_tolerance, aim=Decimal(rec.get("aim", "0")))

    def _order_from_record(self, o: dict, now: int) -> Order:
        inst = self.strategy.instruments[o["instrument"]]
        cmd = NewOrder(o["cl_ord_id"], inst, Side(o["side"]), Decimal(o["qty"]), OrdType(o["ord_type"]),
                       Decimal(o["price"]) if o.get("price") is not None else None, TimeInForce(o["tif"]),
                       o.get("account"), PositionEffect(o["position_effect"]) if o.get("position_effect") else None)
        order = Order(cmd, o["ticket_id"], LegRole(o["leg"]), OrderRole(o["role"]), int(o["created_ns"]))
        order.sent_ns = int(o["created_ns"])
        order.uncertain = True
        return order

    def journal_state(self) -> JournalState:
        """What the journal should say now (for compaction after a restore)."""
        from xmc_fix.execution.journal import OpenTicket
        st = JournalState()
        for pr in self.pairs.values():
            for b in pr.bundles:
                if not b.empty:
                    st.held.append({"ticket_id": b.ticket_id, "pair": pr.name, "direction": b.direction.value,
                                    "opened_ns": b.opened_ns, "inner": str(b.inner_lots), "outer": str(b.outer_lots)})
            sticky = [h for h in pr.hold.holds.values() if h.sticky]
            if sticky:
                top = max(sticky, key=lambda h: (h.level is TradingState.HALTED, h.since_ns))
                st.pair_states[pr.name] = {"state": top.level.value, "reason": top.reason}
        for tid, w in self.work.items():
            t = w.ticket
            if not t.state.is_terminal:
                rec = self._ticket_record(t, w)
                st.open_tickets[tid] = OpenTicket(rec, [self._order_record(o) for o in t.orders()])
        return st

    # -- events ----------------------------------------------------------------------------
    def on_event(self, ev) -> None:
        handler = self._dispatch.get(type(ev))
        if handler is None:
            log.warning("engine: no handler for %s", type(ev).__name__)
            return
        handler(self, ev)

    def on_session_up(self, ev: SessionUp) -> None:
        self.venues_up.add(ev.venue)
        self.audit.event("session_up", ev.recv_ns, venue=ev.venue)
        for pr in self.pairs.values():
            if ev.venue in pr.venues:
                self._set_state(pr, StateTrigger.CLEAR, f"{ev.venue} session up", key=f"session:{ev.venue}",
                                t0_perf=time.perf_counter_ns())
        for inst in self._instruments_by_venue.get(ev.venue, []):
            self._subscribe(inst)
        # Orders whose outcome we may have missed while the venue was away: ask, never assume.
        for order in list(self.orders.values()):
            if order.instrument.venue == ev.venue and not order.is_terminal and order.sent_ns:
                self._query(order, "session re-established", force=True)

    def on_session_down(self, ev: SessionDown) -> None:
        self.venues_up.discard(ev.venue)
        for (venue, _), book in self.books.items():
            if venue == ev.venue:
                book.invalidate()
        in_flight = []
        for o in self.orders.values():
            if o.instrument.venue == ev.venue and not o.is_terminal and o.sent_ns:
                o.uncertain = True     # nothing is repaired on a guess: the venue will be asked
                in_flight.append(o.cl_ord_id)
        self.audit.event("session_down", ev.recv_ns, venue=ev.venue, reason=ev.reason, in_flight=in_flight)
        if self.stopping and not in_flight:
            return  # our own logout at the end of a run: nothing to protect, nobody to page
        for pr in self.pairs.values():
            if ev.venue in pr.venues:
                self._set_state(pr, StateTrigger.AUTO_HALT, f"{ev.venue} session down{': ' + ev.reason if ev.reason else ''}",
                                key=f"session:{ev.venue}", t0_perf=time.perf_counter_ns(), alert_kind="session_down",
                                venue=ev.venue)

    def on_book_snapshot(self, snap: BookSnapshot) -> None:
        book = self.books.get((snap.venue, snap.symbol))
        if book is None:
            return self._unknown_instrument(snap.venue, snap.symbol, snap.recv_ns)
        book.apply_snapshot(snap)
        self.stats.md_updates += 1
        for pr in self._pairs_by_key.get((snap.venue, snap.symbol), ()):
            self._evaluate(pr, snap.recv_ns)

    def on_book_update(self, upd: BookUpdate) -> None:
        book = self.books.get((upd.venue, upd.symbol))
        if book is None:
            return self._unknown_instrument(upd.venue, upd.symbol, upd.recv_ns)
        self.stats.md_updates += 1
        if self.stats.trace and not self.stats.md_updates & 15 and upd.venue_ns:
            self.stats.md_lag.append((upd.recv_ns, upd.recv_ns - upd.venue_ns))
        if not book.apply(upd):
            if book.gap:
                book.gap = False
                self.audit.event("md_gap", upd.recv_ns, venue=upd.venue, symbol=upd.symbol,
                                 expected=(book.rpt_seq or 0) + 1, got=upd.rpt_seq)
                inst = next(i for i in self._instruments_by_venue[upd.venue] if i.symbol == upd.symbol)
                self._subscribe(inst)
            return
        for pr in self._pairs_by_key.get((upd.venue, upd.symbol), ()):
            self._evaluate(pr, upd.recv_ns)

    def on_md_reject(self, ev: MarketDataRejected) -> None:
        self.audit.event("md_rejected", ev.recv_ns, venue=ev.venue, md_req_id=ev.md_req_id, reason=ev.reason)
        log.warning("%s rejected market data request %s: %s", ev.venue, ev.md_req_id, ev.reason)

    def on_exec_report(self, er: ExecReport) -> None:
        order = self.orders.get(er.cl_ord_id)
        if order is None and er.orig_cl_ord_id:
            order = self.orders.get(er.orig_cl_ord_id)
        if order is None:
            self.stats.unknown_reports += 1
            self.audit.event("unknown_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=er.cl_ord_id,
                             exec_id=er.exec_id, exec_type=er.exec_type.value)
            return
        before = order.filled_qty
        open_before = _open_qty(order)
        acked = order.ack_ns is not None
        applied = order.apply(er)
        if applied.duplicate:
            self.stats.duplicates += 1
            self.audit.event("duplicate_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=order.cl_ord_id,
                             ticket_id=order.ticket_id, exec_id=er.exec_id, poss_dup=er.poss_dup)
            return
        self.last_activity_ns = er.recv_ns
        if er.cl_ord_id not in self.orders:
            self.orders[er.cl_ord_id] = order  # replaced or cancelled: reachable by its new ClOrdID
        ticket = self.tickets[order.ticket_id]
        pr = self.pairs[ticket.pair]
        venue = order.instrument.venue
        delta = order.filled_qty - before   # positions follow CumQty, so a status reply counts too
        if order.sent_ns is not None:
            self.gate.add_working(order.instrument, order.side, _open_qty(order) - open_before)
        if delta:
            signed = delta if order.side is Side.BUY else -delta
            if order.leg is LegRole.INNER:
                pr.inner_lots += signed
            else:
                pr.outer_lots += signed
            px = applied.fill.price if applied.fill is not None else (order.avg_px or order.command.price or ZERO)
            self._on_position_change(pr, order, delta, px, er.recv_ns)
        if not acked and order.ack_ns is not None and order.sent_ns is not None:
            self._check_ack_latency(order, er.recv_ns)
        if applied.status_changed and order.is_terminal and order.sent_ns is not None:
            self._check_reject_rate(order, er.recv_ns)
        if applied.fill is not None:
            f = applied.fill
            if not any(o.fills for o in ticket.orders() if o is not order) and len(order.fills) == 1:
                # the ticket's first fill: both books as they stand, for the legging cost
                ib, ob = self.books[pr.inner.key], self.books[pr.outer.key]
                self.audit.event("first_fill", er.recv_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                                 cl_ord_id=order.cl_ord_id, leg=order.leg.value,
                                 inner_book=[[str(x) for x in lvl] if lvl else None for lvl in ib.top()],
                                 outer_book=[[str(x) for x in lvl] if lvl else None for lvl in ob.top()])
            self.stats.fills[venue] = self.stats.fills.get(venue, 0) + 1
            self.audit.record("fills", {
                "run_id": self.audit.run_id, "venue": venue, "exec_id": f.exec_id, "cl_ord_id": order.cl_ord_id,
                "ticket_id": ticket.ticket_id, "symbol": order.instrument.symbol, "side": order.side.value,
                "qty": f.qty, "price": f.price, "venue_ns": f.venue_ns, "recv_ns": f.recv_ns})
        if applied.status_changed and order.status is OrdStatus.REJECTED:
            self.stats.rejects[venue] = self.stats.rejects.get(venue, 0) + 1
            self.audit.event("order_rejected", er.recv_ns, venue=venue, pair=ticket.pair,
                             ticket_id=ticket.ticket_id, cl_ord_id=order.cl_ord_id, text=er.text)
        self._audit_order(order)
        self._progress(ticket, er.recv_ns)

    def on_cancel_reject(self, ev: CancelRejected) -> None:
        order = self.orders.get(ev.orig_cl_ord_id or "") or self.orders.get(ev.cl_ord_id)
        self.audit.event("cancel_rejected", ev.recv_ns, venue=ev.venue, cl_ord_id=ev.cl_ord_id,
                         ticket_id=order.ticket_id if order else None, reason=ev.reason)
        if order is not None and not order.is_terminal:
            self._query(order, "cancel rejected", force=True)

    def on_message_rejected(self, ev: MessageRejected) -> None:
        """A Reject or BusinessMessageReject of something we sent. If it names one of our orders
        (BusinessRejectRefID, or the sequence number the adapter recorded), that order is dead."""
        self.audit.event("message_rejected", ev.recv_ns, venue=ev.venue, business=ev.business,
                         ref_seq_num=ev.ref_seq_num, ref_msg_type=ev.ref_msg_type, ref_id=ev.ref_id,
                         reason=ev.reason)
        order = self.orders.get(ev.ref_id or "")
        if order is None or ev.ref_msg_type not in (None, "D"):
            return
        if not order.is_terminal and order.cum_qty == 0:
            order.status = OrdStatus.REJECTED
            order.text = f"rejected by {ev.venue}: {ev.reason}"
            order.done_ns = ev.recv_ns
            order.uncertain = False
            self.stats.rejects[ev.venue] = self.stats.rejects.get(ev.venue, 0) + 1
            self._audit_order(order)
            self._progress(self.tickets[order.ticket_id], ev.recv_ns)

    _dispatch = {
        SessionUp: on_session_up,
        SessionDown: on_session_down,
        BookSnapshot: on_book_snapshot,
        BookUpdate: on_book_update,
        MarketDataRejected: on_md_reject,
        ExecReport: on_exec_report,
        CancelRejected: on_cancel_reject,
        MessageRejected: on_message_rejected,
    }

    # -- timer -----------------------------------------------------------------------------
    def on_timer(self, now_ns: int) -> None:
        """Deadlines. An order with no final outcome after ``ticket_timeout_ms`` is cancelled if
        it rests (DAY) or asked about (OrderStatusRequest) — never assumed dead. A legged ticket
        takes its next repair step when its pause is over."""
        every = self.strategy.engine.basis_sample_ms * MS
        if every and now_ns >= self._next_sample_ns:
            self._next_sample_ns = now_ns + every
            self._sample_basis(now_ns)
        self._check_stale(now_ns)
        for pr in self.pairs.values():
            if pr.market_until_ns == 0 or now_ns >= pr.market_until_ns:
                if pr.calendars != (None, None):
                    self._check_market(pr, self.clock.now_ns())
        limit = self.strategy.engine.ticket_timeout_ms * MS
        for w in list(self.work.values()):
            t = w.ticket
            if t.state.is_terminal:
                continue
            for order in t.orders():
                if order.is_terminal or order.sent_ns is None or now_ns - order.sent_ns < limit:
                    continue
                if order.cl_ord_id in self._asked:
                    continue
                self.audit.event("order_timeout", now_ns, venue=order.instrument.venue, pair=t.pair,
                                 ticket_id=t.ticket_id, cl_ord_id=order.cl_ord_id)
                if order.command.tif in LIVE_TIF and order.instrument.venue in self.venues_up:
                    self._cancel(order, "ticket timeout")
                else:
                    self._query(order, "no final report within ticket_timeout_ms")
            if t.state is TicketState.LEGGED and now_ns >= w.next_ns:
                self._repair(t, w, now_ns)

    @staticmethod
    def _carry(pr: PairRuntime, direction: Direction) -> Decimal:
        """The pair's residual as a ticket in ``direction`` sees it: its own residual (inner minus
        outer filled) adds to the pair's with this sign."""
        return (-1 if direction is Direction.SELL_BASIS else 1) * pr.residual_units

    def _align_carry(self, pr: PairRuntime, direction: Direction) -> Alignment | None:
        """Residual policy "carry": this ticket's lots offset the residual the pair holds, so the
        pair's cumulative residual stays within the tolerance."""
        carry = self._carry(pr, direction)
        key = (direction, carry)
        if key not in pr.carry_cache:
            pr.carry_cache[key] = align(pr.cfg.ticket_qty, pr.inner, pr.outer, tolerance=pr.cfg.residual_tolerance,
                                        carry=carry, max_inner_lots=pr.inner.max_order_qty,
                                        max_outer_lots=pr.outer.max_order_qty)
        return pr.carry_cache[key]

    def _check_market(self, pr: PairRuntime, now_ns: int) -> None:
        """Pause the pair while either leg's market is closed (break, night, weekend, holiday)."""
        until = None
        closed = []
        for inst, cal in zip((pr.inner, pr.outer), pr.calendars):
            if cal is None:
                continue
            st = cal.state(now_ns)
            if not st.open:
                closed.append(f"{inst.venue} {st.reason}")
            if st.next_change_ns is not None:
                until = st.next_change_ns if until is None else min(until, st.next_change_ns)
        pr.market_until_ns = until if until is not None else now_ns + 60 * 1_000_000_000
        if closed:
            self._set_state(pr, StateTrigger.AUTO_HALT, "market closed: " + "; ".join(closed), key="market",
                            t0_perf=time.perf_counter_ns(), alert_kind="market_closed", severity="info")
        elif "market" in pr.hold.holds:
            self._set_state(pr, StateTrigger.CLEAR, "markets open", key="market", t0_perf=time.perf_counter_ns())

    def _sample_basis(self, now_ns: int) -> None:
        """Each pair's executable basis at the best levels, for the record (basis over time)."""
        for pr in self.pairs.values():
            sell, buy = pr.last_basis
            if sell is None and buy is None:
                continue
            self.audit.event("basis", now_ns, pair=pr.name, sell=str(sell) if sell is not None else None,
                             buy=str(buy) if buy is not None else None, position=str(pr.position_units),
                             state=self.pair_state(pr).value, signals=pr.signals, denials=pr.denials)

    # -- decisions -------------------------------------------------------------------------
    def pair_state(self, pr: PairRuntime) -> TradingState:
        return effective(self.hold.state, pr.hold.state)

    def _evaluate(self, pr: PairRuntime, recv_ns: int) -> None:
        self._t_eval = self.clock.now_ns() if self.stats.trace else 0
        if pr.market_until_ns and self.clock.now_ns() >= pr.market_until_ns:
            self._check_market(pr, self.clock.now_ns())
        if pr.active is not None or pr.legged or self.stopping or self.pair_state(pr) is TradingState.HALTED:
            return
        books = self.books
        ib, ob = books[pr.inner.key], books[pr.outer.key]
        if not (ib.valid and ob.valid):
            return
        fx = None
        fx_book = None
        if pr.pricer.needs_fx:
            if pr.fx_key is not None:
                fx_book = books[pr.fx_key]
                fx = fx_book.mid() if fx_book.valid else None
            else:
                fx = fx_rate(None, self.strategy.fx[pr.cfg.fx])
            if fx is None:
                return
        cfg = pr.cfg
        pos = pr.inner_lots
        # Cheap screen on the best levels: depth only makes the executable basis worse.
        ibid, iask, obid, oask = ib.best_bid(), ib.best_ask(), ob.best_bid(), ob.best_ask()
        if (ibid and iask and ibid[0] >= iask[0]) or (obid and oask and obid[0] >= oask[0]):
            return  # a crossed book is a data problem, not an opportunity
        # Nothing crossed last time and no best price, FX or position has moved since: a size change
        # deeper in a book cannot make it cross now (most market data is exactly that).
        screen = (ibid and ibid[0], iask and iask[0], obid and obid[0], oask and oask[0], fx, pos)
        if screen == pr.quiet_screen:
            return
        sell = pr.pricer.basis(ibid[0], oask[0], fx) if ibid and oask else None
        buy = pr.pricer.basis(iask[0], obid[0], fx) if iask and obid else None
        pr.last_basis = (sell, buy)
        choice = None
        if sell is not None:
            if pos <= 0 and cfg.entry_above is not None and sell >= cfg.entry_above:
                choice = (Direction.SELL_BASIS, TicketIntent.OPEN, cfg.entry_above)
            elif pos > 0 and cfg.exit_below is not None and sell >= cfg.exit_below:
                choice = (Direction.SELL_BASIS, TicketIntent.CLOSE, cfg.exit_below)
        if choice is None and buy is not None:
            if pos >= 0 and cfg.entry_below is not None and buy <= cfg.entry_below:
                choice = (Direction.BUY_BASIS, TicketIntent.OPEN, cfg.entry_below)
            elif pos < 0 and cfg.exit_above is not None and buy <= cfg.exit_above:
                choice = (Direction.BUY_BASIS, TicketIntent.CLOSE, cfg.exit_above)
        if choice is None:
            pr.last_denial = None
            pr.quiet_screen = screen
            return
        pr.quiet_screen = None
        direction, intent, threshold = choice
        bundle = None
        aim = ZERO
        if intent is TicketIntent.OPEN:
            entry = pr.entry
            if cfg.residual_policy == "carry":
                aim = -self._carry(pr, direction)
                entry = self._align_carry(pr, direction)
                if entry is None:
                    q0 = pr.pricer.executable(direction, ib, ob, pr.entry.inner_lots, pr.entry.outer_lots, fx)
                    if q0 is not None:
                        self._deny(pr, Denial(DenyReason.ALIGNMENT, f"no lots offset the carried residual "
                                              f"{_units(pr.residual_units)} {pr.inner.unit} within "
                                              f"{cfg.residual_tolerance}"), recv_ns, q0)
                    return
            inner_lots, outer_lots = entry.inner_lots, entry.outer_lots
            planned = entry.residual
        else:
            while pr.bundles and pr.bundles[0].empty:
                pr.bundles.popleft()
            if not pr.bundles:
                return
            bundle = pr.bundles[0]
            inner_lots, outer_lots = abs(bundle.inner_lots), abs(bundle.outer_lots)
            planned = aim = pr.inner.lots_to_units(inner_lots) - pr.outer.lots_to_units(outer_lots, pr.inner.unit)
        q = pr.pricer.executable(direction, ib, ob, inner_lots, outer_lots, fx)
        if q is None:
            return
        crossed = q.basis >= threshold if direction is Direction.SELL_BASIS else q.basis <= threshold
        if not crossed:
            return  # the top crossed but not at the ticket's size
        pr.signals += 1
        sign = 1 if direction is Direction.BUY_BASIS else -1
        after = pr.position_units + sign * pr.inner.lots_to_units(inner_lots)
        legs = self._leg_plans(pr, direction, q, inner_lots, outer_lots, (ib, ob))
        kind = OrderKind.OPEN if intent is TicketIntent.OPEN else OrderKind.CLOSE
        denial = self.gate.check_ticket(
            kind, legs, pair=pr.name, global_state=self.hold.state, pair_state=pr.hold.state,
            sessions_up=(pr.inner.venue in self.venues_up, pr.outer.venue in self.venues_up),
            quote_ages_ms=((recv_ns - ib.recv_ns) / MS, (recv_ns - ob.recv_ns) / MS),
            max_quote_age_ms=cfg.max_quote_age_ms,
            fx_age_ms=(recv_ns - fx_book.recv_ns) / MS if fx_book is not None else None,
            max_fx_age_ms=pr.fx_max_age_ms, position_after=after, max_position=cfg.max_position,
            pair_net=pr.residual_units, now_ns=recv_ns, venue_instruments=self._instruments_by_venue,
            stopping=self.stopping)
        if denial is not None:
            self._deny(pr, denial, recv_ns, q)
            return
        pr.last_denial = None
        self._start_ticket(pr, direction, intent, q, legs, fx, threshold, planned, recv_ns, (ib, ob, fx_book),
                           bundle, aim)

    def _leg_plans(self, pr: PairRuntime, direction: Direction, q: Quote, inner_lots: Decimal,
                   outer_lots: Decimal, books: tuple) -> tuple[LegPlan, LegPlan]:
        """Each leg's order as the gate sees it: the limit is the level the size reaches plus the
        leg's slippage allowance; the decision price is that level."""
        cfg = pr.cfg
        out = []
        for role, inst, lots, sw, ticks, ot, book in (
                (LegRole.INNER, pr.inner, inner_lots, q.inner, cfg.inner_slippage_ticks, cfg.inner_order_type, books[0]),
                (LegRole.OUTER, pr.outer, outer_lots, q.outer, cfg.outer_slippage_ticks, cfg.outer_order_type, books[1])):
            side = direction.side(role)
            price = self._limit_price(inst, side, sw.worst, ticks) if ot is OrdType.LIMIT else None
            touch = (book.best_ask() if side is Side.BUY else book.best_bid())
            units = inst.lots_to_units(lots, pr.inner.unit) * side.sign
            out.append(LegPlan(inst, side, lots, price, sw.worst, ticks, touch[0] if touch else None, sw.qty, units))
        return out[0], out[1]

    def _deny(self, pr: PairRuntime, denial: Denial, ts_ns: int, q: Quote) -> None:
        pr.denials += 1
        if pr.last_denial is denial.reason:
            return  # recorded once per episode, not once per tick
        pr.last_denial = denial.reason
        self.audit.event("denial", ts_ns, pair=pr.name, reason=denial.reason.value, detail=denial.detail,
                         basis=str(q.basis), direction=q.direction.value)

    @staticmethod
    def _limit_price(inst: Instrument, side: Side, worst: Decimal, ticks: int) -> Decimal:
        px = worst + ticks * inst.tick if side is Side.BUY else worst - ticks * inst.tick
        return inst.round_price(px, side)

    def _start_ticket(self, pr: PairRuntime, direction: Direction, intent: TicketIntent, q: Quote,
                      legs_plan: tuple[LegPlan, LegPlan], fx: Decimal | None, threshold: Decimal,
                      planned: Decimal, recv_ns: int, books: tuple, bundle: Bundle | None,
                      aim: Decimal = ZERO) -> None:
        """Journal the intent, send both legs, then build and record the ticket. Only what the
        orders need comes before they leave."""
        now = self.clock.now_ns()
        if pr.market_until_ns and now >= pr.market_until_ns:
            # a break or close began while this decision was being made: look again, as of now
            self._check_market(pr, now)
            if self.pair_state(pr) is TradingState.HALTED:
                return
        cfg = pr.cfg
        ids = self.ids
        tid = ids.ticket_id()
        p_in, p_out = legs_plan
        cmd_in = NewOrder(ids.cl_ord_id(), p_in.inst, p_in.side, p_in.lots, cfg.inner_order_type, p_in.price,
                          cfg.inner_tif, self.account, self._position_effect(p_in.inst, intent, bundle, now))
        cmd_out = NewOrder(ids.cl_ord_id(), p_out.inst, p_out.side, p_out.lots, cfg.outer_order_type, p_out.price,
                           cfg.outer_tif, self.account, self._position_effect(p_out.inst, intent, bundle, now))
        pending = None
        if cfg.submission == "sequential":
            lead = self._sequential_first(pr, q, p_in.lots, p_out.lots)
            out = ((LegRole.INNER, cmd_in),) if lead is LegRole.INNER else ((LegRole.OUTER, cmd_out),)
            pending = cmd_out if lead is LegRole.INNER else cmd_in
        else:
            out = ((LegRole.INNER, cmd_in), (LegRole.OUTER, cmd_out))
        closes = bundle.ticket_id if bundle else None
        # Intent first: the ticket and the orders about to leave are on disk before they do.
        self.journal.write("intent", ticket={
            "ticket_id": tid, "pair": pr.name, "direction": direction.value, "intent": intent.value,
            "created_ns": now, "state": "PENDING", "closes": closes, "aim": str(aim),
            "lots": {"INNER": str(p_in.lots), "OUTER": str(p_out.lots)},
            "decision": {"basis": str(q.basis), "threshold": str(threshold), "inner_px": str(q.inner.avg),
                         "outer_px": str(q.outer.avg), "outer_converted": str(q.outer_converted),
                         "fx": str(fx if fx is not None else 1), "planned_residual": str(planned)}},
            orders=[_cmd_record(c, tid, role.value, "ENTRY", now) for role, c in out])
        # Both legs (or the first, when sequential), back to back, from this callback.
        sent = [self._send_cmd(c) for _, c in out]
        # --- orders are out; everything below is bookkeeping ---
        ib, ob, fxb = books
        decision = Decision(
            ts_ns=now, basis=q.basis, threshold=threshold, inner_px=q.inner.avg, outer_px=q.outer.avg,
            outer_converted=q.outer_converted, fx=fx if fx is not None else Decimal(1),
            inner_book=ib.top(), outer_book=ob.top(),
            fx_age_ns=(recv_ns - fxb.recv_ns) if fxb is not None else None,
            inner_age_ns=recv_ns - ib.recv_ns, outer_age_ns=recv_ns - ob.recv_ns, planned_residual=planned)
        legs = {LegRole.INNER: Leg(LegRole.INNER, p_in.inst, p_in.side, p_in.lots),
                LegRole.OUTER: Leg(LegRole.OUTER, p_out.inst, p_out.side, p_out.lots)}
        ticket = Ticket(tid, pr.name, direction, intent, now, decision, legs, pr.inner.unit, cfg.residual_tolerance,
                        aim=aim)
        w = Work(ticket, closes=closes, pending=pending)
        orders = []
        for (role, cmd), sent_ns in zip(out, sent):
            order = Order(cmd, tid, role, OrderRole.ENTRY, now)
            if sent_ns is not None:
                order.sent_ns = sent_ns
            else:
                order.status = OrdStatus.REJECTED
                order.text = f"not sent: {cmd.venue} session unavailable"
                order.done_ns = self.clock.now_ns()
            legs[role].orders.append(order)
            self.orders[cmd.cl_ord_id] = order
            orders.append(order)
        self.tickets[tid] = ticket
        self.work[tid] = w
        pr.active = ticket
        sent_any = any(x is not None for x in sent)
        last_sent = max((x for x in sent if x is not None), default=None)
        ticket.sent_ns = last_sent
        self.stats.tickets += 1
        if last_sent is not None:
            self.stats.decision_to_send_ns.append(last_sent - recv_ns)
            if self.stats.trace:
                first_sent = min(x for x in sent if x is not None)
                self.stats.stages.append((recv_ns, self._t_eval, now, first_sent, last_sent))
        t = ticket.apply(TicketTrigger.SENT if sent_any else TicketTrigger.SEND_FAILED, self.clock.now_ns(),
                         f"{intent.value} {direction.value} at basis {q.basis:.6g} (threshold {threshold})"
                         + (f", {cfg.submission} from {out[0][0].value.lower()}" if len(out) == 1 else ""))
        self._audit_ticket(ticket, recv_ns)
        self._audit_transition(ticket, t)
        self.audit.event("verdict", recv_ns, pair=pr.name, ticket_id=tid, ok=True, order_kind=intent.value,
                         checks="state, sessions, quote and FX age, depth, order size and notional, collar, "
                                "slippage, message rate, worst-case position, account, margin, net exposure")
        for o in orders:
            self._audit_order(o)
        if not sent_any:
            self._finish(ticket, w, pr, now)

    def _sequential_first(self, pr: PairRuntime, q: Quote, inner_lots: Decimal, outer_lots: Decimal) -> LegRole:
        """The less liquid leg goes first: configured, or the leg whose visible depth covers its
        size the fewest times."""
        first = pr.cfg.sequential_first
        if first != "auto":
            return LegRole(first.upper())
        ib, ob = self.books[pr.inner.key], self.books[pr.outer.key]
        side_i = q.direction.side(LegRole.INNER)
        side_o = q.direction.side(LegRole.OUTER)
        depth_i = sum(s for _, s in (ib.bids if side_i is Side.SELL else ib.asks)) / inner_lots
        depth_o = sum(s for _, s in (ob.bids if side_o is Side.SELL else ob.asks)) / outer_lots
        return LegRole.INNER if depth_i <= depth_o else LegRole.OUTER

    def _position_effect(self, inst: Instrument, intent: TicketIntent, bundle: Bundle | None,
                         now_ns: int) -> PositionEffect | None:
        if not inst.position_effect:
            return None
        if intent is TicketIntent.OPEN:
            return PositionEffect.OPEN
        # SHFE/INE: a position opened in today's trading day closes with close-today.
        if bundle is not None and self._trading_day(inst, bundle.opened_ns) == self._trading_day(inst, now_ns):
            return PositionEffect.CLOSE_TODAY
        return PositionEffect.CLOSE

    def _trading_day(self, inst: Instrument, ns: int):
        cal = self.strategy.calendars.get(inst.calendar) if inst.calendar else None
        return cal.trading_day(ns) if cal is not None else _trading_day(ns)

    def _send_cmd(self, cmd: NewOrder) -> int | None:
        """Hand an order to its venue; the time it was handed over, or None if it could not be
        (session down, or the engine closing its sessions: nothing leaves after that)."""
        if self.closing or not self.sender.send_new(cmd, self.clock.now_ns()):
            return None
        sent = self.last_activity_ns = self.clock.now_ns()
        v = cmd.instrument.venue
        self.gate.spend(v, sent)
        self.gate.add_working(cmd.instrument, cmd.side, cmd.qty)
        self.stats.orders[v] = self.stats.orders.get(v, 0) + 1
        return sent

    def _send(self, order: Order) -> bool:
        sent = self._send_cmd(order.command)
        if sent is not None:
            order.sent_ns = sent
            return True
        order.status = OrdStatus.REJECTED
        order.text = f"not sent: {order.instrument.venue} session unavailable"
        order.done_ns = self.clock.now_ns()
        return False

    # -- progress, settlement, repair ------------------------------------------------------
    def _progress(self, ticket: Ticket, ts_ns: int) -> None:
        """Move the ticket on once its orders allow: send a pending second leg, finish, or repair."""
        w = self.work.get(ticket.ticket_id)
        if w is None or ticket.state is TicketState.FAILED:
            return
        pr = self.pairs[ticket.pair]
        was = ticket.state
        if any(o.uncertain for o in ticket.orders()) or ticket.working:
            return
        if w.superseded and not ticket.state.is_terminal:
            self._transition(ticket, TicketTrigger.FLATTENED, ts_ns,
                             f"flattened: exposure taken off by {w.superseded}; " + self._settle_cause(ticket))
            self._finish(ticket, w, pr, ts_ns)
            return self._maybe_flatten(pr, ts_ns)
        if w.pending is not None and not pr.flatten_request:
            self._send_second_leg(ticket, w, pr, ts_ns)
            if ticket.working:
                return
        w.pending = None
        if pr.flatten_request and not w.flatten:
            w.superseded = "the flatten path"
            return self._progress(ticket, ts_ns)
        if w.flatten:
            return self._progress_flatten(ticket, w, pr, ts_ns)
        trigger = ticket.settle_trigger()
        state = ticket.state
        if state in (TicketState.PENDING, TicketState.WORKING):
            if state is TicketState.PENDING:
                trigger = TicketTrigger.SEND_FAILED if trigger is TicketTrigger.LEGS_EMPTY else trigger
            self._transition(ticket, trigger, ts_ns, self._settle_cause(ticket))
        elif state is TicketState.REPAIRING:
            if trigger is TicketTrigger.LEGS_EMPTY:      # both legs back to zero: flat again
                self._transition(ticket, TicketTrigger.REPAIR_UNWOUND, ts_ns, self._settle_cause(ticket))
            elif trigger is TicketTrigger.LEGS_MATCHED:  # chased, or the excess unwound: matched
                self._transition(ticket, TicketTrigger.REPAIR_MATCHED, ts_ns, self._settle_cause(ticket))
            else:
                self._transition(ticket, TicketTrigger.LEGS_MISMATCHED, ts_ns,
                                 "repair step ended short: " + self._settle_cause(ticket))
        elif state is TicketState.LEGGED:
            if trigger in (TicketTrigger.LEGS_MATCHED, TicketTrigger.LEGS_EMPTY):
                self._transition(ticket, TicketTrigger.LEGS_MATCHED, ts_ns, "late fill: " + self._settle_cause(ticket))
        elif state.is_terminal:
            if trigger is TicketTrigger.LEGS_MISMATCHED:   # a fill reported after the end
                self.journal.write("reopen", ticket_id=ticket.ticket_id)
                self._transition(ticket, TicketTrigger.LEGS_MISMATCHED, ts_ns,
                                 "late fill after the ticket ended: " + self._settle_cause(ticket))
            elif w.ended_net is not None:
                self._update_bundles(ticket, w, pr)       # a late fill that kept it matched
                self._journal_end(ticket)
        if ticket.state is TicketState.LEGGED:
            if w.legged_ns is None:
                w.legged_ns = ts_ns
                self.stats.legged += 1
            pr.legged.add(ticket.ticket_id)
            if ts_ns >= w.next_ns:
                self._repair(ticket, w, ts_ns)
        elif ticket.state.is_terminal and ticket.state is not was:
            self._finish(ticket, w, pr, ts_ns)

    def _transition(self, ticket: Ticket, trigger: TicketTrigger, ts_ns: int, cause: str) -> None:
        t = ticket.apply(trigger, ts_ns, cause)
        self._audit_transition(ticket, t)
        self._audit_ticket(ticket, None)

    def _send_second_leg(self, ticket: Ticket, w: Work, pr: PairRuntime, ts_ns: int) -> None:
        """Sequential submission: the second leg goes out for what the first leg filled, aligned."""
        cmd = w.pending
        w.pending = None
        first = next(leg for leg in ticket.legs.values() if leg.orders)
        second = ticket.legs[LegRole.OUTER if first.role is LegRole.INNER else LegRole.INNER]
        done_units = first.filled_units(ticket.unit)
        size = second.instrument.lots_to_units(Decimal(1), ticket.unit)
        lots = (done_units / size).to_integral_value() * second.instrument.lot_step if done_units else ZERO
        if lots <= 0:
            return
        book = self.books[second.instrument.key]
        levels = book.asks if cmd.side is Side.BUY else book.bids
        price = cmd.price
        if cmd.ord_type is OrdType.LIMIT and book.valid and levels:
            from xmc_fix.basis.pricing import sweep
            sw = sweep(levels, lots)
            ticks = pr.cfg.inner_slippage_ticks if second.role is LegRole.INNER else pr.cfg.outer_slippage_ticks
            if sw is not None:
                price = self._limit_price(second.instrument, cmd.side, sw.worst, ticks)
        cmd = NewOrder(cmd.cl_ord_id, cmd.instrument, cmd.side, lots, cmd.ord_type, price, cmd.tif, cmd.account,
                       cmd.position_effect)
        second.target_lots = lots
        order = Order(cmd, ticket.ticket_id, second.role, OrderRole.ENTRY, self.clock.now_ns())
        second.orders.append(order)
        self.orders[cmd.cl_ord_id] = order
        self.journal.write("order", **self._order_record(order))
        self._send(order)
        self._audit_order(order)

    def _repair(self, ticket: Ticket, w: Work, now_ns: int) -> None:
        pr = self.pairs[ticket.pair]
        policy = pr.cfg.repair
        if w.superseded:
            return
        if self.closing:
            return self._defer_repair(ticket, pr, now_ns)
        if w.legged_ns is not None and now_ns - w.legged_ns > policy.give_up_ms * MS:
            return self._give_up(ticket, w, pr, now_ns, f"not repaired within {policy.give_up_ms} ms")
        if w.flatten:
            return self._flatten_step(ticket, w, pr, now_ns)
        books = {LegRole.INNER: self.books[pr.inner.key], LegRole.OUTER: self.books[pr.outer.key]}
        fx = None
        if pr.pricer.needs_fx:
            fx = self.books[pr.fx_key].mid() if pr.fx_key is not None else fx_rate(None, self.strategy.fx[pr.cfg.fx])
            fx = fx or ticket.decision.fx
        slippage = {LegRole.INNER: pr.cfg.inner_slippage_ticks, LegRole.OUTER: pr.cfg.outer_slippage_ticks}
        result = repair.plan(ticket, pr.pricer, policy, books, fx, w.attempts, slippage)
        if result is None:
            return self._progress(ticket, now_ns)
        if isinstance(result, repair.Stop):
            if policy.mode != "halt" and "no liquidity" in result.reason and w.attempts["UNWIND"] < policy.unwind_attempts:
                w.next_ns = now_ns + policy.unwind_interval_ms * MS  # try again on fresher books
                return
            return self._give_up(ticket, w, pr, now_ns, result.reason)
        venues = {ticket.legs[s.leg].instrument.venue for s in result.steps}
        down = [v for v in venues if v not in self.venues_up or not self.sender.is_up(v)]
        if down:
            w.next_ns = now_ns + policy.unwind_interval_ms * MS
            self.audit.event("repair_waiting", now_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                             reason=f"{', '.join(down)} session down")
            return
        kind = "CHASE" if result.kind == "CHASE" else "UNWIND"
        for step in result.steps:
            leg = ticket.legs[step.leg]
            book = books[step.leg]
            touch = (book.best_ask() if step.side is Side.BUY else book.best_bid()) if book.valid else None
            if step.role is OrderRole.CHASE:
                decision, allowance = repair._original_limit(leg), policy.chase_ticks
            else:
                decision, allowance = None, policy.unwind_ticks
            denial = self.gate.check_order(
                OrderKind(kind), LegPlan(leg.instrument, step.side, step.lots, step.price, decision, allowance,
                                         touch[0] if touch else None),
                pair=pr.name, global_state=self.hold.state, pair_state=pr.hold.state, session_up=True,
                now_ns=now_ns, venue_instruments=self._instruments_by_venue[leg.instrument.venue],
                pair_net=pr.residual_units)
            if denial is not None:
                w.next_ns = now_ns + policy.unwind_interval_ms * MS
                self._deny_repair(ticket, pr, denial, now_ns)
                return
        w.attempts[kind] += 1
        w.repairs.append(f"{result.kind}#{w.attempts[kind]}")
        interval = policy.chase_interval_ms if kind == "CHASE" else policy.unwind_interval_ms
        w.next_ns = now_ns + interval * MS
        orders = []
        for step in result.steps:
            leg = ticket.legs[step.leg]
            inst = leg.instrument
            pe = None
            if inst.position_effect:
                # chasing continues the ticket's intent; unwinding reverses it
                opening = (ticket.intent is TicketIntent.OPEN) == (step.role is OrderRole.CHASE)
                pe = PositionEffect.OPEN if opening else PositionEffect.CLOSE_TODAY
            cmd = NewOrder(self.ids.cl_ord_id(), inst, step.side, step.lots, OrdType.LIMIT, step.price,
                           TimeInForce.IOC, self.account, pe)
            order = Order(cmd, ticket.ticket_id, step.leg, step.role, now_ns)
            leg.orders.append(order)
            self.orders[cmd.cl_ord_id] = order
            orders.append(order)
            self.journal.write("order", **self._order_record(order))
        for order in orders:
            self._send(order)
        self._transition(ticket, TicketTrigger.REPAIR_STARTED, self.clock.now_ns(), result.reason)
        self.audit.event("verdict", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, ok=True, order_kind=kind,
                         orders=[o.cl_ord_id for o in orders])
        self.audit.event("repair_step", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, step=result.kind,
                         attempt=w.attempts[kind], reason=result.reason,
                         orders=[o.cl_ord_id for o in orders],
                         expected_cost=str(sum(s.expected_cost for s in result.steps)))
        for o in orders:
            self._audit_order(o)
        if not any(o.sent_ns for o in orders):
            self._progress(ticket, now_ns)

    def _defer_repair(self, ticket: Ticket, pr: PairRuntime, now_ns: int) -> None:
        """The sessions are closing: a repair order now would leave with the Logout and never be
        answered. The ticket stays legged, in the journal, for the next start to repair; the stop
        reports the exposure."""
        w = self.work[ticket.ticket_id]
        if w.repairs and w.repairs[-1] == "deferred:closing":
            return
        w.repairs.append("deferred:closing")
        self.audit.event("repair_deferred", now_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                         reason="engine closing its sessions", residual=str(ticket.residual))

    def _give_up(self, ticket: Ticket, w: Work, pr: PairRuntime, now_ns: int, reason: str) -> None:
        trigger = TicketTrigger.REPAIR_FAILED
        if ticket.state is TicketState.REPAIRING and ticket.working:
            return  # let the working step finish first
        t0 = time.perf_counter_ns()
        self._transition(ticket, trigger, now_ns, reason)
        why = (f"ticket {ticket.ticket_id} failed to repair ({reason}): "
               f"residual {_units(ticket.residual)} {ticket.unit}")
        self._finish(ticket, w, pr, now_ns)
        self._breach(pr, "residual_exposure", why, StateTrigger.HALT, t0, now_ns)

    def _finish(self, ticket: Ticket, w: Work, pr: PairRuntime, ts_ns: int) -> None:
        """A ticket reached a final state: positions it leaves, the journal, the pair freed."""
        if not ticket.state.is_terminal:
            self._transition(ticket, TicketTrigger.SEND_FAILED if ticket.state is TicketState.PENDING
                             else TicketTrigger.LEGS_EMPTY, ts_ns, "nothing sent")
        pr.legged.discard(ticket.ticket_id)
        if w.flatten:
            w.ended_net = self._net(ticket)
            self._journal_end(ticket)
            if pr.inner_lots == 0 and pr.outer_lots == 0:
                pr.bundles.clear()
                self.journal.write("flat", pair=pr.name, ticket_id=ticket.ticket_id)
        else:
            self._update_bundles(ticket, w, pr)
            self._journal_end(ticket)
        if pr.active is ticket:
            pr.active = None

    def _net(self, ticket: Ticket) -> tuple[Decimal, Decimal]:
        """Signed net lots per leg (bought positive)."""
        out = []
        for role in (LegRole.INNER, LegRole.OUTER):
            leg = ticket.legs[role]
            out.append(leg.filled_lots * leg.side.sign)
        return out[0], out[1]

    def _update_bundles(self, ticket: Ticket, w: Work, pr: PairRuntime) -> None:
        """Apply the change in this ticket's net lots since it last finished to the holdings."""
        inner, outer = self._net(ticket)
        prev_i, prev_o = w.ended_net or (ZERO, ZERO)
        di, do = inner - prev_i, outer - prev_o
        w.ended_net = (inner, outer)
        if not di and not do:
            return
        target = None
        if ticket.intent is TicketIntent.CLOSE:
            target = next((b for b in pr.bundles if b.ticket_id == w.closes), None)
        if target is None:
            target = next((b for b in pr.bundles if b.ticket_id == ticket.ticket_id), None)
        if target is None:
            target = Bundle(ticket.ticket_id, ticket.direction, ticket.created_ns, ZERO, ZERO)
            pr.bundles.append(target)
        target.inner_lots += di
        target.outer_lots += do
        while pr.bundles and pr.bundles[0].empty:
            pr.bundles.popleft()

    def _journal_end(self, ticket: Ticket) -> None:
        inner, outer = self._net(ticket)
        self.journal.write("end", ticket_id=ticket.ticket_id, state=ticket.state.value,
                           net={"INNER": inner, "OUTER": outer})

    @staticmethod
    def _settle_cause(ticket: Ticket) -> str:
        parts = []
        for role, leg in ticket.legs.items():
            statuses = "/".join(f"{o.role.value[0]}:{o.status.value}" for o in leg.orders)
            parts.append(f"{role.value.lower()} {leg.filled_lots}/{leg.target_lots} ({statuses})")
        return ", ".join(parts) + f"; residual {_units(ticket.residual)} {ticket.unit}"

    # -- trading states, breaches, alerts ------------------------------------------------------
    def _set_state(self, pr: PairRuntime | None, trigger: StateTrigger, reason: str, *, key: str | None = None,
                   detected_ns: int | None = None, alert_kind: str | None = None, venue: str | None = None,
                   t0_perf: int | None = None, severity: str | None = None) -> StateChange | None:
        """Apply a trigger to a pair's (or the global) state; alert and journal a change."""
        scope = pr.hold if pr is not None else self.hold
        now = self.clock.now_ns()
        change = scope.apply(trigger, now, reason, key=key)
        if change is None:
            return None
        if pr is not None and trigger in (StateTrigger.HALT, StateTrigger.REDUCE, StateTrigger.RESUME):
            self.journal.write("pair", pair=pr.name, state=pr.hold.state.value if any(
                h.sticky for h in pr.hold.holds.values()) else TradingState.ACTIVE.value, reason=reason)
        if t0_perf is not None:
            us = (time.perf_counter_ns() - t0_perf) / 1000
        elif detected_ns is not None:
            us = max(0.0, (self.clock.now_ns() - detected_ns) / 1000)
        else:
            us = None
        severity = severity or ("info" if change.to_state is TradingState.ACTIVE or alert_kind == "operator"
                                else "critical" if change.to_state is TradingState.HALTED else "warning")
        self.alerts.alert(Alert(alert_kind or "state_change", severity,
                                f"{change.scope} {change.from_state.value} -> {change.to_state.value}: {reason}",
                                now, pair=pr.name if pr is not None else None, venue=venue,
                                action=f"{change.scope} {change.to_state.value}", alert_to_action_us=us))
        return change

    def _breach(self, pr: PairRuntime | None, kind: str, message: str, trigger: StateTrigger, t0_perf: int,
                now_ns: int, venue: str | None = None) -> None:
        """A limit or quality breach: protect first (state change, cancel the pair's working orders when
        halting), then tell people, with the time the protection took."""
        (pr.hold if pr is not None else self.hold).apply(trigger, now_ns, message)
        cancelled = []
        if trigger is StateTrigger.HALT:
            cancelled = self._cancel_working(pr, f"{kind}: {message}")
        us = (time.perf_counter_ns() - t0_perf) / 1000
        scope = pr.name if pr is not None else "global"
        if pr is not None:
            self.journal.write("pair", pair=pr.name, state=pr.hold.state.value, reason=message)
        if (kind, scope) in self._breaches:
            return
        self._breaches.add((kind, scope))
        action = f"{scope} {(pr.hold if pr is not None else self.hold).state.value}"
        if cancelled:
            action += f", {len(cancelled)} working orders cancelled"
        self.alerts.alert(Alert(kind, "critical", message, now_ns, pair=pr.name if pr is not None else None,
                                venue=venue, action=action, alert_to_action_us=us))

    def _cancel_working(self, pr: PairRuntime | None, why: str) -> list[str]:
        out = []
        for w in self.work.values():
            if pr is not None and w.ticket.pair != pr.name:
                continue
            for o in w.ticket.orders():
                if not o.is_terminal and o.sent_ns and o.instrument.venue in self.venues_up:
                    self._cancel(o, why)
                    out.append(o.cl_ord_id)
        return out

    def _pairs_on(self, venue: str) -> list[PairRuntime]:
        return [pr for pr in self.pairs.values() if venue in pr.venues]

    def _on_position_change(self, pr: PairRuntime, order: Order, lots: Decimal, px: Decimal, now_ns: int) -> None:
        t0 = time.perf_counter_ns()
        inst = order.instrument
        realised = self.gate.on_fill(pr.name, inst, order.side, lots, px)
        if realised:
            if order.leg is LegRole.OUTER and pr.pricer.needs_fx:
                fx = self.books[pr.fx_key].mid() if pr.fx_key is not None and self.books[pr.fx_key].valid else None
                fx = fx or self.tickets[order.ticket_id].decision.fx
                realised = realised * fx if pr.pricer.fx_mode == 1 else realised / fx
            self.gate.realised[pr.name] = self.gate.realised.get(pr.name, ZERO) + realised
            limit = self.strategy.risk.pair(pr.name).daily_loss_limit
            if limit is not None and self.gate.realised[pr.name] <= -limit:
                self._breach(pr, "daily_loss", f"{pr.name} realised {_units(self.gate.realised[pr.name])} "
                             f"{pr.inner.currency} today (limit {limit})", StateTrigger.HALT, t0, now_ns)
        lim = self.strategy.risk.instrument(inst.name).max_position
        pos = self.gate.positions.get(inst.name, ZERO)
        if lim is not None and abs(pos) > lim:
            for other in self.pairs.values():
                if inst in (other.inner, other.outer):
                    self._breach(other, "limit_breach", f"{inst.name} position {pos} lots beyond max_position {lim}",
                                 StateTrigger.HALT, t0, now_ns, venue=inst.venue)

    def _check_ack_latency(self, order: Order, now_ns: int) -> None:
        ms = (order.ack_ns - order.sent_ns) / MS
        limit = self.strategy.risk.max_ack_ms
        if ms > limit:
            t0 = time.perf_counter_ns()
            venue = order.instrument.venue
            for pr in self._pairs_on(venue):
                self._breach(pr, "latency_spike", f"{venue} acknowledged {order.cl_ord_id} after {ms:.0f} ms "
                             f"(limit {limit})", StateTrigger.REDUCE, t0, now_ns, venue=venue)

    def _check_reject_rate(self, order: Order, now_ns: int) -> None:
        venue = order.instrument.venue
        share = self.gate.record_outcome(venue, order.status is OrdStatus.REJECTED)
        limit = self.strategy.risk.max_reject_share
        if share > limit:
            t0 = time.perf_counter_ns()
            for pr in self._pairs_on(venue):
                self._breach(pr, "reject_spike", f"{venue} rejected {share:.0%} of the last "
                             f"{self.strategy.risk.reject_window} orders (limit {limit:.0%})",
                             StateTrigger.REDUCE, t0, now_ns, venue=venue)

    def _check_stale(self, now_ns: int) -> None:
        limit = self.strategy.risk.stale_halt_ms * MS
        for pr in self.pairs.values():
            keys = [k for k in (pr.inner.key, pr.outer.key, pr.fx_key) if k is not None]
            stale = [k for k in keys if k[0] in self.venues_up and self.books[k].recv_ns
                     and now_ns - self.books[k].recv_ns > limit]
            if stale:
                v, sym = stale[0]
                age = (now_ns - self.books[stale[0]].recv_ns) / MS
                self._set_state(pr, StateTrigger.AUTO_HALT, f"{v} {sym} market data {age:.0f} ms old", key="stale",
                                t0_perf=time.perf_counter_ns(), alert_kind="stale_data", venue=v)
            elif "stale" in pr.hold.holds:
                self._set_state(pr, StateTrigger.CLEAR, "market data fresh again", key="stale",
                                t0_perf=time.perf_counter_ns())

    def _deny_repair(self, ticket: Ticket, pr: PairRuntime, denial: Denial, now_ns: int) -> None:
        w = self.work[ticket.ticket_id]
        key = f"denied:{denial.reason.value}"
        if w.repairs and w.repairs[-1] == key:
            return
        w.repairs.append(key)
        self.audit.event("denial", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, reason=denial.reason.value,
                         detail=denial.detail, order_kind="repair")

    # -- operator commands (from the control socket, through the Serializer) -------------------
    def _scope(self, pair: str | None) -> list[PairRuntime]:
        if pair is None:
            return list(self.pairs.values())
        if pair not in self.pairs:
            raise KeyError(f"unknown pair {pair!r}; pairs: {', '.join(self.pairs)}")
        return [self.pairs[pair]]

    def cmd_halt(self, pair: str | None, who: str, reason: str = "") -> dict:
        why = f"halted by {who}" + (f": {reason}" if reason else "")
        targets = self._scope(pair)
        t0 = time.perf_counter_ns()
        if pair is None:
            self._set_state(None, StateTrigger.HALT, why, alert_kind="operator", t0_perf=t0)
        else:
            self._set_state(targets[0], StateTrigger.HALT, why, alert_kind="operator", t0_perf=t0)
        return self.cmd_status()

    def cmd_resume(self, pair: str | None, who: str) -> dict:
        why = f"resumed by {who}"
        if pair is None:
            self._set_state(None, StateTrigger.RESUME, why, alert_kind="operator")
            self._breaches = {b for b in self._breaches if b[1] != "global"}
        else:
            pr = self._scope(pair)[0]
            self._set_state(pr, StateTrigger.RESUME, why, alert_kind="operator")
            self._breaches = {b for b in self._breaches if b[1] != pr.name}
        return self.cmd_status()

    def cmd_cancel_all(self, pair: str | None, who: str) -> dict:
        cancelled = []
        for pr in self._scope(pair):
            cancelled += self._cancel_working(pr, f"cancel-all by {who}")
        return {"cancelled": cancelled}

    def cmd_flatten(self, pair: str | None, who: str) -> dict:
        """The kill switch: halt, cancel every working order, take every position of the scope to
        zero through the gate's flatten path. Works while HALTED."""
        t0 = time.perf_counter_ns()
        why = f"flatten by {who}"
        if pair is None:
            self._set_state(None, StateTrigger.HALT, why, alert_kind="operator", t0_perf=t0)
        started = []
        for pr in self._scope(pair):
            if pair is not None:
                self._set_state(pr, StateTrigger.HALT, why, alert_kind="operator", t0_perf=t0)
            self._cancel_working(pr, why)
            pr.flatten_request = (who, t0)
            for w in self.work.values():
                if w.ticket.pair == pr.name and not w.ticket.state.is_terminal and not w.flatten:
                    w.superseded = "the flatten path"
                    w.pending = None
                    if not w.ticket.working and not any(o.uncertain for o in w.ticket.orders()):
                        self._progress(w.ticket, self.clock.now_ns())
            started.append(self._maybe_flatten(pr, self.clock.now_ns()))
        return {"flatten": started, "status": self.cmd_status()}

    def _maybe_flatten(self, pr: PairRuntime, now_ns: int) -> dict:
        """Start the flatten ticket once no order of the pair is live or uncertain (so its
        position is known)."""
        if pr.flatten_request is None:
            return {"pair": pr.name, "state": "nothing requested"}
        for w in self.work.values():
            if w.ticket.pair == pr.name and not w.flatten and (
                    w.ticket.working or any(o.uncertain for o in w.ticket.orders())):
                return {"pair": pr.name, "state": "waiting for working orders to finish"}
        if pr.active is not None and self.work[pr.active.ticket_id].flatten:
            return {"pair": pr.name, "state": "flattening", "ticket": pr.active.ticket_id}
        who, t0 = pr.flatten_request
        pr.flatten_request = None
        if pr.inner_lots == 0 and pr.outer_lots == 0:
            pr.bundles.clear()
            self.journal.write("flat", pair=pr.name, ticket_id=None)
            self.alerts.alert(Alert("flatten", "info", f"{pr.name} already flat", now_ns, pair=pr.name,
                                    action="nothing to do", alert_to_action_us=(time.perf_counter_ns() - t0) / 1000))
            return {"pair": pr.name, "state": "flat"}
        t = self._start_flatten(pr, who, now_ns)
        return {"pair": pr.name, "state": "flattening", "ticket": t.ticket_id}

    def _start_flatten(self, pr: PairRuntime, who: str, now_ns: int) -> Ticket:
        tid = self.ids.ticket_id()
        zero = Decimal(0)
        d = Decision(ts_ns=now_ns, basis=pr.last_basis[0] or zero, threshold=zero, inner_px=zero, outer_px=zero,
                     outer_converted=zero, fx=Decimal(1), inner_book=self.books[pr.inner.key].top(),
                     outer_book=self.books[pr.outer.key].top(), fx_age_ns=None, inner_age_ns=0, outer_age_ns=0,
                     planned_residual=zero)
        direction = Direction.SELL_BASIS if pr.inner_lots > 0 or (pr.inner_lots == 0 and pr.outer_lots < 0) \
            else Direction.BUY_BASIS
        legs = {}
        for role, inst, held in ((LegRole.INNER, pr.inner, pr.inner_lots), (LegRole.OUTER, pr.outer, pr.outer_lots)):
            side = Side.SELL if held > 0 else Side.BUY
            legs[role] = Leg(role, inst, side, abs(held))
        ticket = Ticket(tid, pr.name, direction, TicketIntent.FLATTEN, now_ns, d, legs, pr.inner.unit,
                        pr.cfg.residual_tolerance)
        w = Work(ticket, flatten=True)
        self.tickets[tid] = ticket
        self.work[tid] = w
        pr.active = ticket
        self.journal.write("ticket", **self._ticket_record(ticket, w))
        self.audit.event("flatten_started", now_ns, pair=pr.name, ticket_id=tid, who=who,
                         inner_lots=str(pr.inner_lots), outer_lots=str(pr.outer_lots))
        ticket.apply(TicketTrigger.SENT, now_ns, f"flatten by {who}: {pr.inner_lots} inner lots, "
                     f"{pr.outer_lots} outer lots to zero")
        self._audit_ticket(ticket, None)
        self._audit_transition(ticket, ticket.transitions[-1])
        self._flatten_step(ticket, w, pr, now_ns, first=True)
        return ticket

    def _flatten_step(self, ticket: Ticket, w: Work, pr: PairRuntime, now_ns: int, first: bool = False) -> None:
        """Orders taking the pair's remaining positions to zero, priced through the touch."""
        policy = pr.cfg.repair
        if self.closing:
            return self._defer_repair(ticket, pr, now_ns)
        if w.attempts["FLATTEN"] >= policy.unwind_attempts:
            return self._give_up(ticket, w, pr, now_ns, f"flatten attempts exhausted ({policy.unwind_attempts})")
        orders = []
        for role, inst, held in ((LegRole.INNER, pr.inner, pr.inner_lots), (LegRole.OUTER, pr.outer, pr.outer_lots)):
            if held == 0:
                continue
            side = Side.SELL if held > 0 else Side.BUY
            book = self.books[inst.key]
            levels = (book.asks if side is Side.BUY else book.bids) if book.valid else []
            if not levels or inst.venue not in self.venues_up:
                w.next_ns = now_ns + policy.unwind_interval_ms * MS
                self.audit.event("repair_waiting", now_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                                 reason=f"{inst.venue}: no book or session to flatten against")
                return
            from xmc_fix.basis.pricing import sweep
            sw = sweep(levels, abs(held))
            worst = sw.worst if sw is not None else levels[-1][0]
            price = self._limit_price(inst, side, worst, policy.unwind_ticks)
            denial = self.gate.check_order(OrderKind.FLATTEN, LegPlan(inst, side, abs(held), price, None, 0,
                                                                      levels[0][0]),
                                           pair=pr.name, global_state=self.hold.state, pair_state=pr.hold.state,
                                           session_up=True, now_ns=now_ns,
                                           venue_instruments=self._instruments_by_venue[inst.venue])
            if denial is not None:
                w.next_ns = now_ns + policy.unwind_interval_ms * MS
                return self._deny_repair(ticket, pr, denial, now_ns)
            pe = PositionEffect.CLOSE_TODAY if inst.position_effect else None
            cmd = NewOrder(self.ids.cl_ord_id(), inst, side, abs(held), OrdType.LIMIT, price, TimeInForce.IOC,
                           self.account, pe)
            order = Order(cmd, ticket.ticket_id, role, OrderRole.FLATTEN, now_ns)
            ticket.legs[role].orders.append(order)
            self.orders[cmd.cl_ord_id] = order
            orders.append(order)
            self.journal.write("order", **self._order_record(order))
        if not orders:
            return self._progress(ticket, now_ns)
        w.attempts["FLATTEN"] += 1
        w.repairs.append(f"FLATTEN#{w.attempts['FLATTEN']}")
        w.next_ns = now_ns + policy.unwind_interval_ms * MS
        for order in orders:
            self._send(order)
        if not first:
            self._transition(ticket, TicketTrigger.REPAIR_STARTED, self.clock.now_ns(), "flatten: another step")
        self.audit.event("verdict", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, ok=True, order_kind="FLATTEN",
                         orders=[o.cl_ord_id for o in orders])
        for o in orders:
            self._audit_order(o)
        if not any(o.sent_ns for o in orders):
            self._progress(ticket, now_ns)

    def _progress_flatten(self, ticket: Ticket, w: Work, pr: PairRuntime, ts_ns: int) -> None:
        flat = pr.inner_lots == 0 and pr.outer_lots == 0
        state = ticket.state
        if state is TicketState.WORKING:
            self._transition(ticket, TicketTrigger.LEGS_MATCHED if flat else TicketTrigger.LEGS_MISMATCHED, ts_ns,
                             "flat" if flat else f"still {pr.inner_lots} inner / {pr.outer_lots} outer lots")
        elif state is TicketState.REPAIRING:
            self._transition(ticket, TicketTrigger.REPAIR_MATCHED if flat else TicketTrigger.LEGS_MISMATCHED, ts_ns,
                             "flat" if flat else f"still {pr.inner_lots} inner / {pr.outer_lots} outer lots")
        if ticket.state is TicketState.LEGGED:
            if w.legged_ns is None:
                w.legged_ns = ts_ns
            if ts_ns >= w.next_ns:
                self._flatten_step(ticket, w, pr, ts_ns)
        elif ticket.state.is_terminal:
            self._finish(ticket, w, pr, ts_ns)
            self.alerts.alert(Alert("flatten", "warning", f"{pr.name} flattened ({ticket.ticket_id})", ts_ns,
                                    pair=pr.name, action=f"{pr.name} flat, HALTED"))

    def cmd_watch(self, pair: str | None = None, depth: int = 5) -> dict:
        """One screen per pair for ``xmc watch``: both books, FX, the executable basis each way at the
        ticket's size, thresholds and signal, quote ages, markets, position, open tickets."""
        now = self.clock.now_ns()
        wall = time.time_ns()
        out = {}
        for pr in self._scope(pair):
            ib, ob = self.books[pr.inner.key], self.books[pr.outer.key]
            fxb = self.books.get(pr.fx_key) if pr.fx_key else None
            fx = fxb.mid() if fxb is not None and fxb.valid else (
                fx_rate(None, self.strategy.fx[pr.cfg.fx]) if pr.cfg.fx else None)
            ways = {}
            if ib.valid and ob.valid and (fx is not None or not pr.pricer.needs_fx):
                for d in (Direction.SELL_BASIS, Direction.BUY_BASIS):
                    q = pr.pricer.executable(d, ib, ob, pr.entry.inner_lots, pr.entry.outer_lots, fx)
                    if q is not None:
                        ways[d.value] = {"basis": str(q.basis), "inner_px": str(q.inner.avg),
                                         "outer_px": str(q.outer.avg), "size_inner": str(q.inner.qty),
                                         "size_outer": str(q.outer.qty)}
            cfg = pr.cfg
            markets = []
            for inst, cal in zip((pr.inner, pr.outer), pr.calendars):
                st = cal.state(now) if cal is not None else None
                markets.append({"venue": inst.venue, "open": st.open if st else True,
                                "reason": st.reason if st else "no calendar (always open)"})
            sell, buy = pr.last_basis
            signal = None
            if sell is not None and cfg.entry_above is not None and sell >= cfg.entry_above:
                signal = "sell basis (entry_above crossed)"
            elif buy is not None and cfg.entry_below is not None and buy <= cfg.entry_below:
                signal = "buy basis (entry_below crossed)"
            out[pr.name] = {
                "state": self.pair_state(pr).value, "reason": pr.hold.reason or self.hold.reason,
                "inner": {"venue": pr.inner.venue, "symbol": pr.inner.symbol, "bids": _lv(ib.bids, depth),
                          "asks": _lv(ib.asks, depth), "age_ms": (wall - ib.recv_ns) / MS if ib.recv_ns else None,
                          "valid": ib.valid},
                "outer": {"venue": pr.outer.venue, "symbol": pr.outer.symbol, "bids": _lv(ob.bids, depth),
                          "asks": _lv(ob.asks, depth), "age_ms": (wall - ob.recv_ns) / MS if ob.recv_ns else None,
                          "valid": ob.valid},
                "fx": {"rate": str(fx) if fx is not None else None,
                       "age_ms": (wall - fxb.recv_ns) / MS if fxb is not None and fxb.recv_ns else None},
                "executable": ways, "lots": [str(pr.entry.inner_lots), str(pr.entry.outer_lots)],
                "thresholds": {k: str(v) if v is not None else None for k, v in (
                    ("entry_above", cfg.entry_above), ("exit_above", cfg.exit_above),
                    ("entry_below", cfg.entry_below), ("exit_below", cfg.exit_below))},
                "signal": signal, "markets": markets,
                "position_units": _units(pr.position_units), "residual_units": _units(pr.residual_units),
                "unit": pr.inner.unit, "currency": pr.inner.currency,
                "active_ticket": pr.active.ticket_id if pr.active is not None else None,
            }
        st = self.cmd_status()
        return {"pairs": out, "global": st["global"], "open_tickets": st["open_tickets"],
                "alerts": st["alerts"][-8:], "venues_up": st["venues_up"]}

    def cmd_status(self) -> dict:
        now = self.clock.now_ns()
        pairs = {}
        for pr in self.pairs.values():
            sell, buy = pr.last_basis
            pairs[pr.name] = {
                "state": self.pair_state(pr).value, "reason": pr.hold.reason or self.hold.reason,
                "holds": [{"key": h.key, "level": h.level.value, "sticky": h.sticky, "reason": h.reason}
                          for h in pr.hold.holds.values()],
                "inner_lots": str(pr.inner_lots), "outer_lots": str(pr.outer_lots),
                "position_units": _units(pr.position_units), "residual_units": _units(pr.residual_units),
                "unit": pr.inner.unit, "basis_sell": str(sell) if sell is not None else None,
                "basis_buy": str(buy) if buy is not None else None,
                "realised": str(self.gate.realised.get(pr.name, ZERO)), "currency": pr.inner.currency,
                "active_ticket": pr.active.ticket_id if pr.active is not None else None,
                "signals": pr.signals, "denials": pr.denials,
            }
        tickets = [{"ticket_id": w.ticket.ticket_id, "pair": w.ticket.pair, "state": w.ticket.state.value,
                    "intent": w.ticket.intent.value, "age_ms": round((now - w.ticket.created_ns) / MS, 1),
                    "residual": str(w.ticket.residual), "repairs": list(w.repairs)}
                   for w in self.work.values() if not w.ticket.state.is_terminal]
        alerts = [{"kind": a.kind, "severity": a.severity, "message": a.message, "pair": a.pair, "venue": a.venue,
                   "ts_ns": a.ts_ns, "action": a.action, "alert_to_action_us": a.alert_to_action_us}
                  for a in list(self.alerts.recent)[-20:]]
        return {"global": {"state": self.hold.state.value, "reason": self.hold.reason},
                "venues_up": sorted(self.venues_up), "pairs": pairs, "open_tickets": tickets,
                "positions": {k: str(v) for k, v in self.gate.positions.items()},
                "alerts": alerts, "tickets_by_state": self.tickets_by_state(), "stopping": self.stopping}

    # -- venue requests --------------------------------------------------------------------
    def _subscribe(self, inst: Instrument) -> None:
        req = self.ids.request_id("M")
        self.md_req[inst.key] = req
        self.sender.subscribe(SubscribeMarketData(req, inst, self.strategy.engine.md_depth))

    def _query(self, order: Order, why: str, force: bool = False) -> None:
        if order.cl_ord_id in self._asked and not force or self.closing:
            return
        self._asked.add(order.cl_ord_id)
        order.uncertain = True
        ok = self.sender.send_status(QueryOrderStatus(order.cl_ord_id, order.instrument, order.side, order.order_id))
        self.audit.event("status_request", self.clock.now_ns(), venue=order.instrument.venue,
                         ticket_id=order.ticket_id, cl_ord_id=order.cl_ord_id, reason=why, sent=ok)

    def _cancel(self, order: Order, why: str) -> None:
        if self.closing:
            return
        self._asked.add(order.cl_ord_id)
        cmd = CancelOrder(self.ids.cl_ord_id(), order.cl_ord_id, order.instrument, order.side, order.qty,
                          order.order_id)
        self.orders[cmd.cl_ord_id] = order   # the venue's reports may quote the cancel's ClOrdID
        ok = self.sender.send_cancel(cmd, self.clock.now_ns())
        self.audit.event("cancel_request", self.clock.now_ns(), venue=order.instrument.venue,
                         ticket_id=order.ticket_id, cl_ord_id=order.cl_ord_id, reason=why, sent=ok)

    def _unknown_instrument(self, venue: str, symbol: str, ts_ns: int) -> None:
        self.audit.event("unknown_instrument", ts_ns, venue=venue, symbol=symbol)

    # -- records ---------------------------------------------------------------------------
    def _ticket_record(self, t: Ticket, w: Work) -> dict:
        d = t.decision
        return {"ticket_id": t.ticket_id, "pair": t.pair, "direction": t.direction.value, "intent": t.intent.value,
                "created_ns": t.created_ns, "state": t.state.value, "closes": w.closes, "aim": t.aim,
                "lots": {r.value: leg.target_lots for r, leg in t.legs.items()},
                "decision": {"basis": d.basis, "threshold": d.threshold, "inner_px": d.inner_px,
                             "outer_px": d.outer_px, "outer_converted": d.outer_converted, "fx": d.fx,
                             "planned_residual": d.planned_residual}}

    @staticmethod
    def _order_record(o: Order) -> dict:
        return _cmd_record(o.command, o.ticket_id, o.leg.value, o.role.value, o.created_ns)

    def _audit_ticket(self, t: Ticket, md_recv_ns: int | None) -> None:
        d = t.decision
        inner, outer = t.legs[LegRole.INNER], t.legs[LegRole.OUTER]
        w = self.work.get(t.ticket_id)
        row = {
            "ticket_id": t.ticket_id, "run_id": self.audit.run_id, "pair": t.pair,
            "direction": t.direction.value, "intent": t.intent.value, "state": t.state.value,
            "created_ns": t.created_ns, "sent_ns": t.sent_ns, "ended_ns": t.ended_ns,
            "basis": d.basis, "threshold": d.threshold, "inner_px": d.inner_px, "outer_px": d.outer_px,
            "outer_converted": d.outer_converted, "fx": d.fx, "unit": t.unit,
            "planned_residual": d.planned_residual,
            "inner_target_lots": inner.target_lots, "outer_target_lots": outer.target_lots,
            "inner_filled_lots": inner.filled_lots, "outer_filled_lots": outer.filled_lots,
            "residual": t.residual,
            "reason": t.transitions[-1].cause if t.transitions else None,
            "repairs": ",".join(w.repairs) if w and w.repairs else None,
        }
        if md_recv_ns is not None:
            row["md_recv_ns"] = md_recv_ns
            row["decision"] = {
                "inner_book": [[str(x) for x in lvl] if lvl else None for lvl in d.inner_book],
                "outer_book": [[str(x) for x in lvl] if lvl else None for lvl in d.outer_book],
                "inner_age_ms": d.inner_age_ns / MS, "outer_age_ms": d.outer_age_ns / MS,
                "fx_age_ms": d.fx_age_ns / MS if d.fx_age_ns is not None else None,
                "aim": str(t.aim),
            }
        self.audit.record("tickets", row)

    def _audit_transition(self, t: Ticket, tr) -> None:
        self.audit.record("ticket_events", {
            "run_id": self.audit.run_id, "ticket_id": t.ticket_id, "ts_ns": tr.ts_ns,
            "from_state": tr.from_state.value, "to_state": tr.to_state.value, "trigger": tr.trigger.value,
            "cause": tr.cause})

    def _audit_order(self, o: Order) -> None:
        c = o.command
        self.audit.record("orders", {
            "cl_ord_id": c.cl_ord_id, "run_id": self.audit.run_id, "ticket_id": o.ticket_id, "leg": o.leg.value,
            "role": o.role.value, "venue": c.instrument.venue, "symbol": c.instrument.symbol,
            "side": c.side.value, "qty": o.qty, "ord_type": c.ord_type.value, "price": c.price,
            "tif": c.tif.value, "position_effect": c.position_effect.value if c.position_effect else None,
            "account": c.account, "status": o.status.value, "cum_qty": o.filled_qty, "avg_px": o.avg_px,
            "order_id": o.order_id, "created_ns": o.created_ns, "sent_ns": o.sent_ns, "ack_ns": o.ack_ns,
            "done_ns": o.done_ns, "text": o.text})

    # -- control ---------------------------------------------------------------------------
    def stop_new_tickets(self) -> None:
        self.stopping = True

    def close(self) -> None:
        """The sessions are about to close: from now on nothing is sent (orders, cancels, status
        requests). A report that still arrives is applied; a ticket it legs stays open for the next
        start."""
        self.stopping = True
        self.closing = True

    def exposure(self) -> list[dict]:
        """What the engine holds unhedged: every ticket not finished (legged, repairing, or with an
        order whose outcome is unknown) and every pair whose legs differ by more than its tolerance.
        Empty when the engine can stop with nothing at risk."""
        out = []
        for w in self.work.values():
            t = w.ticket
            if not t.state.is_terminal:
                uncertain = [o.cl_ord_id for o in t.orders() if o.uncertain or (not o.is_terminal and o.sent_ns)]
                out.append({"pair": t.pair, "ticket_id": t.ticket_id, "state": t.state.value,
                            "residual": _units(t.residual), "unit": t.unit, "orders_open": uncertain})
        for pr in self.pairs.values():
            if abs(pr.residual_units) > pr.cfg.residual_tolerance:
                out.append({"pair": pr.name, "ticket_id": None, "state": "HELD",
                            "residual": _units(pr.residual_units), "unit": pr.inner.unit, "orders_open": []})
        return out

    def tickets_by_state(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tickets.values():
            out[t.state.value] = out.get(t.state.value, 0) + 1
        return out

    @property
    def working(self) -> bool:
        """Any ticket not finished (working, legged or repairing)."""
        return any(not w.ticket.state.is_terminal for w in self.work.values())


def _cmd_record(c: NewOrder, ticket_id: str, leg: str, role: str, created_ns: int) -> dict:
    """An order as the journal keeps it (plain strings: no encoder hooks on the hot path)."""
    return {"ticket_id": ticket_id, "leg": leg, "role": role, "cl_ord_id": c.cl_ord_id,
            "instrument": c.instrument.name, "side": c.side.value, "qty": str(c.qty),
            "ord_type": c.ord_type.value, "price": str(c.price) if c.price is not None else None,
            "tif": c.tif.value, "account": c.account,
            "position_effect": c.position_effect.value if c.position_effect else None, "created_ns": created_ns}


def _lv(levels, depth: int) -> list[list[str]]:
    return [[str(p), str(q)] for p, q in levels[:depth]]


def _open_qty(o: Order) -> Decimal:
    """Lots of an order still able to fill."""
    if o.is_terminal or o.sent_ns is None:
        return ZERO
    rest = o.qty - o.filled_qty
    return rest if rest > 0 else ZERO


def _units(d: Decimal) -> str:
    """A quantity for people: at most six decimals, no trailing zeros."""
    q = d.quantize(Decimal("0.000001")).normalize()
    return format(q, "f")


def _trading_day(ns: int) -> int:
    """Trading day number for SHFE/INE: the night session from 21:00 Asia/Shanghai belongs to the
    next day. (Holidays and weekends are the calendar's business.)"""
    shanghai = ns // 1_000_000_000 + 8 * 3600 + 3 * 3600  # +8h to local, +3h so 21:00 rolls over
    return shanghai // 86400
