"""Wiring in one place: builds the engine's object graph from configuration, starts and stops it.
``cli.py`` only parses arguments and calls in here.

Only the engine: the simulator's wiring is :mod:`xmc_fix.sim.wiring`, the demo's launchers
:mod:`xmc_fix.demo`, and the audit-completeness check :mod:`xmc_fix.audit.completeness`, so that
reports and tools never import QuickFIX or the simulator through this module.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Callable

import quickfix as fix
from sqlalchemy import select

from xmc_fix.audit import models
from xmc_fix.audit.completeness import store_marks
from xmc_fix.audit.logbridge import AuditLogFactory
from xmc_fix.audit.null import NullAudit
from xmc_fix.audit.procwriter import ProcessAuditWriter
from xmc_fix.audit.recovery import Recovery, recover_crashed_runs
from xmc_fix.audit.writer import AuditWriter
from xmc_fix.clock import SystemClock
from xmc_fix.config import Strategy, load_strategy
from xmc_fix.control.server import ControlServer, default_socket
from xmc_fix.domain.events import (CancelRejected, DropCopyReport, ExecReport, MessageRejected, PositionReport,
                                   PositionsAck, Uninterpretable)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.errors import ConfigError
from xmc_fix.execution.engine import Engine
from xmc_fix.execution.venue_sync import VenueCaps
from xmc_fix.execution.journal import Journal, replay
from xmc_fix.execution.serial import Serializer
from xmc_fix.execution.shadow import ShadowSender
from xmc_fix.paths import var_dir
from xmc_fix.venues.adapter import EngineApplication, QuickFixSender
from xmc_fix.venues.credentials import Credentials, load_credentials, storable_raw
from xmc_fix.venues.settings import SessionFile, load_sessions

log = logging.getLogger("xmc.app")

# what a venue will not send again once QuickFIX has counted it received (market data is superseded
# by the next update, session events come from callbacks that must never wait)
_APPLIED_BEFORE_ACK = frozenset({ExecReport, CancelRejected, MessageRejected, PositionReport, PositionsAck,
                                 DropCopyReport, Uninterpretable})

def _spill_dir(db_url: str) -> Path:
    if db_url.startswith("sqlite:///") and ":memory:" not in db_url:
        return Path(db_url[len("sqlite:///"):]).expanduser().resolve().parent
    return var_dir()


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


def check_port_free(port: int, *, key: str, file: str | None = None) -> None:
    """Fail before anything starts when the metrics port is taken (127.0.0.1, as it will listen)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError as e:
        raise ConfigError(f"port {port} on 127.0.0.1 is not free ({e.strerror or e})", file=file, key=key,
                          remedy="choose a free port, or 0 to turn the metrics endpoint off") from None
    finally:
        s.close()


def check_venues(sessions: SessionFile, strategy: Strategy) -> None:
    """Every venue the strategy trades or prices from must have an order session (a drop copy is
    not one), and every drop copy a venue with one."""
    have = set(sessions.by_venue())
    for venue in sorted(strategy.venues - have):
        raise ConfigError(f"venue {venue!r} is used by the strategy but has no [SESSION]",
                          file=sessions.path, key="Venue",
                          remedy=f"add a [SESSION] with Venue={venue}, or fix {strategy.path}")
    for venue in sorted(set(sessions.drop_copies()) - have):
        raise ConfigError(f"DropCopyFor={venue} but {venue} has no order session", file=sessions.path,
                          key="DropCopyFor", remedy=f"add a [SESSION] with Venue={venue}, or remove the drop copy")
    dialect_of = {s.venue: s.dialect for s in sessions.by_venue().values()}
    for name, inst in strategy.instruments.items():
        d = dialect_of.get(inst.venue)
        if d is not None and d.position_effect_required and not inst.position_effect:
            raise ConfigError(f"{inst.venue}'s dialect {d.name} requires PositionEffect (77) on every order",
                              file=strategy.path, key=f"instruments.{name}.position_effect",
                              remedy="set position_effect = true")


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


def new_run_id(namespace: str) -> str:
    return f"{namespace}-{uuid.uuid4().hex[:10]}"


