"""The audit writer in a process of its own.

The in-process writer (:class:`AuditWriter`) parses, masks, hashes and inserts on a thread, and
that thread holds the GIL while it works: the QuickFIX session thread then waits for it whenever
it comes back from C++ (every callback, every send). Here the engine's side only pickles each
record into a buffer and hands buffers to a child process through a pipe; the child runs the very
same :class:`AuditWriter` (chain, spill, file logs and all). The engine pays a few microseconds per
record and never waits for the database.

Buffers go out when they pass 32 KiB, or when the oldest record in them is 5 ms old, checked on
every record the engine makes (tickets, orders, events) and by :meth:`pump`, which the engine's timer
calls every tick: at most a timer tick of audit sits in memory, as with the thread writer's queue.
The FIX messages QuickFIX's log hands over (the busiest records) send the buffer only when it is
full, never on age: they are recorded from inside QuickFIX's receive and send, on the path from a
tick to a decision and between a decision's two orders, and writing the pipe there wakes the writer
process, which on a busy machine can take the session thread's core for a scheduler slice. The
engine's own records of a decision (the ticket, its orders) come after both orders have left.

:attr:`ProcessAuditWriter.backlog` counts the records handed over and not yet written (the child
adds what it wrote to a counter in shared memory after each batch), which the metrics endpoint
reads. If the child dies, records are spilled to a local file instead of being lost, and the error
is logged. The spill file is created 0600 and holds no secret: every FIX message and every string in
a record is masked (as the writer would have) before it is written.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import pickle
import struct
import threading
import time
from pathlib import Path

log = logging.getLogger("xmc.audit")

_HDR = struct.Struct("<I")
_MSG = struct.Struct("<BH?q")     # 0x01, session index, incoming, our time (ns)
_FLUSH_BYTES = 32 * 1024
_FLUSH_NS = 5_000_000
_ROWS = frozenset("sreu")        # frames that become a row (not a session name, a flush or the stop)
F_SETPIPE_SZ = 1031


class _Stats:
    """What the child reports at each flush and at close (same names as WriterStats)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.batches = 0
        self.max_backlog = 0
        self.errors = 0
        self.spilled = 0
        self.write_seconds = 0.0
        self.batched_messages = 0


