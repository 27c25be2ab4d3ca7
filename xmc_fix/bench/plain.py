"""The peer ``xmc bench`` measures xmc_fix against: a plain QuickFIX-Python pair trader, as a user
would write it in an afternoon from QuickFIX's examples.

The trader (:class:`PairTrader`, about 100 lines) keeps the book of each instrument from the
snapshot and the incremental refreshes (price -> size per side; best bid and ask are the max and
min), computes each pair's spread on the prices it would hit, and when the spread crosses the entry
threshold sends two NewOrderSingles (limit, IOC) from the same callback; when it comes back past
the exit threshold, two more close. Fills are counted, nothing more.

What it deliberately does not do: no risk checks, no audit, no journal, no repair or reconciliation,
no staleness check. It is not tuned either (no pre-rendered orders, no integer prices) and not
handicapped: QuickFIX's defaults as its examples configure them (FileStoreFactory, so sequence
numbers and every sent message go to disk; no message log, since there is no audit), with one
setting a user who cares about latency adds and that xmc_fix's sessions use too: ``SocketNodelay=Y``
(without it Nagle's algorithm holds the second order behind the first's acknowledgement, and the
comparison would measure TCP). Refreshes are read by splitting ``toString()`` into fields, the way
most Python users read repeating groups once they find QuickFIX's ``getGroup``/``getField`` path
slow (each ``getField(tag)`` costs about 2 us through SWIG here: some 26 us per two-entry refresh).

Measuring (:class:`Measured`, kept apart; a user would not write it): the time from ``fromApp``'s
entry to the second order handed to QuickFIX, the market-data messages processed, the lag from the
venue's SendingTime to our receipt every 16th one, and at each decision the age of the refresh that
decided it by its SendingTime.

Run as ``python -m xmc_fix.bench.plain CONFIG.json``: prints ``READY`` once every session is logged
on, then answers ``count`` on stdin with the market-data messages processed so far; at the end of
its input it logs out and writes its results to the file the configuration names.
"""

from __future__ import annotations

import calendar
import json
import sys
import threading
import time
from pathlib import Path

import quickfix as fix
import quickfix44 as fix44

SOH = "\x01"


