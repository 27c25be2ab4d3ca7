"""One stage of ``xmc bench``: a world of venues and pairs, the tick server playing the venues, and
one peer trading against it — xmc_fix (an engine in this process) or the plain QuickFIX-Python
script (:mod:`xmc_fix.bench.plain`, its own process).

Both peers are driven alike: the tick server starts once every instrument is subscribed; the
market-data messages each peer has processed are read when the ticks start, when they end, and until
they stop growing (the drain); then the peer stops and hands over its samples. This module measures
nothing itself and judges nothing: :mod:`xmc_fix.bench.run` turns the samples into figures.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "fixspecs" / "FIX44-XMC.xml"
TICK = 0.5                 # every instrument's tick
SLIPPAGE_TICKS = 2
#: the observed stage's windows: the web view and the scraper run for this long, then are paused
#: (SIGSTOP) for as long, and so on; each decision is counted with the window it began in
OBSERVE_WINDOW_S = 1.0
ENTRY, EXIT = 100, 5       # the pairs' thresholds: the tick server's crossing moves the basis by 200


class World:
    """N venues, each with some instruments, and pairs on distinct instruments of different venues
    (one venue: both legs on it)."""

    def __init__(self, work: Path, venues: int, pairs: int, *, max_quote_age_ms: int = 600_000) -> None:
        from xmc_fix.demo import free_ports
        self.work = work
        self.max_quote_age_ms = max_quote_age_ms
        per = -(-2 * pairs // venues)  # instruments per venue
        self.venues = [f"V{i + 1}" for i in range(venues)]
        self.ports = dict(zip(self.venues, free_ports(venues)))
        insts = [(v, f"S{s + 1}") for s in range(per) for v in self.venues]
        self.pairs = [(insts[2 * k], insts[2 * k + 1]) for k in range(pairs)]
        used = {i for p in self.pairs for i in p}
        self.symbols = {v: [s for (vv, s) in insts if vv == v and (vv, s) in used] for v in self.venues}

    def engine_files(self, name: str, *, journal_sync: str | None = None) -> tuple[Path, Path]:
        """xmc_fix's session settings and strategy file for this world."""
        d = self.work / name
        d.mkdir(parents=True, exist_ok=True)
        cfg = ["[DEFAULT]", "ConnectionType=initiator", "BeginString=FIX.4.4", "SenderCompID=XMC",
               "SocketConnectHost=127.0.0.1", "HeartBtInt=30", "ReconnectInterval=1", "StartTime=00:00:00",
               "EndTime=00:00:00", f"FileStorePath={d / 'store'}", "UseDataDictionary=Y", f"DataDictionary={SPEC}",
               "ResetOnLogon=Y", "TimestampPrecision=6", "SocketNodelay=Y"]
        for v in self.venues:
            cfg += ["[SESSION]", f"Venue={v}", f"TargetCompID={v}", f"SocketConnectPort={self.ports[v]}"]
        (d / "venues.cfg").write_text("\n".join(cfg) + "\n")
        st = ['[engine]', 'namespace = "B"', 'md_depth = 5', 'ticket_timeout_ms = 5000', 'basis_sample_ms = 0',
              f'journal = "{d / "journal.jsonl"}"'] + ([f'journal_sync = "{journal_sync}"'] if journal_sync else []) + [
              "", "[risk]", "max_message_rate = 1000000", "max_ack_ms = 60000", "stale_halt_ms = 600000", ""]
        for v, syms in self.symbols.items():
            for s in syms:
                st += [f"[instruments.{v}_{s}]", f'venue = "{v}"', f'symbol = "{s}"', 'currency = "USD"',
                       "contract_size = 1", 'unit = "t"', f"tick = {TICK}", "max_order_qty = 1000", ""]
        for k, ((vi, si), (vo, so)) in enumerate(self.pairs):
            st += [f"[pairs.P{k + 1}]", f'inner = "{vi}_{si}"', f'outer = "{vo}_{so}"', "ticket_qty = 1",
                   "max_position = 1", f"entry_above = {ENTRY}", f"exit_above = {EXIT}", f"entry_below = -{ENTRY}",
                   f"exit_below = -{EXIT}", f"inner_slippage_ticks = {SLIPPAGE_TICKS}",
                   f"outer_slippage_ticks = {SLIPPAGE_TICKS}", f"max_quote_age_ms = {self.max_quote_age_ms}", ""]
        (d / "strategy.toml").write_text("\n".join(st) + "\n")
        return d / "venues.cfg", d / "strategy.toml"

    def plain_config(self, name: str) -> Path:
        """The plain script's configuration: the same venues, instruments, pairs and thresholds."""
        d = self.work / name
        d.mkdir(parents=True, exist_ok=True)
        cfg = {"venues": self.ports, "symbols": self.symbols, "spec": str(SPEC), "store": str(d / "store"),
               "result": str(d / "plain-result.json"),
               "pairs": [{"name": f"P{k + 1}", "inner": list(i), "outer": list(o), "qty": 1,
                          "entry_above": ENTRY, "exit_above": EXIT, "entry_below": -ENTRY, "exit_below": -EXIT,
                          "slippage": SLIPPAGE_TICKS * TICK} for k, (i, o) in enumerate(self.pairs)]}
        p = d / "plain.json"
        p.write_text(json.dumps(cfg))
        return p

    def server_config(self, name: str, mode: str, **kw) -> Path:
        d = self.work / name
        d.mkdir(parents=True, exist_ok=True)
        cfg = {"venues": [{"name": v, "port": self.ports[v], "symbols": self.symbols[v]} for v in self.venues],
               "pairs": [{"inner": list(i), "outer": list(o)} for i, o in self.pairs], "mode": mode,
               "store": str(d / "server-store"), "result": str(d / "server-result.json"), **kw}
        p = d / "server.json"
        p.write_text(json.dumps(cfg))
        return p


