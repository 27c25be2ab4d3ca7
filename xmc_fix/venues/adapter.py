"""The engine's ``quickfix.Application``: thin by design.

Each callback cracks the message, translates it to a domain event (:mod:`translate`), hands it to
the engine through ``handler``, and catches everything. QuickFIX ends or hangs the process when any
Python exception other than its own escapes a callback, so every callback is guarded: QuickFIX's own
exceptions pass (they make QuickFIX send the right rejection), and anything else is logged and
audited and goes no further.

An application message QuickFIX accepted but we cannot interpret (a tag missing, a value we do not
know) is not session-rejected: a session Reject tells the venue the message was never processed,
and the venue never sends it again (an execution report lost for good). It is handed on as an
:class:`~xmc_fix.domain.events.Uninterpretable` event (raw text, secrets masked) and answered with a
BusinessMessageReject naming what was wrong.

Passwords in QuickFIX's FileStore: QuickFIX stores the Logon it sends, password included. Every
store is scrubbed when the engine starts (what a crash left), the Logon as soon as QuickFIX has
stored it (:meth:`EngineApplication.on_outgoing`, called by the message log between QuickFIX's
write to the store and its write to the socket), and again at logon and logout.

QuickFIX's socket thread keeps one Python thread state for its life (:mod:`gilstate`), pinned at the
first admin message: without it, every callback created and destroyed one, which nearly halved the
engine's market-data throughput.

A Logout numbered past the next expected number leaves the gap before it to be resent at the next
logon (QuickFIX alone would count the Logout as the missing message: see
:meth:`EngineApplication._keep_gap_before_logout`).

Drop-copy sessions (``DropCopyFor=VENUE``) are read-only: their execution reports are handed on as
:class:`~xmc_fix.domain.events.DropCopyReport`, a second source of fills, never as the order
session's.

Outgoing: :class:`QuickFixSender` renders commands as FIX text in the session's dialect and hands
them to the session. Every application message sent is remembered by sequence number (its MsgType
and ClOrdID or MDReqID), so that a Reject or BusinessMessageReject that names only RefSeqNum is
mapped to what it rejects. Stale orders are never resent: an order QuickFIX would replay with
PossDup after a reconnect is dropped (``DoNotSend``, so QuickFIX gap-fills it) and the engine asks
the venue for its status instead.
"""

from __future__ import annotations

import logging
import traceback
from collections import OrderedDict
from typing import Callable

import quickfix as fix

from xmc_fix.clock import Clock, SystemClock
from xmc_fix.domain.commands import (CancelOrder, NewOrder, QueryOrderStatus, ReplaceOrder, RequestMassStatus,
                                     RequestPositions, SubscribeMarketData)
from xmc_fix.domain.events import DropCopyReport, DropCopySession, MessageRejected, SessionDown, SessionUp
from xmc_fix.errors import FixTranslationError
from xmc_fix.fixwire import fields, msg_type_of, value_of
from xmc_fix.venues import dialects, gilstate
from xmc_fix.venues import translate as tr
from xmc_fix.venues.credentials import SECRET_TAGS, Credentials, scrub_store_file, storable_raw
from xmc_fix.venues.dialects import Dialect
from xmc_fix.venues.settings import SessionFile, SessionSpec

log = logging.getLogger("xmc.venues")

#: Exceptions QuickFIX understands; anything else must not escape a callback.
QUICKFIX_EXCEPTIONS = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue,
                       fix.UnsupportedMessageType, fix.RejectLogon, fix.DoNotSend)


def _body_path(spec) -> str | None:
    """QuickFIX FileStore's message file for a session: <path>/<Begin>-<Sender>-<Target>.body."""
    v = spec.values
    if "FileStorePath" not in v:
        return None
    q = f"-{v['SessionQualifier']}" if v.get("SessionQualifier") else ""
    return f"{v['FileStorePath']}/{v['BeginString']}-{v['SenderCompID']}-{v['TargetCompID']}{q}.body"


def session_dialect(spec: SessionSpec) -> Dialect:
    return spec.dialect if spec.dialect is not None else dialects.for_session(spec.values)


