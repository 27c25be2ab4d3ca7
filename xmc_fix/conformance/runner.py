"""Play ``.def`` acceptance scripts against a FIX acceptor over TCP (``xmc certify``).

The runner is a plain TCP client that knows nothing about the acceptor beyond host and port: it
sends the bytes a script gives, reads whole FIX messages back, and compares them with the
script's expectations (:mod:`xmc_fix.conformance.compare`). It works against any FIX gateway —
``xmc sim --acceptance-test``, QuickFIX's own ``at`` server, or a broker's certification
gateway configured with the CompIDs the scripts use (SenderCompID ``ISLD``; TargetCompID ``TW42``,
``TW44`` ...; see tests/conformance/quickfix-at/README.md).

What it deliberately does not do: no FIX engine, no sequence-number bookkeeping, no retries. A
case stops at its first failing step; the next case starts on fresh connections.
"""

from __future__ import annotations

import re
import select
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

from xmc_fix.clock import Clock, SystemClock
from xmc_fix.conformance.compare import FieldPatterns, compare
from xmc_fix.conformance.deffile import Script, Step, StepKind
from xmc_fix.fixwire import SOH, SOH_B


_STEP_LABEL = re.compile(r"^[IEie](\d+,)?")


def shown(text: str | bytes | None) -> str:
    """A message for people: SOH as ``|``, other control bytes escaped."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    out = text.replace(SOH, "|")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how patiently to test.

    ``timeout``: how long to wait for an expected message, or for the acceptor to close a
    connection. The longest wait in the shipped scripts is one heartbeat interval (they log on
    with HeartBtInt=6 to see heartbeats and TestRequests), so keep it comfortably above 6 s.
    ``pause``: between cases, so the acceptor can finish the previous case's disconnect before
    the next case logs on to the same session.
    """

    host: str
    port: int
    timeout: float = 10.0
    connect_timeout: float = 5.0
    pause: float = 0.1


@dataclass(frozen=True, slots=True)
class StepFailure:
    line: int
    step: str
    reason: str
    expected: str | None = None
    received: str | None = None

    def describe(self) -> str:
        """``line N <step>: reason``, and for a message step the expected and received messages (the
        expected one with placeholders, 9 and 10 resolved as they were compared)."""
        if self.expected is None:
            text = f"line {self.line} {shown(self.step)}: {self.reason}"
        else:
            label = _STEP_LABEL.match(self.step)
            text = (f"line {self.line} {label.group(0) if label else self.step[:1]}: {self.reason}; "
                    f"expected {shown(self.expected)}")
        if self.received is not None:
            text += f"; received {shown(self.received) or '(nothing)'}"
        return text


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    seconds: float
    failure: StepFailure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    def line(self) -> str:
        """The one line ``xmc certify`` prints for this case."""
        if self.failure is None:
            return f"PASS {self.name} ({self.seconds:.2f}s)"
        return f"FAIL {self.name} ({self.seconds:.2f}s) {self.failure.describe()}"


class _Closed(Exception):
    """The peer closed (or reset) the connection."""


class _Garbled(Exception):
    """The peer sent bytes that cannot be framed as a FIX message."""

    def __init__(self, reason: str, data: bytes) -> None:
        super().__init__(reason)
        self.data = data


class Connection:
    """One TCP connection of a case: send bytes, read whole FIX messages, notice the peer closing.

    Messages are framed as QuickFIX's runner frames them: up to ``<SOH>9=``, the BodyLength
    value, that many bytes, then the CheckSum field up to its SOH.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self.closed_by_peer = False

    @classmethod
    def open(cls, host: str, port: int, timeout: float) -> "Connection":
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on timeout. Raises :class:`_Closed` at EOF or reset."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        readable, _, _ = select.select([self._sock], [], [], left)
        if not readable:
            return False
        try:
            chunk = self._sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError) as e:
            self.closed_by_peer = True
            raise _Closed(f"connection reset ({e.strerror or e})") from e
        if not chunk:
            self.closed_by_peer = True
            raise _Closed("connection closed")
        self._buf += chunk
        return True

    def _frame(self) -> bytes | None:
        buf = self._buf
        i = buf.find(SOH_B + b"9=")
        if i < 0:
            return None
        j = buf.find(SOH_B, i + 3)
        if j < 0:
            return None
        length = buf[i + 3:j]
        if not length.isdigit():
            raise _Garbled(f"BodyLength {length!r} is not a number", buf)
        body_end = j + 1 + int(length)
        if len(buf) < body_end:
            return None
        k = buf.find(SOH_B, body_end)
        if k < 0:
            return None
        msg, self._buf = buf[:k + 1], buf[k + 1:]
        return msg

    def read_message(self, timeout: float) -> bytes | None:
        """The next whole message, or None if none completes within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._frame()
            if msg is not None:
                return msg
            if not self._fill(deadline):
                return None

    def pending(self) -> bytes:
        """Bytes received but not yet part of a whole message."""
        return self._buf

    def wait_closed(self, timeout: float) -> tuple[bool, bytes]:
        """(closed, data): True once the peer closes; data is anything it sent instead."""
        if self._buf:
            return False, self._take_pending(0.2)
        if self.closed_by_peer:
            return True, b""
        try:
            if not self._fill(time.monotonic() + timeout):
                return False, b""
        except _Closed:
            return True, b""
        return False, self._take_pending(0.2)

    def _take_pending(self, linger: float) -> bytes:
        """What is buffered plus whatever follows within ``linger`` seconds (for the report)."""
        deadline = time.monotonic() + linger
        try:
            while self._fill(deadline):
                pass
        except _Closed:
            pass
        data, self._buf = self._buf, b""
        return data


