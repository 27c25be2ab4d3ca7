"""The engine's two big tables, each a dict with the indexes that keep the timer and the status
screens from scanning it: :class:`ProgressTable` (every ticket's progress; the open ones indexed, the
finished ones counted and kept in a heap of end times) and :class:`OrderTable` (orders by ClOrdID,
with each ticket's ClOrdIDs). A busy day retains thousands of finished tickets and their orders for
``retain_finished_ms``; what the engine looks at several times a tick, or every ten seconds to forget
the oldest, reads these indexes instead (20,000 retained tickets: a scan took 13.4 ms on a 2-core
VM, the heap's look 0.03 ms).

The progress table's entries are :class:`xmc_fix.execution.state.TicketProgress` (not imported:
state imports this module). Both refuse ``update``/``setdefault``: every entry passes
``__setitem__``, which keeps the indexes.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque

from xmc_fix.domain.orders import Order


class ProgressTable(dict):
    """Every ticket's progress by ticket id, with an index of the ones that may be open (``open``)
    and the count of the finished ones by final state (``finished``), so that neither the timer's
    many looks at open tickets nor a status screen scans the finished tickets a busy day retains.

    Each ticket put in the table enters the index; :meth:`settle` moves the finished ones out of it
    into the counts (a final state never changes while final); :meth:`reopened` puts one back when
    a late fill reopens it. The table and ``EngineState.tickets`` hold the same ticket ids."""

    def __init__(self) -> None:
        super().__init__()
        self.open: dict = {}                    # ticket id -> TicketProgress, may be open
        self.finished: Counter = Counter()      # final state -> tickets out of the index in it
        #: (ticket id, pair, final state, ended ns) as tickets leave the index, the latest: what the
        #: metrics read as tickets finished since their last look
        self.settled: deque = deque(maxlen=100_000)
        #: (ended ns, ticket id) of each ticket as it leaves the index, a heap: what
        #: :meth:`expired` reads, oldest first, so forgetting never scans the retained tickets
        self.ended: list[tuple[int, str]] = []

    def __setitem__(self, tid: str, p) -> None:
        if tid in self and tid not in self.open:
            self.finished[dict.__getitem__(self, tid).ticket.state] -= 1
        super().__setitem__(tid, p)
        self.open[tid] = p

    def __delitem__(self, tid: str) -> None:
        p = dict.__getitem__(self, tid)
        if self.open.pop(tid, None) is None:
            self.finished[p.ticket.state] -= 1
        super().__delitem__(tid)

    def pop(self, tid, *default):
        if tid in self:
            p = dict.__getitem__(self, tid)
            del self[tid]
            return p
        return super().pop(tid, *default)

    def settle(self) -> dict:
        """Move the finished tickets out of the index; the index (open tickets only)."""
        idx = self.open
        done = [tid for tid, p in idx.items() if p.ticket.state.is_terminal]
        for tid in done:
            t = idx.pop(tid).ticket
            self.finished[t.state] += 1
            self.settled.append((tid, t.pair, t.state.value, t.ended_ns))
            if t.ended_ns is not None:
                heapq.heappush(self.ended, (t.ended_ns, tid))
        return idx

    def expired(self, before_ns: int) -> list[tuple[int, str]]:
        """Take off the heap the (ended ns, ticket id) of the tickets that finished before
        ``before_ns`` and are still finished, in the table, and ended then (not reopened since;
        one that finished again later has a newer entry), oldest first."""
        self.settle()
        heap, out, seen = self.ended, [], set()
        while heap and heap[0][0] < before_ns:
            ended, tid = heapq.heappop(heap)
            p = self.get(tid)
            if p is None or tid in self.open or not p.ticket.state.is_terminal or tid in seen:
                continue                    # forgotten, or reopened: settled again when it ends again
            if p.ticket.ended_ns == ended:
                seen.add(tid)
                out.append((ended, tid))
            elif p.ticket.ended_ns is not None:   # its end time changed while final: keep it by the new one
                heapq.heappush(heap, (p.ticket.ended_ns, tid))
        return out

    def look_again(self, entries: list[tuple[int, str]]) -> None:
        """Put back entries :meth:`expired` gave that the caller could not forget yet."""
        for entry in entries:
            heapq.heappush(self.ended, entry)

    def reopened(self, tid: str, was) -> None:
        """A late fill took ticket ``tid`` out of final state ``was``."""
        p = self.get(tid)
        if p is not None and tid not in self.open:
            self.finished[was] -= 1
            self.open[tid] = p

    def update(self, *a, **kw):                     # every entry must pass __setitem__
        raise TypeError("ProgressTable: assign entries one by one")

    setdefault = update


class OrderTable(dict):
    """Orders by ClOrdID (an order is also reachable by its cancels' and replacements' ClOrdIDs),
    with the ClOrdIDs entered for each ticket (``by_ticket``): forgetting a finished ticket's
    orders reads its own, never every order a busy day retains."""

    def __init__(self) -> None:
        super().__init__()
        self.by_ticket: dict[str, set[str]] = {}

    def __setitem__(self, cl_ord_id: str, order: Order) -> None:
        super().__setitem__(cl_ord_id, order)
        ids = self.by_ticket.get(order.ticket_id)
        if ids is None:
            self.by_ticket[order.ticket_id] = {cl_ord_id}
        else:
            ids.add(cl_ord_id)

    def forget_ticket(self, tid: str) -> list[str]:
        """Remove every ClOrdID that names an order of ticket ``tid``; those ClOrdIDs."""
        gone = [cl for cl in self.by_ticket.pop(tid, ()) if cl in self and dict.__getitem__(self, cl).ticket_id == tid]
        for cl in gone:
            del self[cl]
        return gone

    def update(self, *a, **kw):                     # every entry must pass __setitem__
        raise TypeError("OrderTable: assign entries one by one")

    setdefault = update
