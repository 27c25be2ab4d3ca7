"""Wiring in one place: builds the engine's and the simulator's object graphs from configuration,
starts and stops them. ``cli.py`` only parses arguments and calls in here.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import quickfix as fix
from sqlalchemy import select

from xmc_fix.audit import models
from xmc_fix.audit.logbridge import AuditLogFactory
from xmc_fix.audit.null import NullAudit
from xmc_fix.audit.procwriter import ProcessAuditWriter
from xmc_fix.audit.writer import AuditWriter
from xmc_fix.clock import SystemClock
from xmc_fix.config import Strategy, load_strategy
from xmc_fix.control.server import ControlServer, default_socket
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.errors import ConfigError
from xmc_fix.execution.engine import Engine
from xmc_fix.execution.journal import Journal, replay
from xmc_fix.execution.serial import Serializer
from xmc_fix.execution.shadow import ShadowSender
from xmc_fix.procutil import stop_child
from xmc_fix.sim.app import SimServer
from xmc_fix.sim.behaviour import load_scenario
from xmc_fix.sim.config import load_market
from xmc_fix.venues.adapter import EngineApplication, QuickFixSender
from xmc_fix.venues.credentials import Credentials, Secret, env_prefix, load_credentials
from xmc_fix.venues.settings import SessionFile, load_session_file

log = logging.getLogger("xmc.app")

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT / "sessions"
DEFAULT_DB = f"sqlite:///{ROOT / 'var' / 'xmc.db'}"
DEFAULT_SIM_DB = f"sqlite:///{ROOT / 'var' / 'sim.db'}"


def _spill_dir(db_url: str) -> Path:
    if db_url.startswith("sqlite:///") and ":memory:" not in db_url:
        return Path(db_url[len("sqlite:///"):]).expanduser().resolve().parent
    return ROOT / "var"


def _file_text(path: str) -> str | None:
    """The strategy file as it was (no secrets live there): reports price with it later."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def _file_hash(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


def load_sessions(path: str, role: str, ports: dict[str, int] | None = None, store: str | None = None) -> SessionFile:
    """Load a session file with demo/test overrides: ports per venue and a store folder."""
    port_key = "SocketConnectPort" if role == "initiator" else "SocketAcceptPort"
    sf = load_session_file(path, role)
    known = {s.venue for s in sf.sessions}
    for venue, port in (ports or {}).items():
        if venue not in known:
            raise ConfigError(f"no session for venue {venue!r}", file=path, key="--port",
                              remedy=f"use one of {', '.join(sorted(known))}")
    for s in sf.sessions:
        if ports and s.venue in ports:
            s.values[port_key] = str(ports[s.venue])
        if store:
            s.values["FileStorePath"] = str(Path(store).resolve())
    if store:
        sf.default["FileStorePath"] = str(Path(store).resolve())
    return sf


def check_venues(sessions: SessionFile, strategy: Strategy) -> None:
    """Every venue the strategy trades or prices from must have a session."""
    have = {s.venue for s in sessions.sessions}
    for venue in sorted(strategy.venues - have):
        raise ConfigError(f"venue {venue!r} is used by the strategy but has no [SESSION]",
                          file=sessions.path, key="Venue",
                          remedy=f"add a [SESSION] with Venue={venue}, or fix {strategy.path}")


def _next_start_ms(db_url: str, namespace: str, journal_prefix: str | None = None) -> int:
    """Start stamp for ClOrdIDs: now, but never at or before a stamp this namespace already used
    (in the audit database or in the journal)."""
    now_ms = time.time_ns() // 1_000_000
    floor = 0
    if journal_prefix and journal_prefix.startswith(namespace):
        try:
            floor = int(journal_prefix[len(namespace):], 36) + 1
        except ValueError:
            pass
    now_ms = max(now_ms, floor)
    try:
        from xmc_fix.audit.writer import make_engine
        eng = make_engine(db_url)
        with eng.connect() as conn:
            rows = conn.execute(select(models.runs.c.id_prefix).where(models.runs.c.namespace == namespace)).all()
        eng.dispose()
    except Exception as e:  # the writer will report a broken database properly
        log.warning("could not read previous runs: %s", e)
        return now_ms
    last = 0
    for (prefix,) in rows:
        if prefix and prefix.startswith(namespace):
            try:
                last = max(last, int(prefix[len(namespace):], 36))
            except ValueError:
                pass
    return max(now_ms, last + 1)


