"""Evaluation: a pair's books in, a decision to trade (:class:`Entry`) or nothing out.

The hot path of market data: read the two books and the FX book, screen the best levels with the
decision rule (:mod:`xmc_fix.basis.signal`), price the executable basis for the ticket's lots over
the depth they need, choose the lots (the pair's entry alignment, the carry policy, or exactly what
a holding left), and pass the risk gate. The decision goes back to the engine, which starts the ticket.

Crossings are counted as episodes (``signals``): one begins when the executable basis at the
ticket's size crosses a threshold and ends when it no longer does, counted the same way whether a
ticket may start or not (one working, a repair, a halt), so the quiet screen keeps it cheap while
nothing crosses. An episode with at least one refusal counts once in ``denials``; each reason is
recorded once per episode; one in which a ticket completed counts once in ``captured``.

A pair in shadow mode (:mod:`xmc_fix.execution.release`) is decided the same way on its paper
position, and its decision is handed to the release as a shadow ticket instead of being started.
"""

from __future__ import annotations

from decimal import Decimal

from xmc_fix.basis.alignment import Alignment, align
from xmc_fix.basis.pricing import Quote, fx_rate, limit_price
from xmc_fix.basis.signal import crosses, decide
from xmc_fix.clock import Clock
from xmc_fix.domain.enums import Direction, LegRole, OrdType, Side, TicketIntent, TradingState
from xmc_fix.execution.lifecycle import Entry
from xmc_fix.execution.records import AuditSink, units
from xmc_fix.execution.release import Release
from xmc_fix.execution.state import EngineState, PairRuntime
from xmc_fix.marketdata.book import Book
from xmc_fix.risk.alerts import Alert
from xmc_fix.risk.gate import Denial, DenyReason, LegPlan, OrderKind, RiskGate, describe
from xmc_fix.risk.monitor import Monitor

MS = 1_000_000
ZERO = Decimal(0)


def carry_of(pr, direction: Direction) -> Decimal:
    """The pair's residual as a ticket in ``direction`` sees it: its own residual (inner minus
    outer filled) adds to the pair's with this sign. ``pr``: the pair, or its paper position."""
    return (-1 if direction is Direction.SELL_BASIS else 1) * pr.residual_units


