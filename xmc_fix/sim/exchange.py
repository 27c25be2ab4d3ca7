"""The venues behind the simulator's sessions: order handling, positions, market data.

Works on parsed FIX fields and produces FIX text through ``send(session, text, needs_dd)``; the
QuickFIX glue is in :mod:`xmc_fix.sim.app`. All methods run inside one Serializer (the acceptor
thread for client messages, the market thread for steps), so the state needs no locks.

Client-facing behaviour:
- MarketDataRequest (V): subscribe (263=1) with a snapshot (W) then incremental refreshes (X),
  unsubscribe (263=2); unknown symbols get MarketDataRequestReject (Y).
- NewOrderSingle (D): validated (symbol, quantity step and bounds, tick, order type, time in force,
  duplicate ClOrdID, position to close on venues with open/close), then New, fills, and for
  IOC/FOK/market remainders Canceled; rejects carry OrdRejReason and a text.
- OrderCancelRequest (F), OrderCancelReplaceRequest (G): Canceled / Replaced, or
  OrderCancelReject (9) for unknown or finished orders.
- OrderStatusRequest (H): an ExecutionReport with ExecType I, also for unknown orders (Rejected).
"""

from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Callable

from xmc_fix.clock import Clock
from xmc_fix.domain.enums import OrdStatus, OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.domain.ids import base36
from xmc_fix.fixwire import SOH, fields, format_utc, frame, split
from xmc_fix.sim.behaviour import NORMAL, Behaviour, OrderPlan
from xmc_fix.sim.config import MarketCfg, SimInstrumentCfg, SimVenueCfg
from xmc_fix.sim.market import PriceModel, quote_ladder
from xmc_fix.sim.matching import OrderBook, SimOrder, Trade
from xmc_fix.venues import translate as tr

log = logging.getLogger("xmc.sim")
ZERO = Decimal(0)

# OrdRejReason (103)
REJ_BROKER = "0"
REJ_UNKNOWN_SYMBOL = "1"
REJ_EXCEEDS_LIMIT = "3"
REJ_DUPLICATE = "6"
REJ_UNSUPPORTED = "11"
REJ_BAD_QTY = "13"
REJ_OTHER = "99"


@dataclass(slots=True)
class Position:
    long_today: Decimal = ZERO
    long_yday: Decimal = ZERO
    short_today: Decimal = ZERO
    short_yday: Decimal = ZERO
    frozen: dict = field(default_factory=dict)  # bucket name -> lots reserved by working close orders

    def bucket(self, side: Side, pe: PositionEffect) -> str | None:
        """Which holding a closing order draws on (selling closes longs, buying closes shorts)."""
        if pe is PositionEffect.OPEN:
            return None
        held = "long" if side is Side.SELL else "short"
        return f"{held}_{'today' if pe is PositionEffect.CLOSE_TODAY else 'yday'}"

    def available(self, bucket: str) -> Decimal:
        return getattr(self, bucket) - self.frozen.get(bucket, ZERO)


@dataclass(slots=True)
class SimInstrument:
    cfg: SimInstrumentCfg
    book: OrderBook
    rng: random.Random
    rpt_seq: int = 0
    published: tuple[dict, dict] = field(default_factory=lambda: ({}, {}))
    mm_orders: dict = field(default_factory=dict)     # (side, price) -> SimOrder
    subscribers: dict = field(default_factory=dict)   # session key -> MDReqID


@dataclass(slots=True)
class SimVenue:
    cfg: SimVenueCfg
    instruments: dict[str, SimInstrument]
    orders: dict = field(default_factory=dict)          # (session, ClOrdID) -> SimOrder
    orders_by_id: dict = field(default_factory=dict)    # OrderID -> SimOrder
    seen_cl_ord_ids: dict = field(default_factory=dict)  # session -> set of ClOrdIDs ever received
    positions: dict = field(default_factory=dict)       # (account, symbol) -> Position
    owners: dict = field(default_factory=dict)          # order_id -> session key

    @property
    def name(self) -> str:
        return self.cfg.name