class ProcessAuditWriter:
    def __init__(self, url: str, run_id: str, *, venues_by_session: dict[str, str] | None = None,
                 log_dir: str | Path | None = None, spill_dir: str | Path | None = None) -> None:
        self.url = url
        self.run_id = run_id
        self._kw = {"venues_by_session": dict(venues_by_session or {}),
                    "log_dir": str(log_dir) if log_dir else None, "spill_dir": str(spill_dir) if spill_dir else None}
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._buf: list[bytes] = []
        self._size = 0
        self._first_ns = 0
        self._proc: mp.Process | None = None
        self._tx = self._ack = None
        self._dead = False
        self._closed = False
        self._spill = Path(spill_dir or ".") / f"audit-spill-{run_id}.pickles"
        self.chain_length = 0
        self.chain_head = ""
        self._sessions: dict[str, int] = {}
        self._records = 0          # records handed over (under the lock)
        self._written = None       # the child's count of records written (shared memory)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "ProcessAuditWriter":
        ctx = mp.get_context("spawn")
        rx, tx = ctx.Pipe(duplex=False)
        ack_rx, ack_tx = ctx.Pipe(duplex=False)
        try:
            import fcntl
            fcntl.fcntl(tx.fileno(), F_SETPIPE_SZ, 1 << 20)   # room for bursts before we would wait
        except OSError:
            pass
        self._written = ctx.Value("q", 0, lock=False)   # only the child's writer thread adds to it
        self._proc = ctx.Process(target=_child, args=(rx, ack_tx, self.url, self.run_id, self._kw, os.getpid(),
                                                      self._written),
                                 name="xmc-audit-writer", daemon=True)
        self._proc.start()
        rx.close()
        ack_tx.close()
        self._tx, self._ack = tx, ack_rx
        ready = self._read_ack(60)
        if ready is None or not ready.get("ready"):
            raise RuntimeError(f"audit writer process did not start: {ready}")
        return self

    def flush(self, timeout: float = 30.0) -> bool:
        if self._tx is None:
            return False
        self._put(("F",))
        self._send_buffer()
        ack = self._read_ack(timeout)
        if ack:
            self._take_stats(ack)
        return ack is not None

    def close(self, timeout: float = 30.0) -> None:
        if self._closed or self._tx is None:
            self._closed = True
            return
        self._closed = True
        self._put(("S",))
        self._send_buffer()
        ack = self._read_ack(timeout)
        if ack:
            self._take_stats(ack)
        for conn in (self._tx, self._ack):
            try:
                conn.close()
            except OSError:
                pass
        if self._proc is not None:
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()

    @property
    def backlog(self) -> int:
        """Records handed to the writer and not yet written to the database (buffered here, in the
        pipe, queued in the child, or in the batch it is writing)."""
        written = self._written.value if self._written is not None else 0
        return max(0, self._records - written)

    # -- the engine's side (any thread) ----------------------------------------------------
    def message(self, session: str, direction: str, raw: str, ts_ns: int) -> None:
        # The busiest record (every FIX message in and out): a fixed header and the raw bytes, no
        # pickling. Frames are told apart by their first byte: 0x80 starts every pickle.
        idx = self._sessions.get(session)
        if idx is None:
            idx = self._sessions[session] = len(self._sessions)
            self._put_frame(pickle.dumps(("n", idx, session), 5), aged=False)
        data = _MSG.pack(0x01, idx, direction == "in", ts_ns) + raw.encode("utf-8", "surrogateescape")
        self._put_frame(data, row=True, aged=False)     # on age: by the engine's records, or the timer

    def session_event(self, session: str, text: str, ts_ns: int) -> None:
        self._put(("s", session, text, ts_ns))

    def record(self, table: str, row: dict) -> None:
        self._put(("r", table, row))

    def update(self, table: str, row: dict) -> None:
        self._put(("u", table, row))

    def event(self, kind: str, ts_ns: int, *, venue: str | None = None, pair: str | None = None,
              ticket_id: str | None = None, cl_ord_id: str | None = None, **detail) -> None:
        self._put(("e", kind, ts_ns, venue, pair, ticket_id, cl_ord_id, detail or None))

    def pump(self) -> None:
        """Send what is buffered if it has waited long enough (the engine's timer calls this)."""
        if self._buf and time.monotonic_ns() - self._first_ns >= _FLUSH_NS:
            self._send_buffer()

    def _put(self, item: tuple) -> None:
        self._put_frame(pickle.dumps(item, 5), item[0] in ("F", "S"), item[0] in _ROWS)

    def _put_frame(self, data: bytes, now: bool = False, row: bool = False, aged: bool = True) -> None:
        """``aged``: send the buffer if its oldest record is old enough (else only when full)."""
        with self._lock:
            self._records += row
            if not self._buf:
                self._first_ns = time.monotonic_ns()
            self._buf.append(_HDR.pack(len(data)))
            self._buf.append(data)
            self._size += len(data) + 4
            full = self._size >= _FLUSH_BYTES or (aged and time.monotonic_ns() - self._first_ns >= _FLUSH_NS)
        if full or now:
            self._send_buffer()

    def _send_buffer(self) -> None:
        with self._lock:
            if not self._buf:
                return
            data = b"".join(self._buf)
            self._buf.clear()
            self._size = 0
            if self._dead or self._tx is None:
                self._spill_bytes(data)
                return
            try:
                self._tx.send_bytes(data)
            except (OSError, ValueError) as e:
                self._dead = True
                log.error("audit writer process is gone (%s): spilling to %s", e, self._spill)
                self._spill_bytes(data)

    def _spill_bytes(self, data: bytes) -> None:
        self._spill.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._spill, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)        # a file left by an older version may be readable by others
            os.write(fd, _masked_frames(data))
        finally:
            os.close(fd)

    def _read_ack(self, timeout: float) -> dict | None:
        try:
            if not self._ack.poll(timeout):
                return None
            return json.loads(self._ack.recv_bytes())
        except (EOFError, OSError):
            return None

    def _take_stats(self, ack: dict) -> None:
        s = ack.get("stats") or {}
        self.stats.rows = dict(s.get("rows", {}))
        for k in ("batches", "max_backlog", "errors", "spilled", "write_seconds", "batched_messages"):
            if k in s:
                setattr(self.stats, k, s[k])
        self.chain_length = ack.get("chain_length", self.chain_length)
        self.chain_head = ack.get("chain_head", self.chain_head)


