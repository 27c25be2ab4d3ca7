"""The collector: a scrape's facts (:mod:`xmc_fix.metrics.snapshot`) as Prometheus metric families.

A custom ``prometheus_client`` collector: nothing is updated between scrapes. At each scrape it asks
its source for the engine's facts (one short visit to the engine thread), the sessions' and the
audit writer's, then renders them. What must be cumulative — latency histograms, finished tickets,
messages per session — is kept here, fed with what is new since the previous scrape.

:data:`CATALOGUE` is every metric it exposes, with its type, labels and meaning: the README's
"Metrics" table, the example dashboard and the alert rules use these names (a test keeps them in
step). Quantities of a pair are in the base unit of its dimension, named in the metric: tonnes for
metals, barrels for oil, units for anything counted (``xmc_pair_position_tonnes``).

It runs in the renderer process (:mod:`xmc_fix.metrics.server`). Scrapes are serialised (one at a
time); a scrape after :meth:`EngineCollector.close`, or once the engine says it is stopping (its
source returns no facts), returns nothing: the engine's QuickFIX sessions may be gone by then.
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from xmc_fix.domain.units import UNITS
from xmc_fix.metrics.snapshot import OPEN_STATES, Cursors, EngineFacts, SessionFacts

TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")
FINAL_STATES = ("COMPLETED", "UNWOUND", "MISSED", "FAILED")
MODES = ("live", "shadow")
#: a dimension's base unit (:data:`xmc_fix.domain.units.UNITS`) as it reads in a metric name
BASE_NAMES = {"mass": "tonnes", "volume": "barrels", "count": "units"}
#: seconds; decisions take hundreds of microseconds, acknowledgements milliseconds
DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_SESSION = ("venue", "session", "role")


def _pair_quantities() -> dict:
    """A pair's quantities, one metric per dimension's base unit."""
    docs = {"xmc_pair_position": "The pair's basis position (long basis positive)",
            "xmc_pair_residual": "The pair's residual, inner minus outer exposure (0 when hedged)",
            "xmc_pair_paper_position": "A shadow pair's paper position (what its shadow tickets left)"}
    return {f"{n}_{b}": ("gauge", ("pair",), f"{doc}, in {b}.") for n, doc in docs.items() for b in BASE_NAMES.values()}


#: name -> (type, labels, meaning)
CATALOGUE: dict[str, tuple[str, tuple[str, ...], str]] = {
    "xmc_engine_info": ("gauge", ("run_id", "namespace", "shadow"), "Always 1: the run this endpoint belongs to."),
    "xmc_engine_start_time_seconds": ("gauge", (), "When the engine started (Unix time)."),
    "xmc_engine_snapshot_duration_seconds": ("gauge", (), "How long the last scrape held the engine thread."),
    "xmc_session_up": ("gauge", _SESSION, "1 while the FIX session is logged on, else 0."),
    "xmc_session_next_sender_seq_num": ("gauge", _SESSION, "The next MsgSeqNum QuickFIX will send."),
    "xmc_session_next_target_seq_num": ("gauge", _SESSION, "The next MsgSeqNum QuickFIX expects from the venue."),
    "xmc_session_messages_total": ("counter", _SESSION + ("direction",),
                                   "Messages numbered in (received) or out (sent) since the engine started, "
                                   "counted by sequence number (resent copies not included)."),
    "xmc_session_test_requests_sent_total": ("counter", _SESSION, "Heartbeats missed: QuickFIX heard nothing from "
                                             "the venue for a heartbeat interval and sent a TestRequest."),
    "xmc_session_heartbeat_timeouts_total": ("counter", _SESSION, "TestRequests left unanswered: QuickFIX dropped "
                                             "the session."),
    "xmc_market_data_age_seconds": ("gauge", ("venue", "symbol"), "Since our receipt of the book's last change."),
    "xmc_market_data_venue_age_seconds": ("gauge", ("venue", "symbol"), "Since the venue sent what the book shows, "
                                          "by the venue's clock (SendingTime less the venue's clock offset): a "
                                          "backlog in front of the engine shows here, not in the receipt age."),
    "xmc_market_data_updates_total": ("counter", (), "Market-data snapshots and refreshes applied."),
    "xmc_evaluations_shed_total": ("counter", (), "Evaluations skipped because the data was already older than "
                                   "the pair's max_quote_age_ms by the venue's clock: the engine behind the market."),
    "xmc_decision_latency_seconds": ("histogram", (), "Decision to send: market-data callback entry to the "
                                     "ticket's last leg handed to QuickFIX."),
    "xmc_order_ack_latency_seconds": ("histogram", ("venue",), "Order sent to its first acknowledgement."),
    "xmc_orders_sent_total": ("counter", ("venue",), "Orders handed to the venue's session."),
    "xmc_fills_total": ("counter", ("venue",), "Fills applied."),
    "xmc_order_rejects_total": ("counter", ("venue",), "Orders the venue rejected."),
    "xmc_tickets_started_total": ("counter", (), "Tickets started (live ones: shadow tickets apart)."),
    "xmc_tickets_open": ("gauge", ("pair", "state"), "Tickets not finished, by state."),
    "xmc_tickets_finished_total": ("counter", ("pair", "state"), "Tickets finished, by final state (each counted "
                                   "once, at the first final state a scrape saw)."),
    "xmc_tickets_legged": ("gauge", ("pair",), "Tickets legged or being repaired now."),
    "xmc_legging_incidents_total": ("counter", (), "Tickets that legged (repaired or not)."),
    "xmc_shadow_tickets_total": ("counter", ("pair",), "Shadow tickets decided (pairs in shadow mode)."),
    "xmc_pair_mode": ("gauge", ("pair", "mode"), "1 for the pair's release mode (live or shadow), else 0."),
    "xmc_pair_trading_state": ("gauge", ("pair", "state"), "1 for the pair's effective trading state, else 0."),
    "xmc_global_trading_state": ("gauge", ("state",), "1 for the global trading state, else 0."),
    **_pair_quantities(),
    "xmc_pair_leg_position_lots": ("gauge", ("pair", "leg", "instrument"), "Signed lots each leg of the pair holds."),
    "xmc_position_lots": ("gauge", ("account", "instrument", "venue"), "Signed lots held per account and instrument."),
    "xmc_foreign_position_lots": ("gauge", ("account", "instrument"), "Signed lots no pair traded (orders the engine "
                                  "did not send, differences taken from a venue): nobody's hedge."),
    "xmc_alerts_total": ("counter", ("kind",), "Alerts raised, by kind."),
    "xmc_audit_backlog_records": ("gauge", (), "Records handed to the audit writer and not yet in the database."),
}


class Source(Protocol):
    """Where a scrape's facts come from (the running engine; a fake in unit tests)."""

    info: dict        # run_id, namespace, shadow, started_ns, store_marks ({session: {next_out, next_in}})

    def engine(self, cursors: Cursors) -> EngineFacts | None: ...    # None: the engine is stopping
    def sessions(self) -> list[SessionFacts]: ...
    def audit_backlog(self) -> int: ...


