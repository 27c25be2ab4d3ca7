"""The ticket lifecycle: start a ticket from a decision, move it on as its orders report, send a
sequential ticket's second leg, repair a legged ticket step by step, and the deadlines of its orders.

A ticket's progress is driven by its orders: once none is live and none is uncertain (a timeout or
a disconnect left its outcome unknown and the venue has not yet answered a status request), the
fills decide: matched (COMPLETED), nothing (MISSED), or legged — and a legged ticket is repaired
(:mod:`xmc_fix.execution.repair` plans each step) until matched, unwound, or given up (FAILED, pair
halted, alert). Flatten tickets are the flatten path's (:mod:`xmc_fix.execution.flatten`).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import NamedTuple

from xmc_fix.basis.pricing import Quote, fx_rate, limit_price, sweep
from xmc_fix.clock import Clock
from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import (Direction, LegRole, OrderRole, OrdStatus, OrdType, PositionEffect, Side,
                                  TicketIntent, TimeInForce, TradingState)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import Order
from xmc_fix.domain.tickets import Decision, Leg, Ticket, TicketState, TicketTrigger
from xmc_fix.execution import repair
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.flatten import FlattenPath
from xmc_fix.execution.records import JournalSink, Records, cmd_json, intent_json, order_record
from xmc_fix.execution.settlement import Settlement, settle_cause
from xmc_fix.execution.state import EngineState, Holding, PairRuntime, TicketProgress
from xmc_fix.failpoints import crash_point
from xmc_fix.risk.gate import LegPlan, OrderKind, RiskGate, describe
from xmc_fix.risk.monitor import Monitor

MS = 1_000_000
LOOP_HOLD = "sticky:repair_loop"     # the hold a repair loop leaves (risk.monitor)


def hedge_lots(want_units: Decimal, inst: Instrument, unit: str, tolerance: Decimal, most: Decimal) -> Decimal:
    """Lots of ``inst`` for ``want_units`` (in ``unit``), on its lot grid (``lot_step``, at least
    ``min_qty``) and at most ``most``: of the grid points either side, one within ``tolerance`` of
    the target (the nearer; at a tie the smaller), else the one below - never rounded up past the
    tolerance, so a hedge never over-hedges."""
    if want_units <= 0:
        return Decimal(0)
    size = inst.lots_to_units(Decimal(1), unit)
    step = inst.lot_step
    floor = (want_units / size / step).to_integral_value(ROUND_FLOOR) * step
    best = None
    for lots in (floor, floor + step):
        lots = min(lots, most)
        if lots < inst.min_qty:
            continue
        off = abs(want_units - lots * size)
        if off <= tolerance and (best is None or off < best[0]):
            best = (off, lots)
    if best is not None:
        return best[1]
    floor = min(floor, most)
    return floor if floor >= inst.min_qty else Decimal(0)


class Entry(NamedTuple):
    """A decision to trade a pair, as the evaluation hands it over: everything the orders need.
    (A named tuple, immutable and built in C: a frozen dataclass sets its fifteen fields one
    ``object.__setattr__`` at a time, on every decision.)"""

    pair: PairRuntime
    direction: Direction
    intent: TicketIntent
    quote: Quote
    legs: tuple[LegPlan, LegPlan]
    fx: Decimal | None
    threshold: Decimal
    planned: Decimal                 # the residual the lots leave by construction
    aim: Decimal                     # the residual the ticket exists to leave (see Ticket.aim)
    recv_ns: int                     # the market-data callback that decided it
    books: tuple                     # (inner book, outer book, FX book or None)
    holding: Holding | None          # the holding a closing ticket closes
    t_eval: int = 0                  # xmc bench: when the evaluation that decided it began
    checks: list = ()                # what the gate ran: (check, subject) pairs, all passed
    ages_ns: tuple | None = None     # each leg's book age when the gate passed it (venue clock included)


def shfe_trading_day(ns: int) -> int:
    """Trading day number for SHFE/INE without a calendar: the night session from 21:00
    Asia/Shanghai belongs to the next day. (Holidays and weekends are the calendar's business.)"""
    shanghai = ns // 1_000_000_000 + 8 * 3600 + 3 * 3600  # +8h to local, +3h so 21:00 rolls over
    return shanghai // 86400


class Lifecycle:
    def __init__(self, state: EngineState, desk: OrderDesk, settlement: Settlement, flatten: FlattenPath,
                 monitor: Monitor, gate: RiskGate, journal: JournalSink, records: Records, clock: Clock,
                 ids: IdGenerator) -> None:
        self.state = state
        self.desk = desk
        self.settle = settlement
        self.flatten = flatten
        self.monitor = monitor
        self.gate = gate
        self.journal = journal
        self.records = records
        self.clock = clock
        self.ids = ids
        self.account = state.strategy.engine.account

    # -- start -------------------------------------------------------------------------------
    def start(self, e: Entry) -> None:
        """Journal the intent, send both legs, then build and record the ticket. Only what the
        orders need comes before they leave."""
        pr = e.pair
        st = self.state
        now = self.clock.now_ns()
        if pr.market_until_ns and now >= pr.market_until_ns:
            # a break or close began while this decision was being made: look again, as of now
            self.monitor.check_market(pr, now)
            if st.pair_state(pr) is TradingState.HALTED:
                return
        cfg = pr.cfg
        ids = self.ids
        tid = ids.ticket_id()
        p_in, p_out = e.legs
        intent, direction, q = e.intent, e.direction, e.quote
        pending = None
        if cfg.submission == "sequential":
            cmd_in = NewOrder(ids.cl_ord_id(), p_in.inst, p_in.side, p_in.lots, cfg.inner_order_type, p_in.price,
                              cfg.inner_tif, self.account, self.position_effect(p_in.inst, intent, e.holding, now))
            cmd_out = NewOrder(ids.cl_ord_id(), p_out.inst, p_out.side, p_out.lots, cfg.outer_order_type,
                               p_out.price, cfg.outer_tif, self.account,
                               self.position_effect(p_out.inst, intent, e.holding, now))
            lead = self.sequential_first(pr, q, p_in.lots, p_out.lots)
            out = ((LegRole.INNER, cmd_in),) if lead is LegRole.INNER else ((LegRole.OUTER, cmd_out),)
            pending = cmd_out if lead is LegRole.INNER else cmd_in
        else:
            # a close on SHFE/INE of lots opened on different days goes out as one order per day
            out = tuple((role, NewOrder(ids.cl_ord_id(), lp.inst, lp.side, lots, otype, lp.price, tif, self.account, pe))
                        for role, lp, otype, tif in ((LegRole.INNER, p_in, cfg.inner_order_type, cfg.inner_tif),
                                                     (LegRole.OUTER, p_out, cfg.outer_order_type, cfg.outer_tif))
                        for pe, lots in self.position_parts(lp, intent, e.holding, now))
        closes = e.holding.ticket_id if e.holding else None
        # Intent first: the ticket and the orders about to leave are on disk before they do.
        # (rendered as text directly: the same line json.dumps makes of records.intent_record's dict)
        self.journal.write_json("intent", intent_json(
            tid, pr.name, direction.value, intent.value, now, closes, e.aim, (p_in.lots, p_out.lots),
            (q.basis, e.threshold, q.inner.avg, q.outer.avg, q.outer_converted, e.fx if e.fx is not None else 1,
             e.planned), [cmd_json(c, tid, role.value, "ENTRY", now) for role, c in out]))
        # Both legs (or the first, when sequential), back to back, from this callback.
        crash_point("before_send")
        sent = []
        for i, (_, c) in enumerate(out):
            if i:
                crash_point("between_legs")
            sent.append(self.desk.send_cmd(c))
        # --- orders are out; everything below is bookkeeping ---
        recv_ns = e.recv_ns
        ib, ob, fxb = e.books
        decision = Decision(
            ts_ns=now, basis=q.basis, threshold=e.threshold, inner_px=q.inner.avg, outer_px=q.outer.avg,
            outer_converted=q.outer_converted, fx=e.fx if e.fx is not None else Decimal(1),
            inner_book=ib.top(), outer_book=ob.top(),
            fx_age_ns=(recv_ns - fxb.recv_ns) if fxb is not None else None,
            inner_age_ns=e.ages_ns[0] if e.ages_ns else recv_ns - ib.recv_ns,
            outer_age_ns=e.ages_ns[1] if e.ages_ns else recv_ns - ob.recv_ns, planned_residual=e.planned)
        legs = {LegRole.INNER: Leg(LegRole.INNER, p_in.inst, p_in.side, p_in.lots),
                LegRole.OUTER: Leg(LegRole.OUTER, p_out.inst, p_out.side, p_out.lots)}
        ticket = Ticket(tid, pr.name, direction, intent, now, decision, legs, pr.inner.unit, cfg.residual_tolerance,
                        aim=e.aim)
        p = TicketProgress(ticket, closes=closes, pending=pending, episode=pr.signals)
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
            st.orders[cmd.cl_ord_id] = order
            orders.append(order)
        st.tickets[tid] = ticket
        st.progress[tid] = p
        pr.active = ticket
        sent_any = any(x is not None for x in sent)
        last_sent = max((x for x in sent if x is not None), default=None)
        ticket.sent_ns = last_sent
        stats = st.stats
        stats.tickets += 1
        if last_sent is not None:
            stats.decision_to_send_ns.append(last_sent - recv_ns)
            if stats.trace:
                first_sent = min(x for x in sent if x is not None)
                stats.stages.append((recv_ns, e.t_eval, now, first_sent, last_sent))
        t = ticket.apply(TicketTrigger.SENT if sent_any else TicketTrigger.SEND_FAILED, self.clock.now_ns(),
                         f"{intent.value} {direction.value} at basis {q.basis:.6g} (threshold {e.threshold})"
                         + (f", {cfg.submission} from {out[0][0].value.lower()}" if len(out) == 1 else ""))
        self.settle.audit_ticket(ticket, recv_ns)
        self.records.transition(ticket, t)
        self.records.audit.event("verdict", recv_ns, pair=pr.name, ticket_id=tid, ok=True, order_kind=intent.value,
                                 checks=describe(e.checks))
        for o in orders:
            self.records.order(o)
        if not sent_any:
            self.settle.finish(ticket, p, pr, now)

    def sequential_first(self, pr: PairRuntime, q: Quote, inner_lots: Decimal, outer_lots: Decimal) -> LegRole:
        """The less liquid leg goes first: configured, or the leg whose visible depth covers its
        size the fewest times."""
        first = pr.cfg.sequential_first
        if first != "auto":
            return LegRole(first.upper())
        ib, ob = self.state.books[pr.inner.key], self.state.books[pr.outer.key]
        side_i = q.direction.side(LegRole.INNER)
        side_o = q.direction.side(LegRole.OUTER)
        depth_i = sum(s for _, s in (ib.bids if side_i is Side.SELL else ib.asks)) / inner_lots
        depth_o = sum(s for _, s in (ob.bids if side_o is Side.SELL else ob.asks)) / outer_lots
        return LegRole.INNER if depth_i <= depth_o else LegRole.OUTER

    def position_parts(self, lp: LegPlan, intent: TicketIntent, holding: Holding | None,
                       now_ns: int) -> list[tuple[PositionEffect | None, Decimal]]:
        """A leg's orders: one, or, for a close on a venue whose closes name the day, one per day's lots."""
        if not lp.inst.position_effect or intent is TicketIntent.OPEN or not self.desk.closes_by_day(lp.inst.venue):
            return [(self.position_effect(lp.inst, intent, holding, now_ns), lp.lots)]
        return self.desk.close_parts(lp.inst, lp.side, lp.lots, now_ns, self.account)

    def position_effect(self, inst: Instrument, intent: TicketIntent, holding: Holding | None,
                        now_ns: int) -> PositionEffect | None:
        if not inst.position_effect:
            return None
        if intent is TicketIntent.OPEN:
            return PositionEffect.OPEN
        # SHFE/INE: a position opened in today's trading day closes with close-today.
        if holding is not None and self.trading_day(inst, holding.opened_ns) == self.trading_day(inst, now_ns):
            return PositionEffect.CLOSE_TODAY
        return PositionEffect.CLOSE

    def trading_day(self, inst: Instrument, ns: int):
        cal = self.state.strategy.calendars.get(inst.calendar) if inst.calendar else None
        return cal.trading_day(ns) if cal is not None else shfe_trading_day(ns)

    # -- progress ----------------------------------------------------------------------------
    def progress(self, ticket: Ticket, ts_ns: int) -> None:
        """Move the ticket on once its orders allow: send a pending second leg, finish, or repair."""
        st = self.state
        p = st.progress.get(ticket.ticket_id)
        if p is None or ticket.state is TicketState.FAILED:
            return
        pr = st.pairs[ticket.pair]
        was = ticket.state
        settle = self.settle
        if ticket.state.is_terminal and ticket.working and not p.flatten:
            # A bust or a restatement put one of its orders back to work at the venue (a DAY order's
            # busted fill leaves its quantity open again): what it fills, or never fills, changes the
            # ticket, so it is open again, for the watchdog to time that order out and the repair to
            # follow; and legged, so the pair opens nothing new meanwhile. Left finished, nothing would
            # ever look at the order, and its lots stayed legged.
            self._reopen(ticket, p, ts_ns, "order working again", "an order working again after the ticket ended: ")
            p.legged_ns = ts_ns
            st.stats.legged += 1
            pr.legged.add(ticket.ticket_id)
        if any(o.uncertain for o in ticket.orders()) or ticket.working:
            return
        if p.superseded and not ticket.state.is_terminal:
            settle.transition(ticket, TicketTrigger.FLATTENED, ts_ns,
                              f"flattened: exposure taken off by {p.superseded}; " + settle_cause(ticket))
            settle.finish(ticket, p, pr, ts_ns)
            self.flatten.maybe_start(pr, ts_ns)
            return
        if p.pending is not None and not pr.flatten_request:
            self._send_second_leg(ticket, p, pr)
            if ticket.working:
                return
        p.pending = None
        if pr.flatten_request and not p.flatten:
            p.superseded = "the flatten path"
            return self.progress(ticket, ts_ns)
        if p.flatten:
            return self.flatten.progress(ticket, p, pr, ts_ns)
        trigger = ticket.settle_trigger()
        state = ticket.state
        if state in (TicketState.PENDING, TicketState.WORKING):
            if state is TicketState.PENDING:
                trigger = TicketTrigger.SEND_FAILED if trigger is TicketTrigger.LEGS_EMPTY else trigger
            settle.transition(ticket, trigger, ts_ns, settle_cause(ticket))
        elif state is TicketState.REPAIRING:
            if trigger is TicketTrigger.LEGS_EMPTY:      # both legs back to zero: flat again
                settle.transition(ticket, TicketTrigger.REPAIR_UNWOUND, ts_ns, settle_cause(ticket))
            elif trigger is TicketTrigger.LEGS_MATCHED:  # chased, or the excess unwound: matched
                settle.transition(ticket, TicketTrigger.REPAIR_MATCHED, ts_ns, settle_cause(ticket))
            else:
                settle.transition(ticket, TicketTrigger.LEGS_MISMATCHED, ts_ns,
                                  "repair step ended short: " + settle_cause(ticket))
        elif state is TicketState.LEGGED:
            if trigger in (TicketTrigger.LEGS_MATCHED, TicketTrigger.LEGS_EMPTY):
                settle.transition(ticket, TicketTrigger.LEGS_MATCHED, ts_ns, "late fill: " + settle_cause(ticket))
        elif state.is_terminal:
            if trigger is TicketTrigger.LEGS_MISMATCHED:   # a fill reported after the end
                self._reopen(ticket, p, ts_ns, "late fill", "late fill after the ticket ended: ")
            elif p.ended_net is not None:
                settle.update_holdings(ticket, p, pr)       # a late fill that kept it matched
                settle.journal_end(ticket)
        if ticket.state is TicketState.LEGGED:
            if p.legged_ns is None:
                p.legged_ns = ts_ns
                st.stats.legged += 1
            pr.legged.add(ticket.ticket_id)
            if ts_ns >= p.next_ns:
                self.repair(ticket, p, ts_ns)
        elif ticket.state.is_terminal and ticket.state is not was:
            settle.finish(ticket, p, pr, ts_ns)

    def _send_second_leg(self, ticket: Ticket, p: TicketProgress, pr: PairRuntime) -> None:
        """Sequential submission: the second leg goes out for what the first leg filled, aligned on
        its lot grid (:func:`hedge_lots`: never beyond the tolerance, never more than planned),
        priced on the book as it is now, and through the risk gate like every order."""
        cmd = p.pending
        p.pending = None
        first = next(leg for leg in ticket.legs.values() if leg.orders)
        second = ticket.legs[LegRole.OUTER if first.role is LegRole.INNER else LegRole.INNER]
        # the units the second leg should bring, so the ticket leaves what it set out to (its aim)
        done = first.filled_units(ticket.unit)
        want = done + ticket.aim if second.role is LegRole.INNER else done - ticket.aim
        lots = hedge_lots(want if done else Decimal(0), second.instrument, ticket.unit, ticket.tolerance,
                          second.target_lots)
        if lots <= 0:
            return
        inst = second.instrument
        book = self.state.books[inst.key]
        levels = (book.asks if cmd.side is Side.BUY else book.bids) if book.valid else []
        sw = sweep(levels, lots) if levels else None
        price = cmd.price
        ticks = pr.cfg.inner_slippage_ticks if second.role is LegRole.INNER else pr.cfg.outer_slippage_ticks
        if cmd.ord_type is OrdType.LIMIT and sw is not None:
            price = limit_price(inst, cmd.side, sw.worst, ticks)
        st = self.state
        now = self.clock.now_ns()
        ran: list = []
        plan = LegPlan(inst, cmd.side, lots, price if cmd.ord_type is OrdType.LIMIT else None, cmd.price,
                       pr.cfg.repair.chase_ticks, levels[0][0] if levels else None, None,
                       inst.lots_to_units(lots, pr.inner.unit) * cmd.side.sign,
                       sw.worst if sw is not None and sw.qty >= lots else None)
        kind = OrderKind.OPEN if ticket.intent is TicketIntent.OPEN else OrderKind.CLOSE
        denial = self.gate.check_order(kind, plan, pair=pr.name, global_state=st.trading.state,
                                       pair_state=self._repair_state(pr), session_up=self.desk.is_up(inst.venue),
                                       now_ns=now, venue_instruments=st.instruments_by_venue[inst.venue],
                                       pair_net=pr.residual_units, ran=ran)
        if denial is not None:
            # not sent: the ticket settles legged and is repaired (or given up) like any other
            self.records.audit.event("denial", now, pair=pr.name, ticket_id=ticket.ticket_id,
                                     reason=denial.reason.value, detail=denial.detail, order_kind="second leg",
                                     checks=describe(ran, denial))
            return
        cmd = NewOrder(cmd.cl_ord_id, inst, cmd.side, lots, cmd.ord_type, price, cmd.tif, cmd.account,
                       cmd.position_effect)
        second.target_lots = lots
        order = Order(cmd, ticket.ticket_id, second.role, OrderRole.ENTRY, now)
        second.orders.append(order)
        st.orders[cmd.cl_ord_id] = order
        self.journal.write("order", **order_record(order))
        self.desk.send(order)
        self.records.audit.event("verdict", now, pair=pr.name, ticket_id=ticket.ticket_id, ok=True,
                                 order_kind="second leg", orders=[cmd.cl_ord_id], checks=describe(ran))
        self.records.order(order)

    def _repair_state(self, pr: PairRuntime) -> TradingState:
        """The pair's state as repair orders see it: a repair-loop halt stops new tickets, while a
        ticket already legged is still taken back to flat or matched (halting it half-way would
        leave the exposure behind). Every other hold applies as it is."""
        t = pr.trading
        if LOOP_HOLD in t.holds and t.state is TradingState.HALTED:
            return t.state_without(LOOP_HOLD)
        return t.state

    # -- repair ------------------------------------------------------------------------------
    def repair(self, ticket: Ticket, p: TicketProgress, now_ns: int) -> None:
        st = self.state
        pr = st.pairs[ticket.pair]
        policy = pr.cfg.repair
        if p.superseded:
            return
        if st.closing:
            return self.settle.defer_repair(ticket, pr, now_ns)
        if p.legged_ns is not None and now_ns - p.legged_ns > policy.give_up_ms * MS:
            return self.settle.give_up(ticket, p, pr, now_ns, f"not repaired within {policy.give_up_ms} ms")
        if p.flatten:
            return self.flatten.step(ticket, p, pr, now_ns)
        books = {LegRole.INNER: st.books[pr.inner.key], LegRole.OUTER: st.books[pr.outer.key]}
        fx = None
        if pr.pricer.needs_fx:
            fx = st.books[pr.fx_key].mid() if pr.fx_key is not None else fx_rate(None, st.strategy.fx[pr.cfg.fx])
            fx = fx or ticket.decision.fx
        slippage = {LegRole.INNER: pr.cfg.inner_slippage_ticks, LegRole.OUTER: pr.cfg.outer_slippage_ticks}
        result = repair.plan(ticket, pr.pricer, policy, books, fx, p.attempts, slippage)
        if result is None:
            return self.progress(ticket, now_ns)
        if isinstance(result, repair.Stop):
            if policy.mode != "halt" and "no liquidity" in result.reason and p.attempts["UNWIND"] < policy.unwind_attempts:
                p.next_ns = now_ns + policy.unwind_interval_ms * MS  # try again on fresher books
                return
            return self.settle.give_up(ticket, p, pr, now_ns, result.reason)
        venues = {ticket.legs[s.leg].instrument.venue for s in result.steps}
        down = [v for v in venues if not self.desk.is_up(v)]
        if down:
            p.next_ns = now_ns + policy.unwind_interval_ms * MS
            self.records.audit.event("repair_waiting", now_ns, pair=pr.name, ticket_id=ticket.ticket_id,
                                     reason=f"{', '.join(down)} session down")
            return
        kind = "CHASE" if result.kind == "CHASE" else "UNWIND"
        ran: list = []
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
                pair=pr.name, global_state=st.trading.state, pair_state=self._repair_state(pr), session_up=True,
                now_ns=now_ns, venue_instruments=st.instruments_by_venue[leg.instrument.venue],
                pair_net=pr.residual_units, ran=ran)
            if denial is not None:
                p.next_ns = now_ns + policy.unwind_interval_ms * MS
                self.settle.deny_repair(ticket, pr, denial, now_ns)
                return
        p.attempts[kind] += 1
        p.repairs.append(f"{result.kind}#{p.attempts[kind]}")
        interval = policy.chase_interval_ms if kind == "CHASE" else policy.unwind_interval_ms
        p.next_ns = now_ns + interval * MS
        orders = []
        for step in result.steps:
            leg = ticket.legs[step.leg]
            inst = leg.instrument
            # chasing continues the ticket's intent; unwinding reverses it (a close: by open day)
            opening = (ticket.intent is TicketIntent.OPEN) == (step.role is OrderRole.CHASE)
            parts = ([(PositionEffect.OPEN if inst.position_effect else None, step.lots)] if opening else
                     self.desk.close_parts(inst, step.side, step.lots, now_ns, self.account))
            for pe, lots in parts:
                cmd = NewOrder(self.ids.cl_ord_id(), inst, step.side, lots, OrdType.LIMIT, step.price,
                               TimeInForce.IOC, self.account, pe)
                order = Order(cmd, ticket.ticket_id, step.leg, step.role, now_ns)
                leg.orders.append(order)
                st.orders[cmd.cl_ord_id] = order
                orders.append(order)
                self.journal.write("order", **order_record(order))
        for order in orders:
            self.desk.send(order)
            crash_point("repair_sent")
        self.settle.transition(ticket, TicketTrigger.REPAIR_STARTED, self.clock.now_ns(), result.reason)
        audit = self.records.audit
        audit.event("verdict", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, ok=True, order_kind=kind,
                    orders=[o.cl_ord_id for o in orders], checks=describe(ran))
        audit.event("repair_step", now_ns, pair=pr.name, ticket_id=ticket.ticket_id, step=result.kind,
                    attempt=p.attempts[kind], reason=result.reason, orders=[o.cl_ord_id for o in orders],
                    expected_cost=str(sum(s.expected_cost for s in result.steps)))
        for o in orders:
            self.records.order(o)
        if not any(o.sent_ns for o in orders):
            self.progress(ticket, now_ns)

    def _reopen(self, ticket: Ticket, p: TicketProgress, ts_ns: int, what: str, why: str) -> None:
        """A finished ticket is open again (journaled: a restart finds it open). Its legging is a new
        incident: the repair's time limit (``give_up_ms``) counts from now, not from an earlier legging
        the ticket was repaired from before it ended; and its path says how it began
        (``REOPENED:<what>``), also when the venue ends it with no repair step of ours (the order working
        again fills after all)."""
        self.journal.write("reopen", ticket_id=ticket.ticket_id)
        p.legged_ns = None
        p.repairs.append(f"REOPENED:{what}")
        self.settle.transition(ticket, TicketTrigger.LEGS_MISMATCHED, ts_ns, why + settle_cause(ticket))

    # -- repair pauses -----------------------------------------------------------------------
    def on_timer(self, now_ns: int) -> None:
        """A legged ticket takes its next repair step when its pause is over (order deadlines are
        the watchdog's: :mod:`xmc_fix.execution.watchdog`). So does a flatten ticket with nothing
        out: its step found no book or session, or it was restored from the journal that way."""
        for p in list(self.state.open_progress()):
            t = p.ticket
            if now_ns < p.next_ns:
                continue
            if t.state is TicketState.LEGGED:
                self.repair(t, p, now_ns)
            elif (p.flatten and t.state is TicketState.WORKING and not t.working
                  and not any(o.uncertain for o in t.orders())):
                self.flatten.progress(t, p, self.state.pairs[t.pair], now_ns)