class EngineApplication(fix.Application):
    """Initiator side: one instance serves every venue session of the engine."""

    def __init__(self, sessions: SessionFile, credentials: dict[str, Credentials],
                 handler: Callable[[object], None], on_error: Callable[..., None] | None = None,
                 clock: Clock | None = None) -> None:
        super().__init__()
        clock = clock or SystemClock()
        self._now = clock.now_ns      # the engine's clock: every event time in one time base
        self._perf = clock.perf_ns    # ... and every duration it reports
        self._venue_by_key = {s.session_key: s.venue for s in sessions.sessions}
        self._store_body_by_key = {s.session_key: _body_path(s) for s in sessions.sessions}
        #: drop-copy sessions (DropCopyFor=VENUE): their reports are a second source, never the order session's
        self._drop_copy_keys = {s.session_key for s in sessions.sessions if s.drop_copy_for}
        self.drop_copy_ids: dict[str, fix.SessionID] = {}
        order_sessions = [s for s in sessions.sessions if not s.drop_copy_for]
        #: microseconds from handing a password to QuickFIX (toAdmin) to its overwrite in the store,
        #: per Logon: an upper bound of the time the password sits there in clear
        self.logon_scrub_us: list[float] = []
        self._logon_ns: dict[str, int] = {}
        self._credentials = credentials
        self._handler = handler
        self._on_error = on_error
        self.session_ids: dict[str, fix.SessionID] = {}
        self.sessions: dict[str, fix.Session] = {}
        self._venue_by_sid: dict[str, str] = {}
        self._session_by_sid: dict[str, tuple[str, bool]] = {}
        self._logout_text: dict[str, str] = {}
        self.inbound = {s.venue: tr.Inbound(session_dialect(s)) for s in order_sessions}
        self._begin = {s.venue: s.values["BeginString"] for s in order_sessions}
        #: (venue, MsgSeqNum) -> (MsgType, ClOrdID or MDReqID) of every application message we sent
        self._sent_seq: OrderedDict[tuple[str, int], tuple[str, str | None]] = OrderedDict()
        self._sending: tuple[str, str, str | None] | None = None   # (venue, MsgType, id) being sent

    # -- helpers ---------------------------------------------------------------------------
    def venue(self, sid) -> str:
        key = sid.toString()
        v = self._venue_by_sid.get(key)
        if v is None:
            v = self._venue_by_key.get(key, key)
            self._venue_by_sid[key] = v
        return v

    def _session_of(self, sid) -> tuple[str, bool]:
        """(venue, drop copy?) of a session from one SWIG call: every incoming message asks both."""
        key = sid.toString()
        info = self._session_by_sid.get(key)
        if info is None:
            info = self._session_by_sid[key] = (self._venue_by_key.get(key, key), key in self._drop_copy_keys)
        return info

    def _fail(self, where: str, e: BaseException, sid=None, raw: str | None = None) -> None:
        venue = None
        try:
            venue = self.venue(sid) if sid is not None else None
        except Exception:
            pass
        # the exception's text may quote the message (a Logon, its password): masked, and the stack
        # printed without it
        log.error("%s callback failed for %s: %s: %s\n%s", where, venue, type(e).__name__, storable_raw(str(e)),
                  "".join(traceback.format_tb(e.__traceback__)).rstrip())
        if self._on_error is not None:
            try:
                self._on_error(where, e, venue, raw)
            except Exception:
                log.exception("error sink failed")

    # -- quickfix.Application ----------------------------------------------------------------
    def _drop_copy(self, sid) -> bool:
        return sid.toString() in self._drop_copy_keys

    def onCreate(self, sessionID) -> None:
        try:
            venue = self.venue(sessionID)
            sid = fix.SessionID(sessionID.getBeginString().getValue(), sessionID.getSenderCompID().getValue(),
                                sessionID.getTargetCompID().getValue(), sessionID.getSessionQualifier())
            if self._drop_copy(sessionID):
                self.drop_copy_ids[venue] = sid
                return
            self.session_ids[venue] = sid
            self.sessions[venue] = fix.Session.lookupSession(sessionID)
        except Exception as e:
            self._fail("onCreate", e, sessionID)

    def onLogon(self, sessionID) -> None:
        try:
            gilstate.pin()            # QuickFIX's thread keeps one Python thread state (see gilstate)
            venue = self.venue(sessionID)
            self._scrub(sessionID)
            if self._drop_copy(sessionID):
                return self._handler(DropCopySession(venue, True, self._now()))
            self._handler(SessionUp(venue, self._now()))
        except Exception as e:
            self._fail("onLogon", e, sessionID)

    def onLogout(self, sessionID) -> None:
        try:
            venue = self.venue(sessionID)
            self._scrub(sessionID)
            if self._drop_copy(sessionID):
                return self._handler(DropCopySession(venue, False, self._now()))
            self._handler(SessionDown(venue, self._now(), self._logout_text.pop(venue, "")))
        except Exception as e:
            self._fail("onLogout", e, sessionID)

    def _scrub(self, sessionID) -> None:
        """The Logon we sent is in QuickFIX's store with its password: overwrite it."""
        cred = self._credentials.get(self.venue(sessionID))
        body = self._store_body_by_key.get(sessionID.toString())
        if cred is not None and cred.password is not None and body:
            scrub_store_file(body)

    def scrub_stores(self) -> dict[str, int]:
        """Overwrite every secret in every configured store (a password a crash left between a
        Logon's send and its scrub), before QuickFIX opens them; ``{session key: values overwritten}``."""
        done = {}
        for key, path in self._store_body_by_key.items():
            if path:
                n = scrub_store_file(path)
                if n:
                    done[key] = n
        return done

    def on_outgoing(self, session_key: str, raw: str) -> None:
        """QuickFIX has just stored ``raw`` and is about to write it to the socket (the message log's
        ``onOutgoing``): a Logon carrying a secret is overwritten in the store now, searching only
        the store's tail where QuickFIX appended it. Never raises."""
        try:
            if "\x0135=A\x01" not in raw or not any(f"\x01{t}=" in raw for t in SECRET_TAGS):
                return
            path = self._store_body_by_key.get(session_key)
            if path:
                scrub_store_file(path, tail=len(raw))
                t0 = self._logon_ns.pop(session_key, None)
                if t0 is not None:
                    self.logon_scrub_us.append((self._perf() - t0) / 1000)
        except Exception as e:
            self._fail("onOutgoing", e)

    def toAdmin(self, message, sessionID) -> None:
        try:
            if message.getHeader().getField(35) == "A":
                cred = self._credentials.get(self.venue(sessionID))
                if cred is not None:
                    # FIX 4.2 has no Username (553) / Password (554): its venues take the password in
                    # RawData (96), with its length in RawDataLength (95); masked like 554 everywhere
                    fix42 = sessionID.getBeginString().getValue() == "FIX.4.2"
                    if cred.username and not fix42:
                        message.setField(fix.Username(cred.username))
                    if cred.password is not None:
                        self._logon_ns[sessionID.toString()] = self._perf()
                        secret = cred.password.reveal()
                        if fix42:
                            message.setField(fix.RawDataLength(len(secret.encode())))
                            message.setField(fix.RawData(secret))
                        else:
                            message.setField(fix.Password(secret))
        except Exception as e:
            self._fail("toAdmin", e, sessionID)

    def fromAdmin(self, message, sessionID) -> None:
        raw = None
        try:
            gilstate.pin()            # the Logon's answer comes first: before any market data
            raw = message.toString()
            mt = msg_type_of(raw)
            if mt == "3" and not self._drop_copy(sessionID):
                venue = self.venue(sessionID)
                self._handler(self._referred(tr.decode_reject(venue, raw, self._now())))
            elif mt == "5":
                text = fields(raw).get("58")
                if text:
                    self._logout_text[self.venue(sessionID)] = text
                self._keep_gap_before_logout(message, sessionID)
        except QUICKFIX_EXCEPTIONS:
            raise
        except Exception as e:
            self._fail("fromAdmin", e, sessionID, raw)

    def _keep_gap_before_logout(self, message, sessionID) -> None:
        """QuickFIX 1.16 counts a Logout as the next expected message whatever its MsgSeqNum
        (``Session::nextLogout`` adds one to the expected number once this callback returns). A
        Logout that overtook messages the venue sent before it (numbered above the expected one)
        would thus make the engine skip a number it never received — an execution report, say —
        and never ask for it again. Keep the expected number where it is: the next logon finds
        the gap and asks the venue to resend it."""
        seq = int(message.getHeader().getField(34))
        session = fix.Session.lookupSession(sessionID)
        if session is None:
            return
        expected = session.getExpectedTargetNum()
        if seq != expected and expected > 1:
            session.setNextTargetMsgSeqNum(expected - 1)     # QuickFIX adds the one back
            log.warning("%s: Logout numbered %d while %d was expected: %d is kept to be resent at the next logon",
                        self.venue(sessionID), seq, expected, expected)

    def _referred(self, ev: MessageRejected) -> MessageRejected:
        """Fill what the venue left out of a Reject from our record of what that sequence number
        carried: a Reject without RefMsgType must not pass for a reject of a new order."""
        if ev.ref_seq_num is None or (ev.ref_msg_type is not None and ev.ref_id is not None):
            return ev
        sent = self._sent_seq.get((ev.venue, ev.ref_seq_num))
        if sent is None:
            return ev
        return MessageRejected(ev.venue, ev.business, ev.ref_seq_num, ev.ref_msg_type or sent[0],
                               ev.ref_id or sent[1], ev.reason, ev.recv_ns)

    def toApp(self, message, sessionID) -> None:
        try:
            # One call for the whole text: cheaper than three through SWIG (header, PossDupFlag,
            # MsgSeqNum), and this runs inside every send, between a decision's two orders.
            # PossDupFlag (43) and MsgSeqNum (34) are header tags: no body field can carry them.
            raw = message.toString()
            if "\x0143=Y\x01" in raw:
                mt = msg_type_of(raw)
                if mt in ("D", "G"):
                    # QuickFIX is replaying an old order after a resend request: never re-send an
                    # order into the market late. QuickFIX gap-fills it; the engine asks for status.
                    log.warning("%s: not re-sending stale %s %s", self.venue(sessionID), mt, value_of(raw, 11))
                    raise fix.DoNotSend()
                return
            sending = self._sending
            if sending is not None:
                # remember what took which sequence number (a Reject may name only that)
                self._sent_seq[(sending[0], int(value_of(raw, 34)))] = sending[1:]
                if len(self._sent_seq) > 100_000:
                    self._sent_seq.popitem(last=False)
        except QUICKFIX_EXCEPTIONS:
            raise
        except Exception as e:
            self._fail("toApp", e, sessionID)

    def fromApp(self, message, sessionID) -> None:
        recv_ns = self._now()
        raw = None
        try:
            raw = message.toString()
            mt = msg_type_of(raw)
            decoder = tr.APP_DECODERS.get(mt)
            if decoder is None:
                raise fix.UnsupportedMessageType()
            venue, drop_copy = self._session_of(sessionID)
            ctx = self.inbound.get(venue)
            if drop_copy:
                if mt == "8":      # only copies of execution reports matter there; the rest is audited
                    self._handler(DropCopyReport(tr.decode_execution_report(venue, raw, recv_ns, ctx)))
                return
            try:
                ev = decoder(venue, raw, recv_ns, ctx)
            except FixTranslationError as e:
                return self._uninterpretable(sessionID, venue, raw, e, recv_ns, ctx)
            except Exception as e:          # a defect of ours; the venue's message is still lost otherwise
                self._fail("fromApp", e, sessionID, raw)
                return self._uninterpretable(sessionID, venue, raw, e, recv_ns, ctx)
            if type(ev) is list:
                for e in ev:
                    self._handler(e)
            elif mt == "j":
                self._handler(self._referred(ev))
            else:
                self._handler(ev)
        except QUICKFIX_EXCEPTIONS:
            raise
        except Exception as e:
            self._fail("fromApp", e, sessionID, raw)

    def _uninterpretable(self, sessionID, venue: str, raw: str, e: Exception, recv_ns: int, ctx) -> None:
        """Hand the message on as an event and answer it at the business level (never a session
        Reject: see the module docstring). Runs inside fromApp's guard."""
        missing = isinstance(e, FixTranslationError) and e.missing
        reason = str(e) if isinstance(e, FixTranslationError) else f"internal error: {type(e).__name__}"
        ev = tr.uninterpretable(venue, raw, reason, recv_ns, ctx)
        log.warning("%s: cannot interpret %s seq %s: %s", venue, ev.msg_type, ev.ref_seq_num, reason)
        self._handler(ev)
        if ev.msg_type == "j":
            return      # never reject a reject: two venues could answer each other for ever
        d = fields(raw)
        reply = tr.encode_business_reject(
            ev.ref_seq_num, ev.msg_type,
            tr.BUSINESS_REJECT_FIELD_MISSING if missing else tr.BUSINESS_REJECT_OTHER,
            reason, d.get("11") or d.get("262"), self._begin.get(venue, "FIX.4.4"))
        fix.Session.sendToTarget(fix.Message(reply, False), sessionID)


