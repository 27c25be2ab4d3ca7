"""QuickFIX Log -> audit writer. QuickFIX hands every raw message in and out (admin and
application, including garbled input it then rejects) and every session event to a ``Log``; these
classes pass them to the writer's queue with our nanosecond timestamp and nothing else on the
QuickFIX thread. Masking of secrets happens in the writer before anything is stored or printed.

Two session events are also counted per session, for the metrics endpoint: QuickFIX's "Sent test
request TEST" (no message from the venue for a heartbeat interval: a heartbeat missed) and "Timed
out waiting for heartbeat" (no answer to it either: QuickFIX dropped the session). Session events
are rare (logons, logouts, resends), so counting there costs the message path nothing.

QuickFIX 1.16's SWIG layer hangs the process if a Python ``LogFactory.create`` returns a Log that
Python still owns (its ownership mutex is freed after first use); the factory therefore returns
``log.__disown__()`` and keeps its own reference so the object outlives QuickFIX's use of it.
"""

from __future__ import annotations

import logging
import time

import quickfix as fix

from xmc_fix.audit.writer import storable_text

log = logging.getLogger("xmc.fix")

#: QuickFIX's session-event texts (Session::next) and the counter each adds to
TEST_REQUEST_SENT = "Sent test request"
HEARTBEAT_TIMEOUT = "Timed out waiting for heartbeat"


class AuditLog(fix.Log):
    def __init__(self, sink, session: str, on_outgoing=None) -> None:
        super().__init__()
        self._sink = sink
        self._session = session
        self._on_outgoing = on_outgoing
        self.test_requests = 0        # heartbeats missed: QuickFIX sent a TestRequest
        self.heartbeat_timeouts = 0   # ... and had no answer: it dropped the session

    def clear(self) -> None:
        pass

    def backup(self) -> None:
        pass

    def onIncoming(self, msg: str) -> None:
        try:
            self._sink.message(self._session, "in", msg, time.time_ns())
        except Exception:  # never into QuickFIX
            log.exception("audit log: incoming message not recorded")

    def onOutgoing(self, msg: str) -> None:
        try:
            if self._on_outgoing is not None:
                self._on_outgoing(self._session, msg)
            self._sink.message(self._session, "out", msg, time.time_ns())
        except Exception:
            log.exception("audit log: outgoing message not recorded")

    def onEvent(self, text: str) -> None:
        try:
            if text.startswith(TEST_REQUEST_SENT):
                self.test_requests += 1
            elif text.startswith(HEARTBEAT_TIMEOUT):
                self.heartbeat_timeouts += 1
            self._sink.session_event(self._session, text, time.time_ns())
            log.info("%s: %s", self._session, storable_text(text))
        except Exception:
            log.exception("audit log: session event not recorded")


class AuditLogFactory(fix.LogFactory):
    """``on_outgoing(session, raw)``, if given, is called with each outgoing message before it is
    queued for the audit: QuickFIX calls a Log's ``onOutgoing`` after storing a message and before
    writing it to the socket, the one moment a stored Logon's password can be overwritten before
    anything else happens (:meth:`xmc_fix.venues.adapter.EngineApplication.on_outgoing`)."""

    def __init__(self, sink, on_outgoing=None) -> None:
        super().__init__()
        self._sink = sink
        self._on_outgoing = on_outgoing
        self._logs: list[AuditLog] = []

    def create(self, *args):
        try:
            session = args[0].toString() if args else "global"
            lg = AuditLog(self._sink, session, self._on_outgoing)
            self._logs.append(lg)
            return lg.__disown__()
        except Exception:  # an exception here would end the process: log, and log nothing
            log.exception("audit log factory: create failed; this session is not audited")
            null = fix.NullLog()
            null.thisown = False
            return null

    def destroy(self, lg) -> None:
        pass

    def heartbeat_counts(self) -> dict[str, tuple[int, int]]:
        """``{session: (TestRequests sent, heartbeat timeouts)}`` since the engine started."""
        out: dict[str, tuple[int, int]] = {}
        for lg in self._logs:
            a, b = out.get(lg._session, (0, 0))
            out[lg._session] = (a + lg.test_requests, b + lg.heartbeat_timeouts)
        return out
