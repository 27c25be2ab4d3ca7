"""Reconciliation of what the venues report: execution reports applied to orders, positions and
tickets; cancel rejects and message rejects of what we sent.

Each ExecutionReport is applied once per ExecID in any arrival order (:meth:`Order.apply`); the
position follows CumQty, so a status reply counts; the post-trade checks a fill, an acknowledgement
or an outcome calls for run before the ticket moves on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from xmc_fix.domain.enums import ExecType, OrdStatus
from xmc_fix.domain.events import CancelRejected, ExecReport, MessageRejected, Uninterpretable
from xmc_fix.domain.orders import Correction, Order
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.lifecycle import Lifecycle
from xmc_fix.execution.records import AuditSink, Records, book_top
from xmc_fix.execution.settlement import Settlement
from xmc_fix.execution.state import EngineState, PairRuntime
from xmc_fix.failpoints import crash_point
from xmc_fix.risk.gate import RiskGate
from xmc_fix.risk.monitor import Monitor

ZERO = Decimal(0)


def open_qty(o: Order) -> Decimal:
    """Lots of an order still able to fill."""
    if o.is_terminal or o.sent_ns is None:
        return ZERO
    rest = o.qty - o.filled_qty
    return rest if rest > 0 else ZERO


class Reconciler:
    def __init__(self, state: EngineState, lifecycle: Lifecycle, settlement: Settlement, monitor: Monitor,
                 gate: RiskGate, desk: OrderDesk, records: Records, audit: AuditSink) -> None:
        self.state = state
        self.lifecycle = lifecycle
        self.settle = settlement
        self.monitor = monitor
        self.gate = gate
        self.desk = desk
        self.records = records
        self.audit = audit

    def on_exec_report(self, er: ExecReport, fx_for: Callable[[PairRuntime, str], Decimal | None]) -> None:
        st = self.state
        order = st.orders.get(er.cl_ord_id)
        if order is None and er.orig_cl_ord_id:
            order = st.orders.get(er.orig_cl_ord_id)
        if order is None:
            if st.was_accounted(er.venue, er.exec_id):
                # a resend of a report the ledger took, about an order finished and forgotten since
                st.stats.duplicates += 1
                self.audit.event("duplicate_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=er.cl_ord_id,
                                 exec_id=er.exec_id, poss_dup=er.poss_dup, forgotten_order=True)
                return
            return self._foreign(er)
        before = order.filled_qty
        open_before = open_qty(order)
        acked = order.ack_ns is not None
        applied = order.apply(er)
        stats = st.stats
        if not acked and order.ack_ns is not None and order.sent_ns is not None and not order.restored:
            stats.acks.append((order.instrument.venue, order.ack_ns - order.sent_ns))
        if applied.duplicate:
            stats.duplicates += 1
            self.audit.event("duplicate_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=order.cl_ord_id,
                             ticket_id=order.ticket_id, exec_id=er.exec_id, poss_dup=er.poss_dup)
            return
        st.last_activity_ns = er.recv_ns
        if er.cl_ord_id not in st.orders:
            st.orders[er.cl_ord_id] = order  # replaced or cancelled: reachable by its new ClOrdID
        ticket = st.tickets[order.ticket_id]
        pr = st.pairs[ticket.pair]
        venue = order.instrument.venue
        delta = order.filled_qty - before   # positions follow CumQty, so a status reply counts too
        if order.sent_ns is not None:
            st.ledger.add_working(order.instrument, order.side, open_qty(order) - open_before)
        c = applied.correction
        if c is not None and c.old is not None:
            # the busted or corrected fill comes off at its own price; a corrected one goes back on at its new
            for lots, px in ((-c.old.qty, c.old.price),) + (((c.new.qty, c.new.price),) if c.new else ()):
                self.settle.protect(self.monitor.on_position_change(pr, order, lots, px, er.recv_ns,
                                                                    fx_for(pr, order.ticket_id), er.exec_id))
        elif delta:
            px = applied.fill.price if applied.fill is not None else (order.avg_px or order.command.price or ZERO)
            self.settle.protect(self.monitor.on_position_change(pr, order, delta, px, er.recv_ns,
                                                                fx_for(pr, order.ticket_id), er.exec_id))
        if delta or c is not None:
            st.account_for(venue, er.exec_id, er.recv_ns)
        if c is not None:
            self._corrected(pr, order, c, delta, er)
        if not acked and order.ack_ns is not None and order.sent_ns is not None and not order.restored:
            self.settle.protect(self.monitor.on_ack(order, er.recv_ns))
        if applied.status_changed and order.is_terminal and order.sent_ns is not None:
            self.settle.protect(self.monitor.on_outcome(self.gate, order, er.recv_ns))
        if applied.fill is not None:
            if not any(o.fills for o in ticket.orders() if o is not order) and len(order.fills) == 1:
                # the ticket's first fill: both books as they stand, for the legging cost
                ib, ob = st.books[pr.inner.key], st.books[pr.outer.key]
                self.audit.event("first_fill", er.recv_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                                 cl_ord_id=order.cl_ord_id, leg=order.leg.value,
                                 inner_book=book_top(ib.top()), outer_book=book_top(ob.top()))
            stats.fills[venue] = stats.fills.get(venue, 0) + 1
            self.records.fill(order, applied.fill)
        if applied.status_changed and order.status is OrdStatus.REJECTED:
            stats.rejects[venue] = stats.rejects.get(venue, 0) + 1
            self.audit.event("order_rejected", er.recv_ns, venue=venue, pair=ticket.pair,
                             ticket_id=ticket.ticket_id, cl_ord_id=order.cl_ord_id, text=er.text)
        self.records.order(order)
        if applied.fill is not None:
            crash_point("after_fill")
        self.lifecycle.progress(ticket, er.recv_ns)
        if delta or c is not None:
            self.settle.audit_ticket(ticket)   # the ticket's fills and residual as they now stand

    def _corrected(self, pr: PairRuntime, order: Order, c: Correction, delta: Decimal, er: ExecReport) -> None:
        venue = order.instrument.venue
        if c.kind is ExecType.ORDER_STATUS:
            kind = "inferred_bust"
            what = (f"{venue}'s status of the finished order says CumQty {order.cum_qty}, the engine held "
                    f"{order.cum_qty + c.old.qty}: {c.old.qty} lots the venue no longer counts came off (a bust "
                    f"the engine never received)")
            was = ""
        else:
            kind = "trade_bust" if c.kind is ExecType.TRADE_CANCEL else "trade_correction"
            what = (f"{venue} busted fill {c.exec_ref_id}" if c.new is None else
                    f"{venue} corrected fill {c.exec_ref_id} to {c.new.qty} at {c.new.price}")
            was = f" (was {c.old.qty} at {c.old.price})" if c.old is not None else " (a fill we never received)"
        self.audit.event(kind, er.recv_ns, venue=order.instrument.venue, pair=pr.name, ticket_id=order.ticket_id,
                         cl_ord_id=order.cl_ord_id, exec_id=er.exec_id, exec_ref_id=c.exec_ref_id,
                         old_qty=str(c.old.qty) if c.old else None, old_px=str(c.old.price) if c.old else None,
                         new_qty=str(c.new.qty) if c.new else None, new_px=str(c.new.price) if c.new else None,
                         position_change=str(delta * order.side.sign + 0))
        self.monitor.correction(pr, order, kind, f"{what}{was} of {order.cl_ord_id}: position "
                                f"{delta * order.side.sign + 0:+} lots", er.recv_ns)

    def _foreign(self, er: ExecReport) -> None:
        """A report about an order the engine did not send (a manual order on the same account,
        another engine, an order whose journal line was lost). Its fills move the account's position
        as foreign lots, alert, and hold the pairs that trade the instrument."""
        st = self.state
        st.stats.unknown_reports += 1
        self.audit.event("unknown_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=er.cl_ord_id,
                         exec_id=er.exec_id, exec_type=er.exec_type.value, symbol=er.symbol, side=er.side.value,
                         last_qty=str(er.last_qty), last_px=str(er.last_px), account=er.account)
        if st.was_accounted(er.venue, er.exec_id):
            return
        inst = st.instruments_by_key.get((er.venue, er.symbol))
        moves = []
        if er.exec_type is ExecType.TRADE and er.last_qty > 0 and er.exec_id not in st.foreign_fills:
            moves.append((er.last_qty, er.last_px))
            st.foreign_fills[er.exec_id] = (er.last_qty, er.last_px)
        elif er.exec_type.corrects and er.exec_ref_id in st.foreign_fills:
            old_qty, old_px = st.foreign_fills.pop(er.exec_ref_id)
            moves.append((-old_qty, old_px))
            if er.exec_type is ExecType.TRADE_CORRECT and er.last_qty > 0:
                moves.append((er.last_qty, er.last_px))
                st.foreign_fills[er.exec_ref_id] = (er.last_qty, er.last_px)
        if not moves:
            return
        st.account_for(er.venue, er.exec_id, er.recv_ns)
        if inst is not None:
            for qty, px in moves:
                iday = st.trading_day(inst, er.recv_ns) if inst.position_effect else None
                st.ledger.on_foreign_fill(inst, er.side, qty, px, er.account, iday)
                self.settle.journal.write("foreign", instrument=inst.name, account=er.account, side=er.side.value,
                                          qty=str(qty), px=str(px), why=f"{er.venue} order {er.cl_ord_id}",
                                          venue=er.venue, exec_id=er.exec_id, iday=iday)
            pairs = [pr for pr in st.pairs.values() if inst in (pr.inner, pr.outer)]
            held = st.ledger.foreign.get((er.account or "", inst.name))
            msg = (f"{er.venue} reports {er.exec_type.value.lower()} {er.side.value} {moves[-1][0]} {er.symbol} at "
                   f"{moves[-1][1]} for order {er.cl_ord_id}, which this engine did not send: {inst.name} "
                   f"{held:+} foreign lots on account {er.account or '-'}")
        else:
            pairs = st.pairs_on(er.venue)
            msg = (f"{er.venue} reports a fill of {er.symbol!r}, an instrument the strategy does not know, for "
                   f"order {er.cl_ord_id} this engine did not send")
        self.settle.protect(self.monitor.difference(pairs, "unknown_order_fill", msg, er.recv_ns, er.venue))

    def on_uninterpretable(self, ev: Uninterpretable) -> None:
        """A message from a venue we could not read (it is stored and was answered with a
        BusinessMessageReject). Market data: the books it concerned start again from a snapshot. An
        execution report, or anything else: we may have missed a fill, so the venue's pairs are held
        and every live order there is asked about."""
        st = self.state
        if ev.msg_type in ("W", "X"):
            for sym in ev.symbols or [i.symbol for i in st.instruments_by_venue.get(ev.venue, [])]:
                book = st.books.get((ev.venue, sym))
                inst = next((i for i in st.instruments_by_venue.get(ev.venue, []) if i.symbol == sym), None)
                if book is not None and inst is not None:
                    book.invalidate()
                    self.desk.subscribe(inst)
            return
        self.settle.protect(self.monitor.difference(
            st.pairs_on(ev.venue), "uninterpretable_report",
            f"{ev.venue} sent a {ev.msg_type} message the engine cannot read ({ev.reason}): a fill may be "
            f"missing; live orders there are asked about", ev.recv_ns, ev.venue))
        for o in list(st.orders.values()):
            if o.instrument.venue == ev.venue and not o.is_terminal and o.sent_ns:
                self.desk.query(o, "a report from the venue could not be read", force=True)

    def on_cancel_reject(self, ev: CancelRejected) -> None:
        order = self.state.orders.get(ev.orig_cl_ord_id or "") or self.state.orders.get(ev.cl_ord_id)
        self.audit.event("cancel_rejected", ev.recv_ns, venue=ev.venue, cl_ord_id=ev.cl_ord_id,
                         ticket_id=order.ticket_id if order else None, reason=ev.reason)
        if order is not None and not order.is_terminal:
            self.desk.query(order, "cancel rejected", force=True)

    def on_message_rejected(self, ev: MessageRejected) -> None:
        """A Reject or BusinessMessageReject of something we sent. If it names one of our orders
        (BusinessRejectRefID, or the sequence number the adapter recorded), that order is dead."""
        st = self.state
        self.audit.event("message_rejected", ev.recv_ns, venue=ev.venue, business=ev.business,
                         ref_seq_num=ev.ref_seq_num, ref_msg_type=ev.ref_msg_type, ref_id=ev.ref_id,
                         reason=ev.reason)
        order = st.orders.get(ev.ref_id or "")
        if order is None or ev.ref_msg_type != "D":
            return   # only a reject of the NewOrderSingle itself kills the order
        if not order.is_terminal and order.cum_qty == 0:
            order.status = OrdStatus.REJECTED
            order.text = f"rejected by {ev.venue}: {ev.reason}"
            order.done_ns = ev.recv_ns
            order.uncertain = False
            st.stats.rejects[ev.venue] = st.stats.rejects.get(ev.venue, 0) + 1
            self.records.order(order)
            self.lifecycle.progress(st.tickets[order.ticket_id], ev.recv_ns)
