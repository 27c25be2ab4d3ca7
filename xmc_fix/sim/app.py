"""The simulator's QuickFIX side: the acceptor application, the market thread, and the server that
runs them (``xmc sim``).

Like the engine's adapter, the application is thin and guarded: it checks Logon credentials,
hands each application message to the :class:`Exchange` through the Serializer, and never lets an
exception reach QuickFIX. A client message the simulator fails on (in the callback or in the
exchange behind it) is logged, audited (``events``, kind ``callback_error``) and answered with a
BusinessMessageReject (35=j, BusinessRejectReason 0) naming its MsgSeqNum and MsgType.

A FIX 4.2 session, whose Logon has no Username / Password, takes the password in RawData (96).

A session marked ``DropCopyFor=VENUE`` in the settings file is that venue's drop copy: it gets a
copy of every execution report of the accounts it serves (``DropCopyAccounts``, default all) and is
read-only — every application message a client sends on it is refused with a
BusinessMessageReject (not authorized). The server writes every account's positions at every venue
(the simulator's truth) to a JSON file and its audit database at stop and on SIGUSR1
(:meth:`SimServer.write_positions`).
"""

from __future__ import annotations

import copy
import heapq
import json
import logging
import os
import threading
import time
import traceback
import uuid
from pathlib import Path

import quickfix as fix

from xmc_fix.audit.logbridge import AuditLogFactory
from xmc_fix.audit.writer import storable_text
from xmc_fix.clock import SystemClock
from xmc_fix.errors import ConfigError
from xmc_fix.execution.serial import Serializer
from xmc_fix.sim.config import MarketCfg
from xmc_fix.sim.exchange import Exchange
from xmc_fix.sim.faultproxy import FaultPlan, FaultProxy, free_port
from xmc_fix.fixwire import begin_string_of, fields, msg_type_of, readable
from xmc_fix.sim.outbox import DropCopy
from xmc_fix.sim.reports import NOT_AUTHORIZED
from xmc_fix.venues import translate as tr
from xmc_fix.venues.adapter import QUICKFIX_EXCEPTIONS
from xmc_fix.venues.credentials import Credentials, storable_raw
from xmc_fix.venues.settings import SessionFile

log = logging.getLogger("xmc.sim")