class EngineApp:
    """``xmc run``: the venue sessions, the engine, the audit writer and the timer."""

    def __init__(self, sessions: SessionFile, strategy: Strategy, db_url: str, credentials: dict[str, Credentials],
                 *, log_dir: str | None = None, timer_ms: int = 20, command: str = "", journal_path: str | None = None,
                 shadow: bool = False, control_path: str | None = None, clock=None) -> None:
        check_venues(sessions, strategy)
        self.sessions = sessions
        self.strategy = strategy
        self.shadow = shadow
        self.clock = clock or SystemClock()
        ns = strategy.engine.namespace
        self.run_id = f"{ns}-{uuid.uuid4().hex[:10]}"
        self.journal_path = Path(journal_path or strategy.engine.journal
                                 or ROOT / "var" / "journal" / f"{ns}{'-shadow' if shadow else ''}.jsonl")
        self.recovered = replay(self.journal_path)
        self.ids = IdGenerator(ns, _next_start_ms(db_url, ns, self.recovered.last_prefix) if db_url
                               else time.time_ns() // 1_000_000)
        venues = {s.session_key: s.venue for s in sessions.sessions}
        # db_url None: no audit at all (xmc bench measures what auditing costs; never for trading)
        if not db_url:
            self.audit = NullAudit(self.run_id)
        elif os.environ.get("XMC_AUDIT_WRITER", "process") == "thread":
            self.audit = AuditWriter(db_url, self.run_id, venues_by_session=venues, log_dir=log_dir)
        else:
            # its own process: parsing, hashing and SQL never hold the session thread's GIL
            self.audit = ProcessAuditWriter(db_url, self.run_id, venues_by_session=venues, log_dir=log_dir,
                                            spill_dir=_spill_dir(db_url))
        self.serial = Serializer(on_error=self._engine_error)
        self.app = EngineApplication(sessions, credentials, handler=self._on_event, on_error=self._callback_error,
                                     now_ns=self.clock.now_ns)
        self.sender = QuickFixSender(self.app, sessions)
        sender = self.sender
        if shadow:
            sender = ShadowSender(self.sender, self._on_event, self.audit, self._mark)
        self.journal = Journal(self.journal_path)
        self.engine = Engine(strategy, sender, self.audit, self.clock, self.ids, journal=self.journal)
        self.control_path = Path(control_path) if control_path else default_socket(ROOT, ns)
        self.control = ControlServer(self.control_path, self._command, self.audit)
        self._settings = sessions.quickfix_settings()
        self._store = fix.FileStoreFactory(self._settings)
        self._logs = AuditLogFactory(self.audit) if db_url else fix.ScreenLogFactory(False, False, False)
        self._initiator = None
        self._timer_s = timer_ms / 1000
        self._stop_timer = threading.Event()
        self._timer = threading.Thread(target=self._timer_loop, name="xmc-timer", daemon=True)
        self.started_ns = 0
        self.command = command

    # -- plumbing --------------------------------------------------------------------------
    def _command(self, cmd: str, args: dict, who: str) -> dict:
        """An operator command from the control socket, run inside the engine."""
        e = self.engine
        fn = {"status": lambda: e.cmd_status(),
              "watch": lambda: e.cmd_watch(args.get("pair")),
              "halt": lambda: e.cmd_halt(args.get("pair"), who, args.get("reason") or ""),
              "resume": lambda: e.cmd_resume(args.get("pair"), who),
              "flatten": lambda: e.cmd_flatten(args.get("pair"), who),
              "cancel-all": lambda: e.cmd_cancel_all(args.get("pair"), who)}[cmd]
        result = self.serial.call(fn)
        # every reply that carries the status screen names the run (halt, resume and flatten too)
        run = {"run_id": self.run_id, "shadow": self.shadow, "journal": str(self.journal_path)}
        if cmd in ("status", "halt", "resume"):
            result = {**result, **run}
        elif cmd == "flatten":
            result = {**result, "status": {**result["status"], **run}}
        return result

    def _mark(self, cmd):
        book = self.engine.books.get(cmd.instrument.key)
        lvl = None if book is None else (book.best_ask() if cmd.side.value == "BUY" else book.best_bid())
        return lvl[0] if lvl else None

    def _on_event(self, ev) -> None:
        self.serial.post(self.engine.on_event, ev)

    def _engine_error(self, fn, args, e: BaseException) -> None:
        log.error("engine error in %s: %s: %s", getattr(fn, "__name__", fn), type(e).__name__, e, exc_info=e)
        self.audit.event("engine_error", time.time_ns(), error=f"{type(e).__name__}: {e}",
                         where=getattr(fn, "__name__", str(fn)), event=repr(args[0])[:500] if args else None)

    def _callback_error(self, where: str, e: BaseException, venue: str | None, raw: str | None) -> None:
        self.audit.event("callback_error", time.time_ns(), venue=venue, where=where,
                         error=f"{type(e).__name__}: {e}", raw=(raw or "").replace("\x01", "|")[:2000] or None)

    def _timer_loop(self) -> None:
        pump = getattr(self.audit, "pump", None)
        while not self._stop_timer.wait(self._timer_s):
            self.serial.post(self.engine.on_timer, self.clock.now_ns())
            if pump is not None:
                pump()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "EngineApp":
        # The decision path allocates a few hundred objects per tick; with the default threshold the
        # young generation would be collected every couple of ticks. Freeze what start-up built
        # (configuration, books) out of the collector's way and collect young objects less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        self.started_ns = time.time_ns()
        self.audit.start()
        restored = self.engine.restore(self.recovered)
        if self.recovered.records:
            self.journal.compact(self.engine.journal_state())
            self.audit.event("journal_replayed", self.started_ns, path=str(self.journal_path),
                             records=self.recovered.records, torn_lines=self.recovered.bad_lines, **restored)
            log.warning("recovered from %s: %s", self.journal_path, restored)
        self.audit.record("runs", {
            "run_id": self.run_id, "role": "engine", "started_ns": self.started_ns, "host": socket.gethostname(),
            "pid": os.getpid(), "namespace": self.strategy.engine.namespace, "id_prefix": self.ids.prefix,
            "command": self.command,
            "config": json.dumps({"sessions": self.sessions.path, "sessions_sha256": _file_hash(self.sessions.path),
                                  "strategy": self.strategy.path, "strategy_sha256": _file_hash(self.strategy.path),
                                  "strategy_text": _file_text(self.strategy.path),
                                  "stores": {s.session_key: s.values.get("FileStorePath")
                                             for s in self.sessions.sessions},
                                  "journal": str(self.journal_path), "shadow": self.shadow})})
        self.control.start()
        self._initiator = fix.SocketInitiator(self.app, self._store, self._settings, self._logs)
        self._initiator.start()
        self._timer.start()
        return self

    def wait_logged_on(self, timeout: float = 15.0, venues: set[str] | None = None) -> bool:
        want = venues or {s.venue for s in self.sessions.sessions}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if want <= self.engine.venues_up:
                return True
            time.sleep(0.02)
        return False

    def stop(self, drain_s: float | None = None) -> dict:
        """Stop in two phases. Draining: no new tickets; working ones finish and legged ones are
        repaired, until none is open and no report has arrived for ``drain_settle_ms`` (a fill can
        follow its order's cancel), or ``drain_s`` runs out. Closing: nothing more is sent, the
        sessions log out, the audit trail is flushed. The summary's ``exposure`` lists what is left
        unhedged (the journal keeps it for the next start)."""
        if drain_s is None:
            drain_s = self.strategy.engine.drain_timeout_ms / 1000
        settle_ns = self.strategy.engine.drain_settle_ms * 1_000_000
        e = self.engine
        self.serial.call(e.stop_new_tickets)
        deadline = time.monotonic() + drain_s
        busy = lambda: e.working or self.clock.now_ns() - e.last_activity_ns < settle_ns  # noqa: E731
        while time.monotonic() < deadline and self.serial.call(busy):
            time.sleep(0.05)
        self._stop_timer.set()
        if self._timer.is_alive():
            self._timer.join(2)
        self.serial.call(e.close)
        if self._initiator is not None:
            self._initiator.stop()
            self._initiator = None
        self.control.stop()
        self.journal.compact(self.engine.journal_state())
        self.audit.flush()
        summary = self.summary()
        self.audit.update("runs", {"run_id": self.run_id, "ended_ns": time.time_ns(),
                                   "summary": json.dumps(summary, default=str)})
        self.audit.flush()
        self.audit.close()
        self.journal.close()
        return summary

    def summary(self) -> dict:
        e = self.engine
        lat = sorted(e.stats.decision_to_send_ns)
        return {"tickets": e.stats.tickets, "by_state": e.tickets_by_state(), "fills": dict(e.stats.fills),
                "orders": dict(e.stats.orders), "rejects": dict(e.stats.rejects), "md_updates": e.stats.md_updates,
                "decision_to_send_us_p50": lat[len(lat) // 2] / 1000 if lat else None,
                "legged": e.stats.legged, "open_tickets": sum(1 for _ in e.state.open_progress()),
                "residual_units": {p.name: str(p.residual_units) for p in e.pairs.values()},
                "exposure": self.serial.call(e.exposure),
                "audit_rows": dict(self.audit.stats.rows), "audit_errors": self.audit.stats.errors}

    def status_line(self) -> str:
        e = self.engine
        states = e.tickets_by_state()
        parts = [f"venues {len(e.venues_up)}/{len(self.sessions.sessions)} up",
                 f"md {e.stats.md_updates}",
                 f"tickets {e.stats.tickets} (completed {states.get('COMPLETED', 0)}, missed {states.get('MISSED', 0)}, "
                 f"legged {states.get('LEGGED', 0) + states.get('FAILED', 0)})",
                 f"fills {sum(e.stats.fills.values())}"]
        for pr in e.pairs.values():
            sell, buy = pr.last_basis
            if sell is not None and buy is not None:
                parts.append(f"{pr.name} {float(sell):+.1f}/{float(buy):+.1f} pos {pr.position_units}")
        return " | ".join(parts)

    def run(self, duration: float | None, progress: Callable[[str], None] | None = None,
            every: float = 1.0) -> dict:
        """Run until ``duration`` seconds pass or SIGINT/SIGTERM; returns the summary."""
        stop = threading.Event()
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, lambda *_: stop.set())
        try:
            self.start()
            t0 = time.monotonic()
            while not stop.is_set():
                left = None if duration is None else duration - (time.monotonic() - t0)
                if left is not None and left <= 0:
                    break
                stop.wait(every if left is None else min(every, left))
                if progress is not None:
                    progress(f"[{time.monotonic() - t0:5.1f}s] " + self.serial.call(self.status_line))
        finally:
            summary = self.stop()
            for sig, h in handlers.items():
                signal.signal(sig, h)
        return summary


def engine_from_files(sessions_path: str, strategy_path: str, db_url: str, *, credentials_file: str | None = None,
                      ports: dict[str, int] | None = None, store: str | None = None, log_dir: str | None = None,
                      command: str = "", extra_credentials: dict[str, Credentials] | None = None,
                      journal_path: str | None = None, shadow: bool = False,
                      control_path: str | None = None, clock=None) -> EngineApp:
    strategy = load_strategy(strategy_path)
    sessions = load_sessions(sessions_path, "initiator", ports, store)
    venues = {s.venue for s in sessions.sessions}
    creds = load_credentials(venues, file=credentials_file)
    if extra_credentials:
        creds.update(extra_credentials)
    return EngineApp(sessions, strategy, db_url, creds, log_dir=log_dir, command=command, journal_path=journal_path,
                     shadow=shadow, control_path=control_path, clock=clock)


def sim_from_files(config_path: str, market_path: str, *, seed: int | None = None, ports: dict[str, int] | None = None,
                   store: str | None = None, db_url: str | None = None, credentials_file: str | None = None,
                   log_dir: str | None = None, scenario: str = "calm") -> SimServer:
    sessions = load_sessions(config_path, "acceptor", ports, store)
    market = load_market(market_path, seed=seed)
    behaviours = load_scenario(scenario, market, search_dir=SESSIONS / "scenarios")
    for s in sessions.sessions:
        if s.venue not in market.venues:
            raise ConfigError(f"venue {s.venue!r} has a session but no [venues.{s.venue}] in {market_path}",
                              file=config_path, key="Venue", remedy="add the venue to the market file")
    creds = load_credentials({s.venue for s in sessions.sessions}, file=credentials_file)
    audit = None
    if db_url:
        run_id = f"sim-{uuid.uuid4().hex[:10]}"
        audit = AuditWriter(db_url, run_id, venues_by_session={s.session_key: s.venue for s in sessions.sessions},
                            log_dir=log_dir).start()
        audit.record("runs", {"run_id": run_id, "role": "sim", "started_ns": time.time_ns(),
                              "host": socket.gethostname(), "pid": os.getpid(), "command": "xmc sim",
                              "config": json.dumps({"sessions": config_path, "market": market_path,
                                                    "seed": market.seed})})
    return SimServer(sessions, market, creds, audit=audit, behaviours=behaviours)


# -- the demo ---------------------------------------------------------------------------------
def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class SimProcess:
    """``xmc sim`` in a child process, for the demo and the integration tests."""

    proc: subprocess.Popen
    ports: dict[str, int]
    db_url: str | None

    def stop(self, timeout: float = 15.0) -> int:
        return stop_child(self.proc, timeout)


def spawn_sim(config_path: str, market_path: str, *, ports: dict[str, int], store: str, db_url: str | None,
              seed: int | None, env: dict[str, str], log_path: str | None = None, extra_args: list[str] | None = None,
              ready_timeout: float = 30.0) -> SimProcess:
    """Start the simulator as a child process and wait until it listens."""
    args = [sys.executable, "-m", "xmc_fix", "sim", "--config", config_path, "--market", market_path,
            "--store", store]
    for venue, port in ports.items():
        args += ["--port", f"{venue}={port}"]
    if db_url:
        args += ["--db", db_url]
    if seed is not None:
        args += ["--seed", str(seed)]
    args += extra_args or []
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    env = {**env, "XMC_PARENT_PID": str(os.getpid())}   # the simulator stops when we die
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=out, env=env, cwd=str(ROOT))
    deadline = time.monotonic() + ready_timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(b"READY"):
            # keep draining stdout so the child never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return SimProcess(proc, ports, db_url)
    proc.kill()
    raise RuntimeError(f"simulator did not start (exit {proc.poll()}); see {log_path or 'its stderr'}")


