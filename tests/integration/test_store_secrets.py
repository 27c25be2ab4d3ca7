"""The Logon's password in QuickFIX's FileStore, over real QuickFIX sessions: overwritten as soon as
QuickFIX has stored it (before it is on the wire), and a password a crash left in a store is
overwritten when the engine starts, before QuickFIX opens the store."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import quickfix as fix

from tests.integration.conftest import SESSIONS, VENUE_SESSIONS, wait_until
from xmc_fix.app import engine_from_files
from xmc_fix.audit.filestore import read_store, store_prefix
from xmc_fix.demo import free_ports
from xmc_fix.venues.credentials import Credentials, Secret

pytestmark = pytest.mark.integration
VENUES = ("SHFE", "LME", "COMEX", "CNHFX")


class SilentVenue:
    """Accepts TCP connections and reads what arrives; never answers (a logon that never completes)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn) -> None:
        while data := conn.recv(65536):
            with self._lock:
                self.received += data

    def logons(self) -> int:
        with self._lock:
            return self.received.count(b"\x0135=A\x01")

    def close(self) -> None:
        self.sock.close()


def engine(tmp_path: Path, port: int, creds: dict[str, Credentials]):
    return engine_from_files(str(SESSIONS / "venues.cfg"), str(SESSIONS / "strategy.toml"),
                             f"sqlite:///{tmp_path / 'engine.db'}", ports={v: port for v in VENUES},
                             store=str(tmp_path / "store"), log_dir=str(tmp_path / "log"), extra_credentials=creds,
                             journal_path=str(tmp_path / "journal.jsonl"))


def test_a_logon_is_overwritten_in_the_store_before_it_reaches_the_venue(tmp_path):
    venue = SilentVenue()
    creds = {v: Credentials(f"user-{v}", Secret(f"pw-{v}-4f9a1c")) for v in VENUES}
    eng = engine(tmp_path, venue.port, creds)
    try:
        eng.start()
        # the venue has read every Logon: QuickFIX stored each before sending it, and none completed
        assert wait_until(lambda: venue.logons() >= VENUE_SESSIONS, 8), venue.received[:500]
        for v in VENUES:
            sf = read_store(tmp_path / "store", f"FIX.4.4:XMC->{v}")
            logon = sf.messages[1]
            assert b"\x0135=A\x01" in logon and b"\x01553=user-" in logon
            assert f"pw-{v}".encode() not in logon and b"\x01554=" + b"*" * len(f"pw-{v}-4f9a1c") + b"\x01" in logon
        assert len(eng.app.logon_scrub_us) == VENUE_SESSIONS      # the drop copies' Logons too
        print(f"\nstore scrub, password handed to QuickFIX -> overwritten in the store (us): "
              f"{sorted(round(x) for x in eng.app.logon_scrub_us)}")
    finally:
        eng.stop(drain_s=0)
        venue.close()


def stored_logon(password: str) -> str:
    m = fix.Message()
    h = m.getHeader()
    h.setField(fix.BeginString("FIX.4.4"))
    h.setField(fix.MsgType("A"))
    h.setField(fix.MsgSeqNum(1))
    h.setField(fix.SenderCompID("XMC"))
    h.setField(fix.TargetCompID("SHFE"))
    h.setField(52, time.strftime("%Y%m%d-%H:%M:%S.000000", time.gmtime()))
    m.setField(fix.EncryptMethod(0))
    m.setField(fix.HeartBtInt(10))
    m.setField(fix.Username("trader"))
    m.setField(fix.Password(password))
    return m.toString()


def test_a_password_a_crash_left_in_a_store_is_overwritten_before_quickfix_opens_it(tmp_path):
    # the store as QuickFIX leaves it when the process dies right after sending a Logon
    logon = stored_logon("left-by-a-crash").encode()
    prefix = store_prefix(tmp_path / "store", "FIX.4.4:XMC->SHFE")
    prefix.parent.mkdir(parents=True)
    prefix.with_name(prefix.name + ".body").write_bytes(logon)
    prefix.with_name(prefix.name + ".header").write_text(f"1,0,{len(logon)} ")
    prefix.with_name(prefix.name + ".seqnums").write_text("0000000002 : 0000000001")
    prefix.with_name(prefix.name + ".session").write_text(time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()))

    eng = engine(tmp_path, free_ports(1)[0], {})       # nothing listens there: no logon, no logout
    try:
        eng.start()
        # QuickFIX kept the store (the message at its offset) and carries on from its numbers ...
        assert eng._config["store_marks"]["FIX.4.4:XMC->SHFE"]["start"]["next_out"] == 2
        kept = read_store(tmp_path / "store", "FIX.4.4:XMC->SHFE").messages[1]
        assert len(kept) == len(logon) and kept.startswith(b"8=FIX.4.4\x01") and b"\x0135=A\x01" in kept
        # ... with the password overwritten
        assert b"left-by-a-crash" not in prefix.with_name(prefix.name + ".body").read_bytes()
        assert b"\x01554=" + b"*" * 15 + b"\x01" in kept
    finally:
        eng.stop(drain_s=0)
    events = [d for (d,) in _rows(f"sqlite:///{tmp_path / 'engine.db'}",
                                  "select detail from events where kind='store_scrubbed'")]
    assert events and '"FIX.4.4:XMC->SHFE": 1' in events[0]


def _rows(db, sql):
    from sqlalchemy import create_engine, text
    e = create_engine(db)
    with e.connect() as conn:
        rows = conn.execute(text(sql)).all()
    e.dispose()
    return rows
