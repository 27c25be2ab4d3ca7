"""The facts one scrape reads, as frozen values: the engine's (:func:`take`, run inside the engine
through its Serializer, between two callbacks), the venue sessions' (:func:`session_facts`, read
from QuickFIX beside it) and the audit writer's backlog.

:func:`take` only reads what the engine keeps anyway, through the engine's read-only
:class:`~xmc_fix.execution.state.StateView` — the state holder, its counters, the latency samples
of :class:`~xmc_fix.execution.state.EngineStats` (decision to send, send to acknowledgement), the
tickets as they left the open index — and the alerter's counts, and copies out what is new since
the last scrape (:class:`Cursors`), so that the collector can keep cumulative histograms and
counters without the engine doing anything per message for them. It never scans the finished
tickets or the orders a busy day retains: a scrape costs the engine as much at the end of the day
as at its start. Formatting and bucketing happen afterwards, off the engine thread.

It does not change the engine, and it does not know Prometheus.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice

ZERO = Decimal(0)
OPEN_STATES = ("PENDING", "WORKING", "LEGGED", "REPAIRING")


class TailCursor:
    """What a bounded deque gained since the last look: exact while it is not full; once it rolls,
    the new items are those after where the last few seen now end (more than ``maxlen`` between two
    looks: all of it, the older ones are gone). Latency samples in nanoseconds make a false match
    of the last eight practically impossible."""

    KEEP = 8

    def __init__(self) -> None:
        self._n = 0
        self._tail: tuple = ()

    def new(self, d: deque) -> list:
        n = len(d)
        k = len(self._tail)
        if not k:
            out = list(d)
        elif n > self._n and tuple(islice(d, self._n - k, self._n)) == self._tail:
            out = list(islice(d, self._n, n))
        else:       # rolled: the last place where the items end as the tail seen last time did
            items = list(d)
            out = items
            for j in range(len(items) - 1, -1, -1):
                m = min(k, j + 1)
                if tuple(items[j - m + 1:j + 1]) == self._tail[k - m:]:
                    out = items[j + 1:]
                    break
        self._n = n
        self._tail = tuple(islice(d, max(0, n - self.KEEP), n))
        return out


@dataclass
class Cursors:
    """What earlier scrapes already counted (touched only inside :func:`take`)."""

    started_ns: int
    decisions: TailCursor = field(default_factory=TailCursor)
    acks: TailCursor = field(default_factory=TailCursor)
    settled: TailCursor = field(default_factory=TailCursor)
    finished_seen: set = field(default_factory=set)      # ticket ids counted as finished


@dataclass(frozen=True, slots=True)
class PairFacts:
    pair: str
    state: str                      # the effective trading state (the pair's and the global one)
    mode: str                       # live | shadow
    unit: str                       # the inner leg's unit: position and residual are in it
    position: Decimal               # basis position
    residual: Decimal               # inner minus outer exposure
    paper_position: Decimal | None  # a shadow pair's paper position
    legs: tuple                     # (leg, instrument, signed lots)
    legged: int                     # tickets legged or being repaired now
    open_tickets: dict              # state -> tickets not finished
    shadow_tickets: int


@dataclass(frozen=True, slots=True)
class EngineFacts:
    now_ns: int
    global_state: str
    pairs: tuple
    book_ages: tuple                # (venue, symbol, seconds since our receipt of its last change,
                                    #  seconds since the venue sent it by the venue's clock, or None)
    positions: tuple                # (account, instrument, venue, signed lots)
    foreign: tuple                  # (account, instrument, signed lots no pair traded)
    tickets_started: int
    finished: tuple                 # (pair, final state) of tickets finished since the last scrape
    alerts: dict                    # kind -> alerts since the engine started
    decisions_ns: tuple             # decision-to-send samples since the last scrape (ns)
    acks_ns: tuple                  # (venue, send-to-acknowledgement ns) since the last scrape
    md_updates: int
    orders: dict                    # venue -> orders sent
    fills: dict
    rejects: dict
    legging_incidents: int
    took_ns: int                    # how long this snapshot held the engine
    shed: int = 0                   # evaluations skipped: the data was older than the pair's limit


@dataclass(frozen=True, slots=True)
class SessionFacts:
    venue: str
    session: str                    # QuickFIX's session id, BeginString:Sender->Target
    role: str                       # order | drop_copy
    up: bool
    next_sender: int | None
    next_target: int | None
    test_requests: int              # heartbeats missed: QuickFIX sent a TestRequest
    heartbeat_timeouts: int         # ... unanswered: the session was dropped


def take(engine, cursors: Cursors) -> EngineFacts:
    """The engine's facts now. Runs on the engine thread (``EngineApp.serial.call``) and reads only,
    through the engine's :class:`~xmc_fix.execution.state.StateView`."""
    # The scrape's own cost, not a figure of the engine's: it is the machine's monotonic counter on
    # purpose, so that it reports how long the engine was really held whatever clock the engine was
    # given (a test's manual clock would show every scrape as free).
    t0 = time.perf_counter_ns()
    st = engine.view
    now = engine.clock.now_ns()
    opened: dict[str, dict] = {}
    for p in st.open_progress():
        by = opened.setdefault(p.ticket.pair, {})
        by[p.ticket.state.value] = by.get(p.ticket.state.value, 0) + 1
    pairs = []
    for pr in st.pairs.values():
        pairs.append(PairFacts(
            pr.name, st.pair_state(pr).value, pr.mode, pr.inner.unit, pr.position_units, pr.residual_units,
            pr.paper.position_units if pr.paper is not None else None,
            (("inner", pr.inner.name, pr.inner_lots), ("outer", pr.outer.name, pr.outer_lots)),
            len(pr.legged), opened.get(pr.name, {}), pr.shadow_tickets))
    venue_age = st.venue_age_ns
    ages = []
    for (v, s), b in st.books.items():
        if b.recv_ns:
            late = venue_age(v, b.venue_ns, now)
            ages.append((v, s, (now - b.recv_ns) / 1e9, late / 1e9 if late is not None else None))
    insts = st.strategy.instruments
    account = st.strategy.engine.account or ""
    held = {(account, name): ZERO for name in insts}
    held.update(st.by_account)
    positions = tuple((a, i, insts[i].venue if i in insts else "", lots) for (a, i), lots in sorted(held.items()))
    foreign = tuple((a, i, lots) for (a, i), lots in sorted({**{(account, name): ZERO for name in insts},
                                                             **st.foreign}.items()))
    # tickets that left the open index since the last look (open_progress above moved them out),
    # each counted once: a reopened ticket that ends again is not a second ticket
    finished = []
    seen = cursors.finished_seen
    for tid, pair, state, ended_ns in cursors.settled.new(st.settled):
        if tid not in seen:
            seen.add(tid)
            if (ended_ns or 0) >= cursors.started_ns:     # not one a restart brought back finished
                finished.append((pair, state))
    if len(seen) > 2 * len(st.tickets) + 1000:
        seen.intersection_update(st.tickets.keys())
    stats = st.stats
    return EngineFacts(
        now, st.trading.state.value, tuple(pairs), tuple(ages), positions, foreign, stats.tickets, tuple(finished),
        dict(engine.alerts.counts), tuple(cursors.decisions.new(stats.decision_to_send_ns)),
        tuple(cursors.acks.new(stats.acks)),
        stats.md_updates, dict(stats.orders), dict(stats.fills), dict(stats.rejects), stats.legged,
        time.perf_counter_ns() - t0, stats.shed)