class SimApplication(fix.Application):
    def __init__(self, sessions: SessionFile, credentials: dict[str, Credentials], serial: Serializer,
                 on_error=None) -> None:
        super().__init__()
        self._on_error = on_error     # (where, exception, session key, raw message) -> None
        self._venue_by_key = {s.session_key: s.venue for s in sessions.sessions}
        self._credentials = credentials
        self._serial = serial
        self.exchange: Exchange | None = None
        self.session_ids: dict[str, fix.SessionID] = {}
        self._handlers = {}
        self._dd_paths = {s.session_key: s.values.get("DataDictionary") for s in sessions.sessions}
        self._drop_copies = {s.session_key for s in sessions.sessions if s.values.get("DropCopyFor")}
        self._dds: dict[str, fix.DataDictionary] = {}
        self.rejected_logons = 0
        # Sessions whose Logout has gone out (or that are down): no market data after it. Set and
        # read inside QuickFIX's own send path (toAdmin, toApp run under the session's lock), so a
        # refresh from the exchange's thread can never follow the venue's Logout on the wire.
        self._closed: set[str] = set()

    def bind(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._handlers = {"V": exchange.on_md_request, "D": exchange.on_new_order, "F": exchange.on_cancel,
                          "G": exchange.on_replace, "H": exchange.on_status, "AF": exchange.on_mass_status,
                          "AN": exchange.on_positions_request}

    def venue(self, sid) -> str:
        return self._venue_by_key.get(sid.toString(), "")

    def venue_of_key(self, key: str) -> str | None:
        return self._venue_by_key.get(key)

    def onCreate(self, sessionID) -> None:
        try:
            key = sessionID.toString()
            self.session_ids[key] = fix.SessionID(sessionID.getBeginString().getValue(),
                                                  sessionID.getSenderCompID().getValue(),
                                                  sessionID.getTargetCompID().getValue(),
                                                  sessionID.getSessionQualifier())
        except Exception as e:
            self.fail("onCreate", e, sessionID)

    def onLogon(self, sessionID) -> None:
        try:
            self._closed.discard(sessionID.toString())
            log.info("sim: %s logged on", sessionID.toString())
        except Exception:
            pass

    def onLogout(self, sessionID) -> None:
        try:
            key = sessionID.toString()
            self._closed.add(key)
            if self.exchange is not None:
                self._serial.post(self._drop_subscriptions, key)
        except Exception as e:
            self.fail("onLogout", e, sessionID)

    def _drop_subscriptions(self, key: str) -> None:
        for venue in self.exchange.venues.values():
            for inst in venue.instruments.values():
                inst.subscribers.pop(key, None)

    def toAdmin(self, message, sessionID) -> None:
        try:
            if message.getHeader().getField(35) == "5":
                self._closed.add(sessionID.toString())
        except Exception as e:
            self.fail("toAdmin", e, sessionID)

    def fromAdmin(self, message, sessionID) -> None:
        raw = None
        try:
            if message.getHeader().getField(35) != "A":
                return
            cred = self._credentials.get(self.venue(sessionID))
            if cred is None or cred.password is None:
                return
            user = message.getField(553) if message.isSetField(553) else None
            pw = message.getField(554) if message.isSetField(554) else None
            fix42 = sessionID.getBeginString().getValue() == "FIX.4.2"
            if fix42 and pw is None and message.isSetField(96):
                # FIX 4.2 has no Username / Password: its venues take the password in RawData (96)
                pw = message.getField(96)
            if pw != cred.password.reveal() or (cred.username and not fix42 and user != cred.username):
                self.rejected_logons += 1
                raise fix.RejectLogon("invalid username or password")
        except QUICKFIX_EXCEPTIONS:
            raise
        except Exception as e:
            self.fail("fromAdmin", e, sessionID, raw)

    def toApp(self, message, sessionID) -> None:
        try:
            drop = sessionID.toString() in self._closed and message.getHeader().getField(35) in ("W", "X")
        except Exception as e:
            self.fail("toApp", e, sessionID)
            return
        if drop:    # the subscription ended with the session; a venue sends nothing after its Logout
            raise fix.DoNotSend()

    def fromApp(self, message, sessionID) -> None:
        raw = None
        try:
            raw = message.toString()
            key = sessionID.toString()
            if key in self._drop_copies:
                d = fields(raw)
                self.reject(key, raw, "drop-copy session is read-only",
                            reason=NOT_AUTHORIZED.get(begin_string_of(raw) or "FIX.4.4", "6"),
                            ref_id=d.get("11") or d.get("584") or d.get("710") or d.get("262"))
                return
            handler = self._handlers.get(msg_type_of(raw))
            if handler is None:
                raise fix.UnsupportedMessageType()
            self._serial.post(handler, self.venue(sessionID), sessionID.toString(), raw)
        except QUICKFIX_EXCEPTIONS:
            raise
        except Exception as e:
            self.fail("fromApp", e, sessionID, raw)
            if raw is not None:
                self.reject(sessionID.toString(), raw)

    def fail(self, where: str, e: BaseException, session=None, raw: str | None = None) -> None:
        """Log and audit an exception a callback (or the exchange behind it) caught."""
        key = None
        try:
            key = session if isinstance(session, str) or session is None else session.toString()
            # the exception's text may quote a client's Logon: masked, and the stack printed without it
            log.error("sim %s failed for %s: %s: %s\n%s", where, key, type(e).__name__,
                      storable_text(storable_raw(str(e)) or ""), "".join(traceback.format_tb(e.__traceback__)).rstrip())
            if self._on_error is not None:
                self._on_error(where, e, key, raw)
        except Exception:
            log.exception("sim: reporting a %s failure failed", where)

    def reject(self, session: str, raw: str, text: str = "internal error", reason: str = "0",
               ref_id: str | None = None) -> None:
        """BusinessMessageReject (j, reason 0 other unless given) of a client message; the
        reference is its ClOrdID unless ``ref_id`` is given."""
        try:
            d = fields(raw)
            self.send(session, tr.encode_business_reject(d.get("34", "0"), d.get("35", ""), reason, text,
                                                         ref_id or d.get("11") or None, begin_string_of(raw)), False)
        except Exception:
            log.exception("sim: could not reject a message on %s", session)

    # the Exchange's outlet
    def send(self, session: str, text: str, dd: bool) -> bool:
        """Send to a client session. Market data for a session that is down is dropped; order
        reports are handed to QuickFIX anyway, which stores them and delivers them when the client
        logs on again and asks for the gap (with PossDup), as a venue does."""
        sid = self.session_ids.get(session)
        if sid is None:
            return False
        sess = fix.Session.lookupSession(sid)
        if sess is None or (dd and not sess.isLoggedOn()):
            return False
        # A client's own bytes echoed back (a ClOrdID that is not UTF-8) cannot cross the Python
        # binding as they are: they go out with \xNN escapes instead.
        text = storable_text(text)
        msg = fix.Message(text, self._dd(session), False) if dd else fix.Message(text, False)
        return fix.Session.sendToTarget(msg, sid)

    def _dd(self, session: str) -> fix.DataDictionary:
        dd = self._dds.get(session)
        if dd is None:
            dd = self._dds[session] = fix.DataDictionary(self._dd_paths[session])
        return dd


class SimServer:
    """``xmc sim``: the acceptor, the exchange and the market thread, started and stopped together."""

    def __init__(self, sessions: SessionFile, market: MarketCfg, credentials: dict[str, Credentials], *,
                 audit=None, behaviours: dict | None = None, positions_path: str | None = None) -> None:
        self.sessions = sessions
        self.market = market
        self.clock = SystemClock()
        self.serial = Serializer(on_error=self._exchange_error)
        self.app = SimApplication(sessions, credentials, self.serial, on_error=self._callback_error)
        self._timers: list = []          # (due monotonic, seq, fn, args) heap for held reports
        self._timer_seq = 0
        self._wake = threading.Condition()
        self.exchange = Exchange(market, self.app.send, self.clock, begin_string=lambda s: s.split(":", 1)[0],
                                 behaviours=behaviours, schedule=self.schedule, disconnect=self.drop,
                                 quiet=self.go_quiet, drop_copies=drop_copies(sessions))
        self.app.bind(self.exchange)
        self.audit = audit
        # Venues with scripted session faults, or whose connections may go quiet, are served
        # through a fault proxy on their port, their acceptor on a free internal one; the others
        # QuickFIX serves on the ports as given.
        faults = {v: b.faults for v, b in (behaviours or {}).items()
                  if getattr(b, "faults", None) or getattr(b, "may_go_quiet", False)}
        acceptor_sessions, self.proxies = _fault_proxies(sessions, faults, market.seed, self._on_fault) \
            if faults else (sessions, [])
        store = sessions.default.get("FileStorePath") or "."
        self.positions_path = Path(positions_path) if positions_path else Path(store) / "sim-positions.json"
        self._positions_seq = 0
        self._settings = acceptor_sessions.quickfix_settings()
        self._store = fix.FileStoreFactory(self._settings)
        self._logs = AuditLogFactory(audit) if audit is not None else fix.ScreenLogFactory(False, False, False)
        self._acceptor = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._market_loop, name="xmc-sim-market", daemon=True)
        self.run_id = uuid.uuid4().hex[:12]

    def start(self) -> "SimServer":
        self._acceptor = fix.ThreadedSocketAcceptor(self.app, self._store, self._settings, self._logs)
        self._acceptor.start()
        try:
            for proxy in self.proxies:
                proxy.start()
        except ConfigError:
            for proxy in self.proxies:
                proxy.stop()
            self._acceptor.stop()
            self._acceptor = None
            raise
        self._thread.start()
        return self

    def _callback_error(self, where: str, e: BaseException, session: str | None, raw: str | None) -> None:
        if self.audit is not None:
            self.audit.event("callback_error", time.time_ns(), venue=self.app.venue_of_key(session) if session else None,
                             where=where, session=session,
                             error=storable_text(storable_raw(f"{type(e).__name__}: {e}") or ""),
                             raw=storable_text(storable_raw(raw) or "") or None)

    def _exchange_error(self, fn, args, e: BaseException) -> None:
        """The exchange failed on a piece of work. A client's request (venue, session, raw) is
        answered with a BusinessMessageReject; a market step or a timer is only logged and audited."""
        try:
            where = getattr(fn, "__name__", str(fn))
            client = len(args) == 3 and all(isinstance(a, str) for a in args) and args[2].startswith("8=")
            session, raw = (args[1], args[2]) if client else (None, None)
            log.error("sim error in %s for %s: %s: %s", where, session, type(e).__name__, storable_text(str(e)),
                      exc_info=e)
            if self.audit is not None:
                self.audit.event("engine_error", time.time_ns(), venue=args[0] if client else None, where=where,
                                 session=session, error=storable_text(f"{type(e).__name__}: {e}"),
                                 raw=storable_text(readable(raw or "", 2000)) or None)
            if client:
                self.app.reject(session, raw)
        except Exception:
            log.exception("sim: handling an exchange error failed")

    def _on_fault(self, venue: str, fault: str, info: dict) -> None:
        """A fault proxy spoiled a message: into the simulator's audit, so tests and people can
        line the client's reaction up with it."""
        if self.audit is not None:
            self.audit.event("fault_injected", time.time_ns(), venue=venue, fault=fault, **info)

    def schedule(self, delay_s: float, fn, *args) -> None:
        """Run ``fn(*args)`` inside the exchange after ``delay_s`` (from the market thread)."""
        with self._wake:
            self._timer_seq += 1
            heapq.heappush(self._timers, (time.monotonic() + delay_s, self._timer_seq, fn, args))
            self._wake.notify()

    def go_quiet(self, session: str, seconds: float) -> None:
        """Nothing more passes either way on ``session``'s connection for ``seconds`` (scenario
        behaviour): no reports, no heartbeats, no answers to the client's TestRequests; then the
        bytes held up are delivered, if the connection is still there."""
        venue = self.app.venue_of_key(session)
        for proxy in self.proxies:
            if proxy.venue == venue:
                log.warning("sim: %s goes quiet for %.1f s (scenario)", session, seconds)
                proxy.hold(session, seconds)

    def write_positions(self, reason: str = "request") -> dict:
        """Every account's positions at every venue to ``positions_path`` (atomically) and, with an
        audit database, as an event of kind ``sim_positions``; returns what was written."""
        snapshot = self.serial.call(self.exchange.positions_snapshot)
        self._positions_seq += 1
        doc = {"written_ns": time.time_ns(), "reason": reason, "seq": self._positions_seq, "positions": snapshot}
        path = self.positions_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        if self.audit is not None:
            self.audit.event("sim_positions", doc["written_ns"], reason=reason, seq=doc["seq"], positions=snapshot)
        return doc

    def drop(self, session: str) -> None:
        """Drop a client's TCP connection (scenario behaviour), from the market thread."""
        def go():
            sid = self.app.session_ids.get(session)
            sess = fix.Session.lookupSession(sid) if sid is not None else None
            if sess is not None:
                log.warning("sim: dropping %s (scenario)", session)
                sess.disconnect()
        with self._wake:
            self._timer_seq += 1
            heapq.heappush(self._timers, (time.monotonic(), self._timer_seq, None, (go,)))
            self._wake.notify()

    def _market_loop(self) -> None:
        step = self.market.step_ms / 1000.0
        next_step = time.monotonic() + step
        while not self._stop.is_set():
            due = []
            with self._wake:
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers))
                if not due and now < next_step:
                    wake_at = min(next_step, self._timers[0][0]) if self._timers else next_step
                    self._wake.wait(max(0.0, wake_at - now))
                    continue
            for _, _, fn, args in due:
                if fn is None:           # runs on this thread, outside the exchange (QuickFIX call)
                    try:
                        args[0]()
                    except Exception:
                        log.exception("sim: timer action failed")
                else:
                    self.serial.post(fn, *args)
            if time.monotonic() >= next_step:
                next_step += step
                if next_step < time.monotonic():
                    next_step = time.monotonic() + step  # fell behind: no catch-up burst
                self.serial.post(self.exchange.step)

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._acceptor is not None:
            # Give initiators a moment to log out first: stopping an acceptor right after a
            # peer's logout has crashed QuickFIX 1.16 (SIGSEGV).
            time.sleep(0.2)
            self._acceptor.stop()
            self._acceptor = None
        for proxy in self.proxies:      # after the acceptor: its Logouts still pass through
            proxy.stop()
        try:
            self.write_positions("stop")
        except Exception:
            log.exception("sim: writing the positions at stop failed")


