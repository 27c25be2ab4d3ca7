"""Session-level faults on the wire: a TCP proxy in front of one venue's QuickFIX acceptor.

QuickFIX only ever sends well-formed messages, so the faults a scenario scripts with ``[[fault]]``
(README "Scenarios") are made here, between the acceptor and its clients. When a scenario has
faults for a venue, :class:`xmc_fix.sim.app.SimServer` moves that venue's acceptor to a free
internal port and a :class:`FaultProxy` listens on the configured port (127.0.0.1 only). Client
-> venue bytes are copied unchanged; venue -> client bytes are cut into FIX messages and each
message is shown to the venue's :class:`FaultPlan`, which may have it

- ``skip``: withheld (the client sees a sequence gap and asks for a resend);
- ``garble``: replaced by junk bytes and the first half of the message (a truncated frame);
- ``bad_checksum``: sent with a wrong CheckSum (10);
- ``wrong_compid``: sent with another SenderCompID (49), BodyLength and CheckSum recomputed;
- ``stale_sending_time``: sent with a SendingTime (52) an hour old, CheckSum recomputed;
- ``drop``: not sent; both TCP connections are closed.

The venue's QuickFIX has stored every message it sent, so a client that asks for a resend gets
what the proxy withheld or spoiled, as it would from a real gateway. Counts are per venue over
every connection of the run; the proxy reads client -> venue traffic only to learn from its Logon
which session a connection carries.

One more thing the proxy does on the exchange's say (a scenario's ``quiet``): :meth:`FaultProxy.hold`
stops everything on one session's connections, both ways, for a while — no reports, no heartbeats,
no answers to TestRequests, as when a network path stalls — and then delivers what it held up, if
the connection is still there by then.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
import zlib
from typing import Callable, Iterable

from xmc_fix.errors import ConfigError
from xmc_fix.fixwire import SOH_B as SOH
from xmc_fix.fixwire import checksum, format_utc, fraction_digits, parse_utc_ns, value_of
from xmc_fix.sim.behaviour import FaultSpec

log = logging.getLogger("xmc.sim.faults")

MAX_UNFRAMED = 1 << 20      # bytes kept while waiting for the end of a frame before passing them on
GARBLE_PREFIX = b"\x00\xff#garbled#\x01"
STALE_BY_NS = 3600 * 1_000_000_000


# -- framing and rewriting (pure functions) -------------------------------------------------------
def split_frames(buf: bytes) -> tuple[list[bytes], bytes]:
    """Cut the complete items at the front of ``buf``; return them and the incomplete rest.

    An item is one FIX message (``8=...`` to ``10=nnn<SOH>``, by its BodyLength) or a run of bytes
    that is not one (passed on unchanged by the caller).
    """
    items: list[bytes] = []
    i, n = 0, len(buf)
    while i < n:
        start = buf.find(b"8=", i)
        if start < 0:
            keep = n - 1 if buf.endswith(b"8") else n     # a frame may begin with the last byte
            if keep > i:
                items.append(buf[i:keep])
                i = keep
            break
        if start > i:
            items.append(buf[i:start])
            i = start
        end_begin = buf.find(SOH, i)
        if end_begin < 0 or n < end_begin + 3:
            break
        if not buf.startswith(b"9=", end_begin + 1):
            items.append(buf[i:end_begin + 1])
            i = end_begin + 1
            continue
        end_len = buf.find(SOH, end_begin + 3)
        if end_len < 0:
            break
        length = buf[end_begin + 3:end_len]
        if not length.isdigit():
            items.append(buf[i:end_len + 1])
            i = end_len + 1
            continue
        body_end = end_len + 1 + int(length)
        if n < body_end + 7:
            break
        if buf[body_end:body_end + 3] != b"10=" or buf[body_end + 6:body_end + 7] != SOH:
            items.append(buf[i:body_end])      # not a frame after all: pass it on as it is
            i = body_end
            continue
        items.append(buf[i:body_end + 7])
        i = body_end + 7
    rest = buf[i:]
    if len(rest) > MAX_UNFRAMED:
        items.append(rest)
        rest = b""
    return items, rest


def is_frame(item: bytes) -> bool:
    return item.startswith(b"8=") and item.endswith(SOH) and item[-8:-4] == b"\x0110="


def field(frame: bytes, tag: bytes) -> bytes | None:
    """The value of ``tag`` in a frame (the first occurrence)."""
    return value_of(frame, tag)


def rebuild(frame: bytes, changes: dict[bytes, bytes]) -> bytes:
    """``frame`` with the values of ``changes`` replaced, BodyLength and CheckSum recomputed."""
    fields = frame.split(SOH)[:-1]
    begin, body = fields[0], []
    for f in fields[2:-1]:
        tag, _, value = f.partition(b"=")
        body.append(tag + b"=" + changes.get(tag, value))
    text = SOH.join(body) + SOH
    head = begin + SOH + b"9=" + str(len(text)).encode() + SOH + text
    return head + b"10=" + checksum(head) + SOH


def bad_checksum(frame: bytes) -> bytes:
    good = int(frame[-4:-1])
    return frame[:-4] + b"%03d" % ((good + 1) % 256) + SOH


def wrong_compid(frame: bytes) -> bytes:
    return rebuild(frame, {b"49": b"WRONG" + (field(frame, b"49") or b"")})


def stale_sending_time(frame: bytes) -> bytes:
    value = field(frame, b"52")
    ns = parse_utc_ns(value)
    if ns is None:
        return frame
    return rebuild(frame, {b"52": format_utc(ns - STALE_BY_NS, fraction_digits(value)).encode()})


def garble(frame: bytes) -> bytes:
    return GARBLE_PREFIX + frame[:max(len(frame) // 2, 12)]


REWRITE: dict[str, Callable[[bytes], bytes]] = {
    "garble": garble, "bad_checksum": bad_checksum, "wrong_compid": wrong_compid,
    "stale_sending_time": stale_sending_time,
}


# -- deciding ----------------------------------------------------------------------------------
class FaultPlan:
    """Which fault, if any, hits each venue -> client message of one venue (thread-safe).

    Rates are drawn from a generator seeded with the scenario seed and the venue; which messages
    they hit still depends on the order messages arrive in, so a rerun hits other messages at the
    same rate.
    """

    def __init__(self, venue: str, specs: Iterable[FaultSpec], seed: int = 0) -> None:
        self.venue = venue
        self.specs = list(specs)
        self._rng = random.Random(seed ^ zlib.crc32(b"faults:" + venue.encode()))
        self._seen = [0] * len(self.specs)
        self._left = [0] * len(self.specs)
        self._fired = [0] * len(self.specs)
        self._lock = threading.Lock()
        self.messages = 0
        self.injected: dict[str, int] = {}

    def decide(self, msg_type: str | None) -> str | None:
        with self._lock:
            self.messages += 1
            hit = None
            for i, s in enumerate(self.specs):
                if s.msg_type is not None and msg_type != s.msg_type:
                    continue
                self._seen[i] += 1
                m = self._seen[i]
                draw = self._rng.random() if s.rate else 1.0   # drawn for every counted message
                if self._left[i]:
                    self._left[i] -= 1
                    fire = True
                else:
                    if s.rate:
                        fire = m > (s.after or 0) and draw < s.rate
                    elif s.every:
                        fire = m % s.every == 0
                    else:
                        fire = m == s.after + 1
                    if fire and s.limit is not None and self._fired[i] >= s.limit:
                        fire = False
                    if fire:
                        self._fired[i] += 1
                        self._left[i] = s.count - 1
                if fire and hit is None:
                    hit = s.fault
            if hit is not None:
                self.injected[hit] = self.injected.get(hit, 0) + 1
            return hit


# -- the proxy -----------------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class FaultProxy:
    """Listens on ``port`` (``host`` only) for one venue and connects each client to the acceptor
    on ``upstream_port``; see the module docstring for what it does to the venue's messages.

    ``on_fault(venue, fault, info)`` is called (on a proxy thread) for each fault injected, with
    ``info`` = message number, MsgType and MsgSeqNum of the message hit.
    """

    def __init__(self, venue: str, port: int, upstream_port: int, plan: FaultPlan, *, host: str = "127.0.0.1",
                 on_fault: Callable[[str, str, dict], None] | None = None) -> None:
        self.venue = venue
        self.port = port
        self.upstream_port = upstream_port
        self.plan = plan
        self.host = host
        self._on_fault = on_fault
        self._listener: socket.socket | None = None
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"xmc-faults-{venue}", daemon=True)
        self._quiet: dict[str, float] = {}      # session key -> monotonic time the hold ends

    def start(self) -> "FaultProxy":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((self.host, self.port))
        except OSError as e:
            s.close()
            raise ConfigError(f"cannot listen on {self.host}:{self.port} for the fault proxy: {e.strerror}",
                              key=f"{self.venue} SocketAcceptPort", remedy="free the port or pick another with --port") from e
        s.listen(16)
        s.settimeout(0.2)
        self._listener = s
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError as e:
                log.warning("fault proxy %s: acceptor not reachable on %d: %s", self.venue, self.upstream_port, e)
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self._lock:
                self._links.add(link)
            link.start()

    def hold(self, session: str, seconds: float) -> None:
        """Nothing passes on ``session``'s connections (either way) for ``seconds``; then the bytes
        held up go on."""
        with self._lock:
            self._quiet[session] = max(self._quiet.get(session, 0.0), time.monotonic() + seconds)
        timer = threading.Timer(seconds, self._release, args=(session,))
        timer.daemon = True
        timer.start()

    def quiet(self, session: str | None) -> bool:
        if session is None:
            return False
        with self._lock:
            until = self._quiet.get(session)
        return until is not None and time.monotonic() < until

    def _release(self, session: str) -> None:
        with self._lock:
            until = self._quiet.get(session)
            if until is None or time.monotonic() < until - 0.001:
                return          # extended by a later hold: its own timer releases it
            del self._quiet[session]
            links = [link for link in self._links if link.session == session]
        for link in links:
            link.flush()

    def _forget(self, link: "_Link") -> None:
        with self._lock:
            self._links.discard(link)

    def _injected(self, fault: str, frame: bytes) -> None:
        info = {"n": self.plan.messages, "msg_type": (field(frame, b"35") or b"").decode("ascii", "replace"),
                "seq_num": int(field(frame, b"34") or 0)}
        log.warning("fault proxy %s: %s on message %d (35=%s, 34=%d)", self.venue, fault, info["n"],
                    info["msg_type"], info["seq_num"])
        if self._on_fault is not None:
            try:
                self._on_fault(self.venue, fault, info)
            except Exception:
                log.exception("fault proxy %s: fault callback failed", self.venue)


class _Link:
    """One client connection and its connection to the acceptor, one thread each way."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self._closed = threading.Event()
        self.session: str | None = None          # the acceptor's session key, from the client's Logon
        self._pending = {"in": [], "out": []}    # bytes held up while the session is quiet
        self._send_lock = threading.Lock()

    def _pass(self, way: str, data: bytes) -> None:
        """Send ``data`` on (``in``: to the venue, ``out``: to the client), or hold it up while the
        session is quiet; what was held goes first."""
        sock = self.upstream if way == "in" else self.client
        with self._send_lock:
            if self.proxy.quiet(self.session):
                self._pending[way].append(data)
                return
            held, self._pending[way] = self._pending[way], []
            sock.sendall(b"".join(held) + data)

    def flush(self) -> None:
        """The quiet spell is over: what was held up goes on, both ways."""
        try:
            for way in ("in", "out"):
                self._pass(way, b"")
        except OSError:
            self.close()

    def start(self) -> None:
        name = f"xmc-faults-{self.proxy.venue}"
        threading.Thread(target=self._client_to_venue, name=name + "-in", daemon=True).start()
        threading.Thread(target=self._venue_to_client, name=name + "-out", daemon=True).start()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.proxy._forget(self)

    def _client_to_venue(self) -> None:
        head = b""
        try:
            while True:
                data = self.client.recv(65536)
                if not data:
                    break
                if self.session is None and len(head) < 8192:
                    head += data
                    frames, _ = split_frames(head)
                    logon = next((f for f in frames if is_frame(f) and field(f, b"35") == b"A"), None)
                    if logon is not None:
                        begin = logon[2:logon.index(SOH)].decode("ascii", "replace")
                        client = (field(logon, b"49") or b"").decode("ascii", "replace")
                        venue = (field(logon, b"56") or b"").decode("ascii", "replace")
                        self.session = f"{begin}:{venue}->{client}"
                self._pass("in", data)
        except OSError:
            pass
        finally:
            self.close()

    def _venue_to_client(self) -> None:
        buf = b""
        try:
            while True:
                data = self.upstream.recv(65536)
                if not data:
                    break
                items, buf = split_frames(buf + data)
                out = []
                for item in items:
                    if not is_frame(item):
                        out.append(item)
                        continue
                    mt = field(item, b"35")
                    fault = self.proxy.plan.decide(mt.decode("ascii", "replace") if mt is not None else None)
                    if fault is None:
                        out.append(item)
                        continue
                    self.proxy._injected(fault, item)
                    if fault == "drop":
                        if out:
                            self._pass("out", b"".join(out))
                        return
                    if fault != "skip":
                        out.append(REWRITE[fault](item))
                if out:
                    self._pass("out", b"".join(out))
        except OSError:
            pass
        finally:
            self.close()
