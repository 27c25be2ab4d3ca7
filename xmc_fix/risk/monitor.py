"""Post-trade risk: what fills, acknowledgements, rejects, silent books, market hours and venue
sessions do to the trading states.

The monitor reads the engine's state, applies holds to the pairs' and the global trading state,
journals sticky ones, and raises alerts. It never sends or cancels anything itself: a breach that
must also cancel the scope's working orders comes back as a :class:`Protect`, which the ticket
lifecycle acts on (cancels first) and then hands back to :meth:`Monitor.report` for the alert, so
the alert can say what was done and how long it took.

Pre-trade checks are the gate's (:mod:`xmc_fix.risk.gate`); which orders each state lets through
is :data:`xmc_fix.risk.gate.ALLOWED`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from xmc_fix.clock import Clock
from xmc_fix.domain.enums import LegRole, OrdStatus, TradingState
from xmc_fix.domain.orders import Order
from xmc_fix.risk.alerts import Alert, Alerter
from xmc_fix.risk.states import StateChange, StateTrigger

if TYPE_CHECKING:   # types only: the state holder imports nothing from here
    from xmc_fix.execution.state import EngineState, PairRuntime

MS = 1_000_000


def _units(d: Decimal) -> str:
    q = d.quantize(Decimal("0.000001")).normalize()
    return format(q, "f")


@dataclass(frozen=True, slots=True)
class Protect:
    """A breach whose hold is applied; the lifecycle cancels the scope's working orders when it
    halts, then :meth:`Monitor.report` alerts (once per kind and scope until resumed)."""

    pair: str | None           # None: global
    kind: str
    message: str
    halt: bool
    t0_perf: int               # when the breach was detected (perf counter), for the alert's timing
    ts_ns: int
    venue: str | None = None


class Monitor:
    def __init__(self, state: "EngineState", clock: Clock, alerts: Alerter, journal) -> None:
        self.state = state
        self.clock = clock
        self.alerts = alerts
        self.journal = journal
        self.risk = state.strategy.risk

    # -- trading states ------------------------------------------------------------------------
    def set_state(self, pr: "PairRuntime | None", trigger: StateTrigger, reason: str, *, key: str | None = None,
                  detected_ns: int | None = None, alert_kind: str | None = None, venue: str | None = None,
                  t0_perf: int | None = None, severity: str | None = None) -> StateChange | None:
        """Apply a trigger to a pair's (or the global) state; alert and journal a change."""
        scope = pr.trading if pr is not None else self.state.trading
        now = self.clock.now_ns()
        change = scope.apply(trigger, now, reason, key=key)
        if change is None:
            return None
        if trigger in (StateTrigger.HALT, StateTrigger.REDUCE, StateTrigger.RESUME):
            self._journal_sticky(pr, reason)
        if t0_perf is not None:
            us = (time.perf_counter_ns() - t0_perf) / 1000
        elif detected_ns is not None:
            us = max(0.0, (self.clock.now_ns() - detected_ns) / 1000)
        else:
            us = None
        severity = severity or ("info" if change.to_state is TradingState.ACTIVE or alert_kind == "operator"
                                else "critical" if change.to_state is TradingState.HALTED else "warning")
        self.alerts.alert(Alert(alert_kind or "state_change", severity,
                                f"{change.scope} {change.from_state.value} -> {change.to_state.value}: {reason}",
                                now, pair=pr.name if pr is not None else None, venue=venue,
                                action=f"{change.scope} {change.to_state.value}", alert_to_action_us=us))
        return change

    def _journal_sticky(self, pr: "PairRuntime | None", reason: str) -> None:
        """A scope's sticky holds survive a restart: the journal keeps the most restrictive."""
        scope = pr.trading if pr is not None else self.state.trading
        state = scope.state.value if any(h.sticky for h in scope.holds.values()) else TradingState.ACTIVE.value
        if pr is not None:
            self.journal.write("pair", pair=pr.name, state=state, reason=reason)
        else:
            self.journal.write("global", state=state, reason=reason)

    def resume(self, pr: "PairRuntime | None", who: str) -> None:
        """An operator's resume: every sticky hold of the scope goes, and its breaches may alert again."""
        scope = pr.name if pr is not None else "global"
        self.set_state(pr, StateTrigger.RESUME, f"resumed by {who}", alert_kind="operator")
        self.state.breaches = {b for b in self.state.breaches if b[1] != scope}

    def breach(self, pr: "PairRuntime | None", kind: str, message: str, trigger: StateTrigger, t0_perf: int,
               now_ns: int, venue: str | None = None) -> Protect:
        """A limit or quality breach: the hold now; cancelling and alerting are the caller's next steps."""
        (pr.trading if pr is not None else self.state.trading).apply(trigger, now_ns, message)
        self._journal_sticky(pr, message)
        return Protect(pr.name if pr is not None else None, kind, message, trigger is StateTrigger.HALT, t0_perf,
                       now_ns, venue)

    def report(self, p: Protect, cancelled: list[str]) -> None:
        """Alert a breach once the protection is in place (once per kind and scope until resumed)."""
        us = (time.perf_counter_ns() - p.t0_perf) / 1000
        scope = p.pair or "global"
        if (p.kind, scope) in self.state.breaches:
            return
        self.state.breaches.add((p.kind, scope))
        trading = self.state.pairs[p.pair].trading if p.pair is not None else self.state.trading
        action = f"{scope} {trading.state.value}"
        if cancelled:
            action += f", {len(cancelled)} working orders cancelled"
        self.alerts.alert(Alert(p.kind, "critical", p.message, p.ts_ns, pair=p.pair, venue=p.venue, action=action,
                                alert_to_action_us=us))

    # -- venue sessions -----------------------------------------------------------------------
    def session_up(self, venue: str) -> None:
        for pr in self.state.pairs_on(venue):
            self.set_state(pr, StateTrigger.CLEAR, f"{venue} session up", key=f"session:{venue}",
                           t0_perf=time.perf_counter_ns())

    def session_down(self, venue: str, reason: str) -> None:
        for pr in self.state.pairs_on(venue):
            self.set_state(pr, StateTrigger.AUTO_HALT, f"{venue} session down{': ' + reason if reason else ''}",
                           key=f"session:{venue}", t0_perf=time.perf_counter_ns(), alert_kind="session_down",
                           venue=venue)

    # -- fills, acknowledgements, outcomes ---------------------------------------------------
    def on_position_change(self, pr: "PairRuntime", order: Order, lots: Decimal, px: Decimal, now_ns: int,
                           fx: Decimal | None, exec_id: str | None = None) -> list[Protect]:
        """Book the fill's realised P&L; breaches of the daily loss or an instrument's position limit."""
        t0 = time.perf_counter_ns()
        inst = order.instrument
        ledger = self.state.ledger
        out = []
        day = self.state.trading_day(pr.inner, now_ns)
        ledger.roll_day(pr.name, day)
        realised = ledger.on_fill(pr.name, inst, order.side, lots, px, leg=order.leg, account=order.command.account)
        if realised and order.leg is LegRole.OUTER and pr.pricer.needs_fx and fx:
            realised = realised * fx if pr.pricer.fx_mode == 1 else realised / fx
        self.journal.write("fill", pair=pr.name, leg=order.leg.value, ticket_id=order.ticket_id,
                           cl_ord_id=order.cl_ord_id, exec_id=exec_id, instrument=inst.name,
                           account=order.command.account,
                           side=order.side.value, qty=str(lots), px=str(px), realised=str(realised), day=day)
        if realised:
            total = ledger.add_realised(pr.name, realised)
            limit = self.risk.pair(pr.name).daily_loss_limit
            if limit is not None and total <= -limit:
                out.append(self.breach(pr, "daily_loss", f"{pr.name} realised {_units(total)} {pr.inner.currency} "
                                       f"today (limit {limit})", StateTrigger.HALT, t0, now_ns))
        lim = self.risk.instrument(inst.name).max_position
        pos = ledger.position(inst.name)
        if lim is not None and abs(pos) > lim:
            for other in self.state.pairs.values():
                if inst in (other.inner, other.outer):
                    out.append(self.breach(other, "limit_breach", f"{inst.name} position {pos} lots beyond "
                                           f"max_position {lim}", StateTrigger.HALT, t0, now_ns, venue=inst.venue))
        return out

    def on_ack(self, order: Order, now_ns: int) -> list[Protect]:
        ms = (order.ack_ns - order.sent_ns) / MS
        limit = self.risk.max_ack_ms
        if ms <= limit:
            return []
        t0 = time.perf_counter_ns()
        venue = order.instrument.venue
        return [self.breach(pr, "latency_spike", f"{venue} acknowledged {order.cl_ord_id} after {ms:.0f} ms "
                            f"(limit {limit})", StateTrigger.REDUCE, t0, now_ns, venue=venue)
                for pr in self.state.pairs_on(venue)]

    def on_outcome(self, gate, order: Order, now_ns: int) -> list[Protect]:
        venue = order.instrument.venue
        share = gate.record_outcome(venue, order.status is OrdStatus.REJECTED)
        limit = self.risk.max_reject_share
        if share <= limit:
            return []
        t0 = time.perf_counter_ns()
        return [self.breach(pr, "reject_spike", f"{venue} rejected {share:.0%} of the last "
                            f"{self.risk.reject_window} orders (limit {limit:.0%})", StateTrigger.REDUCE, t0, now_ns,
                            venue=venue)
                for pr in self.state.pairs_on(venue)]

    # -- the venue's word against ours ----------------------------------------------------------
    def difference(self, pairs: list, kind: str, message: str, now_ns: int, venue: str | None) -> list[Protect]:
        """The engine's view and a venue's differ (a fill of an order we did not send, a report we
        could not read, positions that do not match): the pairs it touches go HALTED or REDUCING
        (``[reconcile] on_difference``) until an operator resumes, and it is alerted."""
        t0 = time.perf_counter_ns()
        trigger = StateTrigger.HALT if self.state.strategy.reconcile.on_difference == "halt" else StateTrigger.REDUCE
        out = [self.breach(pr, kind, message, trigger, t0, now_ns, venue=venue) for pr in pairs]
        if not out:     # nothing of ours trades it: still alerted
            self.alerts.alert(Alert(kind, "critical", message, now_ns, venue=venue, action="no pair trades it"))
        return out

    def correction(self, pr: "PairRuntime", order: Order, kind: str, message: str, now_ns: int) -> None:
        """A fill busted or corrected by the venue: alerted; the ticket repairs what it changes."""
        self.alerts.alert(Alert(kind, "critical" if kind == "trade_bust" else "warning", message, now_ns,
                                pair=pr.name, venue=order.instrument.venue,
                                action=f"position follows the venue; ticket {order.ticket_id} re-checked"))

    # -- books and markets ---------------------------------------------------------------------
    def check_stale(self, now_ns: int) -> None:
        """A leg's (or the FX) book silent longer than ``stale_halt_ms`` halts the pair until it speaks."""
        limit = self.risk.stale_halt_ms * MS
        books, up = self.state.books, self.state.venues_up
        for pr in self.state.pairs.values():
            keys = [k for k in (pr.inner.key, pr.outer.key, pr.fx_key) if k is not None]
            stale = [k for k in keys if k[0] in up and books[k].recv_ns and now_ns - books[k].recv_ns > limit]
            if stale:
                v, sym = stale[0]
                age = (now_ns - books[stale[0]].recv_ns) / MS
                self.set_state(pr, StateTrigger.AUTO_HALT, f"{v} {sym} market data {age:.0f} ms old", key="stale",
                               t0_perf=time.perf_counter_ns(), alert_kind="stale_data", venue=v)
            elif "stale" in pr.trading.holds:
                self.set_state(pr, StateTrigger.CLEAR, "market data fresh again", key="stale",
                               t0_perf=time.perf_counter_ns())

    def check_market(self, pr: "PairRuntime", now_ns: int) -> None:
        """Pause the pair while either leg's market is closed (break, night, weekend, holiday)."""
        until = None
        closed = []
        for inst, cal in zip((pr.inner, pr.outer), pr.calendars):
            if cal is None:
                continue
            st = cal.state(now_ns)
            if not st.open:
                closed.append(f"{inst.venue} {st.reason}")
            if st.next_change_ns is not None:
                until = st.next_change_ns if until is None else min(until, st.next_change_ns)
        pr.market_until_ns = until if until is not None else now_ns + 60 * 1_000_000_000
        if closed:
            self.set_state(pr, StateTrigger.AUTO_HALT, "market closed: " + "; ".join(closed), key="market",
                           t0_perf=time.perf_counter_ns(), alert_kind="market_closed", severity="info")
        elif "market" in pr.trading.holds:
            self.set_state(pr, StateTrigger.CLEAR, "markets open", key="market", t0_perf=time.perf_counter_ns())

    def on_timer(self, now_ns: int) -> None:
        for pr in self.state.pairs.values():    # the daily loss limit starts again each trading day
            self.state.ledger.roll_day(pr.name, self.state.trading_day(pr.inner, now_ns))
        self.check_stale(now_ns)
        for pr in self.state.pairs.values():
            if (pr.market_until_ns == 0 or now_ns >= pr.market_until_ns) and pr.calendars != (None, None):
                self.check_market(pr, self.clock.now_ns())
