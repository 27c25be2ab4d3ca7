"""Per-order state reconciled from ExecutionReports.

The rules, each with a test: a report is applied at most once (by ExecID, whatever the arrival
order); PossDup repeats change nothing; CumQty never goes back, and a terminal status is never undone
by a late non-terminal report — except by the venue's own corrections: a trade cancel (bust) or trade
correction changes the fill its ExecRefID names, and its CumQty and OrdStatus stand even backwards;
a restatement's quantities and status stand too. A fill that arrives after a cancel is still counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import ExecType, LegRole, OrderRole, OrdStatus
from xmc_fix.domain.events import ExecReport

ZERO = Decimal(0)

_RANK = {
    OrdStatus.PENDING_NEW: 0,
    OrdStatus.NEW: 1,
    OrdStatus.ACCEPTED_FOR_BIDDING: 1,
    OrdStatus.REPLACED: 1,
    OrdStatus.PENDING_REPLACE: 2,
    OrdStatus.PENDING_CANCEL: 2,
    OrdStatus.PARTIALLY_FILLED: 2,
    OrdStatus.STOPPED: 2,
    OrdStatus.SUSPENDED: 2,
    OrdStatus.FILLED: 3,
    OrdStatus.CANCELED: 3,
    OrdStatus.REJECTED: 3,
    OrdStatus.EXPIRED: 3,
    OrdStatus.DONE_FOR_DAY: 3,
    OrdStatus.CALCULATED: 3,
}


@dataclass(frozen=True, slots=True)
class Fill:
    exec_id: str
    cl_ord_id: str
    qty: Decimal
    price: Decimal
    venue_ns: int | None
    recv_ns: int


@dataclass(frozen=True, slots=True)
class Correction:
    """A fill the venue busted (``new`` None) or corrected, as it was and as it is now. ``old`` is
    None when the report names a fill we never received."""

    kind: ExecType
    exec_ref_id: str | None
    old: Fill | None
    new: Fill | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What one ExecutionReport did to an order."""

    duplicate: bool = False
    fill: Fill | None = None
    status_changed: bool = False
    correction: Correction | None = None


