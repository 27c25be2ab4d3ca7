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
from xmc_fix.risk.gate import Denial, DenyReason, TicketCheck, check_ticket

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


@dataclass(slots=True)
class PairRuntime:
    cfg: PairConfig
    pricer: PairPricer
    inner: Instrument
    outer: Instrument
    fx_key: tuple[str, str] | None
    fx_max_age_ms: int
    entry: Alignment
    state: TradingState = TradingState.ACTIVE
    state_reason: str = ""
    active: Ticket | None = None
    inner_lots: Decimal = ZERO          # signed, net of every fill on this pair
    outer_lots: Decimal = ZERO
    bundles: deque = field(default_factory=deque)
    legged: set = field(default_factory=set)   # ids of this pair's tickets being repaired
    last_denial: DenyReason | None = None
    signals: int = 0
    denials: int = 0
    last_basis: tuple[Decimal | None, Decimal | None] = (None, None)

    @property
    def name(self) -> str:
        return self.cfg.name

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


class Engine:
    def __init__(self, strategy: Strategy, sender: OrderSender, audit: AuditSink, clock: Clock,
                 ids: IdGenerator, journal: JournalSink | None = None) -> None:
        self.strategy = strategy
        self.sender = sender
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.journal = journal or NullJournal()
        self.account = strategy.engine.account
        self.global_state = TradingState.ACTIVE
        self.stopping = False
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
            if not pc.enabled:
                pr.state, pr.state_reason = TradingState.HALTED, "disabled in the strategy file"
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
            if pr is not None and st.get("state") == TradingState.HALTED.value:
                pr.state, pr.state_reason = TradingState.HALTED, st.get("reason", "halted before restart")
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
                      legs, pr.inner.unit, pr.cfg.residual_tolerance)

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
            if pr.state is TradingState.HALTED:
                st.pair_states[pr.name] = {"state": pr.state.value, "reason": pr.state_reason}
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
        applied = order.apply(er)
        if applied.duplicate:
            self.stats.duplicates += 1
            self.audit.event("duplicate_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=order.cl_ord_id,
                             ticket_id=order.ticket_id, exec_id=er.exec_id, poss_dup=er.poss_dup)
            return
        if er.cl_ord_id not in self.orders:
            self.orders[er.cl_ord_id] = order  # replaced or cancelled: reachable by its new ClOrdID
        ticket = self.tickets[order.ticket_id]
        pr = self.pairs[ticket.pair]
        venue = order.instrument.venue
        delta = order.filled_qty - before   # positions follow CumQty, so a status reply counts too
        if delta:
            signed = delta if order.side is Side.BUY else -delta
            if order.leg is LegRole.INNER:
                pr.inner_lots += signed
            else:
                pr.outer_lots += signed
        if applied.fill is not None:
            f = applied.fill
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

    def _sample_basis(self, now_ns: int) -> None:
        """Each pair's executable basis at the best levels, for the record (basis over time)."""
        for pr in self.pairs.values():
            sell, buy = pr.last_basis
            if sell is None and buy is None:
                continue
            self.audit.event("basis", now_ns, pair=pr.name, sell=str(sell) if sell is not None else None,
                             buy=str(buy) if buy is not None else None, position=str(pr.position_units),
                             state=pr.state.value, signals=pr.signals, denials=pr.denials)

    # -- decisions -------------------------------------------------------------------------
    def _evaluate(self, pr: PairRuntime, recv_ns: int) -> None:
        if pr.active is not None or pr.legged or self.stopping or pr.state is TradingState.HALTED:
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
            return
        direction, intent, threshold = choice
        bundle = None
        if intent is TicketIntent.OPEN:
            inner_lots, outer_lots = pr.entry.inner_lots, pr.entry.outer_lots
            planned = pr.entry.residual
        else:
            while pr.bundles and pr.bundles[0].empty:
                pr.bundles.popleft()
            if not pr.bundles:
                return
            bundle = pr.bundles[0]
            inner_lots, outer_lots = abs(bundle.inner_lots), abs(bundle.outer_lots)
            planned = pr.inner.lots_to_units(inner_lots) - pr.outer.lots_to_units(outer_lots, pr.inner.unit)
        q = pr.pricer.executable(direction, ib, ob, inner_lots, outer_lots, fx)
        if q is None:
            return
        crossed = q.basis >= threshold if direction is Direction.SELL_BASIS else q.basis <= threshold
        if not crossed:
            return  # the top crossed but not at the ticket's size
        pr.signals += 1
        sign = 1 if direction is Direction.BUY_BASIS else -1
        after = pr.position_units + sign * pr.inner.lots_to_units(inner_lots)
        denial = check_ticket(TicketCheck(
            pair=pr.name, intent=intent, pair_state=pr.state, global_state=self.global_state,
            venues_up=(pr.inner.venue in self.venues_up, pr.outer.venue in self.venues_up),
            venues=(pr.inner.venue, pr.outer.venue),
            quote_ages_ms=((recv_ns - ib.recv_ns) / MS, (recv_ns - ob.recv_ns) / MS),
            fx_age_ms=(recv_ns - fx_book.recv_ns) / MS if fx_book is not None else None,
            max_quote_age_ms=cfg.max_quote_age_ms, max_fx_age_ms=pr.fx_max_age_ms,
            lots=(inner_lots, outer_lots), depth=(q.inner.qty, q.outer.qty),
            max_order_qty=(pr.inner.max_order_qty, pr.outer.max_order_qty),
            position_after=after, max_position=cfg.max_position, stopping=self.stopping))
        if denial is not None:
            self._deny(pr, denial, recv_ns, q)
            return
        pr.last_denial = None
        self._start_ticket(pr, direction, intent, q, inner_lots, outer_lots, fx, threshold, planned,
                           recv_ns, (ib, ob, fx_book), bundle)

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
                      inner_lots: Decimal, outer_lots: Decimal, fx: Decimal | None, threshold: Decimal,
                      planned: Decimal, recv_ns: int, books: tuple, bundle: Bundle | None) -> None:
        now = self.clock.now_ns()
        cfg = pr.cfg
        tid = self.ids.ticket_id()
        ib, ob, fxb = books
        decision = Decision(
            ts_ns=now, basis=q.basis, threshold=threshold, inner_px=q.inner.avg, outer_px=q.outer.avg,
            outer_converted=q.outer_converted, fx=fx if fx is not None else Decimal(1),
            inner_book=ib.top(), outer_book=ob.top(),
            fx_age_ns=(recv_ns - fxb.recv_ns) if fxb is not None else None,
            inner_age_ns=recv_ns - ib.recv_ns, outer_age_ns=recv_ns - ob.recv_ns, planned_residual=planned)
        legs = {}
        cmds = {}
        for role, inst, lots, sweep_, ticks, ot, tif in (
                (LegRole.INNER, pr.inner, inner_lots, q.inner, cfg.inner_slippage_ticks, cfg.inner_order_type,
                 cfg.inner_tif),
                (LegRole.OUTER, pr.outer, outer_lots, q.outer, cfg.outer_slippage_ticks, cfg.outer_order_type,
                 cfg.outer_tif)):
            side = direction.side(role)
            legs[role] = Leg(role, inst, side, lots)
            price = self._limit_price(inst, side, sweep_.worst, ticks) if ot is OrdType.LIMIT else None
            cmds[role] = NewOrder(self.ids.cl_ord_id(), inst, side, lots, ot, price, tif, self.account,
                                  self._position_effect(inst, intent, bundle, now))
        ticket = Ticket(tid, pr.name, direction, intent, now, decision, legs, pr.inner.unit, cfg.residual_tolerance)
        w = Work(ticket, closes=bundle.ticket_id if bundle else None)
        first = (LegRole.INNER, LegRole.OUTER)
        if cfg.submission == "sequential":
            lead = self._sequential_first(pr, q, inner_lots, outer_lots)
            first = (lead,)
            w.pending = cmds[LegRole.OUTER if lead is LegRole.INNER else LegRole.INNER]
        orders = []
        for role in first:
            order = Order(cmds[role], tid, role, OrderRole.ENTRY, now)
            legs[role].orders.append(order)
            self.orders[cmds[role].cl_ord_id] = order
            orders.append(order)
        self.tickets[tid] = ticket
        self.work[tid] = w
        pr.active = ticket
        # Intent first: the ticket and its ClOrdIDs are on disk before any order leaves.
        self.journal.write("ticket", **self._ticket_record(ticket, w))
        for order in orders:
            self.journal.write("order", **self._order_record(order))
        # Both legs (or the first, when sequential), back to back, from this callback.
        sent_any = False
        for order in orders:
            sent_any |= self._send(order)
        last_sent = max((o.sent_ns for o in orders if o.sent_ns), default=None)
        ticket.sent_ns = last_sent
        # --- orders are out; everything below is bookkeeping ---
        self.stats.tickets += 1
        if last_sent is not None:
            self.stats.decision_to_send_ns.append(last_sent - recv_ns)
        t = ticket.apply(TicketTrigger.SENT if sent_any else TicketTrigger.SEND_FAILED, self.clock.now_ns(),
                         f"{intent.value} {direction.value} at basis {q.basis:.6g} (threshold {threshold})"
                         + (f", {cfg.submission} from {first[0].value.lower()}" if len(first) == 1 else ""))
        self._audit_ticket(ticket, recv_ns)
        self._audit_transition(ticket, t)
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
        if bundle is not None and _trading_day(bundle.opened_ns) == _trading_day(now_ns):
            return PositionEffect.CLOSE_TODAY
        return PositionEffect.CLOSE

    def _send(self, order: Order) -> bool:
        if self.sender.send_new(order.command, order.created_ns):
            order.sent_ns = self.clock.now_ns()
            v = order.instrument.venue
            self.stats.orders[v] = self.stats.orders.get(v, 0) + 1
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
        if w.pending is not None:
            self._send_second_leg(ticket, w, pr, ts_ns)
            if ticket.working:
                return
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
        if w.legged_ns is not None and now_ns - w.legged_ns > policy.give_up_ms * MS:
            return self._give_up(ticket, w, pr, now_ns, f"not repaired within {policy.give_up_ms} ms")
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
        self.audit.event("repair_step", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, step=result.kind,
                         attempt=w.attempts[kind], reason=result.reason,
                         orders=[o.cl_ord_id for o in orders],
                         expected_cost=str(sum(s.expected_cost for s in result.steps)))
        for o in orders:
            self._audit_order(o)
        if not any(o.sent_ns for o in orders):
            self._progress(ticket, now_ns)

    def _give_up(self, ticket: Ticket, w: Work, pr: PairRuntime, now_ns: int, reason: str) -> None:
        trigger = TicketTrigger.REPAIR_FAILED
        if ticket.state is TicketState.REPAIRING and ticket.working:
            return  # let the working step finish first
        self._transition(ticket, trigger, now_ns, reason)
        pr.state = TradingState.HALTED
        pr.state_reason = (f"ticket {ticket.ticket_id} failed to repair ({reason}): "
                           f"residual {_units(ticket.residual)} {ticket.unit}")
        self.journal.write("pair", pair=pr.name, state=pr.state.value, reason=pr.state_reason)
        self.audit.event("pair_halted", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, reason=pr.state_reason)
        self.audit.event("alert", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, alert="residual_exposure",
                         residual=str(ticket.residual), unit=ticket.unit, reason=reason)
        log.error("%s: %s", pr.name, pr.state_reason)
        self._finish(ticket, w, pr, now_ns)

    def _finish(self, ticket: Ticket, w: Work, pr: PairRuntime, ts_ns: int) -> None:
        """A ticket reached a final state: positions it leaves, the journal, the pair freed."""
        if not ticket.state.is_terminal:
            self._transition(ticket, TicketTrigger.SEND_FAILED if ticket.state is TicketState.PENDING
                             else TicketTrigger.LEGS_EMPTY, ts_ns, "nothing sent")
        pr.legged.discard(ticket.ticket_id)
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

    # -- venue requests --------------------------------------------------------------------
    def _subscribe(self, inst: Instrument) -> None:
        req = self.ids.request_id("M")
        self.md_req[inst.key] = req
        self.sender.subscribe(SubscribeMarketData(req, inst, self.strategy.engine.md_depth))

    def _query(self, order: Order, why: str, force: bool = False) -> None:
        if order.cl_ord_id in self._asked and not force:
            return
        self._asked.add(order.cl_ord_id)
        order.uncertain = True
        ok = self.sender.send_status(QueryOrderStatus(order.cl_ord_id, order.instrument, order.side, order.order_id))
        self.audit.event("status_request", self.clock.now_ns(), venue=order.instrument.venue,
                         ticket_id=order.ticket_id, cl_ord_id=order.cl_ord_id, reason=why, sent=ok)

    def _cancel(self, order: Order, why: str) -> None:
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
                "created_ns": t.created_ns, "state": t.state.value, "closes": w.closes,
                "lots": {r.value: leg.target_lots for r, leg in t.legs.items()},
                "decision": {"basis": d.basis, "threshold": d.threshold, "inner_px": d.inner_px,
                             "outer_px": d.outer_px, "outer_converted": d.outer_converted, "fx": d.fx,
                             "planned_residual": d.planned_residual}}

    @staticmethod
    def _order_record(o: Order) -> dict:
        c = o.command
        return {"ticket_id": o.ticket_id, "leg": o.leg.value, "role": o.role.value, "cl_ord_id": c.cl_ord_id,
                "instrument": c.instrument.name, "side": c.side.value, "qty": c.qty, "ord_type": c.ord_type.value,
                "price": c.price, "tif": c.tif.value, "account": c.account,
                "position_effect": c.position_effect.value if c.position_effect else None,
                "created_ns": o.created_ns}

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

    def tickets_by_state(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tickets.values():
            out[t.state.value] = out.get(t.state.value, 0) + 1
        return out

    @property
    def working(self) -> bool:
        """Any ticket not finished (working, legged or repairing)."""
        return any(not w.ticket.state.is_terminal for w in self.work.values())


def _units(d: Decimal) -> str:
    """A quantity for people: at most six decimals, no trailing zeros."""
    q = d.quantize(Decimal("0.000001")).normalize()
    return format(q, "f")


def _trading_day(ns: int) -> int:
    """Trading day number for SHFE/INE: the night session from 21:00 Asia/Shanghai belongs to the
    next day. (Holidays and weekends are the calendar's business.)"""
    shanghai = ns // 1_000_000_000 + 8 * 3600 + 3 * 3600  # +8h to local, +3h so 21:00 rolls over
    return shanghai // 86400
