"""A bare FIX client over the engine's own session adapter, for driving the simulator message by
message: events arrive in a queue instead of the engine."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import quickfix as fix

from xmc_fix.audit.logbridge import AuditLogFactory
from xmc_fix.audit.writer import AuditWriter
from xmc_fix.domain.events import SessionUp
from xmc_fix.venues.adapter import EngineApplication, QuickFixSender
from xmc_fix.venues.settings import load_sessions

ROOT = Path(__file__).resolve().parents[2]


class FixClient:
    def __init__(self, ports: dict[str, int], credentials, work: Path, config: Path | None = None) -> None:
        self.events: queue.Queue = queue.Queue()
        self.sessions = load_sessions(str(config or ROOT / "sessions" / "venues.cfg"), "initiator", ports,
                                        str(work / "store-client"))
        self.audit = AuditWriter(f"sqlite:///{work / 'client.db'}", "client").start()
        self.app = EngineApplication(self.sessions, credentials, handler=self.events.put)
        self.sender = QuickFixSender(self.app, self.sessions)
        settings = self.sessions.quickfix_settings()
        self._logs = AuditLogFactory(self.audit)
        self._init = fix.SocketInitiator(self.app, fix.FileStoreFactory(settings), settings, self._logs)
        self.up: set[str] = set()

    def start(self, timeout: float = 15.0) -> "FixClient":
        self._init.start()
        want = {s.venue for s in self.sessions.sessions}
        deadline = time.monotonic() + timeout
        while self.up < want and time.monotonic() < deadline:
            self.expect(lambda e: isinstance(e, SessionUp), timeout=max(0.1, deadline - time.monotonic()))
        return self

    def expect(self, pred, timeout: float = 5.0):
        """The next event matching ``pred`` (others are kept aside in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("expected event did not arrive")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                raise AssertionError("expected event did not arrive") from None
            if isinstance(ev, SessionUp):
                self.up.add(ev.venue)
            if pred(ev):
                return ev

    def stop(self) -> None:
        self._init.stop()
        self.audit.close()