def session_facts(sessions, app, log_factory) -> list[SessionFacts]:
    """Each venue session as QuickFIX has it now (``sessions``: the session file; ``app``: the
    engine's QuickFIX application; ``log_factory``: the audit log bridge, whose session-event counts
    say how many heartbeats were missed, or None). QuickFIX's calls here take only the session
    state's own short lock and release the GIL, so reading them from the scrape's thread is safe."""
    import quickfix as fix

    counts = log_factory.heartbeat_counts() if log_factory is not None and hasattr(log_factory,
                                                                                   "heartbeat_counts") else {}
    out = []
    for spec in sessions.sessions:
        role = "drop_copy" if spec.drop_copy_for else "order"
        venue = spec.venue
        sid = (app.drop_copy_ids if spec.drop_copy_for else app.session_ids).get(venue)
        session = fix.Session.lookupSession(sid) if sid is not None else None
        up, nxt_s, nxt_t = False, None, None
        if session is not None:
            up = bool(session.isLoggedOn())
            nxt_s, nxt_t = int(session.getExpectedSenderNum()), int(session.getExpectedTargetNum())
        tr, to = counts.get(spec.session_key, (0, 0))
        out.append(SessionFacts(venue, spec.session_key, role, up, nxt_s, nxt_t, tr, to))
    return out
