"""The floor: what QuickFIX-Python itself costs on this machine, with none of our code in the way.

Two processes, each a bare ``quickfix.Application``:

- round trip: the initiator sends a NewOrderSingle, the acceptor answers each with an
  ExecutionReport from its ``fromApp``; the initiator times send-to-receipt;
- ingest: the acceptor sends incremental refreshes (35=X, two entries) as fast as it can for a
  while; the initiator counts what its ``fromApp`` receives per second.

Run as ``python -m xmc_fix.bench.floor acceptor PORT`` (the echo/flood side); the measuring side is
:func:`measure`, called in the benchmark's own process.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import quickfix as fix

from xmc_fix.fixwire import frame

SPEC = str(Path(__file__).resolve().parent.parent.parent / "fixspecs" / "FIX44-XMC.xml")


def _settings(role: str, port: int, store: str) -> fix.SessionSettings:
    sender, target = ("FLOORA", "FLOORI") if role == "acceptor" else ("FLOORI", "FLOORA")
    text = (f"[DEFAULT]\nConnectionType={role}\nBeginString=FIX.4.4\nSenderCompID={sender}\nTargetCompID={target}\n"
            f"StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=Y\nDataDictionary={SPEC}\n"
            f"FileStorePath={store}\nResetOnLogon=Y\nTimestampPrecision=6\nSocketNodelay=Y\n"
            f"HeartBtInt=30\nReconnectInterval=1\nSocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n"
            f"SocketAcceptPort={port}\nAllowedRemoteAddresses=127.0.0.1\n[SESSION]\n")
    s = fix.SessionSettings()
    s.setFromString(text)
    return s


ER = ("8=FIX.4.4\x019=10\x0135=8\x0137=O1\x0111=C1\x0117=E1\x01150=F\x0139=2\x0155=CU\x0154=1\x0138=1\x01"
      "32=1\x0131=100\x01151=0\x0114=1\x016=100\x0110=000\x01")
NOS = ("8=FIX.4.4\x019=10\x0135=D\x0111=C1\x0155=CU\x0154=1\x0160=20260101-00:00:00.000000\x0138=1\x0140=2\x01"
       "44=100\x0159=3\x0110=000\x01")


class QuietApp(fix.Application):
    """A QuickFIX application that does nothing: the benchmark's peers override what they use."""

    def onCreate(self, sid):
        pass

    def onLogon(self, sid):
        pass

    def onLogout(self, sid):
        pass

    def toAdmin(self, m, sid):
        pass

    def fromAdmin(self, m, sid):
        pass

    def toApp(self, m, sid):
        pass

    def fromApp(self, m, sid):
        pass


class _Acceptor(QuietApp):
    """Echoes an ExecutionReport for each order; floods refreshes when asked (35=V)."""

    def __init__(self) -> None:
        super().__init__()
        self.sid = None
        self.flood = threading.Event()

    def onCreate(self, sid):
        self.sid = sid

    def onLogout(self, sid):
        self.flood.clear()

    def fromApp(self, m, sid):
        try:
            t = m.getHeader().getField(35)
            if t == "D":
                fix.Session.sendToTarget(fix.Message(ER, False), sid)
            elif t == "V":
                self.flood.set()
        except Exception:
            pass


def acceptor_main(port: int, store: str) -> None:
    from xmc_fix.procutil import die_with_parent
    die_with_parent()
    app = _Acceptor()
    s = _settings("acceptor", port, store)
    acc = fix.SocketAcceptor(app, fix.MemoryStoreFactory(), s, fix.ScreenLogFactory(False, False, False))
    acc.start()
    print("READY", flush=True)
    dd = fix.DataDictionary(SPEC)
    body = ("262=M1\x01268=2\x01279=1\x01269=0\x0155=CU\x01270=77300\x01271=12\x0183=1\x01"
            "279=1\x01269=1\x0155=CU\x01270=77310\x01271=7\x0183=1\x01")
    x = frame("FIX.4.4", "X", body)
    msg = fix.Message(x, dd, False)
    stop = threading.Event()
    try:
        while not stop.is_set():
            if app.flood.wait(0.2):
                # as fast as the session accepts them, until the client logs out
                while app.flood.is_set():
                    fix.Session.sendToTarget(msg, app.sid)
            if sys.stdin.closed:
                break
    except KeyboardInterrupt:
        pass
    finally:
        acc.stop()


class _Initiator(QuietApp):
    def __init__(self) -> None:
        super().__init__()
        self.sid = None
        self.up = threading.Event()
        self.got = threading.Event()
        self.count = 0

    def onCreate(self, sid):
        self.sid = sid

    def onLogon(self, sid):
        self.up.set()

    def onLogout(self, sid):
        self.up.clear()

    def fromApp(self, m, sid):
        self.count += 1
        self.got.set()


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure(work: Path, *, samples: int = 1000, ingest_s: float = 3.0, warmup: int = 100) -> dict:
    """Start the acceptor process, measure round trips and ingest, stop it; figures in us and msg/s."""
    import socket
    import subprocess
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "xmc_fix.bench.floor", "acceptor", str(port), str(work / "fa")],
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline().startswith(b"READY")
        app = _Initiator()
        ini = fix.SocketInitiator(app, fix.MemoryStoreFactory(), _settings("initiator", port, str(work / "fi")),
                                  fix.ScreenLogFactory(False, False, False))
        ini.start()
        if not app.up.wait(15):
            raise RuntimeError("floor: no logon")
        rtt = []
        for i in range(samples + warmup):
            app.got.clear()
            m = fix.Message(NOS, False)
            t0 = time.perf_counter_ns()
            fix.Session.sendToTarget(m, app.sid)
            if not app.got.wait(5):
                raise RuntimeError("floor: no execution report")
            t1 = time.perf_counter_ns()
            if i >= warmup:
                rtt.append((t1 - t0) / 1000)
            time.sleep(0.0005)
        # ingest: ask for the flood, count for ingest_s after a short ramp
        app.count = 0
        fix.Session.sendToTarget(fix.Message("8=FIX.4.4\x019=10\x0135=V\x01262=F\x01263=1\x01264=1\x01267=1\x01"
                                             "269=0\x01146=1\x0155=CU\x0110=000\x01",
                                             fix.DataDictionary(SPEC), False), app.sid)
        time.sleep(0.5)
        c0, t0 = app.count, time.perf_counter()
        time.sleep(ingest_s)
        c1, t1 = app.count, time.perf_counter()
        ini.stop()
        return {"rtt_us": {"n": len(rtt), "p50": round(_pct(rtt, 0.5), 1), "p99": round(_pct(rtt, 0.99), 1),
                           "samples": rtt},
                "ingest_per_s": round((c1 - c0) / (t1 - t0))}
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "acceptor":
        os.makedirs(sys.argv[3], exist_ok=True)
        acceptor_main(int(sys.argv[2]), sys.argv[3])
    else:
        print("usage: python -m xmc_fix.bench.floor acceptor PORT STORE", file=sys.stderr)
        sys.exit(2)
