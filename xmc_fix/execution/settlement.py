"""How a ticket's state moves and what it leaves behind: transitions with their causes, the end of a
ticket (the holdings it leaves, its journal line, the pair freed), giving up, and acting on breaches.

Shared by the ticket lifecycle and the flatten path; it sends nothing but the cancels a protective
breach asks for.
"""

from __future__ import annotations

from decimal import Decimal

from xmc_fix.clock import Clock
from xmc_fix.domain.enums import Direction, LegRole, TicketIntent
from xmc_fix.domain.tickets import Ticket, TicketState, TicketTrigger
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.records import JournalSink, Records, units
from xmc_fix.execution.state import EngineState, Holding, PairRuntime, TicketProgress
from xmc_fix.failpoints import crash_point
from xmc_fix.risk.gate import Denial
from xmc_fix.risk.monitor import Monitor, Protect
from xmc_fix.risk.states import StateTrigger

ZERO = Decimal(0)


def net_lots(ticket: Ticket) -> tuple[Decimal, Decimal]:
    """Signed net lots per leg (bought positive)."""
    out = []
    for role in (LegRole.INNER, LegRole.OUTER):
        leg = ticket.legs[role]
        out.append(leg.filled_lots * leg.side.sign)
    return out[0], out[1]


def settle_cause(ticket: Ticket) -> str:
    parts = []
    for role, leg in ticket.legs.items():
        statuses = "/".join(f"{o.role.value[0]}:{o.status.value}" for o in leg.orders)
        parts.append(f"{role.value.lower()} {leg.filled_lots}/{leg.target_lots} ({statuses})")
    return ", ".join(parts) + f"; residual {units(ticket.residual)} {ticket.unit}"


class Settlement:
    def __init__(self, state: EngineState, records: Records, journal: JournalSink, monitor: Monitor,
                 desk: OrderDesk, clock: Clock) -> None:
        self.state = state
        self.records = records
        self.journal = journal
        self.monitor = monitor
        self.desk = desk
        self.clock = clock
        self.audit = records.audit

    def transition(self, ticket: Ticket, trigger: TicketTrigger, ts_ns: int, cause: str) -> None:
        t = ticket.apply(trigger, ts_ns, cause)
        if t.from_state.is_terminal and not t.to_state.is_terminal:    # a late fill reopened it
            self.state.progress.reopened(ticket.ticket_id, t.from_state)
        self.records.transition(ticket, t)
        self.audit_ticket(ticket)

    def audit_ticket(self, ticket: Ticket, md_recv_ns: int | None = None) -> None:
        p = self.state.progress.get(ticket.ticket_id)
        self.records.ticket(ticket, p.repairs if p else None, md_recv_ns)

    def protect(self, actions: list[Protect | None]) -> None:
        """Act on breaches the monitor found: cancel the scope's working orders when it halts, then alert."""
        for a in actions:
            if a is None:
                continue
            cancelled = self.desk.cancel_working(a.pair, f"{a.kind}: {a.message}") if a.halt else []
            self.monitor.report(a, cancelled)

    def finish(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime, ts_ns: int) -> None:
        """A ticket reached a final state: positions it leaves, the journal, the pair freed."""
        if not ticket.state.is_terminal:
            self.transition(ticket, TicketTrigger.SEND_FAILED if ticket.state is TicketState.PENDING
                            else TicketTrigger.LEGS_EMPTY, ts_ns, "nothing sent")
        pr.legged.discard(ticket.ticket_id)
        if p.flatten:
            p.ended_net = net_lots(ticket)
            self.journal_end(ticket)
            if pr.inner_lots == 0 and pr.outer_lots == 0:
                pr.holdings.clear()
                self.journal.write("flat", pair=pr.name, ticket_id=ticket.ticket_id)
        else:
            self.update_holdings(ticket, p, pr)
            self.journal_end(ticket)
        if pr.active is ticket:
            pr.active = None
        if ticket.state is TicketState.COMPLETED and p.episode and pr.captured_episode < p.episode:
            pr.captured_episode = p.episode     # the crossing it was decided in was captured
            pr.captured += 1
        if ticket.state is TicketState.UNWOUND and ticket.transitions[-1].trigger is TicketTrigger.REPAIR_UNWOUND:
            self.protect([self.monitor.on_unwound(pr, ticket.ticket_id, ts_ns)])

    def update_holdings(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime) -> None:
        """Apply the change in this ticket's net lots since it last finished to the holdings."""
        inner, outer = net_lots(ticket)
        prev_i, prev_o = p.ended_net or (ZERO, ZERO)
        di, do = inner - prev_i, outer - prev_o
        p.ended_net = (inner, outer)
        if not di and not do:
            return
        target = None
        if ticket.intent is TicketIntent.CLOSE:
            target = next((h for h in pr.holdings if h.ticket_id == p.closes), None)
        if target is None:
            target = next((h for h in pr.holdings if h.ticket_id == ticket.ticket_id), None)
        if target is None:
            # an opening ticket's lots; or a closing ticket's whose holding is gone (a late fill or a
            # bust after it closed it): those lots are a position of their own, named by their sign
            direction = ticket.direction
            if ticket.intent is TicketIntent.CLOSE:
                direction = Direction.BUY_BASIS if (di if di else -do) > 0 else Direction.SELL_BASIS
            target = Holding(ticket.ticket_id, direction, ticket.created_ns, ZERO, ZERO)
            pr.holdings.append(target)
        target.inner_lots += di
        target.outer_lots += do
        while pr.holdings and pr.holdings[0].empty:
            pr.holdings.popleft()

    def journal_end(self, ticket: Ticket) -> None:
        inner, outer = net_lots(ticket)
        self.journal.write("end", ticket_id=ticket.ticket_id, state=ticket.state.value,
                           net={"INNER": inner, "OUTER": outer}, ended_ns=ticket.ended_ns)
        crash_point("ticket_end")

    def give_up(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime, now_ns: int, reason: str) -> None:
        if ticket.state is TicketState.REPAIRING and ticket.working:
            return  # let the working step finish first
        self.transition(ticket, TicketTrigger.REPAIR_FAILED, now_ns, reason)
        why = (f"ticket {ticket.ticket_id} failed to repair ({reason}): "
               f"residual {units(ticket.residual)} {ticket.unit}")
        self.finish(ticket, p, pr, now_ns)
        self.protect([self.monitor.breach(pr, "residual_exposure", why, StateTrigger.HALT, now_ns)])

    def defer_repair(self, ticket: Ticket, pr: PairRuntime, now_ns: int) -> None:
        """The sessions are closing: a repair order now would leave with the Logout and never be
        answered. The ticket stays legged, in the journal, for the next start to repair; the stop
        reports the exposure."""
        p = self.state.progress[ticket.ticket_id]
        if p.repairs and p.repairs[-1] == "deferred:closing":
            return
        p.repairs.append("deferred:closing")
        self.audit.event("repair_deferred", now_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                         reason="engine closing its sessions", residual=str(ticket.residual))

    def deny_repair(self, ticket: Ticket, pr: PairRuntime, denial: Denial, now_ns: int) -> None:
        p = self.state.progress[ticket.ticket_id]
        key = f"denied:{denial.reason.value}"
        if p.repairs and p.repairs[-1] == key:
            return
        p.repairs.append(key)
        self.audit.event("denial", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, reason=denial.reason.value,
                         detail=denial.detail, order_kind="repair")
