"""What the web view knows about the engine, and how it learns it.

:class:`EngineFeed` asks the engine's control socket for ``watch`` a few times a second and for
``status`` about once a second, keeps the executable basis of each pair as a history for the
charts, tracks whether the engine answers (live, or down and being retried), and hands every
snapshot, serialised once, to the browsers' queues. It never sends a command that changes the
engine (control actions go through :mod:`xmc_fix.web.server`), and it keeps no state across its
own restarts: a page opened later gets the history this process has seen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from pathlib import Path
from typing import Callable

from xmc_fix.control.client import ControlError, request

log = logging.getLogger("xmc.web")

LIVE, DOWN, CONNECTING = "live", "down", "connecting"
DOWN_RETRY_S = 1.0      # while the engine is away, ask again this often (not every tick)
QUEUE_DEPTH = 4         # snapshots waiting for a slow browser; older ones are dropped (each is whole)
SELL, BUY = "SELL_BASIS", "BUY_BASIS"


def _num(v) -> float | None:
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def dumps(obj) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"))


class EngineFeed:
    """The engine as last seen, the basis history per pair, and the browsers listening.

    ``ask(path, cmd, timeout=...)`` is the control client's blocking ``request``; it runs in a
    worker thread so a slow engine never stalls the event loop that serves the pages.
    """

    def __init__(self, socket_path: str | Path, *, ask: Callable[..., dict] = request, interval: float = 0.25,
                 status_every: float = 1.0, history_s: float = 300.0, timeout: float = 2.0,
                 wall: Callable[[], float] = time.time) -> None:
        self.path = Path(socket_path)
        self.interval = interval
        self.status_every = status_every
        self.timeout = timeout
        self._ask = ask
        self._wall = wall
        self._maxlen = max(10, int(history_s / interval))
        self.history: dict[str, deque] = {}
        self.watch: dict | None = None
        self.status: dict | None = None
        self._status_at = float("-inf")
        self.engine = {"state": CONNECTING, "since": wall(), "error": None, "run_id": None, "last_seen": None,
                       "socket": str(self.path)}
        self._subs: set[asyncio.Queue] = set()
        self._latest = dumps(self._message(wall(), {}))
        self._wake: asyncio.Event | None = None

    # -- what the engine said ------------------------------------------------------------
    def apply(self, now: float, watch: dict, status: dict | None) -> dict:
        """A successful poll: remember it, extend the charts; the message for the browsers."""
        if status is not None:
            self.status = status
            self._status_at = now
            run_id = status.get("run_id")
            if run_id != self.engine["run_id"]:
                if self.engine["run_id"] is not None:
                    log.warning("engine restarted: run %s -> %s", self.engine["run_id"], run_id)
                    self.history.clear()   # another run: its basis must not join the old line
                self.engine["run_id"] = run_id
        if self.engine["state"] != LIVE:
            self.engine.update(state=LIVE, since=now, error=None)
        self.engine["last_seen"] = now
        self.watch = watch
        points = {}
        for name, p in (watch.get("pairs") or {}).items():
            ex = p.get("executable") or {}
            pt = (round(now, 3), _num((ex.get(SELL) or {}).get("basis")), _num((ex.get(BUY) or {}).get("basis")))
            self.history.setdefault(name, deque(maxlen=self._maxlen)).append(pt)
            points[name] = pt
        return self._message(now, points)

    def down(self, now: float, error: str) -> dict:
        """A failed poll: the engine stopped, is restarting, or does not answer."""
        if self.engine["state"] != DOWN:
            log.warning("engine not answering on %s: %s", self.path, error)
            self.engine.update(state=DOWN, since=now)
        self.engine["error"] = error if self.path.exists() else f"no engine is running with control socket {self.path}"
        self.watch = None
        self.status = None
        self._status_at = float("-inf")   # the first answer after a restart brings its run id
        return self._message(now, {})

    def _message(self, now: float, points: dict) -> dict:
        return {"type": "snapshot", "ts": now, "engine": dict(self.engine), "watch": self.watch,
                "status": self.status, "points": points}

    def init_message(self, control: bool) -> str:
        """The first message of each browser connection: settings and the charts so far."""
        hist = {name: {"t": [p[0] for p in h], "sell": [p[1] for p in h], "buy": [p[2] for p in h]}
                for name, h in self.history.items()}
        return dumps({"type": "init", "control": control, "interval": self.interval,
                      "history_s": self._maxlen * self.interval, "history": hist})

    @property
    def latest(self) -> str:
        return self._latest

    # -- browsers -----------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_DEPTH)
        self._subs.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._subs.discard(q)

    @property
    def listeners(self) -> int:
        return len(self._subs)

    def publish(self, msg: dict) -> None:
        self._latest = dumps(msg)
        for q in list(self._subs):
            if q.full():
                q.get_nowait()
            q.put_nowait(self._latest)

    def close(self) -> None:
        """Tell every browser stream to end (server shutdown)."""
        for q in list(self._subs):
            if q.full():
                q.get_nowait()
            q.put_nowait(None)

    # -- the polling loop ----------------------------------------------------------------
    def poke(self) -> None:
        """Poll now (after a control action), status included."""
        self._status_at = float("-inf")
        if self._wake is not None:
            self._wake.set()

    async def poll_once(self) -> None:
        now = self._wall()
        try:
            watch = await asyncio.to_thread(self._ask, self.path, "watch", timeout=self.timeout)
            status = None
            if now - self._status_at >= self.status_every:
                status = await asyncio.to_thread(self._ask, self.path, "status", timeout=self.timeout)
            msg = self.apply(self._wall(), watch, status)
        except ControlError as e:
            msg = self.down(self._wall(), str(e))
        except Exception as e:  # an answer of an unexpected shape must not end the view
            log.exception("web feed: unexpected answer")
            msg = self.down(self._wall(), f"{type(e).__name__}: {e}")
        self.publish(msg)

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            t0 = time.monotonic()
            await self.poll_once()
            pause = self.interval if self.engine["state"] == LIVE else DOWN_RETRY_S
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, pause - (time.monotonic() - t0)))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
