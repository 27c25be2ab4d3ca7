"""Where the session thread's Python time goes while one venue floods it, for xmc_fix (audit on) and
for the plain QuickFIX-Python script, sampled by py-spy in the same run: ``xmc bench --profile DIR``.

The flood is ``xmc bench``'s (one venue, one pair, refreshes as fast as the tick server sends them;
nothing crosses). py-spy attaches to the peer's process once it has logged on and samples the thread
holding the GIL (``--gil``, ``--rate`` per second) until the flood and the drain are over; a thread
waiting (for the GIL, a lock, a socket) is not counted. A sample is counted:

- for a QuickFIX callback (``fromApp``, ``onIncoming``, ...) when that is the thread's outermost
  Python frame;
- for the SWIG layer when the thread is a session thread with no Python frame at all: it holds the
  GIL in SWIG's code around a callback (arguments converted, the director's method looked up, and,
  on a thread that does not keep its Python thread state, that state made and unmade: see
  :mod:`xmc_fix.venues.gilstate`);
- for its thread, by name, otherwise (in xmc_fix's process ``MainThread`` is the bench's driver,
  which runs the engine in-process).

A figure is samples / rate / the market-data messages the peer processed: the time holding the GIL
per message there, in microseconds. QuickFIX's own C++ work (parse, validation, the socket) runs
without the GIL and is not in it. A sample pauses the process for a moment, so both peers run slower
than in ``xmc bench``; the split, and the ratio between the peers, are what this is for.

Written to DIR: ``profile.md`` (the tables), ``profile.json``, ``profile.png`` (the split, both
peers) and py-spy's collapsed stacks (``xmc_fix.txt``, ``plain.txt``: one stack and its count a
line, for any flame-graph tool).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from xmc_fix.errors import XmcError

#: QuickFIX's callbacks into Python (Application and Log): a session thread's outermost Python frame
CALLBACKS = ("fromApp", "fromAdmin", "toApp", "toAdmin", "onIncoming", "onOutgoing", "onEvent", "onLogon",
             "onLogout", "onCreate")
#: a session thread sampled holding the GIL with no Python frame: the SWIG layer around a callback
#: (argument conversion, the director's lookup, the GIL taken and given back)
SWIG = "SWIG layer (GIL held, no Python frame)"


def parse_frame(frame: str) -> tuple[str, str]:
    """``(function, file)`` of one py-spy frame, ``"Class.name (path/file.py:12)"``; the function
    without its class."""
    name, sep, rest = frame.partition(" (")
    return name.rsplit(".", 1)[-1], rest.rstrip(")").rsplit(":", 1)[0] if sep else ""


def parse_line(line: str) -> tuple[str, str, list[tuple[str, str]], int] | None:
    """``(thread id, thread name, frames outermost first, count)`` of one line of py-spy's raw
    output with ``--threads``: ``thread (TID): NAME;frame;...;frame COUNT`` (NAME absent for a
    thread Python never named). None for a line that is not one."""
    stack, _, n = line.rstrip("\n").rpartition(" ")
    if not n.isdigit() or not stack.startswith("thread ("):
        return None
    head, _, rest = stack.partition(";")
    tid, _, name = head[len("thread ("):].partition(")")
    name = name.removeprefix(":").strip() or f"thread {tid}"
    return tid, name, [parse_frame(f) for f in rest.split(";")] if rest else [], int(n)


def summarize(collapsed: str, *, rate: int, messages: int, top: int = 10) -> dict:
    """Time holding the GIL per market-data message (us), by where: each QuickFIX callback on the
    session threads, the SWIG layer around them, and each other thread by name; where ``fromApp``'s
    time goes (the functions it calls); the functions with the most samples of their own.

    ``collapsed``: py-spy's ``record --gil --threads --format raw`` output."""
    lines = [p for p in map(parse_line, collapsed.splitlines()) if p is not None]
    session = {tid for tid, _, frames, _ in lines if frames and frames[0][0] in CALLBACKS}
    where: Counter = Counter()
    from_app: Counter = Counter()
    own: Counter = Counter()
    for tid, name, frames, n in lines:
        if tid in session:
            key = frames[0][0] if frames and frames[0][0] in CALLBACKS else SWIG if not frames else frames[0][0]
        else:
            key = f"thread {name}" if not name.startswith("thread ") else name
        where[key] += n
        if frames and frames[0][0] == "fromApp":
            from_app[frames[1][0] if len(frames) > 1 else "fromApp itself"] += n
        if frames:
            own[f"{frames[-1][0]} ({Path(frames[-1][1]).name})"] += n

    def us(c: int) -> float | None:
        return round(c / rate / messages * 1e6, 2) if messages else None

    total = sum(where.values())
    app = sum(from_app.values())
    return {"samples": total, "rate": rate, "messages": messages, "us_per_message_total": us(total),
            "us_per_message": {k: us(v) for k, v in where.most_common()},
            "from_app": {k: round(v / app, 3) for k, v in from_app.most_common(top)} if app else {},
            "top_own": {k: round(v / total, 3) for k, v in own.most_common(top)} if total else {}}


