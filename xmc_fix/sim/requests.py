"""What a client may ask a simulated venue about its orders and positions.

- OrderStatusRequest (H): an ExecutionReport with ExecType Order Status (I), OrdStatusReqID echoed;
  for an unknown order OrderID NONE and OrdStatus Rejected.
- OrderMassStatusRequest (AF), on venues whose market-file entry says ``order_mass_status``: one
  ExecType I report per working order (suspended ones included) the session may see, in the
  request's scope — MassStatusReqType 7 all orders, 1 one security (Symbol or SecurityID) — and
  narrowed by Account and Side when the request gives them; each with MassStatusReqID (584),
  TotNumReports (911) and LastRptRequested (912) Y on the last. When no order matches, one report
  with OrderID NONE, OrdStatus Rejected, TotNumReports 0, LastRptRequested Y and a Text. Another
  scope (underlying, product, CFI code, security type, trading session, party) is refused with a
  BusinessMessageReject; so is the message on a venue that does not support it.
- RequestForPositions (AN), on venues that say ``request_for_positions``: a RequestForPositionsAck
  (AO) with TotalNumPosReports, then one PositionReport (AP) per instrument the request's Account
  holds (one instrument when the request names it). Each report's NoPositions gives the holdings
  apart: PosType SOD (carried from before today and still held) and TQ (opened today and still
  held), LongQty and ShortQty each; their sum is the position. No holding: AO with PosReqResult 2
  (no positions found). Only PosReqType 0 (positions) as a snapshot is served; trades, exercises,
  assignments or a subscription get AO PosReqResult 1 (unsupported), PosReqStatus 2 (rejected).

Finished orders are not reported by mass status (a status request by ClOrdID still finds them).
"""

from __future__ import annotations

import time
from xmc_fix.fixwire import fields
from xmc_fix.sim.reports import (Kind, order_report, render_business_reject, render_position_report,
                                 render_positions_ack, render_unknown_status)
from xmc_fix.sim.state import ExchangeCore, SimVenue
from xmc_fix.venues import translate as tr

#: MassStatusReqType (585) scopes the venue serves.
BY_SECURITY, ALL_ORDERS = "1", "7"
UNSUPPORTED_MESSAGE = "3"          # BusinessRejectReason
CONDITIONAL_FIELD_MISSING = "5"


