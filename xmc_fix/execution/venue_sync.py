"""Reconciliation with each venue: the engine's orders and positions against the venue's own books.

A round asks a venue what it holds — OrderMassStatusRequest (AF) for the working orders and
RequestForPositions (AN) for the positions, where its session says the venue answers them
(``OrderMassStatus=Y``, ``RequestForPositions=Y``; status requests for each uncertain order either
way) — at every logon, every ``[reconcile] interval_ms``, and on demand (``xmc reconcile``). When the
answers are in, each difference is recorded with both views (``reconcile_difference`` events) and
resolved toward the venue:

- an order the venue works that the engine did not send (or believes finished): alerted, the
  pairs trading it held, and an order of ours cancelled;
- an order the engine believes working that the venue does not list: asked about (status request);
- a position that differs: the engine's ledger takes the venue's number, the difference held as
  foreign lots (nobody's hedge, reported as exposure), the pairs trading the instrument held.
- on a venue whose closes name the day (SHFE, INE), the lots by open day (PositionReport SOD and
  TQ) are taken as the venue has them whenever they add up to its net: the next close is split
  against the venue's own buckets.

Holds follow ``[reconcile] on_difference`` (HALTED or REDUCING) until an operator resumes. Positions
are compared only while the engine has no order in flight at the venue (a fill on its way would be
a false difference); a busy venue is asked again shortly, and a round that cannot be compared says
so. Nothing here sends an order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from xmc_fix.clock import Clock
from xmc_fix.domain.commands import RequestMassStatus, RequestPositions
from xmc_fix.domain.enums import Side
from xmc_fix.domain.events import ExecReport, MessageRejected, PositionReport, PositionsAck
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.orders import Order
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.records import AuditSink
from xmc_fix.execution.settlement import Settlement
from xmc_fix.execution.state import EngineState
from xmc_fix.risk.alerts import Alert
from xmc_fix.risk.monitor import Monitor

MS = 1_000_000
# PositionReport PosTypes (703) that split a position by open day: SOD (start of day: carried from
# an earlier trading day) and TQ (transaction quantity: traded today); value: carried
DAY_POS_TYPES = {"SOD": True, "TQ": False}
ZERO = Decimal(0)
ROUND_TIMEOUT_MS = 5_000     # a venue that has not answered by then: the round ends incomplete
BUSY_RETRY_MS = 300          # orders in flight: positions asked again this much later
BUSY_RETRIES = 10


@dataclass(frozen=True, slots=True)
class VenueCaps:
    """What a venue's gateway answers (from its session: OrderMassStatus, RequestForPositions)."""

    mass_status: bool = False
    positions: bool = False


@dataclass
class Round:
    venue: str
    reason: str
    started_ns: int
    mass_req: str | None = None
    pos_req: str | None = None
    mass_done: bool = True
    pos_done: bool = True
    working: dict[str, ExecReport] = field(default_factory=dict)   # ClOrdID -> the venue's report
    positions: dict[str, Decimal] = field(default_factory=dict)    # symbol -> net lots
    # symbol -> [long today, long carried, short today, short carried] (PosType TQ and SOD)
    by_day: dict[str, list[Decimal]] = field(default_factory=dict)
    pos_expected: int | None = None
    busy_retries: int = 0
    result: dict | None = None

    @property
    def done(self) -> bool:
        return self.mass_done and self.pos_done


