"""A bare QuickFIX initiator for tests of the simulator as a venue: it logs on to whichever of the
simulator's sessions a test names — order sessions, drop copies, FIX 4.2 — with the engine's own
dictionaries, keeps every message as text, and sends whatever a test writes.

Nothing is translated: the test reads the venue's messages field by field. What the dictionaries
say is QuickFIX's to check: an application message that fails the receiving session's validation
never reaches ``fromApp`` and goes back to the venue as a session Reject (35=3), which
:attr:`FixPeer.rejects_sent` records.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "fixspecs"
SOH = "\x01"


@dataclass(frozen=True)
class Peer:
    """One session to open: the venue (for port and credentials), the venue side's CompID, the
    BeginString and the dictionary the client validates with."""

    venue: str
    target: str
    begin: str = "FIX.4.4"
    dictionary: str = "FIX44-XMC.xml"

    @property
    def key(self) -> str:
        return f"{self.begin}:XMC->{self.target}"


SHFE = Peer("SHFE", "SHFE", dictionary="FIX44-SHFE.xml")
SHFE_DC = Peer("SHFE", "SHFEDC", dictionary="FIX44-SHFE.xml")
LME = Peer("LME", "LME")
LME_DC = Peer("LME", "LMEDC")
COMEX = Peer("COMEX", "COMEX")
COMEX_DC = Peer("COMEX", "COMEXDC")
COMEX_42 = Peer("COMEX", "COMEX", "FIX.4.2", "FIX42.xml")


def fields(text: str) -> dict[str, str]:
    return dict(f.split("=", 1) for f in text.split(SOH) if f)


class _Recorder(fix.Application):
    def __init__(self, peers: list[Peer], credentials) -> None:
        super().__init__()
        self._venue = {p.key: p.venue for p in peers}
        self._credentials = credentials
        self.received: list[tuple[str, str]] = []     # (session key, text), application messages
        self.admin_in: list[tuple[str, str]] = []
        self.admin_out: list[tuple[str, str]] = []
        self.up: set[str] = set()
        self.cond = threading.Condition()

    def onCreate(self, sessionID): pass

    def onLogon(self, sessionID):
        with self.cond:
            self.up.add(sessionID.toString())
            self.cond.notify_all()

    def onLogout(self, sessionID):
        with self.cond:
            self.up.discard(sessionID.toString())
            self.cond.notify_all()

    def toAdmin(self, message, sessionID):
        try:
            if message.getHeader().getField(35) == "A":
                cred = self._credentials.get(self._venue.get(sessionID.toString()))
                if cred is not None and sessionID.getBeginString().getValue() == "FIX.4.2":
                    pw = cred.password.reveal()          # FIX 4.2: the password goes in RawData
                    message.setField(95, str(len(pw)))
                    message.setField(96, pw)
                elif cred is not None:
                    if cred.username:
                        message.setField(553, cred.username)
                    if cred.password is not None:
                        message.setField(554, cred.password.reveal())
            with self.cond:
                self.admin_out.append((sessionID.toString(), message.toString()))
        except Exception:   # noqa: BLE001 - nothing may escape into QuickFIX
            pass

    def fromAdmin(self, message, sessionID):
        try:
            with self.cond:
                self.admin_in.append((sessionID.toString(), message.toString()))
                self.cond.notify_all()
        except Exception:   # noqa: BLE001
            pass

    def toApp(self, message, sessionID): pass

    def fromApp(self, message, sessionID):
        try:
            with self.cond:
                self.received.append((sessionID.toString(), message.toString()))
                self.cond.notify_all()
        except Exception:   # noqa: BLE001
            pass


class FixPeer:
    """QuickFIX initiator sessions to the simulator; started logged on, stopped by :meth:`stop`."""

    def __init__(self, ports: dict[str, int], credentials, peers: list[Peer], *, heartbeat: int = 5) -> None:
        self.peers = {p.key: p for p in peers}
        self.app = _Recorder(peers, credentials)
        lines = ["[DEFAULT]", "ConnectionType=initiator", "SenderCompID=XMC", "SocketConnectHost=127.0.0.1",
                 f"HeartBtInt={heartbeat}", "ReconnectInterval=1", "StartTime=00:00:00", "EndTime=00:00:00",
                 "UseDataDictionary=Y", "ValidateUserDefinedFields=Y", "TimestampPrecision=6", "ResetOnLogon=Y"]
        for p in peers:
            lines += ["[SESSION]", f"BeginString={p.begin}", f"TargetCompID={p.target}",
                      f"SocketConnectPort={ports[p.venue]}", f"DataDictionary={SPECS / p.dictionary}"]
        settings = fix.SessionSettings()
        settings.setFromString("\n".join(lines) + "\n")
        self._dds = {p.key: fix.DataDictionary(str(SPECS / p.dictionary)) for p in peers}
        self._init = fix.SocketInitiator(self.app, fix.MemoryStoreFactory(), settings,
                                         fix.ScreenLogFactory(False, False, False))

    def start(self, timeout: float = 15.0) -> "FixPeer":
        self._init.start()
        assert self.wait(lambda: set(self.peers) <= self.app.up, timeout), \
            f"not logged on: {set(self.peers) - self.app.up}"
        return self

    def stop(self) -> None:
        self._init.stop()

    # -- sending -------------------------------------------------------------------------------
    def send(self, peer: Peer, msg_type: str, *pairs: tuple[str, str | None]) -> None:
        body = "".join(f"{t}={v}{SOH}" for t, v in pairs if v is not None)
        text = f"8={peer.begin}{SOH}9={len(body)}{SOH}35={msg_type}{SOH}{body}10=000{SOH}"
        sid = fix.SessionID(peer.begin, "XMC", peer.target)
        assert fix.Session.sendToTarget(fix.Message(text, self._dds[peer.key], False), sid)

    def new_order(self, peer: Peer, cl: str, symbol: str, side: str, qty, price=None, *, tif: str = "0",
                  pe: str | None = None, account: str = "XMC01") -> None:
        now = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
        extra = [("21", "1")] if peer.begin == "FIX.4.2" else []
        self.send(peer, "D", ("11", cl), ("1", account), *extra, ("55", symbol), ("54", side), ("60", now),
                  ("38", str(qty)), ("40", "2" if price is not None else "1"),
                  ("44", str(price) if price is not None else None), ("59", tif), ("77", pe))

    # -- receiving -----------------------------------------------------------------------------
    def messages(self, peer: Peer, msg_type: str | None = None) -> list[dict[str, str]]:
        with self.app.cond:
            got = [fields(t) for k, t in self.app.received if k == peer.key]
        return [m for m in got if msg_type is None or m["35"] == msg_type]

    def reports(self, peer: Peer, cl: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.messages(peer, "8") if cl is None or m.get("11") == cl]

    def wait(self, pred, timeout: float = 10.0) -> bool:
        """Until ``pred()`` holds (a bound on the test, not a claim about speed)."""
        deadline = time.monotonic() + timeout
        with self.app.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.app.cond.wait(min(left, 0.2))
        return True

    def wait_reports(self, peer: Peer, cl: str, n: int, timeout: float = 10.0) -> list[dict[str, str]]:
        assert self.wait(lambda: len(self.reports(peer, cl)) >= n, timeout), \
            f"{peer.key} {cl}: {len(self.reports(peer, cl))} of {n} reports: {self.reports(peer, cl)}"
        return self.reports(peer, cl)

    @property
    def rejects_sent(self) -> list[str]:
        """Session Rejects this client sent: messages that failed its dictionary."""
        with self.app.cond:
            return [t for _, t in self.app.admin_out if fields(t).get("35") == "3"]
