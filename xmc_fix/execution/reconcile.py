"""Reconciliation of what the venues report: execution reports applied to orders, positions and
tickets; cancel rejects and message rejects of what we sent.

Each ExecutionReport is applied once per ExecID in any arrival order (:meth:`Order.apply`); the
position follows CumQty, so a status reply counts; the post-trade checks a fill, an acknowledgement
or an outcome calls for run before the ticket moves on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from xmc_fix.domain.enums import OrdStatus
from xmc_fix.domain.events import CancelRejected, ExecReport, MessageRejected
from xmc_fix.domain.orders import Order
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.lifecycle import Lifecycle
from xmc_fix.execution.records import AuditSink, Records, book_top
from xmc_fix.execution.settlement import Settlement
from xmc_fix.execution.state import EngineState, PairRuntime
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
            st.stats.unknown_reports += 1
            self.audit.event("unknown_exec_report", er.recv_ns, venue=er.venue, cl_ord_id=er.cl_ord_id,
                             exec_id=er.exec_id, exec_type=er.exec_type.value)
            return
        before = order.filled_qty
        open_before = open_qty(order)
        acked = order.ack_ns is not None
        applied = order.apply(er)
        stats = st.stats
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
        if delta:
            px = applied.fill.price if applied.fill is not None else (order.avg_px or order.command.price or ZERO)
            self.settle.protect(self.monitor.on_position_change(pr, order, delta, px, er.recv_ns,
                                                                fx_for(pr, order.ticket_id)))
        if not acked and order.ack_ns is not None and order.sent_ns is not None:
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
        self.lifecycle.progress(ticket, er.recv_ns)

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
        if order is None or ev.ref_msg_type not in (None, "D"):
            return
        if not order.is_terminal and order.cum_qty == 0:
            order.status = OrdStatus.REJECTED
            order.text = f"rejected by {ev.venue}: {ev.reason}"
            order.done_ns = ev.recv_ns
            order.uncertain = False
            st.stats.rejects[ev.venue] = st.stats.rejects.get(ev.venue, 0) + 1
            self.records.order(order)
            self.lifecycle.progress(st.tickets[order.ticket_id], ev.recv_ns)