@dataclass(slots=True)
class Order:
    """One order at a venue, as far as its ExecutionReports have told us."""

    command: NewOrder
    ticket_id: str
    leg: LegRole
    role: OrderRole
    created_ns: int
    cl_ord_id: str = ""
    status: OrdStatus = OrdStatus.PENDING_NEW
    cum_qty: Decimal = ZERO
    leaves_qty: Decimal = ZERO
    avg_px: Decimal = ZERO
    order_id: str | None = None
    sent_ns: int | None = None
    ack_ns: int | None = None
    done_ns: int | None = None
    text: str | None = None
    rej_reason: str | None = None   # OrdRejReason (103) of the venue's reject
    uncertain: bool = False     # outcome unknown (timeout, disconnect): asked the venue, no answer yet
    order_qty: Decimal = ZERO   # current quantity (a replace may change it)
    fills: list[Fill] = field(default_factory=list)
    exec_ids: set[str] = field(default_factory=set)
    cum_trusted: bool = False   # a bust or correction set CumQty: it stands over the sum of our fills
    last_report_ns: int | None = None   # when the venue last said anything about it (status answers too)
    restored: bool = False      # loaded from the journal at a restart (sent by an earlier process)
    aliases: list[str] = field(default_factory=list)   # ClOrdIDs of our cancels of it: a venue's report
                                                       # may name the order by one of them alone

    def __post_init__(self) -> None:
        if not self.cl_ord_id:
            self.cl_ord_id = self.command.cl_ord_id
        if not self.order_qty:
            self.order_qty = self.command.qty
        if not self.leaves_qty:
            self.leaves_qty = self.command.qty

    @property
    def qty(self) -> Decimal:
        return self.order_qty

    @property
    def side(self):
        return self.command.side

    @property
    def instrument(self):
        return self.command.instrument

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def filled_qty(self) -> Decimal:
        """Quantity filled: the venue's CumQty, or the sum of fills we hold if that is larger
        (a Trade report can arrive before the report that raised CumQty to include it)."""
        if self.cum_trusted:
            return self.cum_qty
        fills = sum((f.qty for f in self.fills), ZERO)
        return self.cum_qty if self.cum_qty >= fills else fills

    def apply(self, er: ExecReport) -> Applied:
        if er.exec_type is not ExecType.ORDER_STATUS:
            # Status reports are answers, not executions: some venues give them all ExecID "0".
            if er.exec_id in self.exec_ids:
                return Applied(duplicate=True)
            self.exec_ids.add(er.exec_id)
        self.uncertain = False
        self.last_report_ns = er.recv_ns
        if er.order_id and er.order_id != "NONE":
            self.order_id = er.order_id
        if self.ack_ns is None and er.exec_type is not ExecType.ORDER_STATUS:
            self.ack_ns = er.recv_ns

        fill = None
        correction = None
        if er.exec_type is ExecType.TRADE and er.last_qty > 0:
            fill = Fill(er.exec_id, er.cl_ord_id, er.last_qty, er.last_px, er.venue_ns, er.recv_ns)
            self.fills.append(fill)

        stale = er.cum_qty < self.cum_qty
        if er.exec_type.corrects:
            correction = self._correct(er)
        elif (er.exec_type is ExecType.ORDER_STATUS and er.ord_status.is_terminal
              and er.cum_qty < self.filled_qty):
            correction = self._inferred_bust(er)
        elif er.cum_qty > self.cum_qty:
            self.cum_qty = er.cum_qty
            if er.avg_px:
                self.avg_px = er.avg_px
        if fill is not None and not er.avg_px:
            # the venue sent no AvgPx: the fills we hold are the best account of it
            self.avg_px = sum(f.qty * f.price for f in self.fills) / sum(f.qty for f in self.fills)

        before = self.status
        if er.exec_type.corrects or er.exec_type is ExecType.RESTATED or correction is not None:
            # the venue's own correction of the order: its quantities and status stand, even backwards
            self.status = er.ord_status
            self.leaves_qty = er.leaves_qty
            if er.order_qty:
                self.order_qty = er.order_qty
            if er.text:
                self.text = er.text
            if not self.status.is_terminal:
                self.done_ns = None
        elif er.exec_type is ExecType.REPLACED and not self.status.is_terminal:
            # the replace confirmation carries the order's status after the replace
            self.cl_ord_id = er.cl_ord_id
            if er.order_qty:
                self.order_qty = er.order_qty
            self.status = er.ord_status if er.ord_status is not OrdStatus.REPLACED else (
                OrdStatus.PARTIALLY_FILLED if self.cum_qty else OrdStatus.NEW)
            self.leaves_qty = er.leaves_qty
        elif self._accepts(er.ord_status):
            self.status = er.ord_status
            if not stale:  # a report older than our CumQty has an out-of-date LeavesQty too
                self.leaves_qty = er.leaves_qty
            if er.text:
                self.text = er.text
            if er.ord_rej_reason:
                self.rej_reason = er.ord_rej_reason
        if self.status.is_terminal:
            self.leaves_qty = ZERO
            if self.done_ns is None:
                self.done_ns = er.recv_ns
        return Applied(fill=fill, status_changed=self.status is not before, correction=correction)

    def _correct(self, er: ExecReport) -> Correction:
        """A bust or correction of the fill ExecRefID names; the venue's CumQty and AvgPx stand."""
        old = next((f for f in self.fills if f.exec_id == er.exec_ref_id), None) if er.exec_ref_id else None
        new = None
        if old is not None:
            self.fills.remove(old)
        if er.exec_type is ExecType.TRADE_CORRECT and er.last_qty > 0:
            new = Fill(er.exec_ref_id or er.exec_id, er.cl_ord_id, er.last_qty, er.last_px, er.venue_ns, er.recv_ns)
            self.fills.append(new)
        self.cum_qty = er.cum_qty
        self.cum_trusted = True
        if er.avg_px or not self.cum_qty:
            self.avg_px = er.avg_px
        elif self.fills:
            self.avg_px = sum(f.qty * f.price for f in self.fills) / sum(f.qty for f in self.fills)
        return Correction(er.exec_type, er.exec_ref_id, old, new)

    def _inferred_bust(self, er: ExecReport) -> Correction:
        """The venue's answer about a finished order counts fewer lots than the fills we hold: it
        took fills back (a bust we never received: sent while we were down on a session since reset,
        or lost with a journal a power cut cut short). A finished order's CumQty cannot grow again, so
        the venue's number stands; the newest fills come off, as one correction at their average price.
        (A working order's lower CumQty is not taken: a lagging status could say that too.)"""
        excess = self.filled_qty - er.cum_qty
        taken = ZERO
        cost = ZERO
        while self.fills and taken < excess:
            f = self.fills[-1]
            part = min(f.qty, excess - taken)
            if part == f.qty:
                self.fills.pop()
            else:
                self.fills[-1] = Fill(f.exec_id, f.cl_ord_id, f.qty - part, f.price, f.venue_ns, f.recv_ns)
            taken += part
            cost += part * f.price
        price = cost / taken if taken else (self.avg_px or ZERO)
        old = Fill(f"status-{er.exec_id or 'answer'}", self.cl_ord_id, excess, price, er.venue_ns, er.recv_ns)
        self.cum_qty = er.cum_qty
        self.cum_trusted = True
        self.avg_px = er.avg_px if er.avg_px or not self.cum_qty else (
            sum(f.qty * f.price for f in self.fills) / sum(f.qty for f in self.fills) if self.fills else self.avg_px)
        return Correction(ExecType.ORDER_STATUS, None, old, None)

    def _accepts(self, incoming: OrdStatus) -> bool:
        current = self.status
        if current.is_terminal:
            # Only a FILLED report may complete an order we believed cancelled/expired
            # (a late fill that completes the quantity).
            return incoming is OrdStatus.FILLED and current in (OrdStatus.CANCELED, OrdStatus.EXPIRED)
        return _RANK[incoming] >= _RANK[current]