def demo_credentials(venues: list[str]) -> tuple[dict[str, str], dict[str, Credentials]]:
    """Fresh random credentials per venue for one demo run: environment for the simulator child,
    objects for the in-process engine. Nothing is written to disk."""
    env, creds = {}, {}
    for v in venues:
        user, pw = f"demo-{v.lower()}", uuid.uuid4().hex
        env[env_prefix(v) + "_USERNAME"] = user
        env[env_prefix(v) + "_PASSWORD"] = pw
        creds[v] = Credentials(user, Secret(pw))
    return env, creds


def store_seqnums(store_dir: str, session_key: str) -> tuple[int, int] | None:
    """Next sender and target sequence numbers from a QuickFIX FileStore, or None."""
    begin, rest = session_key.split(":", 1)
    sender, target = rest.split("->", 1)
    path = Path(store_dir) / f"{begin}-{sender}-{target}.seqnums"
    try:
        a, b = path.read_text().split(":")
        return int(a), int(b)
    except (OSError, ValueError):
        return None


def audit_completeness(db_url: str, run_id: str, sessions: SessionFile) -> dict:
    """Compare each session's FIX messages in the audit database with QuickFIX's own store: every
    sequence number QuickFIX used in this run must be in the database, in and out."""
    from sqlalchemy import func
    from xmc_fix.audit.writer import make_engine
    m = models.fix_messages
    eng = make_engine(db_url)
    out: dict[str, dict] = {}
    complete = True
    with eng.connect() as conn:
        for s in sessions.sessions:
            key = s.session_key
            store = store_seqnums(s.values["FileStorePath"], key)
            row = {}
            for direction in ("out", "in"):
                n, lo, hi = conn.execute(select(func.count(func.distinct(m.c.seq_num)), func.min(m.c.seq_num),
                                                func.max(m.c.seq_num))
                                         .where(m.c.run_id == run_id, m.c.session == key, m.c.direction == direction,
                                                m.c.seq_num.is_not(None))).one()
                row[direction] = {"messages": n, "first_seq": lo, "last_seq": hi}
            if store is not None:
                row["store_next_out"], row["store_next_in"] = store
                for direction, nxt in (("out", store[0]), ("in", store[1])):
                    r = row[direction]
                    gapless = r["messages"] == ((r["last_seq"] or 0) - (r["first_seq"] or 1) + 1)
                    upto = (r["last_seq"] or 0) >= nxt - 1
                    r["complete"] = bool(gapless and upto)
                    complete &= r["complete"]
            out[key] = row
    eng.dispose()
    return {"complete": complete, "sessions": out}


