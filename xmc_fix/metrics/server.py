"""The metrics endpoint's HTTP server: ``prometheus_client``'s, on 127.0.0.1 only, in a process of
its own (the renderer), with a registry holding the engine's collector and a process collector that
reads the engine's process (CPU, memory, open files), not the renderer's.

Why a process: rendering a scrape is pure Python (about 2 ms for one pair on the reference machine:
the families, then ``prometheus_client``'s exposition text), and in the engine's process every
microsecond of it holds the GIL that the QuickFIX session thread needs for its next callback. The
engine now pays only for what must be read inside it: :class:`EngineSource` takes the facts (the
engine's through its Serializer, between two callbacks; the sessions' from QuickFIX; the audit
writer's backlog) on a thread of its own and pickles them to the renderer, which keeps the
cumulative histograms and counters and renders. A restart of the engine restarts the renderer, and
counters start again from zero, which Prometheus reads as a reset.

A scrape the engine cannot serve within :data:`SNAPSHOT_TIMEOUT_S` fails (HTTP 500): Prometheus then
records the target as down, which is what it is. After :meth:`MetricsServer.stop` begins no fact is
read (the engine's QuickFIX sessions may be gone by then), and a scrape returns nothing.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading

from xmc_fix.errors import ConfigError
from xmc_fix.metrics.snapshot import Cursors, EngineFacts, SessionFacts, session_facts, take

log = logging.getLogger("xmc.metrics")

HOST = "127.0.0.1"
SNAPSHOT_TIMEOUT_S = 5.0
START_TIMEOUT_S = 30.0


class EngineSource:
    """A running engine's facts (see :class:`xmc_fix.metrics.collector.Source`), read in its process."""

    def __init__(self, *, serial, engine, sessions, fix_app, log_factory, audit, info: dict) -> None:
        self._serial = serial
        self._engine = engine
        self._sessions = sessions
        self._fix_app = fix_app
        self._logs = log_factory
        self._audit = audit
        self.info = info

    def engine(self, cursors: Cursors) -> EngineFacts:
        return self._serial.call(take, self._engine, cursors, timeout=SNAPSHOT_TIMEOUT_S)

    def sessions(self) -> list[SessionFacts]:
        return session_facts(self._sessions, self._fix_app, self._logs)

    def audit_backlog(self) -> int:
        return int(getattr(self._audit, "backlog", 0) or 0)


class MetricsServer:
    """The engine's side: starts the renderer, answers its requests for facts, stops it."""

    def __init__(self, port: int, source, *, key: str = "engine.metrics_port", file: str | None = None) -> None:
        self.port = port
        self.source = source
        self._where = {"key": key, "file": file}
        self._cursors = Cursors(source.info.get("started_ns", 0))   # what earlier scrapes counted
        self._lock = threading.Lock()       # held while facts are read: stop waits for a read under way
        self._closed = False
        self._proc = None
        self._ctl = None
        self._facts = None
        self._thread: threading.Thread | None = None

    def start(self) -> "MetricsServer":
        ctx = mp.get_context("spawn")
        req_here, req_there = ctx.Pipe()
        ctl_here, ctl_there = ctx.Pipe()
        self._proc = ctx.Process(target=_renderer, args=(self.port, self.source.info, req_there, ctl_there,
                                                          os.getpid()), name="xmc-metrics", daemon=True)
        self._proc.start()
        req_there.close()
        ctl_there.close()
        self._facts, self._ctl = req_here, ctl_here
        ready = ctl_here.recv() if ctl_here.poll(START_TIMEOUT_S) else ("error", "no answer in time", None)
        if ready[0] != "ready":
            self._kill()
            if ready[0] == "bind":
                raise ConfigError(f"cannot listen on {HOST}:{self.port}: {ready[1]}", **self._where,
                                  remedy="choose a free port, or 0 to turn the metrics endpoint off")
            raise RuntimeError(f"the metrics renderer did not start: {ready[1]}")
        self._thread = threading.Thread(target=self._serve, name="xmc-metrics-facts", daemon=True)
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics (rendered by process %d)", HOST, self.port, self._proc.pid)
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/metrics"

    @property
    def renderer_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _serve(self) -> None:
        """The renderer's requests, one at a time (it serialises its scrapes)."""
        conn = self._facts
        while True:
            try:
                n = conn.recv()
            except (EOFError, OSError):
                return          # the renderer is gone
            try:
                with self._lock:
                    if self._closed:
                        answer = (n, "closed")
                    else:
                        src = self.source
                        answer = (n, "facts", src.engine(self._cursors), src.sessions(), src.audit_backlog())
            except Exception as e:      # the engine busy beyond the timeout, or stopping: this scrape fails
                answer = (n, "error", f"{type(e).__name__}: {e}")
            try:
                conn.send(answer)
            except (OSError, ValueError):
                return

    def stop(self) -> None:
        """Before the sessions go: no fact is read after this begins."""
        with self._lock:
            self._closed = True
        if self._proc is None:
            return
        try:
            self._ctl.send("stop")
        except (OSError, ValueError):
            pass
        self._proc.join(5)
        self._kill()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)
            self._proc = None
        for c in (self._ctl, self._facts):
            if c is not None:
                c.close()
        self._ctl = self._facts = None


class RemoteSource:
    """The renderer's source: each scrape asks the engine once for all its facts. Requests are
    numbered, so that an answer that came too late for its scrape is never taken for the next's."""

    def __init__(self, conn, info: dict) -> None:
        self._conn = conn
        self.info = info
        self._sessions: list[SessionFacts] = []
        self._backlog = 0
        self._n = 0

    def engine(self, cursors: Cursors) -> EngineFacts | None:
        """The engine's facts (``cursors`` are the engine side's: it keeps what earlier scrapes
        counted); None once the engine is stopping."""
        self._n += 1
        self._conn.send(self._n)
        while True:
            if not self._conn.poll(SNAPSHOT_TIMEOUT_S + 1):
                raise TimeoutError("the engine did not answer for its facts in time")
            answer = self._conn.recv()
            if answer[0] == self._n:
                break
        if answer[1] == "closed":
            return None
        if answer[1] != "facts":
            raise RuntimeError(answer[2])
        _, _, facts, self._sessions, self._backlog = answer
        return facts

    def sessions(self) -> list[SessionFacts]:
        return self._sessions

    def audit_backlog(self) -> int:
        return self._backlog


def _renderer(port: int, info: dict, conn, ctl, parent: int) -> None:
    """The renderer process: serve scrapes until the engine says stop or goes away."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.process_collector import ProcessCollector

    from xmc_fix.metrics.collector import EngineCollector
    from xmc_fix.procutil import die_with_parent
    die_with_parent(parent)
    try:
        collector = EngineCollector(RemoteSource(conn, info))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        ProcessCollector(registry=registry, pid=lambda: parent)   # the engine's process, not ours
        server, thread = start_http_server(port, addr=HOST, registry=registry)
    except OSError as e:
        ctl.send(("bind", e.strerror or str(e)))
        return
    except Exception as e:
        ctl.send(("error", f"{type(e).__name__}: {e}"))
        return
    ctl.send(("ready",))
    try:
        ctl.recv()              # "stop", or EOF when the engine is gone
    except (EOFError, OSError):
        pass
    collector.close()
    server.shutdown()
    server.server_close()
    thread.join(2)
