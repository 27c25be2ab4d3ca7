"""QuickFIX's socket thread keeps one Python thread state once pinned (``xmc_fix.venues.gilstate``),
shown over real QuickFIX sessions: a ``threading.local`` value set in one callback is there in the
next one only when the thread is pinned (without the pin every callback runs in a new thread state),
and the engine's session thread is pinned before any market data reaches the engine."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
import quickfix as fix

from tests.integration.conftest import SESSIONS, start_sim
from tests.integration.test_repair import ONE_TICKET
from xmc_fix import app as A
from xmc_fix.bench import floor
from xmc_fix.venues import gilstate

pytestmark = pytest.mark.integration


class Probe(floor._Initiator):
    """A bare initiator that records, in each ``fromApp``, what a thread-local counter held."""

    def __init__(self, pin: bool) -> None:
        super().__init__()
        self.pin = pin
        self.local = threading.local()
        self.seen: list[tuple[int, bool]] = []

    def fromAdmin(self, m, sid):
        if self.pin:
            gilstate.pin()

    def fromApp(self, m, sid):
        n = getattr(self.local, "n", 0)
        self.seen.append((n, gilstate.pinned()))
        self.local.n = n + 1
        super().fromApp(m, sid)


def _round_trips(tmp_path, pin: bool, n: int = 20) -> list[tuple[int, bool]]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-m", "xmc_fix.bench.floor", "acceptor", str(port), str(tmp_path / "fa")],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline().startswith(b"READY")
        app = Probe(pin)
        ini = fix.SocketInitiator(app, fix.MemoryStoreFactory(),
                                  floor._settings("initiator", port, str(tmp_path / "fi")),
                                  fix.ScreenLogFactory(False, False, False))
        ini.start()
        try:
            assert app.up.wait(15)
            for _ in range(n):     # each ExecutionReport back is one fromApp on QuickFIX's thread
                app.got.clear()
                fix.Session.sendToTarget(fix.Message(floor.NOS, False), app.sid)
                assert app.got.wait(5)
        finally:
            ini.stop()
        return app.seen
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(10)


def test_without_the_pin_each_callback_runs_in_a_new_thread_state(tmp_path):
    seen = _round_trips(tmp_path, pin=False)
    assert len(seen) == 20 and seen == [(0, False)] * 20   # the local value never survives a callback


def test_once_pinned_quickfixs_thread_keeps_its_thread_state(tmp_path):
    seen = _round_trips(tmp_path, pin=True)
    assert seen == [(i, True) for i in range(20)]   # pinned at the logon; every value survives


def test_the_engines_session_thread_is_pinned_before_market_data_reaches_the_engine(tmp_path):
    sim = start_sim(tmp_path)
    p = tmp_path / "strategy.toml"
    p.write_text(ONE_TICKET)
    try:
        eng = A.engine_from_files(str(SESSIONS / "venues.cfg"), str(p), f"sqlite:///{tmp_path / 'engine.db'}",
                                  ports=sim.ports, store=str(tmp_path / "store-engine"),
                                  extra_credentials=sim.credentials, journal_path=str(tmp_path / "journal.jsonl"),
                                  control_path=str(tmp_path / "c.sock") if len(str(tmp_path)) < 90 else None)
        seen: list[tuple[str, bool]] = []
        handler = eng.app._handler

        def probe(ev):       # the adapter hands every decoded message to the engine through this
            if threading.current_thread() is not threading.main_thread():
                seen.append((type(ev).__name__, gilstate.pinned()))
            return handler(ev)

        eng.app._handler = probe
        eng.run(3)
    finally:
        sim.proc.stop()
    books = [pinned for name, pinned in seen if name in ("BookUpdate", "BookSnapshot")]
    assert len(books) > 10 and all(books), seen[:20]
