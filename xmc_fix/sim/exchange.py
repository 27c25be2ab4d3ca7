"""The venues behind the simulator's sessions: their books and market data, and the entry points for
every client message.

Works on parsed FIX fields and produces FIX text through ``send(session, text, needs_dd)``; the
QuickFIX glue is in :mod:`xmc_fix.sim.app`. All methods run inside one Serializer (the acceptor
thread for client messages, the market thread for steps and timers), so the state needs no locks.

The work is split by job: :mod:`~xmc_fix.sim.orders` (orders, cancels, replaces, and how the
reports reach the client under the scenario's plan), :mod:`~xmc_fix.sim.venue_events` (what the
venue does on its own: busts, corrections, restatements, done for day, unsolicited cancels,
suspensions, expiries, orders from another terminal), :mod:`~xmc_fix.sim.requests` (order status,
mass status, positions), :mod:`~xmc_fix.sim.positions` (each account's holdings),
:mod:`~xmc_fix.sim.reports` (the messages as FIX text per dialect) and :mod:`~xmc_fix.sim.outbox`
(order session, drop copies, a silent gateway). This module keeps the market: prices, market
makers, the snapshot and incremental refreshes.

Client-facing market data: MarketDataRequest (V) subscribes (263=1) with a snapshot (W) then
incremental refreshes (X), with RptSeq on FIX 4.4 sessions; 263=2 unsubscribes; unknown symbols get
MarketDataRequestReject (Y).
"""

from __future__ import annotations

import logging
import random
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Callable

from xmc_fix.clock import Clock
from xmc_fix.domain.enums import Side
from xmc_fix.fixwire import SOH, split
from xmc_fix.sim.behaviour import Behaviour
from xmc_fix.sim.config import MarketCfg
from xmc_fix.sim.market import PriceModel, quote_ladder
from xmc_fix.sim.matching import OrderBook, SimOrder, Trade
from xmc_fix.sim.orders import OrderDesk
from xmc_fix.sim.outbox import DropCopy, Outbox
from xmc_fix.sim.positions import Position
from xmc_fix.sim.reports import FIX42
from xmc_fix.sim.requests import RequestDesk
from xmc_fix.sim.state import Ids, SimInstrument, SimVenue, new_stats
from xmc_fix.sim.venue_events import VenueEvents
from xmc_fix.venues import translate as tr

log = logging.getLogger("xmc.sim")
ZERO = Decimal(0)

__all__ = ["DropCopy", "Exchange", "Position", "SimInstrument", "SimVenue"]


