"""What the intent journal's durability costs: one line written through the engine's own
:class:`~xmc_fix.execution.journal.Journal`, in each ``journal_sync`` mode, on the disk the
benchmark runs on.

- ``intent``: the write includes its ``fsync`` (the orders wait for the disk);
- ``batch``: the write is an ``os.write`` into the page cache; the ``fsync`` follows on the timer
  thread, off the decision path (timed here as ``sync_us``, what that thread spends per line when
  each tick has one line to make durable);
- ``none``: the write alone, durability left to the operating system.

Lines are written one at a time with the pause the benchmark's ticks have between them, as
decisions come, never back to back: a loop that never sleeps would measure a hot cache. The line is
a real intent record, taken from the journal of an engine run of the same benchmark, rendered to
its JSON text before the clock starts, as the engine renders it on the decision path
(:func:`~xmc_fix.execution.records.intent_json`, counted in the decision latency): what is timed
is :meth:`~xmc_fix.execution.journal.Journal.write_json` and the durability. The decision
latency with ``intent`` against ``batch`` is measured in the engine itself (:mod:`xmc_fix.bench.run`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from xmc_fix.execution.journal import SYNC_MODES, Journal

GAP_S = 0.0005


def intent_record(line: str | None) -> tuple[str, dict]:
    """An engine's intent line as (kind, fields) for :meth:`Journal.write`."""
    if not line:
        raise RuntimeError("bench: the engine run wrote no intent line to its journal")
    r = json.loads(line)
    r.pop("t", None)        # the write stamps its own time
    return r.pop("k"), r


def measure(work: Path, kind: str, record: dict, lines: int) -> dict:
    """Per mode: the samples (us) of each write, and for ``batch`` of each timer-thread fsync."""
    work.mkdir(parents=True, exist_ok=True)
    out = {"line_bytes": len(json.dumps({**record, "k": kind}, separators=(",", ":"))) + 1}
    for mode in SYNC_MODES:
        j = Journal(work / f"journal-{mode}.jsonl", sync=mode)
        writes, syncs = [], []
        body = json.dumps(record, separators=(",", ":"))
        try:
            for _ in range(lines):
                t0 = time.perf_counter_ns()
                j.write_json(kind, body)
                t1 = time.perf_counter_ns()
                writes.append((t1 - t0) / 1e3)
                if mode == "batch":
                    j.flush()
                    syncs.append((time.perf_counter_ns() - t1) / 1e3)
                time.sleep(GAP_S)
        finally:
            j.close()
        out[mode] = {"write_us": writes, "sync_us": syncs}
    return out