# -- the trader: what a user writes -------------------------------------------------------------
class PairTrader(fix.Application):
    def __init__(self, pairs: list[dict], symbols: dict[str, list[str]]) -> None:
        super().__init__()
        self.pairs = pairs                  # {name, inner: [venue, symbol], outer: [...], thresholds}
        self.symbols = symbols              # venue -> symbols to subscribe
        self.sessions = {}                  # venue -> SessionID
        self.books = {}                     # (venue, symbol) -> (bids, asks): price -> size
        self.by_instrument = {}
        for p in pairs:
            for leg in ("inner", "outer"):
                self.by_instrument.setdefault(tuple(p[leg]), []).append(p)
        self.position = {p["name"]: 0 for p in pairs}   # -1 short basis, +1 long basis
        self.next_id = 0
        self.reports = 0
        self.fills = 0

    def onCreate(self, sessionID):
        self.sessions[sessionID.getTargetCompID().getValue()] = sessionID

    def onLogon(self, sessionID):
        for symbol in self.symbols.get(sessionID.getTargetCompID().getValue(), []):
            self.subscribe(sessionID, symbol)

    def onLogout(self, sessionID):
        pass

    def toAdmin(self, message, sessionID):
        pass

    def fromAdmin(self, message, sessionID):
        pass

    def toApp(self, message, sessionID):
        pass

    def fromApp(self, message, sessionID):
        try:
            venue = sessionID.getTargetCompID().getValue()
            msg_type = message.getHeader().getField(35)
            if msg_type in ("W", "X"):
                self.on_market_data(venue, msg_type, message.toString())
            elif msg_type == "8":
                self.reports += 1
                if message.getField(150) in ("1", "2", "F"):
                    self.fills += 1
        except Exception as e:          # an exception into QuickFIX ends the process
            print("error:", e, file=sys.stderr)

    def subscribe(self, sessionID, symbol):
        self.next_id += 1
        request = fix44.MarketDataRequest()
        request.setField(fix.MDReqID(f"R{self.next_id}"))
        request.setField(fix.SubscriptionRequestType(fix.SubscriptionRequestType_SNAPSHOT_AND_UPDATES))
        request.setField(fix.MarketDepth(1))
        request.setField(fix.MDUpdateType(fix.MDUpdateType_INCREMENTAL_REFRESH))
        for entry_type in (fix.MDEntryType_BID, fix.MDEntryType_OFFER):
            group = fix44.MarketDataRequest.NoMDEntryTypes()
            group.setField(fix.MDEntryType(entry_type))
            request.addGroup(group)
        group = fix44.MarketDataRequest.NoRelatedSym()
        group.setField(fix.Symbol(symbol))
        request.addGroup(group)
        fix.Session.sendToTarget(request, sessionID)

    def on_market_data(self, venue, msg_type, text):
        touched = set()
        symbol, action, side, price = None, "0", None, None
        for field in text.split(SOH):
            tag, _, value = field.partition("=")
            if tag == "55":
                symbol = value
                if msg_type == "W":             # a snapshot replaces the book
                    self.books[(venue, symbol)] = ({}, {})
            elif tag == "279":
                action = value
            elif tag == "269":
                side = value
            elif tag == "270":
                price = float(value)
            elif tag == "271" and side in ("0", "1"):
                book = self.books.setdefault((venue, symbol), ({}, {}))[0 if side == "0" else 1]
                if action == "2":
                    book.pop(price, None)
                else:
                    book[price] = float(value)
                touched.add((venue, symbol))
        for key in touched:
            for pair in self.by_instrument.get(key, []):
                self.check(pair)

    def check(self, pair):
        inner = self.books.get(tuple(pair["inner"]))
        outer = self.books.get(tuple(pair["outer"]))
        if not inner or not outer or not all(inner) or not all(outer):
            return
        sell_spread = max(inner[0]) - min(outer[1])     # sell inner at its bid, buy outer at its ask
        buy_spread = min(inner[1]) - max(outer[0])      # buy inner at its ask, sell outer at its bid
        position = self.position[pair["name"]]
        if (position == 0 and sell_spread > pair["entry_above"]) or (position > 0 and sell_spread > pair["exit_below"]):
            self.trade(pair, fix.Side_SELL, max(inner[0]), fix.Side_BUY, min(outer[1]))
            self.position[pair["name"]] = position - 1
        elif (position == 0 and buy_spread < pair["entry_below"]) or (position < 0 and buy_spread < pair["exit_above"]):
            self.trade(pair, fix.Side_BUY, min(inner[1]), fix.Side_SELL, max(outer[0]))
            self.position[pair["name"]] = position + 1

    def trade(self, pair, inner_side, inner_price, outer_side, outer_price):
        slip = pair["slippage"]
        self.send(pair["inner"], inner_side, pair["qty"], inner_price + (slip if inner_side == fix.Side_BUY else -slip))
        self.send(pair["outer"], outer_side, pair["qty"], outer_price + (slip if outer_side == fix.Side_BUY else -slip))

    def send(self, instrument, side, qty, price):
        venue, symbol = instrument
        self.next_id += 1
        order = fix44.NewOrderSingle()
        order.setField(fix.ClOrdID(f"P{self.next_id}"))
        order.setField(fix.Symbol(symbol))
        order.setField(fix.Side(side))
        order.setField(fix.TransactTime())
        order.setField(fix.OrderQty(qty))
        order.setField(fix.OrdType(fix.OrdType_LIMIT))
        order.setField(fix.Price(price))
        order.setField(fix.TimeInForce(fix.TimeInForce_IMMEDIATE_OR_CANCEL))
        fix.Session.sendToTarget(order, self.sessions[venue])