class VenueSync:
    def __init__(self, state: EngineState, desk: OrderDesk, settlement: Settlement, monitor: Monitor,
                 audit: AuditSink, clock: Clock, ids: IdGenerator, caps: dict[str, VenueCaps] | None = None) -> None:
        self.state = state
        self.desk = desk
        self.settle = settlement
        self.monitor = monitor
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.caps = dict(caps or {})
        self.cfg = state.strategy.reconcile
        self.account = state.strategy.engine.account
        self.rounds: dict[str, Round] = {}          # venue -> the round in progress
        self.results: dict[str, dict] = {}          # venue -> the last round's result
        self._by_req: dict[str, Round] = {}
        self._next_ns: dict[str, int] = {}
        self._retry_ns: dict[str, int] = {}
        self._days: dict[str, list] = {}         # instrument -> the venue's lots by open day, this round

    # -- starting rounds ---------------------------------------------------------------------
    def close_refused(self, order: Order) -> None:
        """The venue refused a close of ours for want of the position (on SHFE/INE: not in the bucket
        of the day the close named). Its own positions by day are asked, unless a round is already
        asking: the next close is split against them."""
        venue = order.instrument.venue
        r = self.rounds.get(venue)
        if r is None or r.result is not None:
            self.start(venue, f"{venue} refused close {order.cl_ord_id}: {order.text or 'no position'}",
                       query_uncertain=False)

    def start(self, venue: str, reason: str, query_uncertain: bool = True) -> dict:
        """Ask a venue for its working orders and positions; uncertain orders are asked about too."""
        st = self.state
        now = self.clock.now_ns()
        for o in list(st.orders.values()) if query_uncertain else ():
            if o.instrument.venue == venue and o.uncertain and not o.is_terminal and o.sent_ns:
                self.desk.query(o, f"reconciliation: {reason}", force=True)
        caps = self.caps.get(venue, VenueCaps())
        if not (caps.mass_status or caps.positions):
            return {"venue": venue, "state": "status requests only (the venue answers no AF or AN)"}
        if venue not in st.venues_up or st.closing:
            return {"venue": venue, "state": "session down"}
        r = Round(venue, reason, now)
        if caps.mass_status:
            r.mass_req = self.ids.request_id("S")
            r.mass_done = False
            self._by_req[r.mass_req] = r
            if not self.desk.sender.send_mass_status(RequestMassStatus(r.mass_req, venue, self.account)):
                r.mass_done = True
        if caps.positions and self.account:
            self._ask_positions(r)
        self.rounds[venue] = r
        self._next_ns[venue] = now + self.cfg.interval_ms * MS if self.cfg.interval_ms else 0
        self.audit.event("reconcile_started", now, venue=venue, reason=reason, mass_status=r.mass_req,
                         positions=r.pos_req)
        if r.done:
            self._complete(r)
        return {"venue": venue, "state": "asked", "mass_status": r.mass_req, "positions": r.pos_req}

    def _ask_positions(self, r: Round) -> None:
        now = self.clock.now_ns()
        r.pos_req = self.ids.request_id("P")
        r.pos_done = False
        r.positions = {}
        r.pos_expected = None
        self._by_req[r.pos_req] = r
        day = time.strftime("%Y%m%d", time.gmtime(now // 1_000_000_000))
        if not self.desk.sender.send_positions_request(RequestPositions(r.pos_req, r.venue, self.account, day), now):
            r.pos_done = True

    def on_session_up(self, venue: str) -> None:
        self.start(venue, "logon", query_uncertain=False)   # the logon itself asks about every live order

    def on_timer(self, now_ns: int) -> None:
        for venue, r in list(self.rounds.items()):
            if r.result is None and now_ns - r.started_ns > ROUND_TIMEOUT_MS * MS:
                r.mass_done = r.pos_done = True
                self._complete(r, incomplete="the venue did not answer within "
                                              f"{ROUND_TIMEOUT_MS} ms")
        for venue, at in list(self._retry_ns.items()):
            if now_ns >= at:
                del self._retry_ns[venue]
                r = self.rounds.get(venue)
                if r is not None and r.result is None:
                    self._ask_positions(r)
        if self.cfg.interval_ms:
            for venue in sorted(self.state.venues_up):
                nxt = self._next_ns.get(venue)
                if nxt is not None and nxt and now_ns >= nxt:
                    r = self.rounds.get(venue)
                    if r is None or r.result is not None:
                        self.start(venue, "periodic")

    # -- answers -----------------------------------------------------------------------------
    def on_mass_report(self, er: ExecReport) -> None:
        r = self._by_req.get(er.mass_status_req_id or "")
        if r is None:
            return
        if er.order_id != "NONE" and er.cl_ord_id and not er.ord_status.is_terminal:
            r.working[er.cl_ord_id] = er
        if er.last_rpt_requested or (er.tot_num_reports is not None and len(r.working) >= er.tot_num_reports):
            r.mass_done = True
            if r.done:
                self._complete(r)

    def on_positions_ack(self, ack: PositionsAck) -> None:
        r = self._by_req.get(ack.req_id)
        if r is None:
            return
        if ack.result == "2":                  # no positions found: flat everywhere
            r.pos_expected = 0
        elif ack.result != "0" or ack.status == "2":
            self.caps[r.venue] = VenueCaps(self.caps.get(r.venue, VenueCaps()).mass_status, False)
            self.audit.event("reconcile_unsupported", ack.recv_ns, venue=r.venue, request="AN",
                             reason=f"PosReqResult {ack.result}: {ack.text or ''}")
            r.positions = None
        else:
            r.pos_expected = ack.total
        self._positions_progress(r)

    def on_position_report(self, rep: PositionReport) -> None:
        r = self._by_req.get(rep.req_id)
        if r is None or r.positions is None:
            return
        r.positions[rep.symbol] = r.positions.get(rep.symbol, ZERO) + rep.net
        for pos_type, long_qty, short_qty in rep.quantities:
            if pos_type in DAY_POS_TYPES:
                b = r.by_day.setdefault(rep.symbol, [ZERO, ZERO, ZERO, ZERO])
                carried = DAY_POS_TYPES[pos_type]
                b[1 if carried else 0] += long_qty
                b[3 if carried else 2] += short_qty
        if r.pos_expected is None and rep.total:
            r.pos_expected = rep.total
        self._positions_progress(r)

    def _positions_progress(self, r: Round) -> None:
        if r.positions is None or (r.pos_expected is not None and len(r.positions) >= r.pos_expected):
            r.pos_done = True
            if r.done:
                self._complete(r)

    def on_reject(self, ev: MessageRejected) -> bool:
        """A BusinessMessageReject (or Reject) of our AF or AN: the venue does not serve it."""
        if ev.ref_msg_type not in ("AF", "AN"):
            return False
        r = self._by_req.get(ev.ref_id or "") or self.rounds.get(ev.venue)
        caps = self.caps.get(ev.venue, VenueCaps())
        self.caps[ev.venue] = VenueCaps(caps.mass_status and ev.ref_msg_type != "AF",
                                        caps.positions and ev.ref_msg_type != "AN")
        self.audit.event("reconcile_unsupported", ev.recv_ns, venue=ev.venue, request=ev.ref_msg_type,
                         reason=ev.reason)
        if r is not None and r.result is None:
            if ev.ref_msg_type == "AF":
                self._by_req.pop(r.mass_req or "", None)
                r.mass_done, r.mass_req = True, None
            else:
                self._by_req.pop(r.pos_req or "", None)
                r.pos_done, r.pos_req, r.positions = True, None, None
            if r.done:
                self._complete(r)
        return True

    # -- comparing ---------------------------------------------------------------------------
    def _in_flight(self, venue: str) -> bool:
        """Something the venue may still report: a live or uncertain order, or a fill only the drop
        copy has shown so far."""
        return self.pending_reports(venue) or any(
            o.instrument.venue == venue and o.sent_ns and (not o.is_terminal or o.uncertain)
            for o in self.state.orders.values())

    @staticmethod
    def pending_reports(venue: str) -> bool:
        """Replaced by the engine with the drop copy's view (fills seen there and not yet applied)."""
        return False

    def _complete(self, r: Round, incomplete: str | None = None) -> None:
        now = self.clock.now_ns()
        if r.positions is not None and r.pos_req is not None and incomplete is None and self._in_flight(r.venue):
            if r.busy_retries < BUSY_RETRIES:     # a fill may be on its way: ask again when it is quiet
                r.busy_retries += 1
                r.pos_done = False
                self._retry_ns[r.venue] = now + BUSY_RETRY_MS * MS
                return
            r.positions = None
            incomplete = "orders in flight at every attempt: positions not compared"
        differences: list[dict] = []
        if r.mass_req is not None and incomplete is None:
            differences += self._compare_orders(r)
        if r.positions is not None and r.pos_req is not None and incomplete is None:
            differences += self._compare_positions(r)
        r.result = {"venue": r.venue, "reason": r.reason, "started_ns": r.started_ns, "ended_ns": now,
                    "orders_compared": r.mass_req is not None and incomplete is None,
                    "positions_compared": r.positions is not None and r.pos_req is not None and incomplete is None,
                    "venue_working": sorted(r.working), "venue_positions": {k: str(v) for k, v in
                                                                           (r.positions or {}).items()},
                    "engine_positions": self._engine_positions(r.venue), "differences": differences,
                    "incomplete": incomplete}
        self.results[r.venue] = r.result
        for req in (r.mass_req, r.pos_req):
            self._by_req.pop(req or "", None)
        self.audit.event("reconcile_round", now, **{k: v for k, v in r.result.items() if k != "started_ns"})
        if incomplete:
            self.monitor.alerts.alert(Alert("reconcile_incomplete", "warning",
                                            f"{r.venue} reconciliation ({r.reason}) incomplete: {incomplete}", now,
                                            venue=r.venue, action="compared again next round"))
        if differences:
            self.settle.protect(self.monitor.difference(
                self._pairs(differences), "venue_difference",
                f"{r.venue} reconciliation ({r.reason}): {len(differences)} difference(s): "
                + "; ".join(d["what"] for d in differences[:5]), now, r.venue))

    def _engine_positions(self, venue: str) -> dict[str, str]:
        ledger = self.state.ledger
        acct = self.account or ""
        return {i.symbol: str(ledger.by_account.get((acct, i.name), ZERO))
                for i in self.state.instruments_by_venue.get(venue, []) if not i.name.startswith("FX:")}

    def _compare_orders(self, r: Round) -> list[dict]:
        st = self.state
        out = []
        for cl, er in r.working.items():
            order = st.orders.get(cl)
            if order is None:
                out.append(self._difference(r, "order", er.symbol, "none", f"working {er.ord_status.value}",
                                            "held: an order on the account the engine did not send",
                                            f"{r.venue} works order {cl} ({er.side.value} {er.symbol}) this engine "
                                            f"did not send", cl_ord_id=cl))
            elif order.is_terminal:
                self.desk.cancel(order, "reconciliation: the venue still works an order the engine had finished")
                out.append(self._difference(r, "order", er.symbol, order.status.value, f"working {er.ord_status.value}",
                                            "cancel requested, held",
                                            f"{r.venue} still works {cl}, which the engine had as {order.status.value}",
                                            cl_ord_id=cl))
        for o in list(st.orders.values()):
            if (o.instrument.venue == r.venue and o.sent_ns and not o.is_terminal and o.cl_ord_id not in r.working
                    and o.sent_ns < r.started_ns and o.command.tif.value in ("DAY", "GTC")):
                # a resting order the venue does not list: ask how it ended (not a difference until it answers)
                self.desk.query(o, "reconciliation: the venue does not list it as working", force=True)
        return out

    def _compare_positions(self, r: Round) -> list[dict]:
        st = self.state
        acct = self.account or ""
        out = []
        for inst in st.instruments_by_venue.get(r.venue, []):
            if inst.name.startswith("FX:"):
                continue
            venue_net = r.positions.get(inst.symbol, ZERO)
            ours = st.ledger.by_account.get((acct, inst.name), ZERO)
            days = r.by_day.get(inst.symbol)
            if inst.position_effect and days is not None and sum(days[:2]) - sum(days[2:]) == venue_net:
                # the venue's own split by open day is what its closes will be checked against
                self._days[inst.name] = days
            if venue_net == ours:
                continue
            delta = venue_net - ours
            st.ledger.on_foreign_fill(inst, Side.BUY, delta, ZERO, acct)
            self.settle.journal.write("foreign", instrument=inst.name, account=acct, side=Side.BUY.value,
                                      qty=str(delta), px="0", why=f"{r.venue} position report ({r.reason})")
            out.append(self._difference(r, "position", inst.symbol, str(ours), str(venue_net),
                                        f"engine set to the venue's {venue_net}; {delta:+} lots held as foreign",
                                        f"{inst.name} position: engine {ours}, {r.venue} {venue_net}",
                                        instrument=inst.name, delta=str(delta)))
        now = self.clock.now_ns()
        for name, days in self._days.items():
            inst = st.strategy.instruments[name]
            st.ledger.days.set(acct, name, *days, st.trading_day(inst, now))
        self._days.clear()
        return out

    def _difference(self, r: Round, kind: str, symbol: str, engine: str, venue: str, resolution: str, what: str,
                    **extra) -> dict:
        d = {"venue": r.venue, "about": kind, "symbol": symbol, "engine": engine, "venue_view": venue,
             "resolution": resolution, "what": what, **extra}
        self.audit.event("reconcile_difference", self.clock.now_ns(), reason=r.reason, **d)
        return d

    def _pairs(self, differences: list[dict]) -> list:
        st = self.state
        symbols = {(d["venue"], d["symbol"]) for d in differences}
        return [pr for pr in st.pairs.values() if pr.inner.key in symbols or pr.outer.key in symbols] or \
            [pr for d in differences for pr in st.pairs_on(d["venue"])]
