"""What a simulated venue does on its own to its clients' orders, as a scenario scripts it.

Each event reports to the order's session and to the venue's drop copies, changes the venue's
positions where a trade changes, and follows FIX 4.4's order state change matrices (Appendix D,
"J" for corrections and cancellations of executions):

- **bust** (Trade Cancel, ExecType H; FIX 4.2: ExecTransType 1): ExecRefID = the busted fill's
  ExecID, LastQty 0, CumQty and AvgPx without it. An order still working gets the quantity back
  as LeavesQty; a filled DAY limit order is working again (Partially Filled / New, back in the book
  with new time priority, J.1.a); an IOC, FOK or market order's remainder cannot work, so a filled
  one ends Canceled, as does a filled order the scenario says the venue does not reinstate
  (``reopen = false``); a Canceled, Expired or Done-for-day order keeps its state, LeavesQty 0
  (precedence, J.1.b and J.1.d). The account's position loses the fill.
- **correct** (Trade Correct, G; FIX 4.2: ExecTransType 2): ExecRefID = the fill's ExecID (the
  latest correction's, once corrected), LastQty / LastPx the corrected values, CumQty and AvgPx
  recomputed; a smaller quantity re-opens the order as a bust does; the position follows.
- **restate** (Restated, D, ExecRestatementReason 5 unless scripted): a working order's open
  quantity is reduced to a share of itself (at least one lot), OrderQty and LeavesQty as restated,
  time priority kept.
- **done_for_day** (3 / OrdStatus 3, LeavesQty 0) for one resting DAY order; **end_of_day** for
  every resting DAY order of the venue, after which today's holdings are carried as yesterday's.
- **unsolicited_cancel** (4, no OrigClOrdID, with Text and ExecRestatementReason 8 unless
  scripted), **expire** (C / C).
- **suspend** (9 / 9): the order leaves the book but stays open (it may be cancelled, not
  replaced); after ``resume_ms`` it comes back as Restated (D, reason 8) with OrdStatus New or
  Partially Filled and new time priority — FIX 4.4 has no "resumed" ExecType.
- **foreign**: an order from another terminal on the same account (ClOrdID ``MANUAL-...``, which the
  client never sent) trades, reported to the order session, the drop copy, or both.

An event whose order has moved on (a bust of an order without that fill, a restatement of a filled
order) does nothing.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from xmc_fix.domain.enums import OrdStatus, OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.sim.behaviour import VenueEvent
from xmc_fix.sim.matching import SimFill, SimOrder
from xmc_fix.sim.reports import Kind
from xmc_fix.sim.state import ExchangeCore, SimVenue
from xmc_fix.venues import translate as tr

ZERO = Decimal(0)
MARKET_OPTION = "8"          # ExecRestatementReason: Market (Exchange) option
PARTIAL_DECLINE = "5"        # ExecRestatementReason: partial decline of OrderQty


class VenueEvents:
    def __init__(self, exchange: ExchangeCore) -> None:
        self.ex = exchange

    def run(self, venue_name: str, order: SimOrder, ev: VenueEvent) -> None:
        """Carry out ``ev`` (scheduled by the order desk) on ``order`` as it stands now."""
        venue = self.ex.venues[venue_name]
        a = ev.action
        if a == "bust":
            self.bust(venue, order, ev.fill, reopen=ev.reopen)
        elif a == "correct":
            self.correct(venue, order, ev.fill, ev.fraction, ev.ticks or 0, reopen=ev.reopen)
        elif a == "restate":
            self.restate(venue, order, ev.fraction, ev.reason)
        elif a == "done_for_day":
            self.done_for_day(venue, order)
        elif a == "end_of_day":
            self.end_of_day(venue_name)
        elif a == "unsolicited_cancel":
            self.unsolicited_cancel(venue, order, ev.reason, ev.text)
        elif a == "suspend":
            self.suspend(venue, order, ev.resume_ms)
        elif a == "expire":
            self.expire(venue, order)
        elif a == "foreign":
            self.foreign(venue, order, ev)

    # -- trades undone or changed ------------------------------------------------------------
    def bust(self, venue: SimVenue, o: SimOrder, n: int = 1, *, reopen: bool = True) -> bool:
        fill = _live_fill(o, n)
        if fill is None:
            return False
        ex = self.ex
        fill.busted = True
        o.cum_qty -= fill.qty
        o.notional -= fill.qty * fill.price
        venue.position(o.account, o.symbol).reverse(o.side, fill.qty, o.position_effect, netting=venue.netting)
        back_in_book = self._reopen(venue, o, fill.qty, reopen)
        ex.stats["busts"] += 1
        ex.orders.emit(venue, o, ex.orders.report(o, Kind.TRADE_CANCEL, exec_ref_id=fill.exec_id,
                                                  last_qty=ZERO, last_px=ZERO))
        self._after(venue, o, back_in_book)
        return True

    def correct(self, venue: SimVenue, o: SimOrder, n: int = 1, fraction: Decimal = Decimal(1), ticks: int = 0, *,
                reopen: bool = True) -> bool:
        fill = _live_fill(o, n)
        if fill is None:
            return False
        ex = self.ex
        cfg = venue.instruments[o.symbol].cfg
        qty = max(cfg.lot_step, (fill.qty * fraction / cfg.lot_step).to_integral_value(ROUND_FLOOR) * cfg.lot_step)
        qty = min(qty, fill.qty)
        price = fill.price + ticks * cfg.tick
        if price <= 0:
            price = fill.price
        cut = fill.qty - qty
        o.cum_qty -= cut
        o.notional += qty * price - fill.qty * fill.price
        if cut:
            venue.position(o.account, o.symbol).reverse(o.side, cut, o.position_effect, netting=venue.netting)
        back_in_book = self._reopen(venue, o, cut, reopen) if cut else False
        ex.stats["corrections"] += 1
        report = ex.orders.report(o, Kind.TRADE_CORRECT, exec_ref_id=fill.exec_id, last_qty=qty, last_px=price)
        fill.exec_id, fill.qty, fill.price = report.exec_id, qty, price
        ex.orders.emit(venue, o, report)
        self._after(venue, o, back_in_book)
        return True

    def _reopen(self, venue: SimVenue, o: SimOrder, qty: Decimal, reopen: bool = True) -> bool:
        """The order's state after ``qty`` of its fills went away; True when it goes back into the
        book (after its report, see :meth:`_after`)."""
        if o.wire_status == "3" or o.status in (OrdStatus.CANCELED, OrdStatus.EXPIRED, OrdStatus.REJECTED):
            return False                                # finished: it keeps its state
        if o.status is OrdStatus.FILLED and not (reopen and o.ord_type is OrdType.LIMIT and o.tif is TimeInForce.DAY):
            o.status = OrdStatus.CANCELED               # an IOC / FOK / market remainder cannot work,
            return False                                # nor one the venue does not reinstate
        reopened = o.status is OrdStatus.FILLED
        o.status = OrdStatus.PARTIALLY_FILLED if o.cum_qty else OrdStatus.NEW
        if venue.cfg.position_effect and o.position_effect not in (None, PositionEffect.OPEN):
            pos = venue.position(o.account, o.symbol)
            bucket = pos.bucket(o.side, o.position_effect)
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) + qty    # working again: reserved again
            o.released = False
        return reopened and o.wire_status != "9"

    # -- the order's own state ---------------------------------------------------------------
    def restate(self, venue: SimVenue, o: SimOrder, fraction: Decimal, reason: str | None = None) -> bool:
        if not _working(o):
            return False
        ex = self.ex
        cfg = venue.instruments[o.symbol].cfg
        open_qty = o.qty - o.cum_qty
        keep = (open_qty * fraction / cfg.lot_step).to_integral_value(ROUND_FLOOR) * cfg.lot_step
        keep = min(open_qty, max(keep, cfg.lot_step))
        cut = open_qty - keep
        if cut and venue.cfg.position_effect and o.position_effect not in (None, PositionEffect.OPEN):
            pos = venue.position(o.account, o.symbol)
            bucket = pos.bucket(o.side, o.position_effect)
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) - cut
        o.qty -= cut             # the book's level sizes follow the order's leaves; priority kept
        ex.stats["restatements"] += 1
        ex.orders.emit(venue, o, ex.orders.report(o, Kind.RESTATED, restatement_reason=reason or PARTIAL_DECLINE))
        ex.publish(venue, venue.instruments[o.symbol])
        return True

    def done_for_day(self, venue: SimVenue, o: SimOrder) -> bool:
        if not _working(o) or o.tif is not TimeInForce.DAY:
            return False
        self._finish(venue, o, OrdStatus.CANCELED, wire_status="3")
        self.ex.stats["done_for_day"] += 1
        self.ex.orders.emit(venue, o, self.ex.orders.report(o, Kind.DONE_FOR_DAY))
        return True

    def end_of_day(self, venue_name: str) -> None:
        """The venue's trading day ends: every resting DAY order is done for the day, and today's
        holdings become yesterday's."""
        venue = self.ex.venues[venue_name]
        touched = set()
        for o in list(venue.working()):
            if self.done_for_day(venue, o):
                touched.add(o.symbol)
        for pos in venue.positions.values():
            pos.roll()
            pos.frozen.clear()      # nothing works any more that could hold a reservation
        for sym in touched:
            self.ex.publish(venue, venue.instruments[sym])

    def unsolicited_cancel(self, venue: SimVenue, o: SimOrder, reason: str | None = None,
                           text: str | None = None) -> bool:
        if not _working(o):
            return False
        self._finish(venue, o, OrdStatus.CANCELED)
        self.ex.stats["unsolicited_cancels"] += 1
        self.ex.orders.emit(venue, o, self.ex.orders.report(o, Kind.CANCELED, text=text or "cancelled by the venue",
                                                            restatement_reason=reason or MARKET_OPTION))
        return True

    def expire(self, venue: SimVenue, o: SimOrder) -> bool:
        if not _working(o):
            return False
        self._finish(venue, o, OrdStatus.EXPIRED)
        self.ex.stats["expiries"] += 1
        self.ex.orders.emit(venue, o, self.ex.orders.report(o, Kind.EXPIRED))
        return True

    def suspend(self, venue: SimVenue, o: SimOrder, resume_ms: float = 0.0) -> bool:
        if not _working(o) or o.wire_status == "9":
            return False
        inst = venue.instruments[o.symbol]
        inst.book.withdraw(o)
        o.wire_status = "9"
        self.ex.stats["suspensions"] += 1
        self.ex.orders.emit(venue, o, self.ex.orders.report(o, Kind.SUSPENDED))
        self.ex.publish(venue, inst)
        if resume_ms:
            self.ex.schedule(resume_ms / 1000, self.resume, venue.name, o)
        return True

    def resume(self, venue_name: str, o: SimOrder) -> bool:
        venue = self.ex.venues[venue_name]
        if o.wire_status != "9" or o.status.is_terminal:
            return False
        o.wire_status = None
        self.ex.orders.emit(venue, o, self.ex.orders.report(o, Kind.RESTATED, restatement_reason=MARKET_OPTION))
        self._after(venue, o, True)
        return True

    def _finish(self, venue: SimVenue, o: SimOrder, status: OrdStatus, wire_status: str | None = None) -> None:
        inst = venue.instruments[o.symbol]
        inst.book.cancel(o)
        o.status = status
        o.wire_status = wire_status
        self.ex.orders.release(venue, o)
        self.ex.publish(venue, inst)

    def _after(self, venue: SimVenue, o: SimOrder, back_in_book: bool) -> None:
        """After the event's report: the order back in the book (it may trade at once), and the
        market data that changed."""
        inst = venue.instruments[o.symbol]
        if back_in_book:
            self.ex.orders.report_trades(venue, inst.book.reinstate(o))
        self.ex.publish(venue, inst)

    # -- another terminal on the same account ------------------------------------------------
    def foreign(self, venue: SimVenue, trigger: SimOrder, ev: VenueEvent) -> SimOrder | None:
        """An order the client never sent, on its account: a market IOC, or a DAY limit ``ticks``
        through the touch; its reports go where ``ev.report_to`` says."""
        ex = self.ex
        inst = venue.instruments.get(ev.symbol or trigger.symbol)
        if inst is None:
            return None
        cfg = inst.cfg
        side = Side.BUY if (ev.side or ("buy" if trigger.side is Side.BUY else "sell")) == "buy" else Side.SELL
        o = SimOrder(ex.ids.order_id(venue.name), trigger.owner, ex.ids.foreign_cl_ord_id(), side,
                     ev.qty or cfg.min_qty, None, symbol=cfg.symbol, account=ev.account or trigger.account)
        o.history.append(o.cl_ord_id)
        o.route = ev.report_to
        if ev.ticks is None:
            o.ord_type, o.tif = OrdType.MARKET, TimeInForce.IOC
        else:
            touch = inst.book.best(side.opposite) or ex.settlement_price(venue, inst)
            o.price = touch + (ev.ticks if side is Side.BUY else -ev.ticks) * cfg.tick
            if o.price <= 0:
                o.price = cfg.tick
        ex.stats["foreign_orders"] += 1
        if venue.cfg.position_effect:
            o.position_effect = tr.FIX_POSITION_EFFECT[ev.position_effect or "O"]
            problem = ex.orders.reserve(venue, o)
            if problem:
                o.status = OrdStatus.REJECTED
                ex.orders.emit(venue, o, ex.orders.report(o, Kind.REJECTED, text=problem, rej_reason="3"))
                return o
        venue.orders[(o.owner, o.cl_ord_id)] = o
        venue.orders_by_id[o.order_id] = o
        ex.orders.emit(venue, o, ex.orders.report(o, Kind.NEW))
        for r in ex.orders.report_trades(venue, inst.book.submit(o), hold=o):
            ex.orders.emit(venue, o, r)
        if o.status is OrdStatus.CANCELED:
            ex.orders.release(venue, o)
            ex.orders.emit(venue, o, ex.orders.report(o, Kind.CANCELED,
                                                      text="remaining quantity cancelled (IOC/FOK/market)"))
        ex.publish(venue, inst)
        return o


def _working(o: SimOrder) -> bool:
    return not o.status.is_terminal and o.wire_status != "3" and o.owner != "MM"


def _live_fill(o: SimOrder, n: int) -> SimFill | None:
    """The order's n-th fill, unless it is gone (busted) or never was."""
    fill = o.fills[n - 1] if 0 < n <= len(o.fills) else None
    return None if fill is None or fill.busted else fill
