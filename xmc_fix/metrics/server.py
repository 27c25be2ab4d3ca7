"""The metrics endpoint's HTTP server: ``prometheus_client``'s, on 127.0.0.1 only, in a thread of its
own, with a registry holding the engine's collector and the process's own (CPU, memory, open files).

:class:`EngineSource` is where a running engine's facts come from: the engine's through its
Serializer (between two callbacks, a few hundred microseconds at most: nothing is formatted there),
the sessions' from QuickFIX and the audit writer's backlog from the writer, on the scrape's thread.
A scrape the engine cannot serve within :data:`SNAPSHOT_TIMEOUT_S` fails (HTTP 500): Prometheus
then records the target as down, which is what it is.
"""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.process_collector import ProcessCollector

from xmc_fix.errors import ConfigError
from xmc_fix.metrics.collector import EngineCollector
from xmc_fix.metrics.snapshot import Cursors, EngineFacts, SessionFacts, session_facts, take

log = logging.getLogger("xmc.metrics")

HOST = "127.0.0.1"
SNAPSHOT_TIMEOUT_S = 5.0


class EngineSource:
    """A running engine's facts (see :class:`xmc_fix.metrics.collector.Source`)."""

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
    def __init__(self, port: int, source, *, key: str = "engine.metrics_port", file: str | None = None) -> None:
        self.port = port
        self.collector = EngineCollector(source)
        self._where = {"key": key, "file": file}
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> "MetricsServer":
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        ProcessCollector(registry=registry)
        try:
            self._server, self._thread = start_http_server(self.port, addr=HOST, registry=registry)
        except OSError as e:
            raise ConfigError(f"cannot listen on {HOST}:{self.port}: {e.strerror or e}", **self._where,
                              remedy="choose a free port, or 0 to turn the metrics endpoint off") from None
        log.info("metrics on http://%s:%d/metrics", HOST, self.port)
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/metrics"

    def stop(self) -> None:
        """Before the sessions go: no scrape may read a QuickFIX session after it is freed."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.collector.close()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