class QuickFixSender:
    """Sends engine commands over the venue sessions (implements the engine's OrderSender), each
    in its session's dialect."""

    def __init__(self, app: EngineApplication, sessions: SessionFile) -> None:
        self._app = app
        # orders go over the order sessions: a venue's drop copy (read-only, perhaps another FIX
        # version) never lends them its dialect or dictionary
        order_sessions = sessions.by_venue().values()
        self._dialects = {s.venue: session_dialect(s) for s in order_sessions}
        self._dd_path = {s.venue: s.values.get("DataDictionary") for s in order_sessions}
        self._dds: dict[str, fix.DataDictionary] = {}

    def dialect(self, venue: str) -> Dialect:
        """The venue's dialect: what its orders carry, and whether its closes go by open day."""
        return self._dialects[venue]

    def is_up(self, venue: str) -> bool:
        s = self._app.sessions.get(venue)
        return s is not None and s.isLoggedOn()

    def _send(self, venue: str, text: str, msg_type: str, ref_id: str | None, dd: bool = False) -> bool:
        sid = self._app.session_ids.get(venue)
        if sid is None or not self.is_up(venue):
            return False
        if dd:
            msg = fix.Message(text, self._dd(venue), False)
        else:
            msg = fix.Message(text, False)
        self._app._sending = (venue, msg_type, ref_id)
        try:
            return fix.Session.sendToTarget(msg, sid)
        except fix.SessionNotFound:
            return False
        finally:
            self._app._sending = None

    def _dd(self, venue: str):
        d = self._dds.get(venue)
        if d is None:
            d = self._dds[venue] = fix.DataDictionary(self._dd_path[venue])
        return d

    def send_new(self, cmd: NewOrder, now_ns: int) -> bool:
        v = cmd.instrument.venue
        return self._send(v, tr.encode_new_order(cmd, now_ns, self._dialects[v]), "D", cmd.cl_ord_id)

    def send_cancel(self, cmd: CancelOrder, now_ns: int) -> bool:
        v = cmd.instrument.venue
        return self._send(v, tr.encode_cancel(cmd, now_ns, self._dialects[v]), "F", cmd.cl_ord_id)

    def send_replace(self, cmd: ReplaceOrder, now_ns: int) -> bool:
        v = cmd.instrument.venue
        return self._send(v, tr.encode_replace(cmd, now_ns, self._dialects[v]), "G", cmd.cl_ord_id)

    def send_status(self, cmd: QueryOrderStatus) -> bool:
        v = cmd.instrument.venue
        return self._send(v, tr.encode_status_request(cmd, self._dialects[v]), "H", cmd.cl_ord_id)

    def send_mass_status(self, cmd: RequestMassStatus) -> bool:
        return self._send(cmd.venue, tr.encode_mass_status_request(cmd, self._dialects[cmd.venue]), "AF", cmd.req_id)

    def send_positions_request(self, cmd: RequestPositions, now_ns: int) -> bool:
        v = cmd.venue
        return self._send(v, tr.encode_positions_request(cmd, now_ns, self._dialects[v]), "AN", cmd.req_id)

    def subscribe(self, cmd: SubscribeMarketData) -> bool:
        v = cmd.instrument.venue
        inbound = self._app.inbound.get(v)
        if inbound is not None:     # before it leaves: the snapshot may overtake our return
            inbound.subscribed(cmd.md_req_id, cmd.instrument.symbol)
        return self._send(v, tr.encode_md_request(cmd, self._dialects[v]), "V", cmd.md_req_id, dd=True)
