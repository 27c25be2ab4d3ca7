"""Keep one Python thread state on each QuickFIX thread, instead of one per callback.

QuickFIX-Python's SWIG directors wrap every call into Python (``fromApp``, ``toApp``, a Log's
``onIncoming``...) in ``PyGILState_Ensure`` / ``PyGILState_Release``. On a thread Python did not
start, such as QuickFIX's socket thread, ``Ensure`` finds no thread state, so it creates one, and
``Release`` destroys it again when its count falls back to zero. Every message therefore pays for
creating and tearing down a thread state. The engine takes two callbacks per market-data message
(the audit's Log, then ``fromApp``), so it pays twice.

:func:`pin` calls ``PyGILState_Ensure`` once more on the current thread and never releases it. The
thread's count then never returns to zero, and its thread state lives as long as the thread. Each
later callback only takes the GIL and gives it back: ``Release`` still gives the GIL back after
every callback, so nothing else changes for the other threads.

Measured on this 2-core VM, ``xmc bench``'s flood (one venue, audit on, 5 s, alternating):
- 8,734-9,333 msg/s sustained without the pin;
- 15,775-16,198 msg/s with it.

What it leaves behind:
- one thread state per QuickFIX thread (a few hundred bytes), freed when the interpreter finalizes;
- ``threading.local`` values set on such a thread now persist across its callbacks, as they do on
  any Python thread. That persistence is also how :func:`pin` knows a thread is already pinned.

The engine pins its session thread at the first admin message and at logon
(:class:`xmc_fix.venues.adapter.EngineApplication`). The bench's plain script and floor keep
QuickFIX's defaults, as a user would write them.
"""

from __future__ import annotations

import ctypes
import threading

_ensure = ctypes.pythonapi.PyGILState_Ensure
_ensure.argtypes = []
_ensure.restype = ctypes.c_int
_state = threading.local()


def pinned() -> bool:
    """Whether the calling thread's thread state has been kept (it is, for good, once pinned)."""
    return getattr(_state, "pinned", False)


def pin() -> bool:
    """Keep the calling thread's Python thread state for the rest of the thread's life; True if
    it was pinned by this call, False if it already was. Cheap enough for every admin callback."""
    if getattr(_state, "pinned", False):
        return False
    _ensure()                 # count +1, never released: the state outlives this callback
    _state.pinned = True      # kept in that state's dict, so seen by the thread's next callbacks
    return True
