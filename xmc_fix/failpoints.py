"""Crash points, for the tests that kill the engine at a chosen moment of a ticket's life.

``XMC_CRASH_AT=name:N`` in the environment kills the process with SIGKILL (as ``kill -9`` would:
no cleanup, no flush) the N-th time the named point is reached. Unset — always, outside those
tests — :func:`crash_point` is a function that does nothing. The points:

- ``before_send``: the ticket's intent is journaled, no order has left;
- ``between_legs``: the first leg has been handed to QuickFIX, the second not;
- ``after_fill``: a fill is applied to its order, the ticket not yet moved on (no repair decided);
- ``repair_sent``: a repair step's first order has been handed to QuickFIX;
- ``flatten_sent``: a flatten step's orders have been handed to QuickFIX;
- ``ticket_end``: a ticket's end is journaled, its holding updated.
"""

from __future__ import annotations

import os
import signal

POINTS = ("before_send", "between_legs", "after_fill", "repair_sent", "flatten_sent", "ticket_end")


def _armed(spec: str):
    name, _, n = spec.partition(":")
    if name not in POINTS:
        raise ValueError(f"XMC_CRASH_AT={spec!r}: unknown point {name!r} (one of {', '.join(POINTS)})")
    left = [int(n or 1)]

    def crash_point(point: str) -> None:
        if point == name:
            left[0] -= 1
            if left[0] <= 0:
                os.kill(os.getpid(), signal.SIGKILL)
    return crash_point


def _never(point: str) -> None:
    pass


crash_point = _armed(os.environ["XMC_CRASH_AT"]) if os.environ.get("XMC_CRASH_AT") else _never
