"""The acceptor QuickFIX's acceptance scripts expect (``xmc sim --acceptance-test``).

One TCP port, SenderCompID ``ISLD``, a 24-hour session with ResetOnLogon=Y for each
BeginString/TargetCompID pair of tests/conformance/quickfix-at/README.md (FIX 4.0 to FIXT 1.1 /
FIX 5.0 SP2), each validated against its dictionary in ``fixspecs/``. The session layer is plain
QuickFIX; the application behind it is the small one the scripts assume, not the exchange:

- every NewOrderSingle (35=D) and SecurityDefinition (35=d) is echoed back with the same body;
- a NewOrderSingle with PossResend (97=Y) whose ClOrdID was already seen in the current logon of
  that session is dropped; a session forgets its ClOrdIDs when it logs out (or on again);
- any other application message gets QuickFIX's UnsupportedMessageType rejection.

It does not match orders, keep books, check credentials or write an audit trail: it exists so
that ``xmc certify`` (and any other runner of the ``.def`` scripts) has a conformant acceptor to
run against, and so that QuickFIX's own session behaviour is what is certified.

QuickFIX 1.16 acceptors listen on every interface (it has no SocketAcceptHost setting); run this
on a host whose port is not exposed, or behind a firewall.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import quickfix as fix

from xmc_fix.errors import ConfigError
from xmc_fix.fixwire import readable
from xmc_fix.venues.adapter import QUICKFIX_EXCEPTIONS

log = logging.getLogger("xmc.sim.acceptance")

SPEC_DIR = Path(__file__).resolve().parents[2] / "fixspecs"
SENDER_COMP_ID = "ISLD"
ECHOED_MSG_TYPES = frozenset({"D", "d"})


@dataclass(frozen=True, slots=True)
class AcceptanceSession:
    """One line of the README's session table."""

    begin_string: str
    target_comp_id: str
    dictionary: str                       # FIX4x.xml, or the FIXT application dictionary
    default_appl_ver_id: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    def settings(self, spec_dir: Path) -> dict[str, str]:
        s = {"BeginString": self.begin_string, "TargetCompID": self.target_comp_id}
        if self.begin_string.startswith("FIXT"):
            s["TransportDataDictionary"] = str(spec_dir / "FIXT11.xml")
            s["AppDataDictionary"] = str(spec_dir / self.dictionary)
            s["DefaultApplVerID"] = self.default_appl_ver_id or ""
        else:
            s["DataDictionary"] = str(spec_dir / self.dictionary)
        s.update(self.extra)
        return s


SESSIONS: tuple[AcceptanceSession, ...] = (
    AcceptanceSession("FIX.4.0", "TW40", "FIX40.xml"),
    AcceptanceSession("FIX.4.1", "TW41", "FIX41.xml"),
    AcceptanceSession("FIX.4.2", "TW42", "FIX42.xml"),
    AcceptanceSession("FIX.4.3", "TW43", "FIX43.xml"),
    AcceptanceSession("FIX.4.4", "TW44", "FIX44.xml"),
    AcceptanceSession("FIXT.1.1", "TW50", "FIX50.xml", "FIX.5.0"),
    AcceptanceSession("FIXT.1.1", "TW50SP1", "FIX50SP1.xml", "FIX.5.0SP1"),
    AcceptanceSession("FIXT.1.1", "TW50SP2", "FIX50SP2.xml", "FIX.5.0SP2"),
    AcceptanceSession("FIX.4.4", "TW", "FIX44.xml"),
    AcceptanceSession("FIX.4.4", "NO_CHECK_FIELDS_HAVE_VALUES", "FIX44.xml",
                      extra=(("ValidateFieldsHaveValues", "N"),)),
)

_DEFAULTS = {
    "ConnectionType": "acceptor",
    "SenderCompID": SENDER_COMP_ID,
    "StartTime": "00:00:00",
    "EndTime": "00:00:00",
    "ResetOnLogon": "Y",
    "UseDataDictionary": "Y",
    "SocketReuseAddress": "Y",
    "SocketNodelay": "Y",
    "AllowedRemoteAddresses": "127.0.0.1",   # QuickFIX 1.16 binds every interface: loopback peers only
}


def settings_text(port: int, spec_dir: Path = SPEC_DIR,
                  sessions: tuple[AcceptanceSession, ...] = SESSIONS) -> str:
    """The QuickFIX settings of the acceptance acceptor, as QuickFIX's own file format."""
    lines = ["[DEFAULT]", *(f"{k}={v}" for k, v in _DEFAULTS.items()), f"SocketAcceptPort={port}"]
    for s in sessions:
        lines += ["", "[SESSION]", *(f"{k}={v}" for k, v in s.settings(spec_dir).items())]
    return "\n".join(lines) + "\n"


