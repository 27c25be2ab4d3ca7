"""Order handling at a simulated venue: NewOrderSingle, OrderCancelRequest and
OrderCancelReplaceRequest, the trades they cause, and how their reports reach the client under the
scenario's plan for the order.

- NewOrderSingle (D): validated (symbol, quantity step and bounds, tick, order type, time in force,
  duplicate ClOrdID, position to close on venues with open/close), then New, fills, and for
  IOC/FOK/market remainders Canceled; rejects carry OrdRejReason and a text.
- OrderCancelRequest (F), OrderCancelReplaceRequest (G): Canceled / Replaced, or
  OrderCancelReject (9) for unknown or finished orders (and a replace of a suspended order).

Every report is copied at once to the venue's drop copies; the order session gets it as the plan
says: held (latency), duplicated, reordered, a fill after its cancel, the session dropped with it in
flight, withheld, or into a silent gateway or a quiet connection. What the venue does to the order
afterwards on its own (bust, correction, ...) is scheduled here and done by
:mod:`xmc_fix.sim.venue_events`. Positions follow every fill.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from xmc_fix.domain.enums import OrdStatus, OrdType, PositionEffect, TimeInForce
from xmc_fix.fixwire import fields
from xmc_fix.sim.behaviour import NORMAL, OrderPlan
from xmc_fix.sim.matching import SimFill, SimOrder, Trade
from xmc_fix.sim.reports import Kind, Report, ord_status_code, order_report, render_cancel_reject
from xmc_fix.sim.state import ExchangeCore, SimVenue
from xmc_fix.venues import translate as tr

ZERO = Decimal(0)

# OrdRejReason (103)
REJ_UNKNOWN_SYMBOL = "1"
REJ_EXCEEDS_LIMIT = "3"
REJ_DUPLICATE = "6"
REJ_UNSUPPORTED = "11"
REJ_BAD_QTY = "13"
REJ_OTHER = "99"
#: Venue-wide events a new order triggers even when the venue rejects it.
VENUE_WIDE = frozenset({"foreign", "end_of_day"})


class OrderDesk:
    def __init__(self, exchange: ExchangeCore) -> None:
        self.ex = exchange

    # -- NewOrderSingle ----------------------------------------------------------------------
    def on_new_order(self, venue_name: str, session: str, raw: str) -> None:
        ex = self.ex
        venue = ex.venues[venue_name]
        d = fields(raw)
        cl = d.get("11", "")
        seen = venue.seen_cl_ord_ids.setdefault(session, set())
        sym = d.get("55", "")
        side = tr.FIX_SIDE.get(d.get("54", ""))
        order = SimOrder(ex.ids.order_id(venue.name), session, cl, side or tr.FIX_SIDE["1"], ZERO, None,
                         symbol=sym, account=d.get("1"))
        order.history.append(cl)
        ex.stats["orders"] += 1
        inst = venue.instruments.get(sym)
        behaviour = ex.behaviours.get(venue_name)
        plan = behaviour.plan() if behaviour is not None else NORMAL
        self._gateway(session, plan)

        def reject(code: str, text: str) -> None:
            order.status = OrdStatus.REJECTED
            ex.stats["rejects"] += 1
            self.emit(venue, order, order_report(order, Kind.REJECTED, ex.ids.exec_id(), ex.clock.now_ns(),
                                                 text=text, rej_reason=code))
            for ev in plan.events:
                if ev.action in VENUE_WIDE:
                    ex.schedule(ev.ms / 1000, ex.events.run, venue.name, order, ev)

        if cl in seen:
            return reject(REJ_DUPLICATE, f"duplicate ClOrdID {cl}")
        seen.add(cl)
        if inst is None:
            return reject(REJ_UNKNOWN_SYMBOL, f"unknown symbol {sym!r}")
        if side is None:
            return reject(REJ_UNSUPPORTED, f"unsupported side {d.get('54')!r}")
        try:
            qty = Decimal(d.get("38", ""))
        except InvalidOperation:
            return reject(REJ_BAD_QTY, f"bad quantity {d.get('38')!r}")
        order.qty = qty
        cfg = inst.cfg
        if qty < cfg.min_qty or qty % cfg.lot_step != 0 or qty > cfg.max_qty:
            return reject(REJ_BAD_QTY, f"quantity {qty} must be a multiple of {cfg.lot_step} "
                                       f"between {cfg.min_qty} and {cfg.max_qty}")
        ord_type = tr.FIX_ORD_TYPE.get(d.get("40", ""))
        if ord_type is None:
            return reject(REJ_UNSUPPORTED, f"unsupported OrdType {d.get('40')!r}")
        order.ord_type = ord_type
        tif = tr.FIX_TIME_IN_FORCE.get(d.get("59", "0"))
        if tif is None or tif is TimeInForce.GTC:
            return reject(REJ_UNSUPPORTED, f"unsupported TimeInForce {d.get('59')!r}")
        order.tif = tif
        if ord_type is OrdType.LIMIT:
            try:
                price = Decimal(d.get("44", ""))
            except InvalidOperation:
                return reject(REJ_OTHER, f"bad price {d.get('44')!r}")
            if price <= 0 or price % cfg.tick != 0:
                return reject(REJ_OTHER, f"price {d.get('44')} is not on the tick grid of {cfg.tick}")
            order.price = price
        pe = tr.FIX_POSITION_EFFECT.get(d.get("77", "")) if "77" in d else None
        order.position_effect = pe
        if venue.cfg.position_effect:
            if pe is None:
                return reject(REJ_OTHER,
                              "PositionEffect (77) required: O open, C close, T close today, Y close yesterday")
            if pe is PositionEffect.CLOSE:
                order.position_effect = PositionEffect.CLOSE_YESTERDAY
            problem = self.reserve(venue, order, reserve=not plan.reject)
            if problem:
                return reject(REJ_EXCEEDS_LIMIT, problem)
        if plan.reject:
            ex.stats["simulated_rejects"] += 1
            return reject(REJ_OTHER, "rejected by venue (simulated)")
        venue.orders[(session, cl)] = order
        venue.orders_by_id[order.order_id] = order
        reports: list[tuple[str, Report]] = [("ack", self.report(order, Kind.NEW))]
        full = order.qty
        if plan.partial is not None and (order.tif in (TimeInForce.IOC,) or order.ord_type is OrdType.MARKET):
            part = (full * plan.partial / cfg.lot_step).to_integral_value(ROUND_FLOOR) * cfg.lot_step
            if 0 < part < full:
                order.qty = part          # the venue lets only this much trade
                ex.stats["partials"] += 1
        trades = [] if plan.rest else inst.book.submit(order)   # rest: held off the book, unmatched
        if order.qty != full:
            order.qty = full
            if order.leaves > 0 or order.status is OrdStatus.FILLED:
                order.status = OrdStatus.CANCELED
        reports += [("fill", r) for r in self.report_trades(venue, trades, hold=order)]
        if order.status is OrdStatus.CANCELED:
            self.release(venue, order)
            reports.append(("cancel", self.report(order, Kind.CANCELED,
                                                  text="remaining quantity cancelled (IOC/FOK/market)")))
        self._deliver(venue, session, order, plan, reports)
        ex.publish(venue, inst)

    def reserve(self, venue: SimVenue, order: SimOrder, *, reserve: bool = True) -> str | None:
        """On an open/close venue a closing order needs (and reserves) the position it closes;
        the problem in words when it is not there."""
        pos = venue.position(order.account, order.symbol)
        bucket = pos.bucket(order.side, order.position_effect)
        if bucket is None:
            return None
        if pos.available(bucket) < order.qty:
            return (f"insufficient {bucket.replace('_', ' ')} position to close: "
                    f"{pos.available(bucket)} available, {order.qty} asked")
        if reserve:
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) + order.qty
        return None

    def _gateway(self, session: str, plan: OrderPlan) -> None:
        """A plan may take the session's gateway silent, or its connection quiet, from this order on."""
        ex = self.ex
        if plan.silent_ms:
            ex.stats["silences"] += 1
            ex.outbox.silence(session, plan.silent_ms / 1000, keep=plan.silent_keep)
        if plan.quiet_ms:
            ex.stats["quiet"] += 1
            ex.quiet(session, plan.quiet_ms / 1000)

    def _deliver(self, venue: SimVenue, session: str, order: SimOrder, plan: OrderPlan,
                 reports: list[tuple[str, Report]]) -> None:
        """Copy the order's reports to the drop copies now; send them to the order session as the
        venue's behaviour plan says: held, duplicated, reordered, a fill reported after its cancel,
        with the session dropped while they are in flight, or withheld; then schedule what the
        venue does to the order afterwards."""
        ex = self.ex
        if order.route != "order":
            for _, r in reports:
                ex.outbox.copy(venue.name, r)
        if plan.withhold_ms is not None:
            ex.stats["withheld"] += 1
            reports, withheld = reports[:1], reports[1:]
            if not plan.withhold_ms:
                order.route = "withheld"     # the order session hears no more of this order
            elif withheld:
                self._send_later(session, withheld, (plan.ack_ms + plan.withhold_ms) / 1000, False)
        fills = [r for r in reports if r[0] == "fill"]
        if plan.late_fill and fills:
            # the venue says "cancelled, nothing done" and only later reports what had traded
            ex.stats["late_fills"] += 1
            early = [r for r in reports if r[0] == "ack"]
            early.append(("cancel", self.report(order, Kind.CANCELED, text="cancelled", at=(ZERO, ZERO), status="4")))
            late = fills
        elif plan.reorder and fills:
            ex.stats["reordered"] += 1
            early = fills + [r for r in reports if r[0] != "fill"]
            late = []
        else:
            early = [r for r in reports if r[0] != "fill" or plan.fill_ms <= 0]
            late = [r for r in reports if r[0] == "fill" and plan.fill_ms > 0]
            if late:  # keep the cancel of an IOC remainder after its fills
                early, late = [r for r in early if r[0] == "ack"], late + [r for r in early if r[0] == "cancel"]
        if plan.disconnect:
            ex.stats["disconnects"] += 1
            ex.disconnect(session)
        ack_s = plan.ack_ms / 1000
        late_s = ack_s + (plan.late_ms if plan.late_fill else plan.fill_ms) / 1000
        self._send_later(session, early, ack_s + (0.005 if plan.disconnect else 0), plan.duplicate)
        if late:
            self._send_later(session, late, late_s + (0.005 if plan.disconnect else 0), plan.duplicate)
        self._schedule_events(venue, order, plan, late_s if late else ack_s)

    def _schedule_events(self, venue: SimVenue, order: SimOrder, plan: OrderPlan, after_s: float) -> None:
        for ev in plan.events:
            self.ex.schedule(after_s + ev.ms / 1000, self.ex.events.run, venue.name, order, ev)

    def _send_later(self, session: str, reports: list[tuple[str, Report]], delay_s: float, duplicate: bool) -> None:
        ex = self.ex

        def go():
            for _, r in reports:
                ex.outbox.report(session, r)
                if duplicate:
                    ex.stats["duplicates"] += 1
                    ex.outbox.report(session, r, poss_resend=True)
        if delay_s > 0:
            ex.schedule(delay_s, go)
        else:
            go()

    # -- OrderCancelRequest, OrderCancelReplaceRequest -----------------------------------------
    def on_cancel(self, venue_name: str, session: str, raw: str) -> None:
        ex = self.ex
        venue = ex.venues[venue_name]
        d = fields(raw)
        order = venue.orders.get((session, d.get("41", "")))
        if order is None or order.status.is_terminal:
            self._cancel_reject(session, order, d, "1")
            return
        inst = venue.instruments[order.symbol]
        inst.book.cancel(order)
        order.wire_status = None        # a suspended order is cancelled like any other
        self.release(venue, order)
        orig = order.cl_ord_id
        order.cl_ord_id = d.get("11", orig)
        order.history.append(order.cl_ord_id)
        venue.orders[(session, order.cl_ord_id)] = order
        self.emit(venue, order, self.report(order, Kind.CANCELED, orig_cl_ord_id=orig))
        ex.publish(venue, inst)

    def on_replace(self, venue_name: str, session: str, raw: str) -> None:
        ex = self.ex
        venue = ex.venues[venue_name]
        d = fields(raw)
        order = venue.orders.get((session, d.get("41", "")))
        if order is None or order.status.is_terminal:
            self._cancel_reject(session, order, d, "2")
            return

        def refuse(reason: str, text: str) -> None:
            ex._send(session, "9", render_cancel_reject(order.order_id, d.get("11", ""), order.cl_ord_id,
                                                        ord_status_code(order), "2", reason, text, ex.begin(session)))
        if order.wire_status == "9":
            return refuse("2", "order is suspended")
        inst = venue.instruments[order.symbol]
        try:
            qty = Decimal(d.get("38", ""))
            price = Decimal(d["44"]) if "44" in d else order.price
        except InvalidOperation:
            return refuse("99", "bad quantity or price")
        cfg = inst.cfg
        if qty % cfg.lot_step != 0 or qty <= 0 or (price is not None and price % cfg.tick != 0):
            return refuse("99", "quantity or price off the grid")
        if venue.cfg.position_effect and order.position_effect not in (None, PositionEffect.OPEN):
            # a working close order holds its position: the reservation follows the new quantity
            pos = venue.position(order.account, order.symbol)
            bucket = pos.bucket(order.side, order.position_effect)
            grow = max(qty, order.cum_qty) - order.qty
            if grow > pos.available(bucket):
                return refuse("99", f"insufficient {bucket.replace('_', ' ')} position to close: "
                                    f"{pos.available(bucket)} available, {grow} more asked")
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) + grow
        orig = order.cl_ord_id
        order.cl_ord_id = d.get("11", orig)
        order.history.append(order.cl_ord_id)
        venue.orders[(session, order.cl_ord_id)] = order
        before = (order.cum_qty, order.notional)
        trades = inst.book.replace(order, qty, price)
        # the Replaced report comes before the fills the new terms caused, so it shows the order before them
        self.emit(venue, order, self.report(order, Kind.REPLACED, orig_cl_ord_id=orig, at=before if trades else None))
        self.report_trades(venue, trades)
        if order.status.is_terminal:
            self.release(venue, order)
        ex.publish(venue, inst)

    def _cancel_reject(self, session: str, order: SimOrder | None, d: dict, response_to: str) -> None:
        reason = "1" if order is None else "0"
        text = "unknown order" if order is None else f"order is {_state_words(order)}"
        status = ord_status_code(order) if order else "8"
        self.ex._send(session, "9", render_cancel_reject(order.order_id if order else "NONE", d.get("11", ""),
                                                         d.get("41", ""), status, response_to, reason, text,
                                                         self.ex.begin(session)))

    # -- trades, reports, reservations ---------------------------------------------------------
    def report_trades(self, venue: SimVenue, trades: list[Trade], hold: SimOrder | None = None) -> list[Report]:
        """Apply ``trades`` to positions and report them; the reports of ``hold`` are returned
        instead, for the caller to deliver as that order's behaviour plan says."""
        ex = self.ex
        held: list[Report] = []
        # Matching is over before the first report is written, so an order that traded more than
        # once already holds its final CumQty: report each fill as the order stood right after it.
        after: dict[int, list[Decimal]] = {}
        for t in trades:
            for o in (t.aggressor, t.resting):
                a = after.setdefault(id(o), [o.cum_qty, o.notional])
                a[0] -= t.qty
                a[1] -= t.qty * t.price
        for t in trades:
            for o in (t.aggressor, t.resting):
                a = after[id(o)]
                a[0] += t.qty
                a[1] += t.qty * t.price
                if o.owner == "MM":
                    continue
                ex.stats["fills"] += 1
                venue.position(o.account, o.symbol).trade(o.side, t.qty, o.position_effect, netting=venue.netting)
                r = self.report(o, Kind.TRADE, last_qty=t.qty, last_px=t.price, at=(a[0], a[1]))
                o.fills.append(SimFill(r.exec_id, t.qty, t.price))
                if o is hold:
                    held.append(r)
                else:
                    self.emit(venue, o, r)
                if o.status.is_terminal:
                    self.release(venue, o)
        return held

    def report(self, o: SimOrder, kind: Kind, **extra) -> Report:
        return order_report(o, kind, self.ex.ids.exec_id(), self.ex.clock.now_ns(), **extra)

    def emit(self, venue: SimVenue, o: SimOrder, report: Report) -> None:
        """A venue event's report: to the drop copies, and to the order's session unless the
        order's reports go elsewhere."""
        if o.route != "order":
            self.ex.outbox.copy(venue.name, report)
        if o.route in ("both", "order"):
            self.ex.outbox.report(o.owner, report)

    def release(self, venue: SimVenue, o: SimOrder) -> None:
        """Unfreeze the unfilled part of a finished closing order (once)."""
        if not venue.cfg.position_effect or o.position_effect in (None, PositionEffect.OPEN) or o.released:
            return
        pos = venue.positions.get((o.account, o.symbol))
        bucket = pos.bucket(o.side, o.position_effect) if pos else None
        if bucket is not None:
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) - (o.qty - o.cum_qty)
        o.released = True


def _state_words(o: SimOrder) -> str:
    return {"3": "done for day", "9": "suspended"}.get(o.wire_status or "", o.status.value)