class Exchange:
    def __init__(self, cfg: MarketCfg, send: Callable[[str, str, bool], bool], clock: Clock,
                 begin_string: Callable[[str], str] | None = None, *,
                 behaviours: dict[str, Behaviour] | None = None,
                 schedule: Callable[..., None] | None = None,
                 disconnect: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.send = send
        self.clock = clock
        self.behaviours = behaviours or {}
        self._started_ns = clock.now_ns()
        # without a scheduler (unit tests), held reports go out at once, in the planned order
        self.schedule = schedule or (lambda delay_s, fn, *args: fn(*args))
        self.disconnect = disconnect or (lambda session: None)
        self.model = PriceModel(cfg)
        self._begin = begin_string or (lambda session: "FIX.4.4")
        stamp = base36(clock.now_ns() // 1_000_000)
        self._exec_ids = itertools.count(1)
        self._order_ids = itertools.count(1)
        self._stamp = stamp
        seeds = random.Random(cfg.seed ^ 0x5EED)
        self.venues: dict[str, SimVenue] = {}
        for vname, vcfg in cfg.venues.items():
            insts = {sym: SimInstrument(icfg, OrderBook(sym), random.Random(seeds.getrandbits(64)))
                     for sym, icfg in vcfg.instruments.items()}
            self.venues[vname] = SimVenue(vcfg, insts)
        self.stats = {"orders": 0, "fills": 0, "rejects": 0, "md_messages": 0, "steps": 0,
                      "simulated_rejects": 0, "partials": 0, "duplicates": 0, "reordered": 0, "late_fills": 0,
                      "disconnects": 0}
        for venue in self.venues.values():
            for inst in venue.instruments.values():
                self._requote(venue, inst)
                inst.published = self._levels(inst)

    # -- ids -------------------------------------------------------------------------------
    def _exec_id(self) -> str:
        return f"E{self._stamp}-{base36(next(self._exec_ids))}"

    def _order_id(self, venue: SimVenue) -> str:
        return f"{venue.name[:3]}{self._stamp}-{base36(next(self._order_ids))}"

    # -- market ----------------------------------------------------------------------------
    def step(self) -> None:
        """Move the market one step: factors, fair values, market-maker quotes, market data."""
        self.model.step()
        self.stats["steps"] += 1
        for venue in self.venues.values():
            for inst in venue.instruments.values():
                trades = self._requote(venue, inst)
                self._report_trades(venue, trades)
                self._publish(venue, inst)

    def _requote(self, venue: SimVenue, inst: SimInstrument) -> list[Trade]:
        cfg = inst.cfg
        bids, asks = quote_ladder(cfg, self.model.fair[(venue.name, cfg.symbol)])
        wanted = {(Side.BUY, p) for p in bids} | {(Side.SELL, p) for p in asks}
        mm_min = cfg.mm.size_min * cfg.lot_step
        for key in list(inst.mm_orders):
            o = inst.mm_orders[key]
            if key not in wanted or o.status.is_terminal or o.leaves < mm_min:
                inst.book.cancel(o)
                del inst.mm_orders[key]
        trades: list[Trade] = []
        for side, prices in ((Side.BUY, bids), (Side.SELL, asks)):
            for p in prices:
                if (side, p) in inst.mm_orders:
                    continue
                size = inst.rng.randint(cfg.mm.size_min, cfg.mm.size_max) * cfg.lot_step
                o = SimOrder(self._order_id(venue), "MM", "MM", side, size, p, symbol=cfg.symbol)
                trades += inst.book.submit(o)
                if not o.status.is_terminal:
                    inst.mm_orders[(side, p)] = o
        return trades

    def _levels(self, inst: SimInstrument) -> tuple[dict, dict]:
        d = self.cfg.depth
        return (dict(inst.book.levels(Side.BUY, d)), dict(inst.book.levels(Side.SELL, d)))

    def _publish(self, venue: SimVenue, inst: SimInstrument) -> None:
        b = self.behaviours.get(venue.name)
        if b is not None and b.rates.md_freeze_s is not None:
            t = (self.clock.now_ns() - self._started_ns) / 1e9
            start, end = b.rates.md_freeze_s
            if start <= t < end:
                return  # the venue's feed is silent: nothing published, the next message catches up
        new = self._levels(inst)
        entries: list[tuple[str, str, Decimal, Decimal]] = []
        for side_code, old_l, new_l in (("0", inst.published[0], new[0]), ("1", inst.published[1], new[1])):
            for px, sz in old_l.items():
                if px not in new_l:
                    entries.append(("2", side_code, px, sz))
            for px, sz in new_l.items():
                if px not in old_l:
                    entries.append(("0", side_code, px, sz))
                elif old_l[px] != sz:
                    entries.append(("1", side_code, px, sz))
        inst.published = new
        if not entries:
            return
        inst.rpt_seq += 1
        cfg = inst.cfg
        ident = f"55={cfg.symbol}{SOH}" + (f"48={cfg.security_id}{SOH}22=8{SOH}" if cfg.security_id else "")
        seq = f"83={inst.rpt_seq}{SOH}"
        body = SOH.join(f"279={a}{SOH}269={s}{SOH}{ident}270={tr.fmt_dec(px)}{SOH}271={tr.fmt_dec(sz)}{SOH}{seq}"
                        .rstrip(SOH) for a, s, px, sz in entries)
        for session, req in list(inst.subscribers.items()):
            text = f"262={req}{SOH}268={len(entries)}{SOH}{body}{SOH}"
            self._send(session, "X", text, dd=True)
            self.stats["md_messages"] += 1

    def snapshot_text(self, inst: SimInstrument, req: str) -> str:
        cfg = inst.cfg
        bids, asks = inst.published
        entries = [("0", px, sz) for px, sz in bids.items()] + [("1", px, sz) for px, sz in asks.items()]
        ident = f"55={cfg.symbol}{SOH}" + (f"48={cfg.security_id}{SOH}22=8{SOH}" if cfg.security_id else "")
        body = "".join(f"269={s}{SOH}270={tr.fmt_dec(px)}{SOH}271={tr.fmt_dec(sz)}{SOH}" for s, px, sz in entries)
        return f"262={req}{SOH}83={inst.rpt_seq}{SOH}{ident}268={len(entries)}{SOH}{body}"

    # -- client messages -------------------------------------------------------------------
    def on_md_request(self, venue_name: str, session: str, raw: str) -> None:
        venue = self.venues[venue_name]
        pairs = split(raw)
        d = dict(pairs)
        req = d.get("262", "")
        kind = d.get("263", "1")
        symbols = [v for t, v in pairs if t == "55"]
        for sym in symbols:
            inst = venue.instruments.get(sym)
            if inst is None:
                self._send(session, "Y", f"262={req}{SOH}281=0{SOH}58=unknown symbol {sym}{SOH}")
                continue
            if kind == "2":
                inst.subscribers.pop(session, None)
                continue
            inst.subscribers[session] = req
            self._send(session, "W", self.snapshot_text(inst, req), dd=True)

    def on_new_order(self, venue_name: str, session: str, raw: str) -> None:
        venue = self.venues[venue_name]
        d = fields(raw)
        cl = d.get("11", "")
        seen = venue.seen_cl_ord_ids.setdefault(session, set())
        sym = d.get("55", "")
        side = tr.FIX_SIDE.get(d.get("54", ""))
        order = SimOrder(self._order_id(venue), session, cl, side or Side.BUY, ZERO, None, symbol=sym,
                         account=d.get("1"))
        order.history.append(cl)
        self.stats["orders"] += 1
        inst = venue.instruments.get(sym)
        behaviour = self.behaviours.get(venue_name)
        plan = behaviour.plan() if behaviour is not None else NORMAL

        def reject(code: str, text: str) -> None:
            order.status = OrdStatus.REJECTED
            self.stats["rejects"] += 1
            self._send(session, "8", self._er(order, "8", d, text=text, rej=code))

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
                return reject(REJ_OTHER, "PositionEffect (77) required: O open, C close, T close today, Y close yesterday")
            if pe is PositionEffect.CLOSE:
                pe = order.position_effect = PositionEffect.CLOSE_YESTERDAY
            pos = venue.positions.setdefault((order.account, sym), Position())
            bucket = pos.bucket(side, pe)
            if bucket is not None:
                if pos.available(bucket) < qty:
                    return reject(REJ_EXCEEDS_LIMIT, f"insufficient {bucket.replace('_', ' ')} position to close: "
                                                    f"{pos.available(bucket)} available, {qty} asked")
                if not plan.reject:
                    pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) + qty
        if plan.reject:
            self.stats["simulated_rejects"] += 1
            return reject(REJ_OTHER, "rejected by venue (simulated)")
        venue.orders[(session, cl)] = order
        venue.orders_by_id[order.order_id] = order
        reports: list[tuple[str, str]] = [("ack", self._er(order, "0", d))]
        full = order.qty
        if plan.partial is not None and (order.tif in (TimeInForce.IOC,) or order.ord_type is OrdType.MARKET):
            part = (full * plan.partial / cfg.lot_step).to_integral_value(ROUND_FLOOR) * cfg.lot_step
            if 0 < part < full:
                order.qty = part          # the venue lets only this much trade
                self.stats["partials"] += 1
        trades = inst.book.submit(order)
        if order.qty != full:
            order.qty = full
            if order.leaves > 0 or order.status is OrdStatus.FILLED:
                order.status = OrdStatus.CANCELED
        reports += [("fill", text) for text in self._report_trades(venue, trades, hold=order)]
        if order.status is OrdStatus.CANCELED:
            self._release(venue, order)
            reports.append(("cancel", self._er(order, "4", d, text="remaining quantity cancelled (IOC/FOK/market)")))
        self._deliver(session, order, d, plan, reports)
        self._publish(venue, inst)

    def _deliver(self, session: str, order: SimOrder, d: dict, plan: OrderPlan, reports: list[tuple[str, str]]) -> None:
        """Send an order's reports as the venue's behaviour plan says: held, duplicated, reordered,
        a fill reported after its cancel, or with the session dropped while they are in flight."""
        if plan.normal:
            for _, text in reports:
                self._send(session, "8", text)
            return
        fills = [r for r in reports if r[0] == "fill"]
        if plan.late_fill and fills:
            # the venue says "cancelled, nothing done" and only later reports what had traded
            self.stats["late_fills"] += 1
            early = [r for r in reports if r[0] == "ack"]
            early.append(("cancel", self._er(order, "4", d, text="cancelled", at=(ZERO, ZERO), status="4")))
            late = fills
        elif plan.reorder and fills:
            self.stats["reordered"] += 1
            early = fills + [r for r in reports if r[0] != "fill"]
            late = []
        else:
            early = [r for r in reports if r[0] != "fill" or plan.fill_ms <= 0]
            late = [r for r in reports if r[0] == "fill" and plan.fill_ms > 0]
            if late:  # keep the cancel of an IOC remainder after its fills
                early, late = [r for r in early if r[0] == "ack"], late + [r for r in early if r[0] == "cancel"]
        if plan.disconnect:
            self.stats["disconnects"] += 1
            self.disconnect(session)
        ack_s = plan.ack_ms / 1000
        late_s = ack_s + (plan.late_ms if plan.late_fill else plan.fill_ms) / 1000
        self._send_later(session, early, ack_s + (0.005 if plan.disconnect else 0), plan.duplicate)
        if late:
            self._send_later(session, late, late_s + (0.005 if plan.disconnect else 0), plan.duplicate)

    def _send_later(self, session: str, reports: list[tuple[str, str]], delay_s: float, duplicate: bool) -> None:
        def go():
            for _, text in reports:
                self._send(session, "8", text)
                if duplicate:
                    self.stats["duplicates"] += 1
                    self._send(session, "8", text, poss_resend=True)
        if delay_s > 0:
            self.schedule(delay_s, go)
        else:
            go()

    def on_cancel(self, venue_name: str, session: str, raw: str) -> None:
        venue = self.venues[venue_name]
        d = fields(raw)
        order = venue.orders.get((session, d.get("41", "")))
        if order is None or order.status.is_terminal:
            reason = "1" if order is None else "0"
            text = "unknown order" if order is None else f"order is {order.status.value}"
            status = tr.ORD_STATUS_FIX.get(order.status, "8") if order else "8"
            self._send(session, "9", f"37={order.order_id if order else 'NONE'}{SOH}11={d.get('11', '')}{SOH}"
                                     f"41={d.get('41', '')}{SOH}39={status}{SOH}434=1{SOH}102={reason}{SOH}58={text}{SOH}")
            return
        inst = venue.instruments[order.symbol]
        inst.book.cancel(order)
        self._release(venue, order)
        orig = order.cl_ord_id
        order.cl_ord_id = d.get("11", orig)
        order.history.append(order.cl_ord_id)
        venue.orders[(session, order.cl_ord_id)] = order
        self._send(session, "8", self._er(order, "4", d, orig=orig))
        self._publish(venue, inst)

    def on_replace(self, venue_name: str, session: str, raw: str) -> None:
        venue = self.venues[venue_name]
        d = fields(raw)
        order = venue.orders.get((session, d.get("41", "")))
        if order is None or order.status.is_terminal:
            reason = "1" if order is None else "0"
            text = "unknown order" if order is None else f"order is {order.status.value}"
            self._send(session, "9", f"37={order.order_id if order else 'NONE'}{SOH}11={d.get('11', '')}{SOH}"
                                     f"41={d.get('41', '')}{SOH}39={tr.ORD_STATUS_FIX.get(order.status, '8') if order else '8'}"
                                     f"{SOH}434=2{SOH}102={reason}{SOH}58={text}{SOH}")
            return
        inst = venue.instruments[order.symbol]
        try:
            qty = Decimal(d.get("38", ""))
            price = Decimal(d["44"]) if "44" in d else order.price
        except InvalidOperation:
            self._send(session, "9", f"37={order.order_id}{SOH}11={d.get('11', '')}{SOH}41={order.cl_ord_id}{SOH}"
                                     f"39={tr.ORD_STATUS_FIX[order.status]}{SOH}434=2{SOH}102=99{SOH}58=bad quantity or price{SOH}")
            return
        cfg = inst.cfg
        if qty % cfg.lot_step != 0 or qty <= 0 or (price is not None and price % cfg.tick != 0):
            self._send(session, "9", f"37={order.order_id}{SOH}11={d.get('11', '')}{SOH}41={order.cl_ord_id}{SOH}"
                                     f"39={tr.ORD_STATUS_FIX[order.status]}{SOH}434=2{SOH}102=99{SOH}"
                                     f"58=quantity or price off the grid{SOH}")
            return
        if venue.cfg.position_effect and order.position_effect not in (None, PositionEffect.OPEN):
            # a working close order holds its position: the reservation follows the new quantity
            pos = venue.positions.setdefault((order.account, order.symbol), Position())
            bucket = pos.bucket(order.side, order.position_effect)
            grow = max(qty, order.cum_qty) - order.qty
            if grow > pos.available(bucket):
                self._send(session, "9", f"37={order.order_id}{SOH}11={d.get('11', '')}{SOH}41={order.cl_ord_id}{SOH}"
                                         f"39={tr.ORD_STATUS_FIX[order.status]}{SOH}434=2{SOH}102=99{SOH}"
                                         f"58=insufficient {bucket.replace('_', ' ')} position to close: "
                                         f"{pos.available(bucket)} available, {grow} more asked{SOH}")
                return
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) + grow
        orig = order.cl_ord_id
        order.cl_ord_id = d.get("11", orig)
        order.history.append(order.cl_ord_id)
        venue.orders[(session, order.cl_ord_id)] = order
        before = (order.cum_qty, order.notional)
        trades = inst.book.replace(order, qty, price)
        # the Replaced report comes before the fills the new terms caused, so it shows the order before them
        self._send(session, "8", self._er(order, "5", d, orig=orig, at=before if trades else None))
        self._report_trades(venue, trades)
        if order.status.is_terminal:
            self._release(venue, order)
        self._publish(venue, inst)

    def on_status(self, venue_name: str, session: str, raw: str) -> None:
        venue = self.venues[venue_name]
        d = fields(raw)
        order = venue.orders.get((session, d.get("11", "")))
        if order is None and d.get("37"):
            cand = venue.orders_by_id.get(d["37"])
            order = cand if cand is not None and cand.owner == session else None
        if order is None:
            side = d.get("54", "1")
            self._send(session, "8", f"37=NONE{SOH}11={d.get('11', '')}{SOH}17={self._exec_id()}{SOH}150=I{SOH}"
                                     f"39=8{SOH}55={d.get('55', '')}{SOH}54={side}{SOH}151=0{SOH}14=0{SOH}6=0{SOH}"
                                     f"60={format_utc(self.clock.now_ns())}{SOH}58=unknown order{SOH}")
            return
        self._send(session, "8", self._er(order, "I", d))

    # -- helpers ---------------------------------------------------------------------------
    def _report_trades(self, venue: SimVenue, trades: list[Trade], hold: SimOrder | None = None) -> list[str]:
        """Send the fill reports of ``trades``; those of ``hold`` are returned instead, for the
        caller to deliver as that order's behaviour plan says."""
        held: list[str] = []
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
                self.stats["fills"] += 1
                self._apply_position(venue, o, t.qty)
                text = self._er(o, "F", None, last_qty=t.qty, last_px=t.price, at=(a[0], a[1]))
                if o is hold:
                    held.append(text)
                else:
                    self._send(o.owner, "8", text)
                if o.status.is_terminal:
                    self._release(venue, o)
        return held

    def _apply_position(self, venue: SimVenue, o: SimOrder, qty: Decimal) -> None:
        if not venue.cfg.position_effect or o.position_effect is None:
            return
        pos = venue.positions.setdefault((o.account, o.symbol), Position())
        bucket = pos.bucket(o.side, o.position_effect)
        if bucket is None:
            held = "long_today" if o.side is Side.BUY else "short_today"
            setattr(pos, held, getattr(pos, held) + qty)
        else:
            setattr(pos, bucket, getattr(pos, bucket) - qty)
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) - qty

    def _release(self, venue: SimVenue, o: SimOrder) -> None:
        """Unfreeze the unfilled part of a finished closing order (once)."""
        if not venue.cfg.position_effect or o.position_effect in (None, PositionEffect.OPEN):
            return
        if o.released:
            return
        pos = venue.positions.get((o.account, o.symbol))
        bucket = pos.bucket(o.side, o.position_effect) if pos else None
        if bucket is not None:
            pos.frozen[bucket] = pos.frozen.get(bucket, ZERO) - (o.qty - o.cum_qty)
        o.released = True

    def _er(self, o: SimOrder, exec_type: str, d: dict | None, *, last_qty: Decimal = ZERO,
            last_px: Decimal = ZERO, text: str | None = None, rej: str | None = None, orig: str | None = None,
            at: tuple[Decimal, Decimal] | None = None, status: str | None = None) -> str:
        """``at``: the (CumQty, notional) the order stood at when the reported event happened, for a
        report written after later fills were already matched."""
        status_override = status
        status = tr.ORD_STATUS_FIX.get(o.status, "0")
        cum, notional, leaves = o.cum_qty, o.notional, o.leaves
        if at is not None:
            cum, notional = at
            leaves = o.qty - cum
            status = tr.ORD_STATUS_FIX[OrdStatus.FILLED if leaves <= 0 else
                                       OrdStatus.PARTIALLY_FILLED if cum else OrdStatus.NEW]
        if exec_type == "8":
            status = "8"
        if status_override is not None:
            status = status_override
        parts = [f"37={o.order_id}", f"11={o.cl_ord_id}"]
        if orig:
            parts.append(f"41={orig}")
        parts += [f"17={self._exec_id()}", f"150={exec_type}", f"39={status}"]
        if o.account:
            parts.append(f"1={o.account}")
        parts.append(f"55={o.symbol or (d or {}).get('55', '')}")
        parts.append(f"54={tr.SIDE[o.side]}")
        if o.qty:
            parts.append(f"38={tr.fmt_dec(o.qty)}")
        parts.append(f"40={tr.ORD_TYPE[o.ord_type]}")
        if o.price is not None:
            parts.append(f"44={tr.fmt_dec(o.price)}")
        parts.append(f"59={tr.TIME_IN_FORCE[o.tif]}")
        if o.position_effect is not None:
            parts.append(f"77={tr.POSITION_EFFECT[o.position_effect]}")
        if exec_type == "F":
            parts += [f"32={tr.fmt_dec(last_qty)}", f"31={tr.fmt_dec(last_px)}"]
        leaves = ZERO if exec_type in ("8", "4") else leaves
        avg_px = notional / cum if cum else ZERO
        parts += [f"151={tr.fmt_dec(leaves)}", f"14={tr.fmt_dec(cum)}", f"6={tr.fmt_dec(avg_px)}",
                  f"60={format_utc(self.clock.now_ns())}"]
        if text:
            parts.append(f"58={text}")
        if rej:
            parts.append(f"103={rej}")
        return SOH.join(parts) + SOH

    def _send(self, session: str, msg_type: str, body: str, dd: bool = False, poss_resend: bool = False) -> None:
        begin = self._begin(session)
        text = frame(begin, msg_type, f"97=Y{SOH}{body}" if poss_resend else body)
        self.send(session, text, dd)

