"""The benchmark's venues: a QuickFIX acceptor serving N venues, each with its own port, with a
flat market (every instrument 999.5 / 1000.5, five levels, deep) that it moves on cue. xmc_fix and
the plain peer (:mod:`xmc_fix.bench.plain`) are served alike, one after the other.

- ``pingpong``: for each round, a tick that makes one pair's basis cross its entry threshold,
  then — once both NewOrderSingles of the resulting ticket are in and answered with fills — a tick
  that reverts it (the engine closes), and so on over the pairs. The tick's send time and the second
  order's receipt are taken here, in one process, so tick-to-trade is exact.
- ``flood``: incremental refreshes that change the sizes of the two best bid levels but never cross,
  from every venue, at a set rate per venue (0: as fast as QuickFIX sends), for a set time.
- ``load``: ``flood``, and meanwhile every ``ping_ms`` a crossing (or its revert) on one pair after
  another, without waiting for the orders. Each such tick carries a marker, the size of the level
  it moves to the top (the entry's new best bid, the revert's best ask): a decision's recorded book
  names the tick it was decided on, and ``marks`` gives that tick's send time (its SendingTime), so
  the age of the book at each decision is known by the venue's clock.

Run as ``python -m xmc_fix.bench.tickserver CONFIG.json``; it prints ``READY`` when listening,
``START`` when every instrument is subscribed (and, with ``wait_go``, the orchestrator has
written a line to its standard input: the peer is ready) and the ticks begin, ``DONE`` when they end, and
writes its results to the file named in the config.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import quickfix as fix

from xmc_fix.bench.floor import QuietApp
from xmc_fix.fixwire import SOH, fields, frame


SPEC = str(Path(__file__).resolve().parent.parent.parent / "fixspecs" / "FIX44-XMC.xml")
MID_BID, CROSS_BID = "999.5", "1200"
MARK0 = 10_000           # markers are sizes from here up: the flat book's sizes are 1000-1006


class TickServer(QuietApp):
    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.cfg = cfg
        self.sids: dict[str, fix.SessionID] = {}
        self.venue_of: dict[str, str] = {}
        self.subs: dict[tuple[str, str], str] = {}       # (venue, symbol) -> MDReqID
        self.rpt: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.send_locks = {v["name"]: threading.Lock() for v in cfg["venues"]}   # RptSeq in send order
        self.want = sum(len(v["symbols"]) for v in cfg["venues"])
        self.subscribed = threading.Event()
        self.expect = 0
        self.got_orders = 0
        self.round_done = threading.Event()
        self.t_second = 0
        self.heartbeats: set[tuple[str, str]] = set()    # (venue, TestReqID) answered
        self.heartbeat = threading.Event()
        self.orders = 0
        self.dd = fix.DataDictionary(SPEC)
        self._exec = 0

    # -- quickfix.Application --------------------------------------------------------------
    def onCreate(self, sid):
        venue = sid.getSenderCompID().getValue()
        self.sids[venue] = fix.SessionID(sid.getBeginString().getValue(), venue,
                                         sid.getTargetCompID().getValue())
        self.venue_of[sid.toString()] = venue

    def fromApp(self, m, sid):
        t = time.perf_counter_ns()
        try:
            raw = m.toString()
            venue = self.venue_of[sid.toString()]
            mt = m.getHeader().getField(35)
            if mt == "D":
                with self.lock:
                    self.orders += 1
                    self.got_orders += 1
                    done = self.got_orders >= self.expect > 0
                    if done:
                        self.t_second = t
                self._fill(venue, raw)
                if done:
                    self.round_done.set()
            elif mt == "V":
                f = fields(raw)
                req, sym = f["262"], f["55"]
                with self.lock:
                    self.subs[(venue, sym)] = req
                    self.rpt.setdefault((venue, sym), 1)
                    n = len(self.subs)
                self._snapshot(venue, sym, req)
                if n >= self.want:
                    self.subscribed.set()
        except Exception as e:  # never into QuickFIX
            print(f"tickserver: {type(e).__name__}: {e}", file=sys.stderr)

    def fromAdmin(self, m, sid):
        try:
            if m.getHeader().getField(35) == "0" and m.isSetField(112):
                with self.lock:
                    self.heartbeats.add((self.venue_of[sid.toString()], m.getField(112)))
                self.heartbeat.set()
        except Exception as e:  # never into QuickFIX
            print(f"tickserver: {type(e).__name__}: {e}", file=sys.stderr)

    def settled(self, venues: set[str], req_id: str, timeout: float = 5.0) -> bool:
        """Send a TestRequest on each venue's session and wait for the peer's Heartbeats: QuickFIX
        answers in order, so everything sent before on those sessions has been through the peer's
        callbacks."""
        with self.lock:
            self.heartbeats = {h for h in self.heartbeats if h[1] != req_id}
        for v in venues:
            self._send(v, f"112={req_id}{SOH}", "1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all((v, req_id) in self.heartbeats for v in venues):
                    self.heartbeats = set()
                    return True
            self.heartbeat.wait(0.05)
            self.heartbeat.clear()
        return False

    # -- messages ----------------------------------------------------------------------------
    def _send(self, venue: str, body: str, mt: str, dd: bool = False) -> None:
        text = frame("FIX.4.4", mt, body)
        fix.Session.sendToTarget(fix.Message(text, self.dd, False) if dd else fix.Message(text, False),
                                 self.sids[venue])

    def _snapshot(self, venue: str, sym: str, req: str) -> None:
        levels = []
        for k in range(5):
            levels.append(f"269=0{SOH}270={999.5 - k * 0.5}{SOH}271=1000{SOH}")
            levels.append(f"269=1{SOH}270={1000.5 + k * 0.5}{SOH}271=1000{SOH}")
        body = f"262={req}{SOH}83={self.rpt[(venue, sym)]}{SOH}55={sym}{SOH}268={len(levels)}{SOH}" + "".join(levels)
        self._send(venue, body, "W", dd=True)

    def incremental(self, venue: str, sym: str, entries: list[tuple[str, str, str, str]]) -> None:
        """entries: (action, side, price, size) with FIX codes."""
        with self.send_locks[venue]:
            with self.lock:
                self.rpt[(venue, sym)] += 1
                seq = self.rpt[(venue, sym)]
                req = self.subs[(venue, sym)]
            body = f"262={req}{SOH}268={len(entries)}{SOH}" + "".join(
                f"279={a}{SOH}269={s}{SOH}55={sym}{SOH}270={p}{SOH}271={q}{SOH}83={seq}{SOH}" for a, s, p, q in entries)
            self._send(venue, body, "X", dd=True)

    def _fill(self, venue: str, raw: str) -> None:
        f = fields(raw)
        self._exec += 1
        px = f.get("44", "1000")
        body = (f"37=B{self._exec}{SOH}11={f['11']}{SOH}17=BX{self._exec}{SOH}150=F{SOH}39=2{SOH}55={f['55']}{SOH}"
                f"54={f['54']}{SOH}38={f['38']}{SOH}32={f['38']}{SOH}31={px}{SOH}151=0{SOH}14={f['38']}{SOH}6={px}{SOH}")
        self._send(venue, body, "8")


def cross_entries(cross: bool, mark: int | None = None) -> list[tuple[str, str, str, str]]:
    """The inner book moves up by 200 (its asks with it, so it never crosses itself), or back. A
    marker, when given, is the size of the level that becomes the top: the new best bid or best ask."""
    asks = [str(1000.5 + k * 0.5) for k in range(5)]
    top = str(mark) if mark is not None else "1000"
    if cross:
        return [("2", "1", a, "0") for a in asks] + [("0", "1", "1200.5", "1000"), ("0", "0", CROSS_BID, top)]
    return ([("2", "0", CROSS_BID, "0"), ("2", "1", "1200.5", "0"), ("0", "1", asks[0], top)]
            + [("0", "1", a, "1000") for a in asks[1:]])


def pingpong(srv: TickServer, cfg: dict) -> dict:
    pairs = cfg["pairs"]
    rounds = cfg["rounds"]
    gap = cfg.get("gap_ms", 0.5) / 1000   # the floor paces its round trips the same way
    samples = []
    timeouts = 0
    for r in range(rounds):
        pair = pairs[r % len(pairs)]
        venue, sym = pair["inner"]
        cross = (r // len(pairs)) % 2 == 0
        entries = cross_entries(cross)
        with srv.lock:
            srv.expect, srv.got_orders = 2, 0
        srv.round_done.clear()
        t0 = time.perf_counter_ns()
        srv.incremental(venue, sym, entries)
        if srv.round_done.wait(5):
            samples.append((srv.t_second - t0) / 1000)
        else:
            timeouts += 1
        with srv.lock:
            srv.expect = 0
        # The next tick waits until the peer has taken in both fills: a crossing's revert read while
        # the ticket still waits for its other leg's fill (on the other session) would find a ticket
        # working, and the round would measure that race, not the peer.
        srv.settled({pair["inner"][0], pair["outer"][0]}, f"R{r}")
        time.sleep(gap)
    return {"tick_to_trade_us": samples, "timeouts": timeouts, "orders": srv.orders}


def flood(srv: TickServer, cfg: dict) -> dict:
    """Refreshes from every venue, at ``rate`` a second each (0: as fast as they go), from one thread:
    five threads taking turns at the interpreter lock cost the tick source more than the sends do."""
    rate = cfg.get("rate", 0)                 # per venue per second; 0: as fast as possible
    seconds = cfg.get("seconds", 3.0)
    venues = [(v["name"], v["symbols"]) for v in cfg["venues"]]
    sent = {name: 0 for name, _ in venues}
    t0 = time.perf_counter()
    stop = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= stop:
            break
        next_due = stop
        for name, syms in venues:
            k = sent[name]
            if rate:
                due = t0 + k / rate
                if now < due:
                    next_due = min(next_due, due)
                    continue
            size = str(1000 + (k % 7))
            # the two best bids of the flat book: never the asks, which a crossing in ``load`` replaces
            srv.incremental(name, syms[k % len(syms)], [("1", "0", MID_BID, size), ("1", "0", "999.0", size)])
            sent[name] = k + 1
            next_due = now
        if next_due > now:
            time.sleep(min(next_due - now, 0.001))
    return {"sent": sent, "seconds": time.perf_counter() - t0}


def load(srv: TickServer, cfg: dict) -> dict:
    """``flood``, with a marked crossing or revert every ``ping_ms`` on one pair after another."""
    pairs = cfg["pairs"]
    every = cfg.get("ping_ms", 100) / 1000
    marks: dict[int, int] = {}
    pings = {v["name"]: 0 for v in cfg["venues"]}
    stop = threading.Event()

    def ping() -> None:
        n = 0
        while not stop.wait(every):
            pair = pairs[n % len(pairs)]
            venue, sym = pair["inner"]
            mark = MARK0 + n
            marks[mark] = time.time_ns()        # QuickFIX stamps SendingTime within microseconds of this
            srv.incremental(venue, sym, cross_entries((n // len(pairs)) % 2 == 0, mark))
            pings[venue] += 1
            n += 1

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        res = flood(srv, cfg)
    finally:
        stop.set()
        pinger.join()
    for v, n in pings.items():
        res["sent"][v] += n
    return {**res, "marks": marks, "pings": sum(pings.values()), "orders": srv.orders}


def main(path: str) -> None:
    from xmc_fix.procutil import die_with_parent
    die_with_parent()
    cfg = json.loads(Path(path).read_text())
    lines = ["[DEFAULT]", "ConnectionType=acceptor", "BeginString=FIX.4.4", "TargetCompID=XMC",
             "StartTime=00:00:00", "EndTime=00:00:00", "UseDataDictionary=Y", f"DataDictionary={SPEC}",
             "ResetOnLogon=Y", "TimestampPrecision=6", "SocketNodelay=Y", "SocketReuseAddress=Y",
             "AllowedRemoteAddresses=127.0.0.1", f"FileStorePath={cfg['store']}"]
    for v in cfg["venues"]:
        lines += ["[SESSION]", f"SenderCompID={v['name']}", f"SocketAcceptPort={v['port']}"]
    s = fix.SessionSettings()
    s.setFromString("\n".join(lines) + "\n")
    srv = TickServer(cfg)
    acc = fix.SocketAcceptor(srv, fix.MemoryStoreFactory(), s, fix.ScreenLogFactory(False, False, False))
    acc.start()
    print("READY", flush=True)
    result: dict = {}
    try:
        if not srv.subscribed.wait(30):
            result = {"error": f"only {len(srv.subs)} of {srv.want} instruments subscribed"}
        else:
            if cfg.get("wait_go"):      # the peer has more to start than its sessions (its observers)
                sys.stdin.readline()
            time.sleep(cfg.get("settle_s", 0.5))
            print("START", flush=True)
            result = {"pingpong": pingpong, "flood": flood, "load": load}[cfg["mode"]](srv, cfg)
        Path(cfg["result"]).write_text(json.dumps(result))
        print("DONE", flush=True)
        sys.stdin.read()          # wait for the orchestrator to close stdin after the engine logged out
    finally:
        time.sleep(0.3)
        acc.stop()


if __name__ == "__main__":
    main(sys.argv[1])