def business_date(ns: int) -> str:
    """LocalMktDate of the simulator's trading day (UTC)."""
    return time.strftime("%Y%m%d", time.gmtime(ns // 1_000_000_000))


class RequestDesk:
    def __init__(self, exchange: ExchangeCore) -> None:
        self.ex = exchange

    # -- one order ---------------------------------------------------------------------------
    def on_status(self, venue_name: str, session: str, raw: str) -> None:
        ex = self.ex
        venue = ex.venues[venue_name]
        d = fields(raw)
        order = venue.orders.get((session, d.get("11", "")))
        if order is None and d.get("37"):
            cand = venue.orders_by_id.get(d["37"])
            order = cand if cand is not None and cand.owner == session else None
        req_id = d.get("790")
        if order is None:
            ex._send(session, "8", render_unknown_status(d.get("11", ""), ex.ids.exec_id(), d.get("55", ""),
                                                         d.get("54", "1"), ex.clock.now_ns(), ex.begin(session),
                                                         status_req_id=req_id))
            return
        ex.outbox.report(session, order_report(order, Kind.STATUS, ex.ids.exec_id(), ex.clock.now_ns(),
                                               ord_status_req_id=req_id))

    # -- every order of a scope --------------------------------------------------------------
    def on_mass_status(self, venue_name: str, session: str, raw: str) -> None:
        ex = self.ex
        venue = ex.venues[venue_name]
        d = fields(raw)
        req = d.get("584", "")
        if not venue.cfg.order_mass_status:
            return self._unsupported(session, d, "AF", req, f"{venue.name} does not serve OrderMassStatusRequest")
        scope = d.get("585", "")
        if scope not in (BY_SECURITY, ALL_ORDERS):
            return ex._send(session, "j", render_business_reject(
                d.get("34", "0"), "AF", "0",
                f"MassStatusReqType {scope} not served: use 7 (all orders) or 1 (security)", req))
        if scope == BY_SECURITY and not (d.get("55") or d.get("48")):
            return ex._send(session, "j", render_business_reject(
                d.get("34", "0"), "AF", CONDITIONAL_FIELD_MISSING,
                "MassStatusReqType 1 needs Symbol (55) or SecurityID (48)", req))
        ex.stats["mass_status"] += 1
        matching = [o for o in venue.working() if self._in_scope(venue, session, o, d, scope)]
        now = ex.clock.now_ns()
        if not matching:
            ex._send(session, "8", render_unknown_status("", ex.ids.exec_id(), d.get("55", ""), d.get("54", "1"), now,
                                                         ex.begin(session), text="no orders match the request",
                                                         mass=(req, 0, True)))
            return
        n = len(matching)
        for i, o in enumerate(matching):
            ex.outbox.report(session, order_report(o, Kind.STATUS, ex.ids.exec_id(), now, mass_status_req_id=req,
                                                   tot_num_reports=n, last_rpt_requested=i == n - 1))

    @staticmethod
    def _in_scope(venue: SimVenue, session: str, o, d: dict, scope: str) -> bool:
        if o.owner != session or o.route == "drop_copy":
            return False          # another client's, or an order this session never hears of
        if d.get("1") and o.account != d["1"]:
            return False
        if d.get("54") and tr.SIDE[o.side] != d["54"]:
            return False
        if scope == BY_SECURITY:
            cfg = venue.instruments[o.symbol].cfg
            if d.get("55") and d["55"] != o.symbol:
                return False
            if d.get("48") and d["48"] != cfg.security_id:
                return False
        return True

    # -- positions ---------------------------------------------------------------------------
    def on_positions_request(self, venue_name: str, session: str, raw: str) -> None:
        ex = self.ex
        venue = ex.venues[venue_name]
        d = fields(raw)
        req = d.get("710", "")
        if not venue.cfg.request_for_positions:
            return self._unsupported(session, d, "AN", req, f"{venue.name} does not serve RequestForPositions")
        account, account_type = d.get("1", ""), d.get("581", "1")
        rpt_id = ex.ids.report_id()
        if d.get("724", "0") != "0" or d.get("263", "0") == "1":
            text = ("only PosReqType 0 (positions) is served" if d.get("724", "0") != "0"
                    else "position subscriptions are not served: ask for a snapshot")
            ex._send(session, "AO", render_positions_ack(rpt_id, req, 0, "1", "2", account, account_type, text))
            return
        ex.stats["position_requests"] += 1
        held = []
        for (acct, sym), pos in sorted(venue.positions.items(), key=lambda kv: kv[0][1]):
            inst = venue.instruments.get(sym)
            if acct != account or pos.empty or inst is None:
                continue
            if d.get("55") and d["55"] != sym or d.get("48") and d["48"] != inst.cfg.security_id:
                continue
            held.append((inst, pos))
        if not held:
            ex._send(session, "AO", render_positions_ack(rpt_id, req, 0, "2", "0", account, account_type,
                                                         "no positions found"))
            return
        ex._send(session, "AO", render_positions_ack(rpt_id, req, len(held), "0", "0", account, account_type))
        day = business_date(ex.clock.now_ns())
        for inst, pos in held:
            ex._send(session, "AP", render_position_report(
                ex.ids.report_id(), req, len(held), day, account, account_type, inst.cfg.symbol, inst.cfg.security_id,
                ex.settlement_price(venue, inst), inst.prior_settle,
                [("SOD", pos.long_yday, pos.short_yday), ("TQ", pos.long_today, pos.short_today)]), dd=True)

    def _unsupported(self, session: str, d: dict, msg_type: str, ref_id: str, text: str) -> None:
        self.ex._send(session, "j", render_business_reject(d.get("34", "0"), msg_type, UNSUPPORTED_MESSAGE, text,
                                                           ref_id))