def py_spy() -> str:
    exe = Path(sys.executable).parent / "py-spy"
    found = str(exe) if exe.exists() else shutil.which("py-spy")
    if not found:
        raise XmcError("py-spy not found: it is in the test extras (run scripts/bootstrap, or "
                       "`.venv/bin/pip install py-spy`)")
    return found


class Sampled:
    """A bench peer sampled by py-spy from when it has logged on until it finishes."""

    def __init__(self, peer, out: Path, rate: int, pid_of) -> None:
        self.peer, self.out, self.rate, self.pid_of = peer, out, rate, pid_of
        self.proc: subprocess.Popen | None = None
        self.name = peer.name

    def start(self) -> None:
        self.peer.start()
        self.proc = subprocess.Popen([py_spy(), "record", "--pid", str(self.pid_of(self.peer)), "--rate",
                                      str(self.rate), "--format", "raw", "--threads", "--gil", "--output", str(self.out)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)                    # attached before the tick server's first refresh
        if self.proc.poll() is not None:
            raise XmcError(f"py-spy could not sample the {self.name} process: "
                           f"{self.proc.stderr.read().strip()[-400:]} (it needs ptrace: root, or "
                           f"kernel.yama.ptrace_scope = 0)")

    def count(self) -> int:
        return self.peer.count()

    def _stop_sampling(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)       # SIGINT: py-spy writes what it has and exits
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def finish(self) -> dict:
        self._stop_sampling()
        return self.peer.finish()

    def abort(self) -> None:
        self._stop_sampling()
        self.peer.abort()


def _order(results: dict) -> list[str]:
    """Every place either peer spent time in, the callbacks first, then the rest by xmc_fix's time."""
    keys = {k for r in results.values() for k, v in r["us_per_message"].items() if v and v >= 0.05}
    first = [k for k in CALLBACKS if k in keys] + ([SWIG] if SWIG in keys else [])
    rest = sorted(keys - set(first), key=lambda k: -max(r["us_per_message"].get(k) or 0 for r in results.values()))
    return first + rest


def _split_plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(9, 2.8))
    left = [0.0] * len(names)
    for k in _order(results):
        vals = [results[n]["us_per_message"].get(k) or 0 for n in names]
        ax.barh(names, vals, left=left, label=k)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("GIL held per market-data message, us (py-spy --gil samples), one venue flooding")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(results: dict) -> str:
    x, p = results["xmc_fix"], results["plain"]

    def cell(r: dict, k: str) -> str:
        v = r["us_per_message"].get(k)
        return f"{v:.1f} us" if v else "-"

    lines = ["| GIL held per market-data message, one venue flooding | xmc_fix (audit on) | plain script |",
             "| --- | ---: | ---: |"]
    lines += [f"| {k} | {cell(x, k)} | {cell(p, k)} |" for k in _order(results)]
    lines.append(f"| **all** | **{x['us_per_message_total']:.1f} us** | **{p['us_per_message_total']:.1f} us** |")
    lines.append(f"| market-data messages processed; samples at {x['rate']}/s | {x['messages']:,}; "
                 f"{x['samples']:,} | {p['messages']:,}; {p['samples']:,} |")
    for title, key in (("xmc_fix's fromApp: the functions it calls, share of its time", "from_app"),
                       ("xmc_fix: functions by own time (innermost frame), share of all", "top_own")):
        lines += ["", f"| {title} | share |", "| --- | ---: |"]
        lines += [f"| {f} | {v:.1%} |" for f, v in x[key].items()]
    return "\n".join(lines) + "\n"


def main(out_dir: str, seconds: float = 5.0, rate: int = 250, progress=print) -> dict:
    """Profile the flood for xmc_fix and for the plain script; write and return the figures."""
    from xmc_fix.bench.peers import EnginePeer, PlainPeer, World, run_stage

    py_spy()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="xmc-profile-"))
    results: dict = {}
    try:
        world = World(work, venues=1, pairs=1)
        kw = {"rate": 0, "seconds": seconds}
        for name, peer, pid_of in (("xmc_fix", EnginePeer(world, "profile"), lambda _p: os.getpid()),
                                   ("plain", PlainPeer(world, "profile-plain"), lambda p: p.proc.pid)):
            progress(f"profile: {name}, one venue flooding for {seconds:g} s, py-spy at {rate}/s")
            raw = out / f"{name}.txt"
            res, st = run_stage(world, peer.stage, "flood", Sampled(peer, raw, rate, pid_of), server_kw=kw,
                                wait_s=60 + seconds)
            messages = st["md_updates"] - st["md_at_start"]
            results[name] = summarize(raw.read_text() if raw.exists() else "", rate=rate, messages=messages)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "profile.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "profile.md").write_text(render(results))
    _split_plot(results, out / "profile.png")
    return results
