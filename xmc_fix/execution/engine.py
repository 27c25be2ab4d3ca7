"""The ticket engine: books in, paired orders out, execution reports reconciled, legged tickets
repaired. This module only dispatches; each job has its own room:

- :mod:`state` — everything the engine knows (books, pairs, tickets, orders, the position ledger,
  trading states), in one holder; :class:`~xmc_fix.execution.state.StateView` for readers;
- :mod:`decide` — evaluation: books to a decision to trade (the rule itself: :mod:`xmc_fix.basis.signal`);
- :mod:`lifecycle` — tickets: start, progress, second legs, repair, order deadlines;
  :mod:`flatten` the kill switch's path; :mod:`settlement` transitions and what a ticket leaves;
- :mod:`desk` — the one place requests leave for the venues;
- :mod:`reconcile` — execution reports, cancel rejects and rejects applied to orders and positions;
- :mod:`recovery` — the intent journal replayed at start, and compacted;
- :mod:`records` — audit rows and journal records; :mod:`operator` — control commands and screens;
- :mod:`xmc_fix.risk.monitor` — post-trade risk: breaches, stale data, market hours, session holds.

Single-threaded by construction: every method here runs inside the :class:`Serializer`, on the
QuickFIX session thread for market data and execution reports, or on the timer thread for
deadlines. Nothing here blocks on the network or touches SQL; the audit sink is a queue and the
journal one ``os.write``.

The hot path is ``on_book_update -> Decider.evaluate -> Lifecycle.start``: read the two books and
the FX book, price the executable basis for the ticket's precomputed lots, pass the risk gate,
journal the intent, and send both legs' NewOrderSingles back to back from the same callback.
Everything written to the audit trail about the ticket is written after both orders have left.
"""

from __future__ import annotations

import logging

from xmc_fix.basis.pricing import fx_rate
from xmc_fix.clock import Clock
from xmc_fix.config import Strategy
from xmc_fix.domain.events import (BookSnapshot, BookUpdate, CancelRejected, DropCopyReport, DropCopySession,
                                   ExecReport, MarketDataRejected, MessageRejected, PositionReport, PositionsAck,
                                   SessionDown, SessionUp, Uninterpretable)
from xmc_fix.domain.enums import OrdStatus, PositionEffect
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.execution.decide import Decider
from xmc_fix.execution.desk import OrderDesk, OrderSender
from xmc_fix.execution.dropcopy import DropCopyWatch
from xmc_fix.execution.flatten import FlattenPath
from xmc_fix.execution.journal import JournalState
from xmc_fix.execution.lifecycle import Lifecycle
from xmc_fix.execution.operator import Operator
from xmc_fix.execution.reconcile import Reconciler
from xmc_fix.execution.records import AuditSink, JournalSink, NullJournal, Records, units
from xmc_fix.execution.recovery import Recovery
from xmc_fix.execution.repair import refused_for_position
from xmc_fix.execution.settlement import Settlement
from xmc_fix.execution.state import EngineState, PairRuntime
from xmc_fix.execution.venue_sync import VenueCaps, VenueSync
from xmc_fix.execution.watchdog import Watchdog
from xmc_fix.risk.alerts import Alerter
from xmc_fix.risk.gate import RiskGate
from xmc_fix.risk.monitor import Monitor

CLOSES = frozenset({PositionEffect.CLOSE, PositionEffect.CLOSE_TODAY, PositionEffect.CLOSE_YESTERDAY})

log = logging.getLogger("xmc.engine")
MS = 1_000_000

__all__ = ["Engine", "OrderSender", "AuditSink", "JournalSink", "NullJournal"]