class CaseRun:
    """One script played once: its connections and its clock."""

    def __init__(self, script: Script, target: Target, patterns: FieldPatterns, clock: Clock) -> None:
        self.script = script
        self.target = target
        self.patterns = patterns
        self.clock = clock
        self.conns: dict[int, Connection] = {}

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_ns() / 1e9, tz=timezone.utc)

    def run(self) -> StepFailure | None:
        try:
            for step in self.script.steps:
                try:
                    failure = self.step(step)
                except OSError as e:  # whatever the network does, the case fails; the run goes on
                    failure = StepFailure(step.line, step.source, f"socket error: {e.strerror or e}")
                if failure is not None:
                    return failure
            return None
        finally:
            for c in self.conns.values():
                c.close()
            self.conns.clear()

    def step(self, step: Step) -> StepFailure | None:
        def fail(reason: str, expected: str | None = None, received: str | bytes | None = None) -> StepFailure:
            got = received.decode("latin-1") if isinstance(received, bytes) else received
            return StepFailure(step.line, step.source, reason, expected, got)

        t = self.target
        if step.kind is StepKind.CONNECT:
            old = self.conns.pop(step.conn, None)
            if old is not None:
                old.close()
            try:
                self.conns[step.conn] = Connection.open(t.host, t.port, t.connect_timeout)
            except OSError as e:
                return fail(f"cannot connect to {t.host}:{t.port}: {e.strerror or e}")
            return None

        conn = self.conns.get(step.conn)
        if conn is None:
            return fail(f"connection {step.conn} is not open")

        if step.kind is StepKind.DISCONNECT:
            conn.close()
            del self.conns[step.conn]
            return None

        if step.kind is StepKind.EXPECT_DISCONNECT:
            closed, data = conn.wait_closed(t.timeout)
            if closed:
                return None
            if data:
                return fail("expected the acceptor to disconnect, got data", received=data)
            return fail(f"connection still open after {t.timeout:g}s, expected the acceptor to disconnect")

        message = step.render(self.now())
        if step.kind is StepKind.SEND:
            if conn.closed_by_peer:
                return fail("cannot send: the acceptor closed the connection", expected=None)
            try:
                conn.send(message.encode("latin-1"))
            except OSError as e:
                return fail(f"send failed: {e.strerror or e}")
            return None

        # StepKind.EXPECT
        try:
            received = conn.read_message(t.timeout)
        except _Closed as e:
            return fail(f"{e} by the acceptor, expected a message", expected=message, received="")
        except _Garbled as e:
            return fail(f"unreadable message: {e}", expected=message, received=e.data)
        if received is None:
            return fail(f"no whole message within {t.timeout:g}s", expected=message, received=conn.pending())
        mismatch = compare(message, received.decode("latin-1"), self.patterns)
        if mismatch is not None:
            return fail(mismatch.reason, expected=message, received=received)
        return None


def run_case(script: Script, target: Target, patterns: FieldPatterns | None = None,
             clock: Clock | None = None) -> CaseResult:
    """Play one script; never raises for anything the acceptor does."""
    start = time.monotonic()
    failure = CaseRun(script, target, patterns or FieldPatterns.default(), clock or SystemClock()).run()
    return CaseResult(script.name, time.monotonic() - start, failure)


@dataclass(frozen=True, slots=True)
class Summary:
    results: tuple[CaseResult, ...]
    seconds: float

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def line(self) -> str:
        n = len(self.results)
        return (f"total: {n} case{'' if n == 1 else 's'}, {self.passed} passed, {self.failed} failed "
                f"({self.seconds:.1f}s)")


def run_cases(scripts: Iterable[Script], target: Target, patterns: FieldPatterns | None = None, *,
              clock: Clock | None = None, on_result: Callable[[CaseResult], None] | None = None) -> Summary:
    """Play every script in order, pausing ``target.pause`` between cases."""
    start = time.monotonic()
    patterns = patterns or FieldPatterns.default()
    results: list[CaseResult] = []
    for n, script in enumerate(scripts):
        if n and target.pause > 0:
            time.sleep(target.pause)
        result = run_case(script, target, patterns, clock)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return Summary(tuple(results), time.monotonic() - start)