def _check_dictionaries(spec_dir: Path, sessions: tuple[AcceptanceSession, ...]) -> None:
    for s in sessions:
        for key, value in s.settings(spec_dir).items():
            if key.endswith("DataDictionary") and not Path(value).is_file():
                raise ConfigError("dictionary not found", file=value, key=f"{s.begin_string}:{s.target_comp_id}",
                                  remedy=f"put the QuickFIX dictionaries in {spec_dir}")


class AcceptanceApplication(fix.Application):
    """Echo orders and security definitions; refuse everything else. Every callback is guarded."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.echoed = 0
        self.dropped_resends = 0

    # -- session events ----------------------------------------------------------------------
    def onCreate(self, sessionID) -> None:
        pass

    def onLogon(self, sessionID) -> None:
        self._forget(sessionID)

    def onLogout(self, sessionID) -> None:
        self._forget(sessionID)

    def _forget(self, sessionID) -> None:
        try:
            with self._lock:
                self._seen.pop(sessionID.toString(), None)
        except Exception:
            log.exception("acceptance: forgetting ClOrdIDs failed")

    # -- messages ----------------------------------------------------------------------------
    def toAdmin(self, message, sessionID) -> None:
        pass

    def fromAdmin(self, message, sessionID) -> None:
        pass

    def toApp(self, message, sessionID) -> None:
        pass

    def fromApp(self, message, sessionID) -> None:
        try:
            msg_type = message.getHeader().getField(35)
            if msg_type not in ECHOED_MSG_TYPES:
                raise fix.UnsupportedMessageType()
            if msg_type == "D" and not self._first_sight(message, sessionID):
                self.dropped_resends += 1
                return
            fix.Session.sendToTarget(fix.Message(message), sessionID)
            self.echoed += 1
        except QUICKFIX_EXCEPTIONS:
            raise
        except Exception:
            log.exception("acceptance: fromApp failed on %s", _shown(message))
            self._reject_internal(message, sessionID)

    def _first_sight(self, message, sessionID) -> bool:
        """Record the order's ClOrdID; False for a PossResend of one already seen this logon."""
        cl_ord_id = message.getField(11)  # FieldNotFound -> QuickFIX rejects: required tag missing
        header = message.getHeader()
        poss_resend = header.isSetField(97) and header.getField(97) == "Y"
        with self._lock:
            seen = self._seen.setdefault(sessionID.toString(), set())
            if poss_resend and cl_ord_id in seen:
                return False
            seen.add(cl_ord_id)
        return True

    def _reject_internal(self, message, sessionID) -> None:
        """Answer a message we failed on with a rejection naming it, rather than with silence."""
        try:
            ref_seq = message.getHeader().getField(34)
            ref_type = message.getHeader().getField(35)
            reply = fix.Message()
            if sessionID.getBeginString().getValue() in ("FIX.4.0", "FIX.4.1"):
                reply.getHeader().setField(35, "3")
                reply.setField(45, ref_seq)
            else:
                reply.getHeader().setField(35, "j")
                reply.setField(45, ref_seq)
                reply.setField(372, ref_type)
                reply.setField(380, "0")
            reply.setField(58, "internal error")
            fix.Session.sendToTarget(reply, sessionID)
        except Exception:
            log.exception("acceptance: could not send the rejection")


def _shown(message) -> str:
    try:
        return readable(message.toString())
    except Exception:
        return "<unprintable message>"


class AcceptanceServer:
    """The acceptance acceptor: QuickFIX SocketAcceptor, MemoryStore, the echo application."""

    def __init__(self, port: int, *, spec_dir: Path | str = SPEC_DIR, log_dir: str | None = None,
                 sessions: tuple[AcceptanceSession, ...] = SESSIONS) -> None:
        spec_dir = Path(spec_dir)
        _check_dictionaries(spec_dir, sessions)
        self.port = port
        self.sessions = sessions
        self.settings_text = settings_text(port, spec_dir, sessions)
        self._settings = fix.SessionSettings()
        self._settings.setFromString(self.settings_text)
        self.app = AcceptanceApplication()
        self._store = fix.MemoryStoreFactory()
        if log_dir:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            self._logs = fix.FileLogFactory(str(log_dir))
        else:
            self._logs = fix.ScreenLogFactory(False, False, False)
        self._acceptor = None

    def start(self) -> "AcceptanceServer":
        try:
            self._acceptor = fix.SocketAcceptor(self.app, self._store, self._settings, self._logs)
            self._acceptor.start()
        except (fix.ConfigError, fix.RuntimeError) as e:
            self._acceptor = None
            raise ConfigError(f"QuickFIX cannot start the acceptor: {e}", key=f"port {self.port}",
                              remedy="pick a free port") from e
        return self

    def stop(self) -> None:
        if self._acceptor is None:
            return
        # Stopping a QuickFIX 1.16 acceptor right after a peer's logout has crashed it (SIGSEGV):
        # let the last disconnect settle first.
        time.sleep(0.5)
        self._acceptor.stop()
        self._acceptor = None
