"""How fast the audit writer stores FIX messages: a benchmark, not a test (nothing here asserts a
time). ``scripts/bench_audit`` runs it into SQLite and into a temporary PostgreSQL server.

Two measurements per database, both through the real :class:`AuditWriter` (masking, key-tag
parsing, batching, the hash chain), with the producer in the same process as the writer thread as
the engine is (they share the GIL):

- **burst**: N messages queued as fast as one thread can, then ``flush``: the sustained rate is N
  over the time until the last one is committed; the backlog is what was still queued when the
  producer finished.
- **paced**: messages queued at a fixed rate (default 12,000/s, about what one QuickFIX-Python
  session ingests on the reference machine) for some seconds: the writer keeps up if the backlog
  stays bounded (its maximum and its value at the end are reported) and drains right after.

The messages are realistic: incremental refreshes with ten entries (80%), execution reports (15%),
orders and heartbeats out (5%), each with its own sequence number.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from xmc_fix.audit.writer import AuditWriter
from xmc_fix.fixwire import SOH, frame

SESSIONS = {"FIX.4.4:XMC->SHFE": "SHFE", "FIX.4.4:XMC->LME": "LME"}


def _fix(msg_type: str, seq: int, sender: str, target: str, body: list[tuple[str, str]]) -> str:
    text = (f"34={seq}{SOH}49={sender}{SOH}52=20240102-03:04:05.123456{SOH}56={target}{SOH}"
            + "".join(f"{t}={v}{SOH}" for t, v in body))
    return frame("FIX.4.4", msg_type, text)


def synthetic_messages(n: int) -> list[tuple[str, str, str]]:
    """``(session, direction, raw)`` triples in the mix described in the module docstring."""
    out = []
    seq = {(s, d): 0 for s in SESSIONS for d in ("in", "out")}
    for i in range(n):
        session = "FIX.4.4:XMC->SHFE" if i % 3 else "FIX.4.4:XMC->LME"
        venue = SESSIONS[session]
        k = i % 20
        direction = "out" if k == 19 else "in"
        seq[(session, direction)] += 1
        s = seq[(session, direction)]
        if direction == "out":
            raw = _fix("D", s, "XMC", venue, [("11", f"Xbench{i}"), ("1", "XMC01"), ("55", "CU"), ("48", "cu2601"),
                                              ("22", "8"), ("54", "2"), ("60", "20240102-03:04:05.123"),
                                              ("38", "5"), ("40", "2"), ("44", "77270"), ("59", "3"), ("77", "O")])
        elif k < 16:
            entries = []
            for j in range(10):
                entries += [("279", "0" if j % 2 else "2"), ("269", str(j % 2)), ("55", "CU"), ("48", "cu2601"),
                            ("83", str(s)), ("270", str(77300 + 10 * j)), ("271", str(10 + j))]
            raw = _fix("X", s, venue, "XMC", [("262", "MXbench-1"), ("268", "10"), *entries])
        else:
            raw = _fix("8", s, venue, "XMC", [("37", f"O{i}"), ("11", f"Xbench{i}"), ("17", f"E{i}"), ("150", "F"),
                                              ("39", "1"), ("55", "CU"), ("54", "2"), ("38", "5"), ("32", "2"),
                                              ("31", "77300"), ("151", "3"), ("14", "2"), ("6", "77300"),
                                              ("60", "20240102-03:04:05.123456")])
        out.append((session, direction, raw))
    return out


@dataclass
class BenchResult:
    backend: str
    messages: int
    burst_msgs_per_s: float
    burst_backlog_at_end_of_queueing: int
    burst_put_ns: float                # mean cost of one ``message()`` call on the producer
    paced_rate: int
    paced_seconds: float
    paced_max_backlog: int
    paced_backlog_at_end: int
    paced_drain_s: float
    batches: int
    errors: int

    def line(self) -> str:
        return (f"{self.backend:<11}{self.burst_msgs_per_s:>12,.0f}{self.burst_backlog_at_end_of_queueing:>12,}"
                f"{self.burst_put_ns:>10,.0f}   {self.paced_rate:>7,}/s {self.paced_max_backlog:>10,}"
                f"{self.paced_backlog_at_end:>9,}{self.paced_drain_s:>10.3f}")


HEADER = (f"{'backend':<11}{'burst msg/s':>12}{'backlog':>12}{'put ns':>10}   {'paced':>9} {'max backlog':>10}"
          f"{'at end':>9}{'drain s':>10}")


def bench(url: str, n: int = 50_000, *, paced_rate: int = 12_000, paced_seconds: float = 5.0,
          backend: str | None = None, spill_dir: str | Path | None = None) -> BenchResult:
    """Burst then paced, into ``url`` (tables are created if needed; rows are added under a fresh
    run id, so an existing database is not disturbed except by the added rows)."""
    if spill_dir is None:
        with tempfile.TemporaryDirectory(prefix="xmc-bench-") as tmp:
            return bench(url, n, paced_rate=paced_rate, paced_seconds=paced_seconds, backend=backend, spill_dir=tmp)
    msgs = synthetic_messages(n)
    spill = spill_dir
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    w = AuditWriter(url, run_id, venues_by_session=SESSIONS, spill_dir=spill).start()
    w.record("runs", {"run_id": run_id, "role": "bench", "started_ns": time.time_ns(), "host": platform.node(),
                      "pid": os.getpid(), "command": "scripts/bench_audit"})
    try:
        # burst
        t0 = time.perf_counter()
        put = w.message
        for session, direction, raw in msgs:
            put(session, direction, raw, time.time_ns())
        t_put = time.perf_counter()
        backlog = w.backlog
        if not w.flush(timeout=900):
            raise RuntimeError("the writer did not drain within 15 minutes")
        t1 = time.perf_counter()
        burst_rate = n / (t1 - t0)
        put_ns = (t_put - t0) / n * 1e9

        # paced
        total = int(paced_rate * paced_seconds)
        paced = synthetic_messages(min(total, n)) if total else []
        max_backlog = 0
        start = time.perf_counter()
        for i in range(total):
            due = start + i / paced_rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            session, direction, raw = paced[i % len(paced)]
            put(session, direction, raw, time.time_ns())
            if i % 100 == 0:
                max_backlog = max(max_backlog, w.backlog)
        at_end = w.backlog
        t2 = time.perf_counter()
        w.flush(timeout=900)
        drain = time.perf_counter() - t2
        w.update("runs", {"run_id": run_id, "ended_ns": time.time_ns()})
        return BenchResult(backend or url.split(":", 1)[0], n, burst_rate, backlog, put_ns, paced_rate,
                           paced_seconds, max(max_backlog, at_end), at_end, drain, w.stats.batches, w.stats.errors)
    finally:
        w.close()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench_audit", description="Audit writer throughput into SQLite and PostgreSQL.")
    ap.add_argument("-n", "--messages", type=int, default=50_000, help="messages in the burst (default 50000)")
    ap.add_argument("--rate", type=int, default=12_000, help="paced rate, messages/s (default 12000)")
    ap.add_argument("--seconds", type=float, default=5.0, help="paced duration (default 5)")
    ap.add_argument("--db", action="append", default=[],
                    help="benchmark this SQLAlchemy URL instead (repeatable); default: a temporary SQLite file "
                         "and a temporary PostgreSQL server")
    args = ap.parse_args(argv)
    print(f"audit writer benchmark {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on {machine()}")
    print(f"{args.messages:,} messages burst, then {args.rate:,}/s for {args.seconds:g} s; "
          "incoming market data (80%) stored in bulk (one fix_message_batches row and chain entry per "
          "session, type and write), every other message one fix_messages row and one audit_chain entry")
    print(HEADER)
    results = []
    if args.db:
        for url in args.db:
            results.append(bench(url, args.messages, paced_rate=args.rate, paced_seconds=args.seconds))
            print(results[-1].line(), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="xmc-bench-") as tmp:
        r = bench(f"sqlite:///{tmp}/bench.db", args.messages, paced_rate=args.rate, paced_seconds=args.seconds,
                  backend="sqlite", spill_dir=tmp)
        print(r.line() + "   (WAL, synchronous=NORMAL)", flush=True)
        results.append(r)
    from xmc_fix.audit.pgserver import PostgresUnavailable, TempPostgres
    try:
        pg = TempPostgres(fsync=True).start()
    except PostgresUnavailable as e:
        print(f"postgresql: skipped ({e})")
        return 0
    try:
        r = bench(pg.create_database(), args.messages, paced_rate=args.rate, paced_seconds=args.seconds,
                  backend="postgresql")
        print(r.line() + "   (local server over TCP, fsync on, synchronous_commit on)", flush=True)
        results.append(r)
    finally:
        pg.stop()
    for r in results:
        if r.errors:
            print(f"{r.backend}: {r.errors} writer errors (see the log)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