class Buckets:
    """A cumulative histogram kept between scrapes."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def add(self, seconds: float) -> None:
        for i, b in enumerate(self.bounds):
            if seconds <= b:
                break
        else:
            i = len(self.bounds)
        self.counts[i] += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        out, n = [], 0
        for b, c in zip(self.bounds + (float("inf"),), self.counts):
            n += c
            out.append(("+Inf" if b == float("inf") else repr(b), n))
        return out


class SeqCounter:
    """Messages numbered since the engine started, from the session's next sequence number: what it
    grew by since the last scrape; a number below the last is a reset (a new session day), from
    which numbering began again at 1."""

    def __init__(self, start: int | None) -> None:
        self.last = start
        self.total = 0

    def update(self, nxt: int | None) -> None:
        if nxt is None:
            return
        if self.last is not None:
            self.total += nxt - self.last if nxt >= self.last else nxt - 1
        self.last = nxt


def _f(d: Decimal | int | float | None) -> float:
    return float(d) if d is not None else float("nan")


class EngineCollector(Collector):
    def __init__(self, source: Source) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._closed = False
        self._cursors = Cursors(source.info.get("started_ns", 0))
        self._decisions = Buckets(DECISION_BUCKETS)
        self._acks: dict[str, Buckets] = {}
        self._finished: Counter = Counter()
        marks = source.info.get("store_marks") or {}
        self._messages: dict[tuple[str, str], SeqCounter] = {}
        for session, m in marks.items():
            self._messages[(session, "out")] = SeqCounter((m or {}).get("next_out"))
            self._messages[(session, "in")] = SeqCounter((m or {}).get("next_in"))

    def describe(self):
        return []           # nothing to check at registration: families exist once the engine does

    def close(self) -> None:
        """Wait for a scrape in progress; scrapes from now on return nothing."""
        with self._lock:
            self._closed = True

    def collect(self):
        with self._lock:
            if self._closed:
                return []
            facts = self.source.engine(self._cursors)
            if facts is None:           # the engine is stopping
                return []
            sessions = self.source.sessions()
            backlog = self.source.audit_backlog()
            self._ingest(facts, sessions)
            return self._families(facts, sessions, backlog)

    # -- cumulative ------------------------------------------------------------------------------
    def _ingest(self, e: EngineFacts, sessions: list[SessionFacts]) -> None:
        for ns in e.decisions_ns:
            self._decisions.add(ns / 1e9)
        for venue, ns in e.acks_ns:
            self._acks.setdefault(venue, Buckets(ACK_BUCKETS)).add(ns / 1e9)
        self._finished.update(e.finished)
        for s in sessions:
            self._messages.setdefault((s.session, "out"), SeqCounter(None)).update(s.next_sender)
            self._messages.setdefault((s.session, "in"), SeqCounter(None)).update(s.next_target)

    # -- rendering -------------------------------------------------------------------------------
    def _families(self, e: EngineFacts, sessions: list[SessionFacts], backlog: int) -> list:
        fam: dict[str, object] = {}

        def add(name: str, labels: tuple = (), value: float = 1.0, **hist) -> None:
            kind, names, doc = CATALOGUE[name]
            f = fam.get(name)
            if f is None:
                cls = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily,
                       "histogram": HistogramMetricFamily}[kind]
                f = fam[name] = cls(name, doc, labels=list(names))
            if kind == "histogram":
                f.add_metric(list(labels), **hist)
            else:
                f.add_metric(list(labels), value)

        info = self.source.info
        add("xmc_engine_info", (info.get("run_id", ""), info.get("namespace", ""),
                                "true" if info.get("shadow") else "false"))
        add("xmc_engine_start_time_seconds", value=info.get("started_ns", 0) / 1e9)
        add("xmc_engine_snapshot_duration_seconds", value=e.took_ns / 1e9)
        for s in sessions:
            key = (s.venue, s.session, s.role)
            add("xmc_session_up", key, 1.0 if s.up else 0.0)
            add("xmc_session_next_sender_seq_num", key, _f(s.next_sender))
            add("xmc_session_next_target_seq_num", key, _f(s.next_target))
            for direction in ("in", "out"):
                c = self._messages.get((s.session, direction))
                add("xmc_session_messages_total", key + (direction,), c.total if c is not None else 0)
            add("xmc_session_test_requests_sent_total", key, s.test_requests)
            add("xmc_session_heartbeat_timeouts_total", key, s.heartbeat_timeouts)
        for venue, symbol, age, late in e.book_ages:
            add("xmc_market_data_age_seconds", (venue, symbol), age)
            if late is not None:
                add("xmc_market_data_venue_age_seconds", (venue, symbol), late)
        add("xmc_market_data_updates_total", value=e.md_updates)
        add("xmc_evaluations_shed_total", value=e.shed)
        add("xmc_decision_latency_seconds", buckets=self._decisions.cumulative(), sum_value=self._decisions.sum)
        venues = sorted({v for _, _, v, _ in e.positions if v} | set(e.orders) | set(self._acks))
        for venue in venues:
            b = self._acks.get(venue) or Buckets(ACK_BUCKETS)
            add("xmc_order_ack_latency_seconds", (venue,), buckets=b.cumulative(), sum_value=b.sum)
            add("xmc_orders_sent_total", (venue,), e.orders.get(venue, 0))
            add("xmc_fills_total", (venue,), e.fills.get(venue, 0))
            add("xmc_order_rejects_total", (venue,), e.rejects.get(venue, 0))
        add("xmc_tickets_started_total", value=e.tickets_started)
        add("xmc_legging_incidents_total", value=e.legging_incidents)
        for state in TRADING_STATES:
            add("xmc_global_trading_state", (state,), 1.0 if e.global_state == state else 0.0)
        for p in e.pairs:
            for state in OPEN_STATES:
                add("xmc_tickets_open", (p.pair, state), p.open_tickets.get(state, 0))
            for state in FINAL_STATES:
                add("xmc_tickets_finished_total", (p.pair, state), self._finished.get((p.pair, state), 0))
            add("xmc_tickets_legged", (p.pair,), p.legged)
            add("xmc_shadow_tickets_total", (p.pair,), p.shadow_tickets)
            for mode in MODES:
                add("xmc_pair_mode", (p.pair, mode), 1.0 if p.mode == mode else 0.0)
            for state in TRADING_STATES:
                add("xmc_pair_trading_state", (p.pair, state), 1.0 if p.state == state else 0.0)
            dim, size = UNITS[p.unit]
            base = BASE_NAMES[dim]
            add(f"xmc_pair_position_{base}", (p.pair,), _f(p.position * size))
            add(f"xmc_pair_residual_{base}", (p.pair,), _f(p.residual * size))
            if p.paper_position is not None:
                add(f"xmc_pair_paper_position_{base}", (p.pair,), _f(p.paper_position * size))
            for leg, inst, lots in p.legs:
                add("xmc_pair_leg_position_lots", (p.pair, leg, inst), _f(lots))
        for account, inst, venue, lots in e.positions:
            add("xmc_position_lots", (account, inst, venue), _f(lots))
        for account, inst, lots in e.foreign:
            add("xmc_foreign_position_lots", (account, inst), _f(lots))
        for kind, n in sorted(e.alerts.items()):
            add("xmc_alerts_total", (kind,), n)
        add("xmc_audit_backlog_records", value=backlog)
        return list(fam.values())
