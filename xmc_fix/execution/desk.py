"""The order desk: the one place requests leave the engine for the venues.

New orders, cancels, status requests and market-data subscriptions go through here, so the message
budget, the working lots and the rule that nothing leaves once the sessions are closing are applied
once. What to send is decided elsewhere (the decision, the lifecycle, the flatten path); the journal
line for an order is written by whoever creates it, before it reaches the desk.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from xmc_fix.clock import Clock
from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, SubscribeMarketData
from xmc_fix.domain.enums import OrdStatus, PositionEffect, Side
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import Order
from xmc_fix.execution.records import AuditSink
from xmc_fix.execution.state import EngineState, PairRuntime
from xmc_fix.risk.gate import RiskGate


class OrderSender(Protocol):
    """Where orders go: the QuickFIX sessions in production, a recorder in unit tests."""

    def is_up(self, venue: str) -> bool: ...
    def send_new(self, cmd: NewOrder, now_ns: int) -> bool: ...
    def send_cancel(self, cmd: CancelOrder, now_ns: int) -> bool: ...
    def send_status(self, cmd: QueryOrderStatus) -> bool: ...
    def subscribe(self, cmd: SubscribeMarketData) -> bool: ...


class OrderDesk:
    def __init__(self, state: EngineState, sender: OrderSender, gate: RiskGate, audit: AuditSink, clock: Clock,
                 ids: IdGenerator, journal=None) -> None:
        self.journal = journal          # the intent journal: a cancel's ClOrdID is on disk before it leaves
        self.state = state
        self.sender = sender
        self.gate = gate
        self.audit = audit
        self.clock = clock
        self.ids = ids

    def is_up(self, venue: str) -> bool:
        return venue in self.state.venues_up and self.sender.is_up(venue)

    def closes_by_day(self, venue: str) -> bool:
        """Does the venue's dialect split closes by the day a position was opened (SHFE, INE)? A
        sender that cannot say (a recorder in unit tests) is taken to."""
        dialect = getattr(self.sender, "dialect", None)
        return dialect is None or dialect(venue).closes_by_day

    def close_parts(self, inst: Instrument, side: Side, qty: Decimal, now_ns: int,
                    account: str | None) -> list[tuple[PositionEffect | None, Decimal]]:
        """The orders a close of ``qty`` lots takes: one without PositionEffect where the instrument
        has none, one CLOSE where the venue does not name the day, else split by open day
        (yesterday's lots first, :meth:`xmc_fix.domain.daybook.DayBook.closes`)."""
        if not inst.position_effect:
            return [(None, qty)]
        if not self.closes_by_day(inst.venue):
            return [(PositionEffect.CLOSE, qty)]
        st = self.state
        return st.ledger.days.closes(account, inst.name, side, qty, st.trading_day(inst, now_ns)) or \
            [(PositionEffect.CLOSE_TODAY, qty)]

    def send_cmd(self, cmd: NewOrder) -> int | None:
        """Hand an order to its venue; the time it was handed over, or None if it could not be
        (session down, or the engine closing its sessions: nothing leaves after that)."""
        st = self.state
        if st.closing or not self.sender.send_new(cmd, self.clock.now_ns()):
            return None
        sent = st.last_activity_ns = self.clock.now_ns()
        v = cmd.instrument.venue
        self.gate.spend(v, sent)
        st.ledger.add_working(cmd.instrument, cmd.side, cmd.qty)
        st.stats.orders[v] = st.stats.orders.get(v, 0) + 1
        return sent

    def send(self, order: Order) -> bool:
        sent = self.send_cmd(order.command)
        if sent is not None:
            order.sent_ns = sent
            return True
        order.status = OrdStatus.REJECTED
        order.text = f"not sent: {order.instrument.venue} session unavailable"
        order.done_ns = self.clock.now_ns()
        return False

    def query(self, order: Order, why: str, force: bool = False) -> None:
        """Ask the venue for an order's state; until it answers, the order is uncertain."""
        st = self.state
        if order.cl_ord_id in st.asked and not force or st.closing:
            return
        st.asked.add(order.cl_ord_id)
        order.uncertain = True
        ok = self.sender.send_status(QueryOrderStatus(order.cl_ord_id, order.instrument, order.side, order.order_id))
        self.audit.event("status_request", self.clock.now_ns(), venue=order.instrument.venue,
                         ticket_id=order.ticket_id, cl_ord_id=order.cl_ord_id, reason=why, sent=ok)

    def cancel(self, order: Order, why: str) -> None:
        st = self.state
        if st.closing:
            return
        st.asked.add(order.cl_ord_id)
        cmd = CancelOrder(self.ids.cl_ord_id(), order.cl_ord_id, order.instrument, order.side, order.qty,
                          order.order_id)
        st.orders[cmd.cl_ord_id] = order   # the venue's reports may quote the cancel's ClOrdID
        order.aliases.append(cmd.cl_ord_id)
        if self.journal is not None:
            # after a crash the venue may answer about the order by this ClOrdID alone (a status
            # answer without OrigClOrdID): the restarted engine must know it is the same order
            self.journal.write("alias", ticket_id=order.ticket_id, of=order.cl_ord_id, cl_ord_id=cmd.cl_ord_id)
        ok = self.sender.send_cancel(cmd, self.clock.now_ns())
        self.audit.event("cancel_request", self.clock.now_ns(), venue=order.instrument.venue,
                         ticket_id=order.ticket_id, cl_ord_id=order.cl_ord_id, reason=why, sent=ok)

    def cancel_working(self, pair: PairRuntime | str | None, why: str) -> list[str]:
        """Cancel every live order of a pair's tickets (every pair's for ``None``)."""
        name = pair.name if isinstance(pair, PairRuntime) else pair
        out = []
        for p in list(self.state.progress.values()):
            if name is not None and p.ticket.pair != name:
                continue
            for o in p.ticket.orders():
                if not o.is_terminal and o.sent_ns and o.instrument.venue in self.state.venues_up:
                    self.cancel(o, why)
                    out.append(o.cl_ord_id)
        return out

    def subscribe(self, inst: Instrument) -> None:
        req = self.ids.request_id("M")
        self.state.md_req[inst.key] = req
        self.sender.subscribe(SubscribeMarketData(req, inst, self.state.strategy.engine.md_depth))