def settings_text(venues: dict[str, int], store: str, spec: str) -> str:
    """The session settings, as QuickFIX's example configurations write them."""
    lines = ["[DEFAULT]", "ConnectionType=initiator", "ReconnectInterval=2", f"FileStorePath={store}",
             "StartTime=00:00:00", "EndTime=00:00:00", "UseDataDictionary=Y", f"DataDictionary={spec}",
             "HeartBtInt=30", "SocketConnectHost=127.0.0.1", "SocketNodelay=Y"]
    for venue, port in venues.items():
        lines += ["[SESSION]", "BeginString=FIX.4.4", "SenderCompID=XMC", f"TargetCompID={venue}",
                  f"SocketConnectPort={port}"]
    return "\n".join(lines) + "\n"


# -- measuring: not part of what a user writes ----------------------------------------------------
def _sending_ns(text: str) -> int:
    """SendingTime (YYYYMMDD-HH:MM:SS[.ffffff]) in ns since the epoch."""
    day, _, clock = text.partition("-")
    hms, _, frac = clock.partition(".")
    h, m, s = hms.split(":")
    secs = calendar.timegm((int(day[:4]), int(day[4:6]), int(day[6:8]), int(h), int(m), int(s), 0, 0, 0))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


class Measured(PairTrader):
    def __init__(self, pairs, symbols) -> None:
        super().__init__(pairs, symbols)
        self.count = 0
        self.decision_ns: list[int] = []
        self.lag: list[tuple[int, int]] = []          # (our receipt, receipt - SendingTime) every 16th
        self.ages: list[tuple[str, int]] = []         # (pair, decision - SendingTime of the deciding refresh)
        self.orders = 0
        self.pair_traded = ""
        self.first_sent = 0
        self.last_sent = 0
        self.logged_on: set[str] = set()
        self.all_on = threading.Event()

    def onLogon(self, sessionID):
        super().onLogon(sessionID)
        self.logged_on.add(sessionID.getTargetCompID().getValue())
        if self.logged_on >= set(self.symbols):
            self.all_on.set()

    def fromApp(self, message, sessionID):
        t0 = time.perf_counter_ns()
        self.count += 1
        super().fromApp(message, sessionID)
        if self.last_sent > t0:
            self.decision_ns.append(self.last_sent - t0)
            try:
                sent = _sending_ns(message.getHeader().getField(52))
                self.ages.append((self.pair_traded, self.first_sent - sent))
            except Exception:
                pass
        elif not self.count & 15:
            try:
                now = time.time_ns()
                self.lag.append((now, now - _sending_ns(message.getHeader().getField(52))))
            except Exception:
                pass

    def trade(self, pair, *args):
        self.pair_traded = pair["name"]
        self.first_sent = time.time_ns()
        super().trade(pair, *args)

    def send(self, *args):
        super().send(*args)
        self.last_sent = time.perf_counter_ns()
        self.orders += 1


def main(path: str) -> None:
    from xmc_fix.procutil import die_with_parent
    die_with_parent()
    cfg = json.loads(Path(path).read_text())
    app = Measured(cfg["pairs"], cfg["symbols"])
    settings = fix.SessionSettings()
    settings.setFromString(settings_text(cfg["venues"], cfg["store"], cfg["spec"]))
    initiator = fix.SocketInitiator(app, fix.FileStoreFactory(settings), settings)
    initiator.start()
    if not app.all_on.wait(30):
        print("NOT LOGGED ON", flush=True)
    else:
        print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(app.count - app.reports, flush=True)
    initiator.stop()
    Path(cfg["result"]).write_text(json.dumps({
        "decision_to_send_ns": app.decision_ns, "md_lag": app.lag, "md_updates": app.count - app.reports,
        "decision_ages_ns": app.ages, "fills": app.fills, "orders": app.orders}))


if __name__ == "__main__":
    main(sys.argv[1])