class Engine:
    def __init__(self, strategy: Strategy, sender: OrderSender, audit: AuditSink, clock: Clock,
                 ids: IdGenerator, journal: JournalSink | None = None, alerter: Alerter | None = None,
                 venue_caps: dict[str, VenueCaps] | None = None) -> None:
        self.strategy = strategy
        self.sender = sender
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self._journal = journal or NullJournal()
        self.alerts = alerter or Alerter(audit, strategy.risk.alerts)
        self.state = st = EngineState(strategy)
        self.view = st.view()        # what readers outside the engine's parts read (metrics)
        self.gate = RiskGate(strategy.risk, st.ledger)
        records = Records(audit)
        self.monitor = Monitor(st, clock, self.alerts, self._journal)
        self.desk = OrderDesk(st, sender, self.gate, audit, clock, ids, self._journal)
        settle = Settlement(st, records, self._journal, self.monitor, self.desk, clock)
        flatten = FlattenPath(st, self.desk, settle, self.gate, self._journal, records, self.alerts, clock, ids)
        self.lifecycle = Lifecycle(st, self.desk, settle, flatten, self.monitor, self.gate, self._journal, records,
                                   clock, ids)
        self.decider = Decider(st, self.gate, self.monitor, audit, clock)
        self.reconciler = Reconciler(st, self.lifecycle, settle, self.monitor, self.gate, self.desk, records, audit)
        self.recovery = Recovery(st, audit, clock)
        self.sync = VenueSync(st, self.desk, settle, self.monitor, audit, clock, ids, venue_caps)
        self.watchdog = Watchdog(st, self.desk, settle, self.monitor, self.sync, audit, clock)
        self.drop_copy = DropCopyWatch(st, audit, self.alerts, self.on_exec_report)
        self.sync.pending_reports = self.drop_copy.pending_at
        self.operator = Operator(st, self.monitor, self.desk, self.lifecycle, self.alerts, clock)
        self._next_sample_ns = 0
        self._next_release_ns = 0

    @property
    def journal(self) -> JournalSink:
        return self._journal

    @journal.setter
    def journal(self, journal: JournalSink) -> None:
        """Attach a journal after construction: every part that writes to it gets it."""
        self._journal = journal
        lc = self.lifecycle
        for part in (self.monitor, lc.settle, lc.flatten, lc, self.desk):
            part.journal = journal

    # -- what tests, the app and the bench read -------------------------------------------------
    pairs = property(lambda self: self.state.pairs)
    books = property(lambda self: self.state.books)
    tickets = property(lambda self: self.state.tickets)
    orders = property(lambda self: self.state.orders)
    progress = property(lambda self: self.state.progress)
    venues_up = property(lambda self: self.state.venues_up)
    stats = property(lambda self: self.state.stats)
    account = property(lambda self: self.strategy.engine.account)
    stopping = property(lambda self: self.state.stopping)
    closing = property(lambda self: self.state.closing)
    last_activity_ns = property(lambda self: self.state.last_activity_ns)

    def pair_state(self, pr: PairRuntime):
        return self.state.pair_state(pr)

    def tickets_by_state(self) -> dict[str, int]:
        return self.state.tickets_by_state()

    @property
    def working(self) -> bool:
        """Any ticket not finished (working, legged or repairing)."""
        return self.state.working

    # -- recovery ------------------------------------------------------------------------------
    def restore(self, journal: JournalState) -> dict:
        return self.recovery.restore(journal)

    def journal_state(self) -> JournalState:
        return self.recovery.journal_state()

    # -- events ----------------------------------------------------------------------------
    def on_event(self, ev) -> None:
        handler = self._dispatch.get(type(ev))
        if handler is None:
            log.warning("engine: no handler for %s", type(ev).__name__)
            return
        handler(self, ev)

    def on_session_up(self, ev: SessionUp) -> None:
        st = self.state
        st.venues_up.add(ev.venue)
        self.audit.event("session_up", ev.recv_ns, venue=ev.venue)
        self.monitor.session_up(ev.venue)
        for inst in st.instruments_by_venue.get(ev.venue, []):
            self.desk.subscribe(inst)
        # Orders whose outcome we may have missed while the venue was away: ask, never assume.
        for order in list(st.orders.values()):
            if order.instrument.venue == ev.venue and not order.is_terminal and order.sent_ns:
                self.desk.query(order, "session re-established", force=True)
        self.sync.on_session_up(ev.venue)

    def on_session_down(self, ev: SessionDown) -> None:
        st = self.state
        st.venues_up.discard(ev.venue)
        for (venue, _), book in st.books.items():
            if venue == ev.venue:
                book.invalidate()
        in_flight = []
        for o in st.orders.values():
            if o.instrument.venue == ev.venue and not o.is_terminal and o.sent_ns:
                o.uncertain = True     # nothing is repaired on a guess: the venue will be asked
                in_flight.append(o.cl_ord_id)
        self.audit.event("session_down", ev.recv_ns, venue=ev.venue, reason=ev.reason, in_flight=in_flight)
        if st.stopping and not in_flight:
            return  # our own logout at the end of a run: nothing to protect, nobody to page
        self.monitor.session_down(ev.venue, ev.reason, fact_ns=ev.recv_ns)

    def on_book_snapshot(self, snap: BookSnapshot) -> None:
        st = self.state
        book = st.books.get((snap.venue, snap.symbol))
        if book is None:
            return self._unknown_instrument(snap.venue, snap.symbol, snap.recv_ns)
        book.apply_snapshot(snap)
        st.stats.md_updates += 1
        st.freshness.sample(snap.venue, snap.recv_ns, snap.venue_ns)
        for pr in st.pairs_by_key.get((snap.venue, snap.symbol), ()):
            self._evaluate(pr, snap.recv_ns, book)

    def on_book_update(self, upd: BookUpdate) -> None:
        st = self.state
        book = st.books.get((upd.venue, upd.symbol))
        if book is None:
            return self._unknown_instrument(upd.venue, upd.symbol, upd.recv_ns)
        stats = st.stats
        stats.md_updates += 1
        st.freshness.sample(upd.venue, upd.recv_ns, upd.venue_ns)
        if stats.trace and not stats.md_updates & 15 and upd.venue_ns:
            stats.md_lag.append((upd.recv_ns, upd.recv_ns - upd.venue_ns))
        if not book.apply(upd):
            if book.gap:
                book.gap = False
                self.audit.event("md_gap", upd.recv_ns, venue=upd.venue, symbol=upd.symbol,
                                 expected=(book.rpt_seq or 0) + 1, got=upd.rpt_seq)
                inst = next(i for i in st.instruments_by_venue[upd.venue] if i.symbol == upd.symbol)
                self.desk.subscribe(inst)
            return
        for pr in st.pairs_by_key.get((upd.venue, upd.symbol), ()):
            self._evaluate(pr, upd.recv_ns, book)

    def _evaluate(self, pr: PairRuntime, recv_ns: int, book=None) -> None:
        entry = self.decider.evaluate(pr, recv_ns, book)
        if entry is not None:
            self.lifecycle.start(entry)

    def on_md_reject(self, ev: MarketDataRejected) -> None:
        self.audit.event("md_rejected", ev.recv_ns, venue=ev.venue, md_req_id=ev.md_req_id, reason=ev.reason)
        log.warning("%s rejected market data request %s: %s", ev.venue, ev.md_req_id, ev.reason)

    def on_exec_report(self, er: ExecReport) -> None:
        if not er.mass_status_req_id or (er.cl_ord_id and er.order_id != "NONE"):   # not a "no orders" answer
            self.reconciler.on_exec_report(er, self._fx_for)
            if er.ord_status is OrdStatus.REJECTED:
                order = self.state.orders.get(er.cl_ord_id)
                if (order is not None and order.command.position_effect in CLOSES
                        and refused_for_position(order.text)):
                    self.sync.close_refused(order)
        if er.mass_status_req_id:
            self.sync.on_mass_report(er)

    def on_cancel_reject(self, ev: CancelRejected) -> None:
        self.reconciler.on_cancel_reject(ev)

    def on_message_rejected(self, ev: MessageRejected) -> None:
        if not self.sync.on_reject(ev):
            self.reconciler.on_message_rejected(ev)

    _dispatch = {
        SessionUp: on_session_up,
        SessionDown: on_session_down,
        BookSnapshot: on_book_snapshot,
        BookUpdate: on_book_update,
        MarketDataRejected: on_md_reject,
        ExecReport: on_exec_report,
        CancelRejected: on_cancel_reject,
        MessageRejected: on_message_rejected,
        Uninterpretable: lambda self, ev: self.reconciler.on_uninterpretable(ev),
        PositionsAck: lambda self, ev: self.sync.on_positions_ack(ev),
        PositionReport: lambda self, ev: self.sync.on_position_report(ev),
        DropCopyReport: lambda self, ev: self.drop_copy.on_report(ev),
        DropCopySession: lambda self, ev: self.drop_copy.on_session(ev),
    }

    def _fx_for(self, pr: PairRuntime, ticket_id: str):
        """The pair's FX rate now (its book's mid), else the one its ticket was decided at."""
        st = self.state
        if not pr.pricer.needs_fx:
            return None
        fx = None
        if pr.fx_key is not None:
            b = st.books[pr.fx_key]
            fx = b.mid() if b.valid else None
        elif pr.cfg.fx:
            fx = fx_rate(None, self.strategy.fx[pr.cfg.fx])
        return fx or st.tickets[ticket_id].decision.fx

    def _unknown_instrument(self, venue: str, symbol: str, ts_ns: int) -> None:
        self.audit.event("unknown_instrument", ts_ns, venue=venue, symbol=symbol)

    # -- timer -----------------------------------------------------------------------------
    def on_timer(self, now_ns: int) -> None:
        """Basis samples, post-trade checks (stale books, market hours), then order deadlines and
        repair steps."""
        every = self.strategy.engine.basis_sample_ms * MS
        if every and now_ns >= self._next_sample_ns:
            self._next_sample_ns = now_ns + every
            self.decider.sample_basis(now_ns)
        if now_ns >= self._next_release_ns:      # a long-running engine stays flat
            self._next_release_ns = now_ns + 10_000 * MS
            self.state.release_finished(now_ns, self.strategy.engine.retain_finished_ms * MS)
        self.monitor.on_timer(now_ns)
        self.watchdog.on_timer(now_ns)
        self.lifecycle.on_timer(now_ns)
        self.sync.on_timer(now_ns)
        self.drop_copy.on_timer(now_ns)

    # -- operator commands (from the control socket, through the Serializer) -------------------
    def cmd_halt(self, pair: str | None, who: str, reason: str = "") -> dict:
        return self.operator.halt(pair, who, reason)

    def cmd_resume(self, pair: str | None, who: str) -> dict:
        return self.operator.resume(pair, who)

    def cmd_cancel_all(self, pair: str | None, who: str) -> dict:
        return self.operator.cancel_all(pair, who)

    def cmd_flatten(self, pair: str | None, who: str) -> dict:
        return self.operator.flatten(pair, who)

    def cmd_watch(self, pair: str | None = None, depth: int = 5) -> dict:
        return self.operator.watch(pair, depth)

    def cmd_status(self) -> dict:
        return self.operator.status()

    def cmd_set_mode(self, pair: str | None, mode: str | None, who: str) -> dict:
        return self.decider.release.set_mode(pair, mode, who)

    def cmd_set_size(self, pair: str | None, qty: str | None, who: str) -> dict:
        return self.decider.release.set_size(pair, qty, who)

    def cmd_reconcile(self, venue: str | None, who: str) -> dict:
        """Reconcile with one venue (every venue up for None) now; the rounds' results follow in
        :meth:`cmd_reconcile_result`."""
        venues = [venue] if venue else sorted(self.state.venues_up)
        unknown = [v for v in venues if v not in self.state.instruments_by_venue]
        if unknown:
            raise KeyError(f"unknown venue {unknown[0]!r}; venues: {', '.join(sorted(self.state.instruments_by_venue))}")
        self.audit.event("reconcile_requested", self.clock.now_ns(), who=who, venues=venues)
        return {"started": [self.sync.start(v, f"requested by {who}") for v in venues], "at_ns": self.clock.now_ns()}

    def cmd_reconcile_result(self) -> dict:
        return {"results": self.sync.results, "in_progress": sorted(v for v, r in self.sync.rounds.items()
                                                                     if r.result is None)}

    # -- stopping ----------------------------------------------------------------------------
    def stop_new_tickets(self) -> None:
        self.state.stopping = True

    def close(self) -> None:
        """The sessions are about to close: from now on nothing is sent (orders, cancels, status
        requests). A report that still arrives is applied; a ticket it legs stays open for the next
        start."""
        self.state.stopping = True
        self.state.closing = True

    def exposure(self) -> list[dict]:
        """What the engine holds unhedged: every ticket not finished (legged, repairing, or with an
        order whose outcome is unknown), every pair whose legs differ by more than its tolerance, and
        every instrument's foreign lots (fills of orders it did not send, differences taken from a
        venue). Empty when the engine can stop with nothing at risk."""
        out = []
        for p in self.state.open_progress():
            t = p.ticket
            uncertain = [o.cl_ord_id for o in t.orders() if o.uncertain or (not o.is_terminal and o.sent_ns)]
            out.append({"pair": t.pair, "ticket_id": t.ticket_id, "state": t.state.value,
                        "residual": units(t.residual), "unit": t.unit, "orders_open": uncertain})
        for pr in self.state.pairs.values():
            if abs(pr.residual_units) > pr.cfg.residual_tolerance:
                out.append({"pair": pr.name, "ticket_id": None, "state": "HELD",
                            "residual": units(pr.residual_units), "unit": pr.inner.unit, "orders_open": []})
        instruments = self.strategy.instruments
        for (account, inst), lots in self.state.ledger.foreign_lots().items():
            # lots no pair traded; in underlying units too, so a report can add them to the pairs' residuals
            i = instruments.get(inst)
            out.append({"pair": inst, "ticket_id": None, "state": "FOREIGN", "residual": units(lots),
                        "unit": "lots" + (f" on account {account}" if account else ""), "orders_open": [],
                        "underlying": units(lots * i.contract_size) if i is not None else None,
                        "underlying_unit": i.unit if i is not None else None})
        return out