class Exchange:
    def __init__(self, cfg: MarketCfg, send: Callable[[str, str, bool], bool], clock: Clock,
                 begin_string: Callable[[str], str] | None = None, *,
                 behaviours: dict[str, Behaviour] | None = None,
                 schedule: Callable[..., None] | None = None,
                 disconnect: Callable[[str], None] | None = None,
                 quiet: Callable[[str, float], None] | None = None,
                 drop_copies: dict[str, list[DropCopy]] | None = None) -> None:
        self.cfg = cfg
        self.send = send
        self.clock = clock
        self.behaviours = behaviours or {}
        self._started_ns = clock.now_ns()
        # without a scheduler (unit tests), held reports and venue events happen at once, in order
        self.schedule = schedule or (lambda delay_s, fn, *args: fn(*args))
        self.disconnect = disconnect or (lambda session: None)
        self.quiet = quiet or (lambda session, seconds: None)
        self.model = PriceModel(cfg)
        self.begin = begin_string or (lambda session: "FIX.4.4")
        self.ids = Ids(clock.now_ns())
        self.outbox = Outbox(send, self.begin, self.schedule, drop_copies)
        seeds = random.Random(cfg.seed ^ 0x5EED)
        self.venues: dict[str, SimVenue] = {}
        for vname, vcfg in cfg.venues.items():
            insts = {sym: SimInstrument(icfg, OrderBook(sym), random.Random(seeds.getrandbits(64)))
                     for sym, icfg in vcfg.instruments.items()}
            self.venues[vname] = SimVenue(vcfg, insts)
        self.stats = new_stats()
        self.orders = OrderDesk(self)
        self.events = VenueEvents(self)
        self.requests = RequestDesk(self)
        for venue in self.venues.values():
            for inst in venue.instruments.values():
                self._requote(venue, inst)
                inst.published = self._levels(inst)
                inst.prior_settle = self.settlement_price(venue, inst)
            scenario = self.behaviours.get(venue.name)
            held = {(p.account, p.symbol): p for p in venue.cfg.positions}
            held.update({(p.account, p.symbol): p for p in (scenario.positions if scenario else ())})
            for (account, symbol), p in held.items():
                venue.positions[(account, symbol)] = Position.initial(p)
        for vname, b in self.behaviours.items():
            if b.rates.end_of_day_s is not None and vname in self.venues:
                self.schedule(b.rates.end_of_day_s, self.events.end_of_day, vname)

    # -- client messages ---------------------------------------------------------------------
    def on_new_order(self, venue_name: str, session: str, raw: str) -> None:
        self.orders.on_new_order(venue_name, session, raw)

    def on_cancel(self, venue_name: str, session: str, raw: str) -> None:
        self.orders.on_cancel(venue_name, session, raw)

    def on_replace(self, venue_name: str, session: str, raw: str) -> None:
        self.orders.on_replace(venue_name, session, raw)

    def on_status(self, venue_name: str, session: str, raw: str) -> None:
        self.requests.on_status(venue_name, session, raw)

    def on_mass_status(self, venue_name: str, session: str, raw: str) -> None:
        self.requests.on_mass_status(venue_name, session, raw)

    def on_positions_request(self, venue_name: str, session: str, raw: str) -> None:
        self.requests.on_positions_request(venue_name, session, raw)

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
            self._send(session, "W", self.snapshot_text(inst, req, self.begin(session)), dd=True)

    # -- what the venue holds ----------------------------------------------------------------
    def positions_snapshot(self) -> list[dict]:
        """Every account's holdings at every venue (the simulator's truth), for JSON."""
        out = []
        for venue in self.venues.values():
            for (account, symbol), pos in sorted(venue.positions.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
                inst = venue.instruments.get(symbol)
                out.append({"venue": venue.name, "account": account, "symbol": symbol,
                             "security_id": inst.cfg.security_id if inst else None, **pos.as_dict()})
        return out

    def settlement_price(self, venue: SimVenue, inst: SimInstrument) -> Decimal:
        """The instrument's fair value now, on its tick grid: the price a PositionReport settles at."""
        tick = inst.cfg.tick
        fair = Decimal(repr(self.model.fair[(venue.name, inst.cfg.symbol)]))
        return ((fair / tick).to_integral_value(ROUND_HALF_EVEN) * tick).quantize(tick)

    def seconds_since_start(self) -> float:
        return (self.clock.now_ns() - self._started_ns) / 1e9

    # -- market ------------------------------------------------------------------------------
    def step(self) -> None:
        """Move the market one step: factors, fair values, market-maker quotes, market data."""
        self.model.step()
        self.stats["steps"] += 1
        for venue in self.venues.values():
            for inst in venue.instruments.values():
                trades = self._requote(venue, inst)
                self.orders.report_trades(venue, trades)
                self.publish(venue, inst)

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
                o = SimOrder(self.ids.order_id(venue.name), "MM", "MM", side, size, p, symbol=cfg.symbol)
                trades += inst.book.submit(o)
                if not o.status.is_terminal:
                    inst.mm_orders[(side, p)] = o
        return trades

    def _levels(self, inst: SimInstrument) -> tuple[dict, dict]:
        d = self.cfg.depth
        return (dict(inst.book.levels(Side.BUY, d)), dict(inst.book.levels(Side.SELL, d)))

    def publish(self, venue: SimVenue, inst: SimInstrument) -> None:
        """Send what changed in the instrument's published levels to its subscribers."""
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
        bodies: dict[bool, str] = {}
        for session, req in list(inst.subscribers.items()):
            with_seq = self.begin(session) != FIX42    # FIX 4.2 has no RptSeq in market data
            if with_seq not in bodies:
                seq = f"83={inst.rpt_seq}{SOH}" if with_seq else ""
                bodies[with_seq] = SOH.join(
                    f"279={a}{SOH}269={s}{SOH}{ident}270={tr.fmt_dec(px)}{SOH}271={tr.fmt_dec(sz)}{SOH}{seq}"
                    .rstrip(SOH) for a, s, px, sz in entries)
            self._send(session, "X", f"262={req}{SOH}268={len(entries)}{SOH}{bodies[with_seq]}{SOH}", dd=True)
            self.stats["md_messages"] += 1

    def snapshot_text(self, inst: SimInstrument, req: str, begin: str = "FIX.4.4") -> str:
        cfg = inst.cfg
        bids, asks = inst.published
        entries = [("0", px, sz) for px, sz in bids.items()] + [("1", px, sz) for px, sz in asks.items()]
        ident = f"55={cfg.symbol}{SOH}" + (f"48={cfg.security_id}{SOH}22=8{SOH}" if cfg.security_id else "")
        body = "".join(f"269={s}{SOH}270={tr.fmt_dec(px)}{SOH}271={tr.fmt_dec(sz)}{SOH}" for s, px, sz in entries)
        seq = "" if begin == FIX42 else f"83={inst.rpt_seq}{SOH}"
        return f"262={req}{SOH}{seq}{ident}268={len(entries)}{SOH}{body}"

    def _send(self, session: str, msg_type: str, body: str, dd: bool = False, poss_resend: bool = False) -> None:
        self.outbox.send(session, msg_type, body, dd, poss_resend)
