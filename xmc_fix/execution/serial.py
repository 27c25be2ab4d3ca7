"""The engine's single synchronisation point.

Every entry into the engine (QuickFIX callbacks on the session thread, timer ticks from the timer
thread, operator commands) goes through :meth:`Serializer.post`. Whoever holds the lock runs the
queued work in order; nobody ever waits for the lock. The session thread therefore runs its own
callback inline when it is uncontended (the common case: no hand-off on the hot path), and no
thread can deadlock against QuickFIX's own session mutex, which QuickFIX holds while it calls
``onLogout`` and ``toApp``.

A venue's report must not be acknowledged before the engine has applied it: QuickFIX advances the
session's incoming sequence number (and persists it) as soon as ``fromApp`` returns, so a report
queued behind another thread's work and lost in a crash would never be resent. Such callbacks use
:meth:`Serializer.post_sync`: inline when uncontended, as before; when another thread holds the
engine, the session thread waits until its report has run. (``fromApp`` runs outside QuickFIX's
session mutex, so the holder can still send on that session; ``onLogon``/``onLogout`` never wait.)
Posted from inside the engine (the shadow sender hands its paper reports back this way), a
``post_sync`` is queued behind the work under way and runs, on the same thread, before the engine is
let go: the caller cannot wait for itself.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable

log = logging.getLogger("xmc.engine")


class Serializer:
    def __init__(self, on_error: Callable[[Callable, tuple, BaseException], None] | None = None) -> None:
        self._q: deque = deque()
        self._lock = threading.Lock()
        self._on_error = on_error or (lambda fn, args, e: log.exception("engine error in %s", fn))
        self._owner: int | None = None       # the thread running the engine's work now

    def inside(self) -> bool:
        """The calling thread is running the engine's work."""
        return self._owner == threading.get_ident()

    def post(self, fn: Callable, *args) -> None:
        self._q.append((fn, args))
        # Re-check after releasing: work posted while we were finishing is never stranded.
        while self._q and self._lock.acquire(blocking=False):
            self._owner = threading.get_ident()
            try:
                q = self._q
                while q:
                    fn, args = q.popleft()
                    try:
                        fn(*args)
                    except Exception as e:  # the boundary: log, audit, carry on
                        try:
                            self._on_error(fn, args, e)
                        except Exception:
                            log.exception("error handler failed")
            finally:
                self._owner = None
                self._lock.release()

    def post_sync(self, fn: Callable, *args, timeout: float = 5.0) -> bool:
        """Post ``fn`` and return only once it has run (or ``timeout`` passed: False). From inside
        the engine: queued, it runs before the engine is let go (True)."""
        if self.inside():
            self.post(fn, *args)
            return True
        done = threading.Event()

        def run():
            try:
                fn(*args)
            except Exception as e:
                self._on_error(fn, args, e)
            finally:
                done.set()

        self.post(run)
        return done.is_set() or done.wait(timeout)

    def call(self, fn: Callable, *args, timeout: float = 10.0):
        """Run ``fn`` inside the engine from another thread and wait for its result."""
        if self.inside():
            return fn(*args)
        done = threading.Event()
        box: list = [None, None]

        def run():
            try:
                box[0] = fn(*args)
            except Exception as e:
                box[1] = e
            finally:
                done.set()

        self.post(run)
        if not done.wait(timeout):
            raise TimeoutError(f"engine did not run {getattr(fn, '__name__', fn)} within {timeout}s")
        if box[1] is not None:
            raise box[1]
        return box[0]