def _masked_frames(data: bytes) -> bytes:
    """Buffered frames with the secrets of every FIX message and record masked, same framing."""
    from xmc_fix.venues.credentials import mask_any, mask_fix_bytes

    out, i, hdr = [], 0, _HDR.size
    view = memoryview(data)
    while i < len(view):
        (n,) = _HDR.unpack_from(view, i)
        frame = bytes(view[i + hdr:i + hdr + n])
        i += hdr + n
        if frame[:1] == b"\x01":
            frame = frame[:_MSG.size] + mask_fix_bytes(frame[_MSG.size:])
        else:
            try:
                frame = pickle.dumps(mask_any(pickle.loads(frame)), 5)
            except Exception:   # not ours to judge: keep it rather than lose it
                pass
        out += [_HDR.pack(len(frame)), frame]
    return b"".join(out)


def _child(rx, ack, url: str, run_id: str, kw: dict, parent: int, written=None) -> None:
    """The writer process: decode frames, feed a thread-mode AuditWriter, acknowledge flushes.
    ``written``: shared counter the writer adds the records it wrote to."""
    from xmc_fix.audit.writer import AuditWriter
    from xmc_fix.procutil import die_with_parent
    die_with_parent(parent)

    def reply(**extra) -> None:
        st = writer.stats
        payload = {"stats": {"rows": dict(st.rows), "batches": st.batches, "max_backlog": st.max_backlog,
                             "errors": st.errors, "spilled": st.spilled, "write_seconds": st.write_seconds,
                             "batched_messages": st.batched_messages},
                   "chain_length": writer.chain_length, "chain_head": writer.chain_head, **extra}
        ack.send_bytes(json.dumps(payload, default=str).encode())

    try:
        writer = AuditWriter(url, run_id, **kw)
        writer.progress = written
        writer.start()
    except Exception as e:
        ack.send_bytes(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}"}).encode())
        return
    ack.send_bytes(b'{"ready": true}')
    hdr = _HDR.size
    sessions: dict[int, str] = {}
    while True:
        try:
            data = rx.recv_bytes()
        except (EOFError, OSError):
            break  # the engine is gone: write what we have
        view = memoryview(data)
        i = 0
        while i < len(view):
            (n,) = _HDR.unpack_from(view, i)
            frame = view[i + hdr:i + hdr + n]
            i += hdr + n
            if frame[0] == 0x01:
                _, idx, incoming, ts = _MSG.unpack_from(frame, 0)
                raw = bytes(frame[_MSG.size:]).decode("utf-8", "surrogateescape")
                writer.message(sessions[idx], "in" if incoming else "out", raw, ts)
                continue
            item = pickle.loads(frame)
            kind = item[0]
            if kind == "n":
                sessions[item[1]] = item[2]
            elif kind == "m":
                writer.message(*item[1:])
            elif kind == "r":
                writer.record(item[1], item[2])
            elif kind == "e":
                _, k, ts, venue, pair, tid, cl, detail = item
                writer.event(k, ts, venue=venue, pair=pair, ticket_id=tid, cl_ord_id=cl, **(detail or {}))
            elif kind == "u":
                writer.update(item[1], item[2])
            elif kind == "s":
                writer.session_event(*item[1:])
            elif kind == "F":
                writer.flush()
                reply()
            elif kind == "S":
                writer.close()
                reply(closed=True)
                return
    writer.close()
