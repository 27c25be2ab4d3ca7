"""Recovery: what the intent journal says is held and still open, loaded before any session is up,
and what the journal should say now (for compaction).

Restored: the position ledger (per instrument, account and pair leg; cost basis; realised P&L of the
trading day; foreign lots), the holdings closing tickets close, sticky holds (global and per pair),
open tickets with their orders and the fills they had, the ExecIDs the ledger took (a venue's
resend of one, or its drop copy, never counts twice), and each pair's mode and live size cap set on
the running engine (:mod:`xmc_fix.execution.release`). Open tickets' orders come back uncertain:
the venue is asked about each on logon, and nothing is repaired before it answers; the logon's
reconciliation then checks the restored positions against the venue's. Nothing is re-sent.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from xmc_fix.clock import Clock
from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import (Direction, LegRole, OrderRole, OrdStatus, OrdType, PositionEffect, Side, TicketIntent,
                                  TimeInForce, TradingState)
from xmc_fix.domain.orders import Fill, Order
from xmc_fix.domain.tickets import Decision, Leg, Ticket, TicketState
from xmc_fix.execution import release
from xmc_fix.execution.journal import FinishedTicket, JournalState, OpenTicket
from xmc_fix.execution.records import AuditSink, order_record, ticket_record
from xmc_fix.execution.state import ACCOUNTED_KEEP_NS, EngineState, Holding, PairRuntime, TicketProgress
from xmc_fix.risk.states import StateTrigger

log = logging.getLogger("xmc.engine")
MS = 1_000_000


class Recovery:
    def __init__(self, state: EngineState, audit: AuditSink, clock: Clock) -> None:
        self.state = state
        self.audit = audit
        self.clock = clock

    def restore(self, journal: JournalState) -> dict:
        """Load what the journal says is held and still open, before any session is up."""
        st = self.state
        now = self.clock.now_ns()
        restored = {"held": 0, "tickets": 0, "orders": 0, "fills": 0}
        # positions journaled fill by fill (since the last snapshot) give the ledger, pair lots included;
        # a journal from before that only knows the holdings, which give the pairs' lots
        by_fills = journal.ledger is not None or bool(journal.fills) or bool(journal.foreign)
        order_fills = self._restore_ledger(journal) if by_fills else {}
        st.accounted.update({k: v or now for k, v in journal.accounted.items()})
        restored["fills"] = len(journal.fills)
        for h in journal.held:
            pr = st.pairs.get(h["pair"])
            if pr is None:
                log.error("journal holds lots for unknown pair %s; ignored", h["pair"])
                continue
            hold = Holding(h["ticket_id"], Direction(h["direction"]), int(h["opened_ns"]), Decimal(h["inner"]),
                           Decimal(h["outer"]))
            pr.holdings.append(hold)
            if not by_fills:
                st.ledger.add_pair_lots(pr.name, LegRole.INNER, hold.inner_lots)
                st.ledger.add_pair_lots(pr.name, LegRole.OUTER, hold.outer_lots)
            restored["held"] += 1
        for pair, ps in journal.pair_states.items():
            pr = st.pairs.get(pair)
            if pr is not None and ps.get("state") in (TradingState.HALTED.value, TradingState.REDUCING.value):
                trigger = StateTrigger.HALT if ps["state"] == TradingState.HALTED.value else StateTrigger.REDUCE
                pr.trading.apply(trigger, now, ps.get("reason", "held before restart"))
        g = journal.global_state
        if g and g.get("state") in (TradingState.HALTED.value, TradingState.REDUCING.value):
            st.trading.apply(StateTrigger.HALT if g["state"] == TradingState.HALTED.value else StateTrigger.REDUCE,
                             now, g.get("reason") or "held before restart")
        for ot in journal.open_tickets.values():
            rec = ot.record
            pr = st.pairs.get(rec["pair"])
            if pr is None:
                log.error("journal has open ticket %s of unknown pair %s", rec["ticket_id"], rec["pair"])
                continue
            t = self._ticket_from_record(pr, rec)
            p = TicketProgress(t, closes=rec.get("closes"), flatten=t.intent is TicketIntent.FLATTEN)
            if rec.get("applied"):      # a ticket reopened after it ended: the holdings have its lots as they were
                p.ended_net = (Decimal(rec["applied"]["INNER"]), Decimal(rec["applied"]["OUTER"]))
            for o in ot.orders:
                order = self._order_from_record(o, order_fills.get(o["cl_ord_id"]))
                t.legs[LegRole(o["leg"])].orders.append(order)
                st.orders[order.cl_ord_id] = order
                for alias in order.aliases:     # the ClOrdIDs of our cancels name it too
                    st.orders[alias] = order
                restored["orders"] += 1
            t.state = TicketState(rec.get("state", "WORKING")) if rec.get("state") else TicketState.WORKING
            if t.state is TicketState.PENDING:
                t.state = TicketState.WORKING
            st.tickets[t.ticket_id] = t
            st.progress[t.ticket_id] = p
            pr.active = t
            if t.state in (TicketState.LEGGED, TicketState.REPAIRING):
                pr.legged.add(t.ticket_id)
            restored["tickets"] += 1
            self.audit.event("ticket_recovered", now, pair=pr.name, ticket_id=t.ticket_id,
                             orders=[o["cl_ord_id"] for o in ot.orders])
        self._restore_finished(journal, order_fills, now)
        restored.update(release.restore(st, journal.releases))     # after the holdings: paper starts there
        return restored

    def _restore_finished(self, journal: JournalState, order_fills: dict[str, list[list]], now: int) -> None:
        """Tickets that ended within ``retain_finished_ms`` come back finished, with their orders and
        fills: a late fill or a bust of one of them after the restart reopens its ticket (and is
        repaired) as it would have before, instead of passing for an order the engine did not send."""
        st = self.state
        keep = st.strategy.engine.retain_finished_ms * MS
        for tid, ft in journal.finished.items():
            pr = st.pairs.get(ft.record.get("pair"))
            if tid in st.tickets or pr is None or ft.ended_ns is None or now - ft.ended_ns > keep:
                continue
            t = self._ticket_from_record(pr, ft.record)
            t.state = TicketState(ft.record["state"])
            if not t.state.is_terminal:
                continue
            t.ended_ns = ft.ended_ns
            p = TicketProgress(t, closes=ft.record.get("closes"), flatten=t.intent is TicketIntent.FLATTEN)
            p.ended_net = (Decimal(ft.net["INNER"]), Decimal(ft.net["OUTER"]))
            for o in ft.orders:
                fills = list(o.get("fills") or [])
                seen = {f[0] for f in fills if f[0]}
                fills += [f for f in order_fills.get(o["cl_ord_id"], []) if not f[0] or f[0] not in seen]
                order = self._order_from_record(o, fills)
                order.uncertain = False
                order.status = OrdStatus.FILLED if order.filled_qty >= order.qty else OrdStatus.CANCELED
                order.leaves_qty = Decimal(0)
                order.done_ns = ft.ended_ns
                t.legs[LegRole(o["leg"])].orders.append(order)
                st.orders[order.cl_ord_id] = order
                for alias in order.aliases:     # the ClOrdIDs of our cancels name it too
                    st.orders[alias] = order
            st.tickets[tid] = t
            st.progress[tid] = p

    @staticmethod
    def _ticket_from_record(pr: PairRuntime, rec: dict) -> Ticket:
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

    def _restore_ledger(self, journal: JournalState) -> dict[str, list[list]]:
        """The ledger from its last snapshot and the fills and foreign lots after it; the fills each
        order had, by ClOrdID ([ExecID, lots, price] each)."""
        st = self.state
        ledger = st.ledger
        if journal.ledger is not None:
            ledger.load(journal.ledger)
        insts = st.strategy.instruments
        per_order: dict[str, list[list]] = {}
        for f in journal.fills:
            inst = insts.get(f["instrument"])
            if inst is None:
                log.error("journal has a fill of unknown instrument %s; ignored", f["instrument"])
                continue
            qty = Decimal(f["qty"])
            ledger.on_fill(f["pair"], inst, Side(f["side"]), qty, Decimal(f["px"]), leg=LegRole(f["leg"]),
                           account=f.get("account"), effect=PositionEffect(f["pe"]) if f.get("pe") else None,
                           day=f.get("iday"))
            if f.get("day") is not None:
                ledger.roll_day(f["pair"], f["day"])
            if f.get("realised") and Decimal(f["realised"]):
                ledger.add_realised(f["pair"], Decimal(f["realised"]))
            per_order.setdefault(f["cl_ord_id"], []).append([f.get("exec_id"), f["qty"], f["px"]])
        for x in journal.foreign:
            inst = insts.get(x["instrument"])
            if inst is not None:
                ledger.on_foreign_fill(inst, Side(x["side"]), Decimal(x["qty"]), Decimal(x["px"]), x.get("account"),
                                       x.get("iday"))
        return per_order

    def _order_from_record(self, o: dict, fills: list[list] | None = None) -> Order:
        inst = self.state.strategy.instruments[o["instrument"]]
        cmd = NewOrder(o["cl_ord_id"], inst, Side(o["side"]), Decimal(o["qty"]), OrdType(o["ord_type"]),
                       Decimal(o["price"]) if o.get("price") is not None else None, TimeInForce(o["tif"]),
                       o.get("account"), PositionEffect(o["position_effect"]) if o.get("position_effect") else None)
        order = Order(cmd, o["ticket_id"], LegRole(o["leg"]), OrderRole(o["role"]), int(o["created_ns"]))
        order.sent_ns = int(o["created_ns"])
        order.uncertain = order.restored = True
        order.aliases = list(o.get("aliases", []))
        for exec_id, qty, px in fills if fills is not None else o.get("fills", []):
            # what the order had filled stands: the venue's answer adds only what is new, and a later
            # bust or correction finds the fill it names
            order.fills.append(Fill(exec_id or f"journal-{len(order.fills)}", order.cl_ord_id, Decimal(qty),
                                    Decimal(px), None, 0))
            if exec_id:
                order.exec_ids.add(exec_id)
        if order.fills:
            # the venue's CumQty is what counts from here on (a resent report adds nothing twice)
            order.cum_qty, order.cum_trusted = sum((f.qty for f in order.fills), Decimal(0)), True
            if order.cum_qty:
                order.avg_px = sum((f.qty * f.price for f in order.fills), Decimal(0)) / order.cum_qty
        return order

    def journal_state(self) -> JournalState:
        """What the journal should say now (for compaction after a restore)."""
        st = self.state
        out = JournalState()
        out.ledger = st.ledger.snapshot()
        horizon = self.clock.now_ns() - ACCOUNTED_KEEP_NS
        out.accounted = {k: v for k, v in st.accounted.items() if v >= horizon}
        g = [h for h in st.trading.holds.values() if h.sticky]
        if g:
            top = max(g, key=lambda h: (h.level is TradingState.HALTED, h.since_ns))
            out.global_state = {"state": top.level.value, "reason": top.reason}
        for pr in st.pairs.values():
            for h in pr.holdings:
                if not h.empty:
                    out.held.append({"ticket_id": h.ticket_id, "pair": pr.name, "direction": h.direction.value,
                                     "opened_ns": h.opened_ns, "inner": str(h.inner_lots), "outer": str(h.outer_lots)})
            sticky = [h for h in pr.trading.holds.values() if h.sticky]
            if sticky:
                top = max(sticky, key=lambda h: (h.level is TradingState.HALTED, h.since_ns))
                out.pair_states[pr.name] = {"state": top.level.value, "reason": top.reason}
        out.releases = release.journal_records(st)
        keep = st.strategy.engine.retain_finished_ms * MS
        now = self.clock.now_ns()
        for tid, p in st.progress.items():
            t = p.ticket
            if not t.state.is_terminal:
                rec = ticket_record(t, p.closes)
                if p.ended_net is not None:     # reopened: the holdings have its lots as they were at its end
                    rec["applied"] = {"INNER": p.ended_net[0], "OUTER": p.ended_net[1]}
                out.open_tickets[tid] = OpenTicket(rec, [_with_fills(o) for o in t.orders()])
            elif t.ended_ns is not None and now - t.ended_ns <= keep:
                inner, outer = p.ended_net or (Decimal(0), Decimal(0))
                out.finished[tid] = FinishedTicket(ticket_record(t, p.closes), [_with_fills(o) for o in t.orders()],
                                                   {"INNER": inner, "OUTER": outer}, t.ended_ns)
        return out


def _with_fills(o: Order) -> dict:
    """An open order's journal record with what it has filled so far (the ledger snapshot has its
    position; this is what the order itself knows)."""
    rec = order_record(o)
    if o.fills:
        rec["fills"] = [[f.exec_id, str(f.qty), str(f.price)] for f in o.fills]
    return rec
