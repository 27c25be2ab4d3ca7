"""The ticket engine: books in, paired orders out, execution reports reconciled.

Single-threaded by construction: every method here runs inside the :class:`Serializer`, on the
QuickFIX session thread for market data and execution reports, or on the timer thread for
deadlines. Nothing here blocks or touches SQL; the audit sink is a queue.

The hot path is ``on_book_update -> _evaluate -> _start_ticket``: it reads the two books and the FX
book, prices the executable basis for the ticket's precomputed lots, passes the risk gate, and sends
both legs' NewOrderSingles back to back from the same callback. Everything written down about the
ticket is written after both orders have left.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from xmc_fix.basis.alignment import Alignment, align
from xmc_fix.basis.pricing import PairPricer, Quote, fx_rate
from xmc_fix.clock import Clock
from xmc_fix.config import PairConfig, Strategy
from xmc_fix.domain.commands import NewOrder, QueryOrderStatus, SubscribeMarketData
from xmc_fix.domain.enums import (Direction, LegRole, OrderRole, OrdStatus, OrdType, PositionEffect, Side,
                                  TicketIntent, TradingState)
from xmc_fix.domain.events import (BookSnapshot, BookUpdate, CancelRejected, ExecReport, MarketDataRejected,
                                   MessageRejected, SessionDown, SessionUp)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import Order
from xmc_fix.domain.tickets import Decision, Leg, Ticket, TicketState, TicketTrigger
from xmc_fix.errors import ConfigError
from xmc_fix.marketdata.book import Book
from xmc_fix.risk.gate import Denial, DenyReason, TicketCheck, check_ticket

log = logging.getLogger("xmc.engine")
ZERO = Decimal(0)
MS = 1_000_000


class OrderSender(Protocol):
    """Where orders go: the QuickFIX sessions in production, a recorder in unit tests."""

    def is_up(self, venue: str) -> bool: ...
    def send_new(self, cmd: NewOrder, now_ns: int) -> bool: ...
    def send_status(self, cmd: QueryOrderStatus) -> bool: ...
    def subscribe(self, cmd: SubscribeMarketData) -> bool: ...


class AuditSink(Protocol):
    run_id: str

    def record(self, table: str, row: dict) -> None: ...
    def event(self, kind: str, ts_ns: int, **kw) -> None: ...


@dataclass(slots=True)
class Bundle:
    """Lots held from one opening ticket, closed together by later closing tickets. Computed from
    the opening ticket's fills, so a late fill on it is reflected without extra bookkeeping."""

    opened: Ticket
    closed_inner: Decimal = ZERO   # signed lots traded back by closing tickets
    closed_outer: Decimal = ZERO

    def _net(self, role: LegRole, closed: Decimal) -> Decimal:
        leg = self.opened.legs[role]
        return leg.filled_lots * leg.side.sign + closed

    @property
    def inner_lots(self) -> Decimal:
        return self._net(LegRole.INNER, self.closed_inner)

    @property
    def outer_lots(self) -> Decimal:
        return self._net(LegRole.OUTER, self.closed_outer)

    @property
    def opened_ns(self) -> int:
        return self.opened.created_ns


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


@dataclass(slots=True)
class EngineStats:
    tickets: int = 0
    fills: dict = field(default_factory=dict)          # venue -> count
    rejects: dict = field(default_factory=dict)        # venue -> count
    orders: dict = field(default_factory=dict)         # venue -> count
    md_updates: int = 0
    duplicates: int = 0
    unknown_reports: int = 0
    decision_to_send_ns: list = field(default_factory=list)


