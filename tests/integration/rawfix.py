"""FIX over raw TCP for tests that must say things QuickFIX would never say: one end of a session
written by hand, so a test can log on properly and then send anything at all.

:class:`RawPeer` is one connection: it frames what arrives, answers the session chores a FIX engine
expects (TestRequest with a Heartbeat, ResendRequest by resending what it sent with PossDup and
gap-filling the rest, Logout with a Logout), and sends well-formed messages, deliberately wrong
ones, or plain bytes. :func:`logon` makes it a client of an acceptor; :class:`FakeVenue` makes it
the acceptor an engine's initiator connects to.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from datetime import datetime, timezone

from xmc_fix.sim.faultproxy import checksum, field, is_frame, split_frames

_NON_ASCII = re.compile(rb"[\x80-\xff]")

SOH = b"\x01"
ADMIN = {"0", "1", "2", "4", "5", "A"}


def utc_stamp(offset_s: float = 0.0) -> bytes:
    t = datetime.fromtimestamp(time.time() + offset_s, tz=timezone.utc)
    return t.strftime("%Y%m%d-%H:%M:%S.%f").encode()


def encode(begin: bytes, fields: list[tuple[bytes | int | str, bytes | int | str]]) -> bytes:
    """A frame with BodyLength and CheckSum right, whatever the fields say."""
    body = b"".join(_b(t) + b"=" + _b(v) + SOH for t, v in fields)
    head = b"8=" + begin + SOH + b"9=" + str(len(body)).encode() + SOH + body
    return head + b"10=" + checksum(head) + SOH


def _b(x) -> bytes:
    return x if isinstance(x, bytes) else str(x).encode()


def parses(frame: bytes, dictionary=None) -> bool:
    """Would QuickFIX take ``frame`` for a message at all (rather than discard it as garbled)?
    Non-ASCII bytes are replaced one for one: QuickFIX treats them as opaque."""
    import quickfix as fix
    text = _NON_ASCII.sub(b"x", frame).decode("ascii")
    try:
        fix.Message(text, dictionary, True) if dictionary is not None else fix.Message(text, True)
    except fix.InvalidMessage:
        return False
    except Exception:       # a message QuickFIX would parse and then reject: it counts as received
        return True
    return True


class RawPeer:
    def __init__(self, sock: socket.socket, sender: str, target: str, *, begin: str = "FIX.4.4",
                 next_out: int = 1, dictionary=None) -> None:
        self.sock = sock
        self.sender, self.target, self.begin = sender.encode(), target.encode(), begin.encode()
        self.next_out = next_out
        self.received: list[bytes] = []          # every frame, in order
        self.sent: list[bytes] = []              # every frame sent (not raw bytes)
        self.store: dict[int, tuple] = {}        # seq -> (MsgType, body, SendingTime) of what send() sent
        self.dictionary = dictionary             # the other side's, to tell garbled messages apart
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._probe_ids = itertools.count(1)
        self.closed = threading.Event()
        sock.settimeout(None)
        self._reader = threading.Thread(target=self._read, name="rawfix-reader", daemon=True)
        self._reader.start()

    # -- sending ------------------------------------------------------------------------------
    def header(self, msg_type: bytes | str, seq: int, *, poss_dup: bool = False, sending_time: bytes | None = None,
               sender: bytes | None = None, target: bytes | None = None) -> list:
        h = [(35, msg_type), (34, seq), (49, sender or self.sender), (52, sending_time or utc_stamp()),
             (56, target or self.target)]
        if poss_dup:
            h += [(43, "Y"), (122, utc_stamp(-1))]
        return h

    def send(self, msg_type: bytes | str, body: list = (), *, seq: int | None = None, consume: bool = True,
             **header) -> bytes:
        """Send a well-formed message; ``seq`` None takes the next number (and uses it up)."""
        with self._lock:
            n = self.next_out if seq is None else seq
            h = self.header(msg_type, n, **header)
            frame = encode(self.begin, h + list(body))
            if seq is None and consume:
                self.next_out += 1
                if not header and parses(frame, self.dictionary):
                    self.store[n] = (str(msg_type), list(body), h[3][1])
            self._write(frame)
            self.sent.append(frame)
            return frame

    def send_raw(self, data: bytes) -> None:
        with self._lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed.set()

    # -- receiving -------------------------------------------------------------------------------
    def _read(self) -> None:
        buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                items, buf = split_frames(buf + data)
                for item in items:
                    if is_frame(item):
                        self._on_frame(item)
        except OSError:
            pass
        finally:
            self.closed.set()
            with self._cond:
                self._cond.notify_all()

    def _on_frame(self, frame: bytes) -> None:
        # The chores first, then the frame is shown to waiters: a probe that sees a ResendRequest
        # must find it answered before it sends the next TestRequest.
        mt = field(frame, b"35")
        if mt == b"1":
            self.send("0", [(112, field(frame, b"112") or b"")])
        elif mt == b"2":
            self._resend(int(field(frame, b"7") or 1), int(field(frame, b"16") or 0))
        with self._cond:
            self.received.append(frame)
            self._cond.notify_all()
        if mt == b"5" and not getattr(self, "_logging_out", False):
            self._logging_out = True
            self.send("5")
            self.close()

    def _resend(self, begin: int, end: int) -> None:
        """Answer a ResendRequest as a venue does: application messages again with PossDup, a
        SequenceReset-GapFill over admin messages and numbers that never held a message (junk, and
        messages the other side discarded as garbled: resending those would stall it for good)."""
        with self._lock:
            last = self.next_out - 1 if end == 0 or end >= self.next_out else end
            gap_from = None
            for n in range(begin, last + 2):
                kept = self.store.get(n) if n <= last else None
                if kept is not None and kept[0] in ADMIN:
                    kept = None
                if kept is None and n <= last:
                    gap_from = n if gap_from is None else gap_from
                    continue
                if gap_from is not None:
                    self._write(encode(self.begin, self.header("4", gap_from, poss_dup=True) + [(123, "Y"), (36, n)]))
                    gap_from = None
                if kept is not None:
                    mt, body, sent_at = kept
                    h = self.header(mt, n, poss_dup=True)
                    h[-1] = (122, sent_at)
                    self._write(encode(self.begin, h + body))

    def wait_for(self, pred, timeout: float, start: int = 0) -> bytes | None:
        """The first frame received at index ``start`` or later that satisfies ``pred``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.received):
                    if pred(self.received[i]):
                        return self.received[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    return None
                self._cond.wait(min(left, 0.2))

    def probe(self, timeout: float = 2.0) -> bool:
        """Is the other end still reading us? A TestRequest answered by its Heartbeat. A TestRequest
        that falls into a gap the other side asks to be resent is gap-filled over (it is an admin
        message), so on a ResendRequest the probe asks again."""
        deadline = time.monotonic() + timeout
        while not self.closed.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            test_id = f"probe-{next(self._probe_ids)}".encode()
            start = len(self.received)
            self.send("1", [(112, test_id)])
            got = self.wait_for(lambda f: (field(f, b"35") == b"0" and field(f, b"112") == test_id)
                                or field(f, b"35") == b"2", left, start)
            if got is None:
                return False
            if field(got, b"35") == b"0":
                return True
        return False

    def logout(self, timeout: float = 2.0) -> None:
        if not self.closed.is_set():
            self._logging_out = True
            start = len(self.received)
            self.send("5")
            self.wait_for(lambda f: field(f, b"35") == b"5", timeout, start)
        self.close()

    def close(self) -> None:
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def logon(host: str, port: int, sender: str, target: str, *, username: str | None = None,
          password: str | None = None, heartbeat: int = 30, timeout: float = 5.0) -> RawPeer:
    """Connect and log on with ResetSeqNumFlag (both sides start again at 1)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = RawPeer(sock, sender, target)
    body = [(98, 0), (108, heartbeat), (141, "Y")]
    if username:
        body.append((553, username))
    if password:
        body.append((554, password))
    peer.send("A", body)
    if peer.wait_for(lambda f: field(f, b"35") == b"A", timeout) is None:
        peer.close()
        raise ConnectionError(f"no Logon answer from {host}:{port} ({target})")
    return peer


class FakeVenue:
    """A venue for an engine's initiator to connect to: listens on a free loopback port, answers
    each Logon by hand (its own sequence numbers go on across reconnections), and keeps the current
    connection in ``peer``."""

    def __init__(self, sender: str, target: str = "XMC", dictionary=None, begin: str = "FIX.4.4") -> None:
        self.sender, self.target, self.begin = sender, target, begin
        self.dictionary = dictionary
        self.next_out = 1
        self.peer: RawPeer | None = None
        self.logons = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._logged_on = threading.Condition()
        self._thread = threading.Thread(target=self._accept, name="fake-venue", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            store = {}
            if self.peer is not None:
                self.next_out = max(self.next_out, self.peer.next_out)
                store = self.peer.store
                self.peer.close()
            peer = RawPeer(sock, self.sender, self.target, begin=self.begin, next_out=self.next_out,
                           dictionary=self.dictionary)
            peer.store = store             # what a venue keeps across connections, to resend
            hello = peer.wait_for(lambda f: field(f, b"35") == b"A", 10)
            if hello is None:
                peer.close()
                continue
            if field(hello, b"141") == b"Y":
                peer.next_out, peer.store = 1, {}
            peer.send("A", [(98, 0), (108, field(hello, b"108") or b"30")])
            with self._logged_on:
                self.peer = peer
                self.logons += 1
                self._logged_on.notify_all()

    def wait_logged_on(self, after: int = 0, timeout: float = 15.0) -> RawPeer | None:
        """The connection of logon number ``after + 1`` or later, once it is up."""
        deadline = time.monotonic() + timeout
        with self._logged_on:
            while not (self.logons > after and self.peer is not None and not self.peer.closed.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._logged_on.wait(min(left, 0.2))
            return self.peer

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        if self.peer is not None:
            self.peer.close()
        self._thread.join(2)