class EnginePeer:
    """xmc_fix, as ``xmc run`` builds it, in this process, with stage timings and lag samples on."""

    name = "xmc_fix"

    def __init__(self, world: World, stage: str, *, audit: bool = True, journal_sync: str | None = None,
                 observed: bool = False, window_s: float = OBSERVE_WINDOW_S) -> None:
        self.world, self.stage, self.audit = world, stage, audit
        self.journal_sync = journal_sync
        self.observed = observed
        self.window_s = window_s
        self.eng = None
        self.db_path = world.work / stage / "audit.db"
        self._web: subprocess.Popen | None = None
        self._scraper: subprocess.Popen | None = None
        self.scrapes = 0
        self.windows: list[tuple[int, bool]] = []    # (engine wall ns, observers running from then on)
        self._windows_end = threading.Event()
        self._toggler: threading.Thread | None = None

    def start(self) -> None:
        from xmc_fix import app as A
        from xmc_fix.demo import free_ports
        sessions_path, strategy_path = self.world.engine_files(self.stage, journal_sync=self.journal_sync)
        db = f"sqlite:///{self.db_path}" if self.audit else None
        sockdir = Path(tempfile.mkdtemp(prefix="xmcb"))   # short: Unix socket paths are limited
        sock = sockdir / "c.sock"
        mport, wport = free_ports(2) if self.observed else (None, None)
        self.eng = A.engine_from_files(str(sessions_path), str(strategy_path), db, control_path=str(sock),
                                       metrics_port=mport)
        self.eng.engine.stats.trace = True
        self.eng.start()
        if not self.eng.wait_logged_on(15):
            raise RuntimeError("bench: xmc_fix did not log on")
        if self.observed:
            self._observe(sock, mport, wport)

    def _observe(self, sock: Path, mport: int, wport: int) -> None:
        """What a desk runs beside the engine, each in a process of its own: ``xmc web`` (polling the
        engine's control socket: the watch screen four times a second, status once) and a Prometheus
        stand-in (:mod:`xmc_fix.bench.scraper`, here once a second: fifteen times Prometheus's default
        rate)."""
        d = self.world.work / self.stage
        log = open(d / "web.log", "wb")
        self._web = subprocess.Popen([sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, "web",
                                      "--socket", str(sock), "--port", str(wport)],
                                     stdout=log, stderr=log, cwd=ROOT)
        self._scraper = subprocess.Popen([sys.executable, "-m", "xmc_fix.bench.scraper",
                                          f"http://127.0.0.1:{mport}/metrics", "1.0"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=open(d / "scraper.log", "wb"), cwd=ROOT,
                                         text=True)
        if not self._scraper.stdout.readline().startswith("READY"):
            raise RuntimeError(f"bench: the scraper did not start (see {d / 'scraper.log'})")
        deadline = time.monotonic() + 15    # the web view up and reading the engine before the ticks
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{wport}/api/snapshot", timeout=2) as r:
                    if r.status == 200:
                        self._toggler = threading.Thread(target=self._toggle, daemon=True, name="bench-windows")
                        self._toggler.start()
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"bench: the web view did not answer (see {log.name})")

    def _toggle(self) -> None:
        """Alternate windows with the observers running and paused, on one engine in one run: the
        engine's latency with and without them is then compared under the same conditions (the
        machine's other load, the engine's age, the tick server), which separate stages a minute
        apart are not. Costs the engine one signal per window."""
        clock = self.eng.clock
        on = True
        self.windows.append((clock.now_ns(), on))
        while not self._windows_end.wait(self.window_s):
            on = not on
            for p in (self._web, self._scraper):
                if p is not None and p.poll() is None:
                    os.kill(p.pid, signal.SIGCONT if on else signal.SIGSTOP)
            self.windows.append((clock.now_ns(), on))

    def _unobserve(self) -> None:
        self._windows_end.set()
        if self._toggler is not None:
            self._toggler.join(5)
            self._toggler = None
        for p in (self._web, self._scraper):
            if p is not None and p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
        if self._scraper is not None:
            try:
                self._scraper.stdin.close()
                self.scrapes = int(self._scraper.stdout.readline() or 0)
                self._scraper.wait(10)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self._scraper.kill()
            self._scraper = None
        if self._web is not None:
            self._web.terminate()
            try:
                self._web.wait(10)
            except subprocess.TimeoutExpired:
                self._web.kill()
            self._web = None

    def count(self) -> int:
        eng = self.eng
        return eng.serial.call(lambda: eng.engine.stats.md_updates)

    def finish(self) -> dict:
        eng = self.eng
        st = eng.engine.stats
        eng.audit.flush()
        writer = eng.audit.stats
        out = {"decision_to_send_ns": list(st.decision_to_send_ns), "stages": list(st.stages),
               "md_lag": list(st.md_lag), "md_updates": st.md_updates, "tickets": st.tickets,
               # records stored: a FIX message is one, stored in bulk (a batch row holds many) or not
               "writer_rows": sum(getattr(writer, "rows", {}).values())
               - getattr(writer, "rows", {}).get("fix_message_batches", 0) + getattr(writer, "batched_messages", 0),
               "writer_seconds": getattr(writer, "write_seconds", 0.0),
               "writer_max_backlog": getattr(writer, "max_backlog", None)}
        out["journal_intent"] = self._intent_line()
        self._unobserve()
        out["scrapes"] = self.scrapes
        out["windows"] = list(self.windows)
        eng.stop(drain_s=1)
        self.eng = None
        out["decisions"] = self._decisions() if self.audit else []
        return out

    def _intent_line(self) -> str | None:
        """The journal's first intent line, read before the stop compacts the journal away."""
        path = self.world.work / self.stage / "journal.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                if '"k":"intent"' in line:
                    return line
        return None

    def _decisions(self) -> list[dict]:
        """Each ticket's decision as the audit database recorded it (after the writer closed)."""
        if not self.db_path.exists():
            return []
        con = sqlite3.connect(self.db_path)
        try:
            rows = con.execute("SELECT pair, intent, created_ns, md_recv_ns, decision FROM tickets").fetchall()
        except sqlite3.Error:
            return []
        finally:
            con.close()
        return [{"pair": p, "intent": i, "created_ns": c, "md_recv_ns": m, "decision": json.loads(d) if d else {}}
                for p, i, c, m, d in rows]

    def abort(self) -> None:
        self._unobserve()
        if self.eng is not None:
            try:
                self.eng.stop(drain_s=0.5)
            except Exception:
                pass
            self.eng = None