class Engine:
    def __init__(self, strategy: Strategy, sender: OrderSender, audit: AuditSink, clock: Clock,
                 ids: IdGenerator) -> None:
        self.strategy = strategy
        self.sender = sender
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.account = strategy.engine.account
        self.global_state = TradingState.ACTIVE
        self.stopping = False
        self.stats = EngineStats()
        self.books: dict[tuple[str, str], Book] = {}
        self.md_req: dict[tuple[str, str], str] = {}
        self.pairs: dict[str, PairRuntime] = {}
        self._pairs_by_key: dict[tuple[str, str], list[PairRuntime]] = {}
        self.tickets: dict[str, Ticket] = {}
        self.orders: dict[str, Order] = {}
        self.venues_up: set[str] = set()
        self._status_asked: set[str] = set()
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
        # Orders whose outcome we may have missed while the venue was away: ask.
        for order in self.orders.values():
            if order.instrument.venue == ev.venue and not order.is_terminal and order.sent_ns:
                self._query(order, "session re-established")

    def on_session_down(self, ev: SessionDown) -> None:
        self.venues_up.discard(ev.venue)
        for (venue, _), book in self.books.items():
            if venue == ev.venue:
                book.invalidate()
        in_flight = [o.cl_ord_id for o in self.orders.values()
                     if o.instrument.venue == ev.venue and not o.is_terminal]
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
        applied = order.apply(er)
        if applied.duplicate:
            self.stats.duplicates += 1
            self.audit.event("duplicate_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=order.cl_ord_id,
                             ticket_id=order.ticket_id, exec_id=er.exec_id, poss_dup=er.poss_dup)
            return
        if er.cl_ord_id not in self.orders:
            self.orders[er.cl_ord_id] = order  # replaced order: reachable by its new ClOrdID
        ticket = self.tickets[order.ticket_id]
        pr = self.pairs[ticket.pair]
        venue = order.instrument.venue
        if applied.fill is not None:
            f = applied.fill
            signed = f.qty if order.side is Side.BUY else -f.qty
            if order.leg is LegRole.INNER:
                pr.inner_lots += signed
            else:
                pr.outer_lots += signed
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
        self._settle(ticket, pr, er.recv_ns)

    def on_cancel_reject(self, ev: CancelRejected) -> None:
        order = self.orders.get(ev.orig_cl_ord_id or "") or self.orders.get(ev.cl_ord_id)
        self.audit.event("cancel_rejected", ev.recv_ns, venue=ev.venue, cl_ord_id=ev.cl_ord_id,
                         ticket_id=order.ticket_id if order else None, reason=ev.reason)

    def on_message_rejected(self, ev: MessageRejected) -> None:
        """A Reject or BusinessMessageReject of something we sent. If it names one of our orders
        (by BusinessRejectRefID or by the sequence number QuickFIX recorded), that order is dead."""
        self.audit.event("message_rejected", ev.recv_ns, venue=ev.venue, business=ev.business,
                         ref_seq_num=ev.ref_seq_num, ref_msg_type=ev.ref_msg_type, ref_id=ev.ref_id,
                         reason=ev.reason)
        order = self.orders.get(ev.ref_id or "")
        if order is not None and not order.is_terminal and order.cum_qty == 0:
            order.status = OrdStatus.REJECTED
            order.text = f"rejected by {ev.venue}: {ev.reason}"
            order.done_ns = ev.recv_ns
            self.stats.rejects[ev.venue] = self.stats.rejects.get(ev.venue, 0) + 1
            self._audit_order(order)
            ticket = self.tickets[order.ticket_id]
            self._settle(ticket, self.pairs[ticket.pair], ev.recv_ns)

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
        """Deadlines: an order with no final outcome after ``ticket_timeout_ms`` is asked about
        (OrderStatusRequest) rather than assumed dead."""
        limit = self.strategy.engine.ticket_timeout_ms * MS
        for pr in self.pairs.values():
            t = pr.active
            if t is None or t.sent_ns is None or now_ns - t.sent_ns < limit:
                continue
            for order in t.orders():
                if not order.is_terminal and order.cl_ord_id not in self._status_asked:
                    self.audit.event("order_timeout", now_ns, venue=order.instrument.venue, pair=pr.name,
                                     ticket_id=t.ticket_id, cl_ord_id=order.cl_ord_id)
                    self._query(order, "no final report within ticket_timeout_ms")

    # -- decisions -------------------------------------------------------------------------
    def _evaluate(self, pr: PairRuntime, recv_ns: int) -> None:
        if pr.active is not None or self.stopping or pr.state is TradingState.HALTED:
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

    def _limit_price(self, inst: Instrument, side: Side, worst: Decimal, ticks: int) -> Decimal:
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
        cmds = []
        for role, inst, lots, sweep_, ticks in (
                (LegRole.INNER, pr.inner, inner_lots, q.inner, cfg.inner_slippage_ticks),
                (LegRole.OUTER, pr.outer, outer_lots, q.outer, cfg.outer_slippage_ticks)):
            side = direction.side(role)
            legs[role] = Leg(role, inst, side, lots)
            price = self._limit_price(inst, side, sweep_.worst, ticks) if cfg.order_type is OrdType.LIMIT else None
            pe = None
            if inst.position_effect:
                pe = PositionEffect.OPEN if intent is TicketIntent.OPEN else self._close_effect(bundle, now)
            cmds.append((role, NewOrder(self.ids.cl_ord_id(), inst, side, lots, cfg.order_type, price, cfg.tif,
                                        self.account, pe)))
        ticket = Ticket(tid, pr.name, direction, intent, now, decision, legs, pr.inner.unit, cfg.residual_tolerance)
        orders = []
        for role, cmd in cmds:
            order = Order(cmd, tid, role, OrderRole.ENTRY, now)
            legs[role].orders.append(order)
            self.orders[cmd.cl_ord_id] = order
            orders.append(order)
        self.tickets[tid] = ticket
        pr.active = ticket
        # Both legs, back to back, from this callback.
        sent_any = False
        for order in orders:
            if self.sender.send_new(order.command, now):
                order.sent_ns = self.clock.now_ns()
                sent_any = True
            else:
                order.status = OrdStatus.REJECTED
                order.text = f"not sent: {order.instrument.venue} session unavailable"
                order.done_ns = self.clock.now_ns()
        last_sent = max((o.sent_ns for o in orders if o.sent_ns), default=None)
        ticket.sent_ns = last_sent
        # --- orders are out; everything below is bookkeeping ---
        self.stats.tickets += 1
        for o in orders:
            v = o.instrument.venue
            self.stats.orders[v] = self.stats.orders.get(v, 0) + 1
        if last_sent is not None:
            self.stats.decision_to_send_ns.append(last_sent - recv_ns)
        t = ticket.apply(TicketTrigger.SENT if sent_any else TicketTrigger.SEND_FAILED, self.clock.now_ns(),
                         f"{intent.value} {direction.value} at basis {q.basis:.6g} (threshold {threshold})")
        self._audit_ticket(ticket, recv_ns)
        self._audit_transition(ticket, t)
        for o in orders:
            self._audit_order(o)
        if not sent_any:
            self._settle(ticket, pr, now)

    def _close_effect(self, bundle: Bundle | None, now_ns: int) -> PositionEffect:
        """SHFE/INE: a position opened in today's trading day closes with close-today."""
        if bundle is not None and _trading_day(bundle.opened_ns) == _trading_day(now_ns):
            return PositionEffect.CLOSE_TODAY
        return PositionEffect.CLOSE

    # -- settlement ------------------------------------------------------------------------
    def _settle(self, ticket: Ticket, pr: PairRuntime, ts_ns: int) -> None:
        if ticket.state not in (TicketState.WORKING, TicketState.LEGGED, TicketState.PENDING):
            return
        trigger = ticket.settle_trigger()
        if trigger is None:
            return
        if ticket.state is TicketState.LEGGED and trigger is not TicketTrigger.LEGS_MATCHED:
            return
        if ticket.state is TicketState.PENDING:
            trigger = TicketTrigger.SEND_FAILED
        t = ticket.apply(trigger, ts_ns, self._settle_cause(ticket))
        self._audit_transition(ticket, t)
        inner, outer = ticket.legs[LegRole.INNER], ticket.legs[LegRole.OUTER]
        # Position bundles: what an opening ticket leaves, what a closing ticket takes.
        if ticket.intent is TicketIntent.OPEN and t.from_state is TicketState.WORKING:
            if not ticket.empty:
                pr.bundles.append(Bundle(ticket))
        elif ticket.intent is TicketIntent.CLOSE and t.from_state is TicketState.WORKING and pr.bundles:
            b = pr.bundles[0]
            b.closed_inner += inner.filled_lots * inner.side.sign
            b.closed_outer += outer.filled_lots * outer.side.sign
            if b.inner_lots == 0 and b.outer_lots == 0:
                pr.bundles.popleft()
        if ticket.state is TicketState.LEGGED:
            pr.state = TradingState.HALTED
            pr.state_reason = f"ticket {ticket.ticket_id} legged: residual {ticket.residual} {ticket.unit}"
            self.audit.event("pair_halted", ts_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                             reason=pr.state_reason)
            log.warning("%s: %s", pr.name, pr.state_reason)
        if ticket.state.is_terminal or ticket.state is TicketState.LEGGED:
            if pr.active is ticket:
                pr.active = None
        self._audit_ticket(ticket, None)

    @staticmethod
    def _settle_cause(ticket: Ticket) -> str:
        parts = []
        for role, leg in ticket.legs.items():
            statuses = "/".join(o.status.value for o in leg.orders)
            parts.append(f"{role.value.lower()} {leg.filled_lots}/{leg.target_lots} ({statuses})")
        return ", ".join(parts) + f"; residual {ticket.residual} {ticket.unit}"

    # -- venue requests --------------------------------------------------------------------
    def _subscribe(self, inst: Instrument) -> None:
        req = self.ids.request_id("M")
        self.md_req[inst.key] = req
        self.sender.subscribe(SubscribeMarketData(req, inst, self.strategy.engine.md_depth))

    def _query(self, order: Order, why: str) -> None:
        self._status_asked.add(order.cl_ord_id)
        ok = self.sender.send_status(QueryOrderStatus(order.cl_ord_id, order.instrument, order.side, order.order_id))
        self.audit.event("status_request", self.clock.now_ns(), venue=order.instrument.venue,
                         ticket_id=order.ticket_id, cl_ord_id=order.cl_ord_id, reason=why, sent=ok)

    def _unknown_instrument(self, venue: str, symbol: str, ts_ns: int) -> None:
        self.audit.event("unknown_instrument", ts_ns, venue=venue, symbol=symbol)

    # -- audit rows ------------------------------------------------------------------------
    def _audit_ticket(self, t: Ticket, md_recv_ns: int | None) -> None:
        d = t.decision
        inner, outer = t.legs[LegRole.INNER], t.legs[LegRole.OUTER]
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
            "side": c.side.value, "qty": c.qty, "ord_type": c.ord_type.value, "price": c.price,
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
        return any(pr.active is not None and pr.active.state is TicketState.WORKING for pr in self.pairs.values())


def _trading_day(ns: int) -> int:
    """Trading day number for SHFE/INE: the night session from 21:00 Asia/Shanghai belongs to the
    next day. (Holidays and weekends are the calendar's business, in risk.calendars.)"""
    shanghai = ns // 1_000_000_000 + 8 * 3600 + 3 * 3600  # +8h to local, +3h so 21:00 rolls over
    return shanghai // 86400