class EngineApp:
    """``xmc run``: the venue sessions, the engine, the audit writer and the timer."""

    def __init__(self, sessions: SessionFile, strategy: Strategy, db_url: str, credentials: dict[str, Credentials],
                 *, log_dir: str | None = None, timer_ms: int = 20, command: str = "", journal_path: str | None = None,
                 shadow: bool = False, control_path: str | None = None, clock=None, run_id: str | None = None,
                 metrics_port: int | None = None) -> None:
        check_venues(sessions, strategy)
        # the Prometheus endpoint (README "Metrics"): the option wins over the strategy file; 0 is off
        self.metrics_port = strategy.engine.metrics_port if metrics_port is None else metrics_port
        self._metrics_where = {"key": "--metrics-port"} if metrics_port is not None else \
            {"file": strategy.path, "key": "engine.metrics_port"}
        if self.metrics_port:
            check_port_free(self.metrics_port, **self._metrics_where)
        self.metrics = None
        self.sessions = sessions
        self.strategy = strategy
        self.shadow = shadow
        self.clock = clock or SystemClock()
        self.db_url = db_url
        ns = strategy.engine.namespace
        self.run_id = run_id or new_run_id(ns)
        self.journal_path = Path(journal_path or strategy.engine.journal
                                 or var_dir() / "journal" / f"{ns}{'-shadow' if shadow else ''}.jsonl")
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
                                     clock=self.clock)
        self.sender = QuickFixSender(self.app, sessions)
        sender = self.sender
        if shadow:
            sender = ShadowSender(self.sender, self._on_event, self.audit, self._mark)
        self.journal = Journal(self.journal_path, sync=strategy.engine.journal_sync)
        # what each venue's gateway answers, for reconciliation (none in shadow mode: paper positions)
        caps = {} if shadow else {s.venue: VenueCaps(s.mass_status, s.positions)
                                  for s in sessions.sessions if not s.drop_copy_for}
        self.engine = Engine(strategy, sender, self.audit, self.clock, self.ids, journal=self.journal,
                             venue_caps=caps)
        self.control_path = Path(control_path) if control_path else default_socket(ns)
        self.control = ControlServer(self.control_path, self._command, self.audit)
        self._settings = sessions.quickfix_settings()
        self._store = fix.FileStoreFactory(self._settings)
        # without an audit (xmc bench only) there is no message log to scrub a Logon from as soon as
        # it is stored: the scrubs at start-up and at logon remain
        self._logs = (AuditLogFactory(self.audit, on_outgoing=self.app.on_outgoing) if db_url
                      else fix.ScreenLogFactory(False, False, False))
        self._initiator = None
        self._stores = {s.session_key: s.values.get("FileStorePath") for s in sessions.sessions}
        self._config: dict | None = None
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
              "cancel-all": lambda: e.cmd_cancel_all(args.get("pair"), who),
              "set-mode": lambda: e.cmd_set_mode(args.get("pair"), args.get("mode"), who),
              "set-size": lambda: e.cmd_set_size(args.get("pair"), args.get("qty"), who),
              "reconcile": lambda: e.cmd_reconcile(args.get("venue"), who),
              "reconcile-result": lambda: e.cmd_reconcile_result()}[cmd]
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
        if type(ev) is Uninterpretable:
            # stored here, on the QuickFIX thread, whatever the engine makes of it
            self.audit.event("uninterpretable", ev.recv_ns, venue=ev.venue, msg_type=ev.msg_type,
                             ref_seq_num=ev.ref_seq_num, reason=ev.reason, symbols=list(ev.symbols),
                             raw=storable_raw(ev.raw))
        if type(ev) in _APPLIED_BEFORE_ACK:
            # QuickFIX counts the message received once this returns: apply it first (see serial.py)
            if not self.serial.post_sync(self.engine.on_event, ev):
                log.error("engine busy for 5 s: %s %s acknowledged before it was applied",
                          type(ev).__name__, getattr(ev, "venue", ""))
        else:
            self.serial.post(self.engine.on_event, ev)

    def _engine_error(self, fn, args, e: BaseException) -> None:
        log.error("engine error in %s: %s: %s", getattr(fn, "__name__", fn), type(e).__name__, e, exc_info=e)
        self.audit.event("engine_error", time.time_ns(), error=f"{type(e).__name__}: {e}",
                         where=getattr(fn, "__name__", str(fn)), event=repr(args[0])[:500] if args else None)

    def _callback_error(self, where: str, e: BaseException, venue: str | None, raw: str | None) -> None:
        # the message may be a Logon, and an exception's text may quote it: both masked
        self.audit.event("callback_error", time.time_ns(), venue=venue, where=where,
                         error=storable_raw(f"{type(e).__name__}: {e}"), raw=storable_raw(raw))

    def _timer_loop(self) -> None:
        pump = getattr(self.audit, "pump", None)
        while not self._stop_timer.wait(self._timer_s):
            self.serial.post(self.engine.on_timer, self.clock.now_ns())
            self.journal.flush()       # journal_sync = "batch": durable within one tick, off the hot path
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
        # an earlier run that died lost the rows its audit writer had in flight: complete it from
        # QuickFIX's stores and the journal before either changes (QuickFIX opening the stores, the
        # compaction below)
        recovered = self._recover_crashed_runs()
        self.audit.start()
        for rec in recovered:
            self.audit.event("crashed_run_recovered", time.time_ns(), **rec.to_dict())
        restored = self.engine.restore(self.recovered)
        if self.recovered.records:
            self.journal.compact(self.engine.journal_state())
            self.audit.event("journal_replayed", self.started_ns, path=str(self.journal_path),
                             records=self.recovered.records, torn_lines=self.recovered.bad_lines, **restored)
            log.warning("recovered from %s: %s", self.journal_path, restored)
        # a password a crash left in a store (between a Logon's send and its scrub) goes before
        # QuickFIX opens the store
        scrubbed = self.app.scrub_stores()
        if scrubbed:
            log.warning("overwrote passwords left in QuickFIX stores: %s", scrubbed)
            self.audit.event("store_scrubbed", time.time_ns(), values=scrubbed)
        # QuickFIX opens (or creates, or resets for a new session day) each store here: what the
        # stores hold now is where this run starts
        self._initiator = fix.SocketInitiator(self.app, self._store, self._settings, self._logs)
        self._config = {"sessions": self.sessions.path, "sessions_sha256": _file_hash(self.sessions.path),
                        "strategy": self.strategy.path, "strategy_sha256": _file_hash(self.strategy.path),
                        "strategy_text": _file_text(self.strategy.path), "stores": self._stores,
                        "store_marks": {k: {"start": m} for k, m in store_marks(self._stores).items()},
                        "journal": str(self.journal_path), "shadow": self.shadow}
        self.audit.record("runs", {
            "run_id": self.run_id, "role": "engine", "started_ns": self.started_ns, "host": socket.gethostname(),
            "pid": os.getpid(), "namespace": self.strategy.engine.namespace, "id_prefix": self.ids.prefix,
            "command": self.command, "config": json.dumps(self._config)})
        # the run is in the database before anything is sent: a crash from here on can be completed
        # at the next start (it finds the run, and where each store started, in this row)
        self.audit.flush()
        self.control.start()
        self._initiator.start()
        self._timer.start()
        if self.metrics_port:
            self.metrics = self._metrics_server().start()
        return self

    def _metrics_server(self):
        from xmc_fix.metrics.server import EngineSource, MetricsServer
        marks = {k: m.get("start") for k, m in (self._config or {}).get("store_marks", {}).items()}
        info = {"run_id": self.run_id, "namespace": self.strategy.engine.namespace, "shadow": self.shadow,
                "started_ns": self.started_ns, "store_marks": marks}
        source = EngineSource(serial=self.serial, engine=self.engine, sessions=self.sessions, fix_app=self.app,
                              log_factory=self._logs, audit=self.audit, info=info)
        return MetricsServer(self.metrics_port, source, **self._metrics_where)

    def _recover_crashed_runs(self) -> list[Recovery]:
        if not self.db_url or isinstance(self.audit, NullAudit):
            return []
        try:
            return recover_crashed_runs(
                self.db_url, self.strategy.engine.namespace, journal_path=self.journal_path,
                instruments={n: (i.venue, i.symbol) for n, i in self.strategy.instruments.items()},
                venues_by_session={s.session_key: s.venue for s in self.sessions.sessions},
                current_run_id=self.run_id)
        except Exception as e:   # the run it left stays unsealed: the next start tries again
            log.error("could not complete the audit of a crashed run: %s: %s", type(e).__name__, e, exc_info=e)
            return []

    def wait_logged_on(self, timeout: float = 15.0, venues: set[str] | None = None) -> bool:
        want = venues or {s.venue for s in self.sessions.sessions}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if want <= self.engine.venues_up:
                return True
            time.sleep(0.02)
        return False

    def stop(self, drain_s: float | None = None, venue_truth: Callable[[], dict] | None = None) -> dict:
        """Stop in two phases. Draining: no new tickets; working ones finish and legged ones are
        repaired, until none is open and no report has arrived for ``drain_settle_ms`` (a fill can
        follow its order's cancel), or ``drain_s`` runs out. Closing: nothing more is sent, the
        sessions log out, the audit trail is flushed. The summary's ``exposure`` lists what is left
        unhedged (the journal keeps it for the next start). ``venue_truth`` (the demo's: the
        simulator's own positions) is compared with the engine's once the sessions are closed, and
        the comparison recorded (``position_truth``) before the run is sealed."""
        try:
            return self._stop(drain_s, venue_truth)
        except BaseException:
            # whatever went wrong (an engine that no longer answers), no thread of ours and no
            # session outlives the stop: QuickFIX's threads calling into a half-stopped process
            # are worse than the error, which the caller still gets
            log.error("stopping run %s failed; tearing its sessions and threads down", self.run_id)
            self._teardown()
            for close in (self.audit.close, self.journal.close):
                try:
                    close()
                except Exception as e:
                    log.error("closing after a failed stop: %s", e)
            raise

    def _teardown(self) -> None:
        """Stop the timer, the metrics server, the sessions and the control socket (each once)."""
        self._stop_timer.set()
        if self._timer.is_alive():
            self._timer.join(2)
        if self.metrics is not None:    # before the sessions are freed: a scrape reads them
            self.metrics.stop()
            self.metrics = None
        if self._initiator is not None:
            self._initiator.stop()
            self._initiator = None
        self.control.stop()

    def _stop(self, drain_s: float | None, venue_truth: Callable[[], dict] | None) -> dict:
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
        self._teardown()
        self.journal.compact(self.engine.journal_state())
        truth = self._position_truth(venue_truth) if venue_truth is not None else None
        self.audit.flush()
        summary = self.summary()
        if truth is not None:
            summary["position_truth"] = truth
        self.audit.update("runs", {"run_id": self.run_id, "ended_ns": time.time_ns(), **self._end_marks(),
                                   "summary": json.dumps(summary, default=str)})
        self.audit.flush()
        self.audit.close()
        self.journal.close()
        return summary

    def _position_truth(self, venue_truth: Callable[[], dict]) -> dict:
        """The engine's position per instrument of its account against what the venues say they hold."""
        try:
            venues = venue_truth()            # {(venue, account, symbol): net lots}
        except Exception as e:                # the comparison is a check: it never stops the stop
            log.error("could not read the venues' positions: %s", e)
            truth = {"compared": False, "why": f"{type(e).__name__}: {e}", "instruments": {}}
        else:
            acct = self.strategy.engine.account or ""
            ledger = self.engine.state.ledger
            rows = {}
            for inst in self.strategy.instruments.values():
                ours = ledger.by_account.get((acct, inst.name), Decimal(0))
                theirs = Decimal(str(venues.get((inst.venue, acct, inst.symbol), 0)))
                rows[inst.name] = {"engine": str(ours), "venue": str(theirs), "equal": ours == theirs}
            truth = {"compared": True, "account": acct, "instruments": rows,
                     "equal": all(r["equal"] for r in rows.values())}
        self.audit.event("position_truth", time.time_ns(), **truth)
        return truth

    def _end_marks(self) -> dict:
        """The run's configuration with where each QuickFIX store ended (audit coverage checks the
        run against the range between its start and its end)."""
        if self._config is None:
            return {}
        for key, mark in store_marks(self._stores).items():
            self._config["store_marks"].setdefault(key, {})["end"] = mark
        return {"config": json.dumps(self._config)}

    def summary(self) -> dict:
        e = self.engine
        lat = sorted(e.stats.decision_to_send_ns)
        return {"tickets": e.stats.tickets, "by_state": e.tickets_by_state(), "fills": dict(e.stats.fills),
                "orders": dict(e.stats.orders), "rejects": dict(e.stats.rejects), "md_updates": e.stats.md_updates,
                "decision_to_send_us_p50": lat[len(lat) // 2] / 1000 if lat else None,
                "legged": e.stats.legged, "open_tickets": sum(1 for _ in e.state.open_progress()),
                "residual_units": {p.name: str(p.residual_units) for p in e.pairs.values()},
                "exposure": self.serial.call(e.exposure),
                "drop_copy": dict(e.drop_copy.counts),
                "positions": {f"{a}|{i}": str(v) for (a, i), v in e.state.ledger.by_account.items() if v},
                "audit_rows": dict(self.audit.stats.rows), "audit_errors": self.audit.stats.errors}

    def status_line(self) -> str:
        e = self.engine
        states = e.tickets_by_state()
        parts = [f"venues {len(e.venues_up)}/{len(self.sessions.by_venue())} up",
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
            every: float = 1.0, venue_truth: Callable[[], dict] | None = None) -> dict:
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
            summary = self.stop(venue_truth=venue_truth)
            for sig, h in handlers.items():
                signal.signal(sig, h)
        return summary


def engine_from_files(sessions_path: str, strategy_path: str, db_url: str, *, credentials_file: str | None = None,
                      ports: dict[str, int] | None = None, store: str | None = None, log_dir: str | None = None,
                      command: str = "", extra_credentials: dict[str, Credentials] | None = None,
                      journal_path: str | None = None, shadow: bool = False,
                      control_path: str | None = None, clock=None, run_id: str | None = None,
                      metrics_port: int | None = None) -> EngineApp:
    strategy = load_strategy(strategy_path)
    sessions = load_sessions(sessions_path, "initiator", ports, store)
    venues = {s.venue for s in sessions.sessions}
    creds = load_credentials(venues, file=credentials_file)
    if extra_credentials:
        creds.update(extra_credentials)
    return EngineApp(sessions, strategy, db_url, creds, log_dir=log_dir, command=command, journal_path=journal_path,
                     shadow=shadow, control_path=control_path, clock=clock, run_id=run_id, metrics_port=metrics_port)