def drop_copies(sessions: SessionFile) -> dict[str, list[DropCopy]]:
    """The drop-copy sessions per venue (``DropCopyFor``), each with the accounts it serves."""
    out: dict[str, list[DropCopy]] = {}
    for s in sessions.sessions:
        venue = s.values.get("DropCopyFor")
        if venue:
            accounts = s.values.get("DropCopyAccounts")
            served = frozenset(a.strip() for a in accounts.split(",") if a.strip()) if accounts else None
            out.setdefault(venue, []).append(DropCopy(s.session_key, served))
    return out


def _fault_proxies(sessions: SessionFile, faults: dict, seed: int, on_fault) -> tuple[SessionFile, list[FaultProxy]]:
    """A copy of ``sessions`` with each faulty venue's acceptor moved to a free internal port, and
    one proxy per moved port listening where the venue's clients connect."""
    moved = copy.deepcopy(sessions)
    by_port: dict[str, list] = {}
    for spec in moved.sessions:
        by_port.setdefault(spec.values["SocketAcceptPort"], []).append(spec)
    proxies = []
    for port, specs in by_port.items():
        venues = {s.venue for s in specs}
        faulty = venues & set(faults)
        if not faulty:
            continue
        if len(venues) > 1:
            raise ConfigError(f"venues {', '.join(sorted(venues))} share port {port} but only "
                              f"{', '.join(sorted(faulty))} has scripted faults", file=sessions.path,
                              key="SocketAcceptPort", remedy="give the venue with [[fault]] entries its own port")
        (venue,) = venues
        internal = free_port()
        for spec in specs:
            spec.values["SocketAcceptPort"] = str(internal)
        proxies.append(FaultProxy(venue, int(port), internal, FaultPlan(venue, faults[venue], seed),
                                  on_fault=on_fault))
    return moved, proxies