class PlainPeer:
    """The plain QuickFIX-Python script, in its own process."""

    name = "plain"

    def __init__(self, world: World, stage: str) -> None:
        self.world, self.stage = world, stage
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cfg = self.world.plain_config(self.stage)
        log = open(self.world.work / self.stage / "plain.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "xmc_fix.bench.plain", str(cfg)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, cwd=ROOT, text=True, bufsize=1)
        if not self.proc.stdout.readline().startswith("READY"):
            raise RuntimeError(f"bench: the plain script did not log on (see {self.world.work / self.stage}/plain.log)")

    def count(self) -> int:
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def finish(self) -> dict:
        self.proc.stdin.close()
        self.proc.wait(30)
        self.proc = None
        return json.loads((self.world.work / self.stage / "plain-result.json").read_text())

    def abort(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


def run_stage(world: World, stage: str, mode: str, peer, *, server_kw: dict, wait_s: float) -> tuple[dict, dict]:
    """Tick server + one peer: the server's results and the peer's samples, with the messages the
    peer had processed when the ticks started (``md_at_start``) and ended (``md_at_done``) and how
    long it took to catch up after (``drained_s``)."""
    cfg = world.server_config(stage, mode, **server_kw)
    proc = subprocess.Popen([sys.executable, "-m", "xmc_fix.bench.tickserver", str(cfg)], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, stderr=open(world.work / stage / "server.log", "wb"), cwd=ROOT)
    try:
        if not proc.stdout.readline().startswith(b"READY"):
            raise RuntimeError(f"bench: tick server did not start (see {world.work / stage / 'server.log'})")
        peer.start()
        if server_kw.get("wait_go"):
            proc.stdin.write(b"GO\n")
            proc.stdin.flush()
        deadline = time.monotonic() + wait_s
        at_start = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith(b"START"):
                at_start = peer.count()
            if line.startswith(b"DONE") or not line:
                break
        t_done = time.monotonic()
        at_done = peer.count()
        # let the peer drain what is queued
        last, stable = -1, 0
        while stable < 3 and time.monotonic() - t_done < 30:
            n = peer.count()
            stable = stable + 1 if n == last else 0
            last = n
            time.sleep(0.1)
        drained_s = time.monotonic() - t_done
        out = peer.finish()
        out |= {"md_at_start": at_start or 0, "md_at_done": at_done, "drained_s": drained_s}
        proc.stdin.close()
        proc.wait(15)
        result = json.loads((world.work / stage / "server-result.json").read_text())
        if "error" in result:
            raise RuntimeError(f"bench: {result['error']}")
        return result, out
    finally:
        peer.abort()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