class Decider:
    def __init__(self, state: EngineState, gate: RiskGate, monitor: Monitor, audit: AuditSink, clock: Clock) -> None:
        self.state = state
        self.gate = gate
        self.monitor = monitor
        self.audit = audit
        self.clock = clock
        self.release = Release(state, monitor, audit, clock)

    def evaluate(self, pr: PairRuntime, recv_ns: int, book: Book | None = None) -> Entry | None:
        """``book``: the one whose update called for this evaluation (None: a timer or a state change)."""
        st = self.state
        now = self.clock.now_ns()
        t_eval = now if st.stats.trace else 0
        if pr.market_until_ns and now >= pr.market_until_ns:
            self.monitor.check_market(pr, now)
        if book is not None:
            # data the venue sent longer ago than the pair's limit (a backlog in front of us, or behind
            # our evaluation): applied to the book, not traded on, and evaluating it is work to shed
            late = st.freshness.age_ns(book.venue, book.venue_ns, now)
            if late is not None and late > pr.cfg.max_quote_age_ms * MS:
                return self._shed(pr, book, late, now)
        books = st.books
        ib, ob = books[pr.inner.key], books[pr.outer.key]
        if not (ib.valid and ob.valid):
            return None
        fx = None
        fx_book = None
        if pr.pricer.needs_fx:
            if pr.fx_key is not None:
                fx_book = books[pr.fx_key]
                fx = fx_book.mid() if fx_book.valid else None
            else:
                fx = fx_rate(None, st.strategy.fx[pr.cfg.fx])
            if fx is None:
                return None
        cfg = pr.cfg
        # a shadow pair decides on its paper position, never on what the ledger holds for it
        held = pr if pr.paper is None else pr.paper
        pos = held.inner_lots
        # Cheap screen on the best levels: depth only makes the executable basis worse.
        ibid, iask, obid, oask = ib.best_bid(), ib.best_ask(), ob.best_bid(), ob.best_ask()
        if (ibid and iask and ibid[0] >= iask[0]) or (obid and oask and obid[0] >= oask[0]):
            return None  # a crossed book is a data problem, not an opportunity
        # Nothing crossed last time and no best price, FX or position has moved since: a size change
        # deeper in a book cannot make it cross now (most market data is exactly that).
        screen = (ibid and ibid[0], iask and iask[0], obid and obid[0], oask and oask[0], fx, pos)
        if screen == pr.quiet_screen:
            return None
        sell = pr.pricer.basis(ibid[0], oask[0], fx) if ibid and oask else None
        buy = pr.pricer.basis(iask[0], obid[0], fx) if iask and obid else None
        pr.last_basis = (sell, buy)
        sig = decide(sell, buy, pos, cfg)
        if sig is None:
            self._crossing(pr, None)
            pr.quiet_screen = screen
            return None
        pr.quiet_screen = None
        # Crossings are counted the same way whether or not a ticket may start now (a ticket
        # working, a repair, a halt, the stop): only the decision to trade is skipped then.
        blocked = pr.active is not None or pr.legged or st.stopping or st.pair_state(pr) is TradingState.HALTED
        direction, intent, threshold = sig.direction, sig.intent, sig.threshold
        holding = None
        aim = ZERO
        if intent is TicketIntent.OPEN:
            entry = pr.entry
            if cfg.residual_policy == "carry":
                aim = -carry_of(held, direction)
                entry = self._align_carry(pr, direction, held)
                if entry is None:
                    q0 = pr.pricer.executable(direction, ib, ob, pr.entry.inner_lots, pr.entry.outer_lots, fx)
                    crossing = q0 is not None and crosses(direction, q0.basis, threshold)
                    self._crossing(pr, sig if crossing else None)
                    if crossing and not blocked:
                        self.deny(pr, Denial(DenyReason.ALIGNMENT, f"no lots offset the carried residual "
                                             f"{units(held.residual_units)} {pr.inner.unit} within "
                                             f"{cfg.residual_tolerance}"), recv_ns, q0)
                    return None
            inner_lots, outer_lots = entry.inner_lots, entry.outer_lots
            planned = entry.residual
        else:
            while held.holdings and held.holdings[0].empty:
                held.holdings.popleft()
            # the oldest holding this direction takes off: a holding of the other sign (lots a
            # repaired closing ticket left after what it closed was gone) is never "closed" by
            # adding to it
            holding = next((h for h in held.holdings if h.closed_by(direction)), None)
            if holding is None:
                return None
            # never more than the pair holds: a close never opens the other way
            inner_lots = min(abs(holding.inner_lots), abs(held.inner_lots))
            outer_lots = min(abs(holding.outer_lots), abs(held.outer_lots))
            if not inner_lots and not outer_lots:
                return None
            planned = aim = pr.inner.lots_to_units(inner_lots) - pr.outer.lots_to_units(outer_lots, pr.inner.unit)
        q = pr.pricer.executable(direction, ib, ob, inner_lots, outer_lots, fx)
        if q is None:
            return None
        if not crosses(direction, q.basis, threshold):
            self._crossing(pr, None)
            return None  # the top crossed but not at the ticket's size
        self._crossing(pr, sig)
        if blocked:
            return None
        sign = 1 if direction is Direction.BUY_BASIS else -1
        after = held.position_units + sign * pr.inner.lots_to_units(inner_lots)
        legs = self._leg_plans(pr, direction, q, inner_lots, outer_lots, (ib, ob))
        kind = OrderKind.OPEN if intent is TicketIntent.OPEN else OrderKind.CLOSE
        ran: list = []
        ages = (self._age_ms(ib, now), self._age_ms(ob, now))
        denial = self.gate.check_ticket(
            kind, legs, pair=pr.name, global_state=st.trading.state, pair_state=pr.trading.state,
            sessions_up=(pr.inner.venue in st.venues_up, pr.outer.venue in st.venues_up),
            quote_ages_ms=ages,
            max_quote_age_ms=cfg.max_quote_age_ms,
            fx_age_ms=self._age_ms(fx_book, now) if fx_book is not None else None,
            max_fx_age_ms=pr.fx_max_age_ms, position_after=after, max_position=cfg.max_position,
            pair_net=held.residual_units, now_ns=now, venue_instruments=st.instruments_by_venue,
            stopping=st.stopping, ran=ran)
        if denial is not None:
            self.deny(pr, denial, recv_ns, q, ran)
            return None
        pr.last_denial = None
        pr.denied = None
        entry = Entry(pr, direction, intent, q, legs, fx, threshold, planned, aim, recv_ns, (ib, ob, fx_book), holding,
                      t_eval, ran, (int(ages[0] * MS), int(ages[1] * MS)))
        if pr.paper is not None:
            return self.release.shadow(entry)      # recorded and filled on paper; nothing is sent
        return entry

    def _age_ms(self, book: Book, now: int) -> float:
        """A book's age now: since our receipt of its last change, or since the venue sent it (by the
        venue's clock), whichever is older."""
        late = self.state.freshness.age_ns(book.venue, book.venue_ns, now)
        local = now - book.recv_ns
        return (local if late is None or late < local else late) / MS

    def _shed(self, pr: PairRuntime, book: Book, late_ns: int, now: int) -> None:
        """Skip an evaluation on data already too old; say so once per episode (a denial, and an
        alert that the engine is behind the venue)."""
        st = self.state
        st.stats.shed += 1
        pr.denials += 1
        if pr.last_denial is DenyReason.STALE_QUOTE:
            return None
        pr.last_denial = DenyReason.STALE_QUOTE
        detail = (f"{book.venue} {book.symbol} data sent {late_ns / MS:.0f} ms ago by the venue's clock "
                  f"(limit {pr.cfg.max_quote_age_ms}): not traded on, evaluation shed")
        self.audit.event("denial", now, pair=pr.name, reason=DenyReason.STALE_QUOTE.value, detail=detail,
                         shed=True)
        self.monitor.alerts.alert(Alert("md_backlog", "warning", detail, now, pair=pr.name, venue=book.venue,
                                        action="decisions on it shed until data is fresh"))
        return None

    @staticmethod
    def _crossing(pr: PairRuntime, sig) -> None:
        """Count crossings as episodes: one starts when the executable basis at the ticket's size
        crosses a threshold (``sig``) and ends when it no longer does (``None``)."""
        key = sig.key if sig is not None else None
        if key == pr.crossing:
            return
        pr.crossing = key
        if key is not None:
            pr.signals += 1
        else:
            pr.last_denial = None
            pr.denied = None

    def _align_carry(self, pr: PairRuntime, direction: Direction, held=None) -> Alignment | None:
        """Residual policy "carry": this ticket's lots offset the residual the pair holds (``held``:
        the pair, or its paper position in shadow mode), so the pair's cumulative residual stays
        within the tolerance."""
        carry = carry_of(held if held is not None else pr, direction)
        key = (direction, carry)
        if key not in pr.carry_cache:
            pr.carry_cache[key] = align(pr.ticket_qty, pr.inner, pr.outer, tolerance=pr.cfg.residual_tolerance,
                                        carry=carry, max_inner_lots=pr.inner.max_order_qty,
                                        max_outer_lots=pr.outer.max_order_qty)
        return pr.carry_cache[key]

    @staticmethod
    def _leg_plans(pr: PairRuntime, direction: Direction, q: Quote, inner_lots: Decimal,
                   outer_lots: Decimal, books: tuple) -> tuple[LegPlan, LegPlan]:
        """Each leg's order as the gate sees it: the limit is the level the size reaches plus the
        leg's slippage allowance; the decision price is that level. A MARKET leg has no limit: the
        gate checks it at the level its size reaches."""
        cfg = pr.cfg
        out = []
        for role, inst, lots, sw, ticks, ot, book in (
                (LegRole.INNER, pr.inner, inner_lots, q.inner, cfg.inner_slippage_ticks, cfg.inner_order_type, books[0]),
                (LegRole.OUTER, pr.outer, outer_lots, q.outer, cfg.outer_slippage_ticks, cfg.outer_order_type, books[1])):
            side = direction.side(role)
            market = ot is not OrdType.LIMIT
            price = None if market else limit_price(inst, side, sw.worst, ticks)
            touch = (book.best_ask() if side is Side.BUY else book.best_bid())
            leg_units = inst.lots_to_units(lots, pr.inner.unit) * side.sign
            reach = sw.worst if market and sw.qty >= lots else None
            out.append(LegPlan(inst, side, lots, price, sw.worst, ticks, touch[0] if touch else None, sw.qty, leg_units,
                               reach))
        return out[0], out[1]

    def deny(self, pr: PairRuntime, denial: Denial, ts_ns: int, q: Quote, ran: list | None = None) -> None:
        """A refused decision: counted once per crossing episode, recorded once per reason in it."""
        if pr.denied_episode != pr.signals:
            pr.denied_episode = pr.signals
            pr.denials += 1
        if pr.last_denial is denial.reason:
            return  # recorded once per episode, not once per tick
        pr.last_denial = denial.reason
        pr.denied = {"reason": denial.reason.value, "detail": denial.detail, "direction": q.direction.value,
                     "ts_ns": ts_ns}
        self.audit.event("denial", ts_ns, pair=pr.name, reason=denial.reason.value, detail=denial.detail,
                         basis=str(q.basis), direction=q.direction.value,
                         checks=describe(ran, denial) if ran else None)

    def sample_basis(self, now_ns: int) -> None:
        """Each pair's executable basis at the best levels, for the record (basis over time)."""
        st = self.state
        for pr in st.pairs.values():
            sell, buy = pr.last_basis
            if sell is None and buy is None:
                continue
            self.audit.event("basis", now_ns, pair=pr.name, sell=str(sell) if sell is not None else None,
                             buy=str(buy) if buy is not None else None, position=str(pr.position_units),
                             state=st.pair_state(pr).value, signals=pr.signals, denials=pr.denials,
                             captured=pr.captured)