def run_demo(*, duration: float, db_url: str, seed: int | None, sessions_path: str, sim_config_path: str,
             strategy_path: str, market_path: str, progress: Callable[[str], None] | None = None,
             work_dir: str | None = None, scenario: str = "calm",
             control_path: str | None = None) -> tuple[dict, str, dict]:
    """Simulator child process + engine in this process on free loopback ports, for ``duration``
    seconds; returns (engine summary, run id, audit completeness)."""
    import shutil
    work = Path(work_dir or ROOT / "var" / "demo")
    for sub in ("store-engine", "store-sim"):
        shutil.rmtree(work / sub, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    sim_sessions = load_session_file(sim_config_path, "acceptor")
    venues = [s.venue for s in sim_sessions.sessions]
    ports = dict(zip(venues, free_ports(len(venues))))
    env_add, creds = demo_credentials(venues)
    env = {**os.environ, **env_add}
    # the engine must not pick up a user's real credentials for these demo venues
    sim_db = f"sqlite:///{work / 'sim.db'}"
    for suffix in ("", "-wal", "-shm"):   # a WAL left from another database makes SQLite fail
        Path(f"{work / 'sim.db'}{suffix}").unlink(missing_ok=True)
    (work / "journal.jsonl").unlink(missing_ok=True)
    engine = engine_from_files(sessions_path, strategy_path, db_url, ports=ports, store=str(work / "store-engine"),
                               log_dir=str(work / "log"), command="xmc demo", extra_credentials=creds,
                               journal_path=str(work / "journal.jsonl"), control_path=control_path)
    if progress:
        progress(f"simulator: {', '.join(f'{v}@{p}' for v, p in ports.items())} (seed {seed}); "
                 f"control socket {engine.control_path} (xmc status / watch / web)")
    sim = spawn_sim(sim_config_path, market_path, ports=ports, store=str(work / "store-sim"), db_url=sim_db,
                    seed=seed, env=env, log_path=str(work / "sim.log"), extra_args=["--scenario", scenario])
    try:
        summary = engine.run(duration, progress)
    finally:
        sim.stop()
    completeness = audit_completeness(db_url, engine.run_id, engine.sessions)
    return summary, engine.run_id, completeness
