"""The flatten path (the kill switch's last step): one ticket per pair that takes every position of
the pair to zero, priced through the touch, step after step until flat or given up.

It starts once no order of the pair is live or uncertain, so the position it closes is known; the
pair's other tickets are superseded (their exposure is taken off here). Every order still passes
the risk gate, whose HALTED state lets exactly this path through.
"""

from __future__ import annotations

from decimal import Decimal

from xmc_fix.basis.pricing import limit_price, sweep
from xmc_fix.clock import Clock
from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import (Direction, LegRole, OrderRole, OrdType, Side, TicketIntent,
                                  TimeInForce)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.orders import Order
from xmc_fix.domain.tickets import Decision, Leg, Ticket, TicketState, TicketTrigger
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.records import JournalSink, Records, order_record, ticket_record
from xmc_fix.execution.settlement import Settlement
from xmc_fix.execution.state import EngineState, PairRuntime, TicketProgress
from xmc_fix.failpoints import crash_point
from xmc_fix.risk.alerts import Alert, Alerter
from xmc_fix.risk.gate import LegPlan, OrderKind, RiskGate

MS = 1_000_000


class FlattenPath:
    def __init__(self, state: EngineState, desk: OrderDesk, settlement: Settlement, gate: RiskGate,
                 journal: JournalSink, records: Records, alerts: Alerter, clock: Clock, ids: IdGenerator) -> None:
        self.state = state
        self.desk = desk
        self.settle = settlement
        self.gate = gate
        self.journal = journal
        self.records = records
        self.alerts = alerts
        self.clock = clock
        self.ids = ids

    def maybe_start(self, pr: PairRuntime, now_ns: int) -> dict:
        """Start the flatten ticket once no order of the pair is live or uncertain (so its
        position is known)."""
        st = self.state
        if pr.flatten_request is None:
            active = st.progress.get(pr.active.ticket_id) if pr.active is not None else None
            if active is not None and active.flatten and not active.ticket.state.is_terminal:
                # started already: by the end of a ticket this request superseded
                return {"pair": pr.name, "state": "flattening", "ticket": active.ticket.ticket_id}
            return {"pair": pr.name, "state": "nothing requested"}
        for p in st.progress.values():
            if p.ticket.pair == pr.name and not p.flatten and (
                    p.ticket.working or any(o.uncertain for o in p.ticket.orders())):
                return {"pair": pr.name, "state": "waiting for working orders to finish"}
        if pr.active is not None and st.progress[pr.active.ticket_id].flatten:
            return {"pair": pr.name, "state": "flattening", "ticket": pr.active.ticket_id}
        who, _ = pr.flatten_request
        pr.flatten_request = None
        if pr.inner_lots == 0 and pr.outer_lots == 0:
            pr.holdings.clear()
            self.journal.write("flat", pair=pr.name, ticket_id=None)
            self.alerts.alert(Alert("flatten", "info", f"{pr.name} already flat", now_ns, pair=pr.name,
                                    action="nothing to do"))
            return {"pair": pr.name, "state": "flat"}
        t = self._start(pr, who, now_ns)
        return {"pair": pr.name, "state": "flattening", "ticket": t.ticket_id}

    def _start(self, pr: PairRuntime, who: str, now_ns: int) -> Ticket:
        st = self.state
        tid = self.ids.ticket_id()
        zero = Decimal(0)
        d = Decision(ts_ns=now_ns, basis=pr.last_basis[0] or zero, threshold=zero, inner_px=zero, outer_px=zero,
                     outer_converted=zero, fx=Decimal(1), inner_book=st.books[pr.inner.key].top(),
                     outer_book=st.books[pr.outer.key].top(), fx_age_ns=None, inner_age_ns=0, outer_age_ns=0,
                     planned_residual=zero)
        direction = Direction.SELL_BASIS if pr.inner_lots > 0 or (pr.inner_lots == 0 and pr.outer_lots < 0) \
            else Direction.BUY_BASIS
        legs = {}
        for role, inst, held in ((LegRole.INNER, pr.inner, pr.inner_lots), (LegRole.OUTER, pr.outer, pr.outer_lots)):
            side = Side.SELL if held > 0 else Side.BUY
            legs[role] = Leg(role, inst, side, abs(held))
        ticket = Ticket(tid, pr.name, direction, TicketIntent.FLATTEN, now_ns, d, legs, pr.inner.unit,
                        pr.cfg.residual_tolerance)
        p = TicketProgress(ticket, flatten=True)
        st.tickets[tid] = ticket
        st.progress[tid] = p
        pr.active = ticket
        self.journal.write("ticket", **ticket_record(ticket, p.closes))
        self.records.audit.event("flatten_started", now_ns, pair=pr.name, ticket_id=tid, who=who,
                                 inner_lots=str(pr.inner_lots), outer_lots=str(pr.outer_lots))
        ticket.apply(TicketTrigger.SENT, now_ns, f"flatten by {who}: {pr.inner_lots} inner lots, "
                     f"{pr.outer_lots} outer lots to zero")
        self.settle.audit_ticket(ticket)
        self.records.transition(ticket, ticket.transitions[-1])
        self.step(ticket, p, pr, now_ns, first=True)
        return ticket

    def step(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime, now_ns: int, first: bool = False) -> None:
        """Orders taking the pair's remaining positions to zero, priced through the touch."""
        st = self.state
        policy = pr.cfg.repair
        if st.closing:
            return self.settle.defer_repair(ticket, pr, now_ns)
        if p.attempts["FLATTEN"] >= policy.unwind_attempts:
            return self.settle.give_up(ticket, p, pr, now_ns, f"flatten attempts exhausted ({policy.unwind_attempts})")
        orders = []
        for role, inst, held in ((LegRole.INNER, pr.inner, pr.inner_lots), (LegRole.OUTER, pr.outer, pr.outer_lots)):
            if held == 0:
                continue
            side = Side.SELL if held > 0 else Side.BUY
            book = st.books[inst.key]
            levels = (book.asks if side is Side.BUY else book.bids) if book.valid else []
            if not levels or inst.venue not in st.venues_up:
                p.next_ns = now_ns + policy.unwind_interval_ms * MS
                self.records.audit.event("repair_waiting", now_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                                         reason=f"{inst.venue}: no book or session to flatten against")
                return
            sw = sweep(levels, abs(held))
            worst = sw.worst if sw is not None else levels[-1][0]
            price = limit_price(inst, side, worst, policy.unwind_ticks)
            denial = self.gate.check_order(OrderKind.FLATTEN, LegPlan(inst, side, abs(held), price, None, 0,
                                                                      levels[0][0]),
                                           pair=pr.name, global_state=st.trading.state, pair_state=pr.trading.state,
                                           session_up=True, now_ns=now_ns,
                                           venue_instruments=st.instruments_by_venue[inst.venue])
            if denial is not None:
                p.next_ns = now_ns + policy.unwind_interval_ms * MS
                return self.settle.deny_repair(ticket, pr, denial, now_ns)
            account = st.strategy.engine.account
            # closes on SHFE/INE name the day the lots were opened: one order per day's lots
            for pe, lots in self.desk.close_parts(inst, side, abs(held), now_ns, account):
                cmd = NewOrder(self.ids.cl_ord_id(), inst, side, lots, OrdType.LIMIT, price, TimeInForce.IOC,
                               account, pe)
                order = Order(cmd, ticket.ticket_id, role, OrderRole.FLATTEN, now_ns)
                ticket.legs[role].orders.append(order)
                st.orders[cmd.cl_ord_id] = order
                orders.append(order)
                self.journal.write("order", **order_record(order))
        if not orders:
            return self._settle_when_quiet(ticket, p, pr, now_ns)
        p.attempts["FLATTEN"] += 1
        p.repairs.append(f"FLATTEN#{p.attempts['FLATTEN']}")
        p.next_ns = now_ns + policy.unwind_interval_ms * MS
        for order in orders:
            self.desk.send(order)
        crash_point("flatten_sent")
        if not first:
            self.settle.transition(ticket, TicketTrigger.REPAIR_STARTED, self.clock.now_ns(), "flatten: another step")
        self.records.audit.event("verdict", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, ok=True,
                                 order_kind="FLATTEN", orders=[o.cl_ord_id for o in orders])
        for o in orders:
            self.records.order(o)
        if not any(o.sent_ns for o in orders):
            self._settle_when_quiet(ticket, p, pr, now_ns)

    def _settle_when_quiet(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime, ts_ns: int) -> None:
        if ticket.state is TicketState.FAILED or any(o.uncertain for o in ticket.orders()) or ticket.working:
            return
        self.progress(ticket, p, pr, ts_ns)

    def progress(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime, ts_ns: int) -> None:
        """A flatten ticket whose orders are done: flat (COMPLETED), or another step."""
        flat = pr.inner_lots == 0 and pr.outer_lots == 0
        state = ticket.state
        left = "flat" if flat else f"still {pr.inner_lots} inner / {pr.outer_lots} outer lots"
        if state is TicketState.WORKING:
            self.settle.transition(ticket, TicketTrigger.LEGS_MATCHED if flat else TicketTrigger.LEGS_MISMATCHED,
                                   ts_ns, left)
        elif state is TicketState.REPAIRING:
            self.settle.transition(ticket, TicketTrigger.REPAIR_MATCHED if flat else TicketTrigger.LEGS_MISMATCHED,
                                   ts_ns, left)
        if ticket.state is TicketState.LEGGED:
            if p.legged_ns is None:
                p.legged_ns = ts_ns
            if ts_ns >= p.next_ns:
                self.step(ticket, p, pr, ts_ns)
        elif ticket.state.is_terminal:
            self.settle.finish(ticket, p, pr, ts_ns)
            self.alerts.alert(Alert("flatten", "warning", f"{pr.name} flattened ({ticket.ticket_id})", ts_ns,
                                    pair=pr.name, action=f"{pr.name} flat, HALTED"))
