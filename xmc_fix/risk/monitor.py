"""Post-trade risk: what fills, acknowledgements, rejects, unwinds, silent books, market hours and
venue sessions do to the trading states.

The monitor reads the engine's state, applies holds to the pairs' and the global trading state,
journals sticky ones, and raises alerts. It never sends or cancels anything itself: a breach that
must also cancel the scope's working orders comes back as a :class:`Protect`, which the ticket
lifecycle acts on (cancels first) and then hands back to :meth:`Monitor.report` for the alert, so
the alert can say what was done and how long it took.

A breach is one hold per kind and scope until an operator resumes it: the same breach again (a
reject spike on every reject while above the limit) changes nothing, journals nothing and alerts
nothing. A repair loop (the same pair unwinding or being rejected again and again within
``loop_window_ms``) halts the pair whatever its cause.

Timing of protective alerts (warning and critical): ``detect_us`` from the moment the triggering
fact arrived (the execution report's receipt, the timer tick, the session event) to its detection,
``action_us`` from detection to the protection in place (hold applied, working orders cancelled),
``alert_to_action_us`` their sum. Information alerts (a session up, markets open, an operator's
command) carry none. Durations come from the injected clock's monotonic counter.

Pre-trade checks are the gate's (:mod:`xmc_fix.risk.gate`); which orders each state lets through
is :data:`xmc_fix.risk.gate.ALLOWED`.
"""

from __future__ import annotations

from collections import deque
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
PROTECTIVE = ("warning", "critical")


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
    ts_ns: int                 # when the triggering fact arrived (report receipt, timer tick)
    detect_us: float           # from that arrival to the breach's detection
    t0_perf: int               # the detection, on the clock's monotonic counter (for action_us)
    venue: str | None = None


class Monitor:
    def __init__(self, state: "EngineState", clock: Clock, alerts: Alerter, journal) -> None:
        self.state = state
        self.clock = clock
        self.alerts = alerts
        self.journal = journal
        self.risk = state.strategy.risk
        self._unwinds: dict[str, deque] = {}    # pair -> fact times of its unwound tickets (in the window)
        self._rejects: dict[str, deque] = {}    # pair -> fact times of its rejected orders

    def _detect_us(self, fact_ns: int | None) -> float | None:
        return None if fact_ns is None else max(0.0, (self.clock.now_ns() - fact_ns) / 1000)

    # -- trading states ------------------------------------------------------------------------
    def set_state(self, pr: "PairRuntime | None", trigger: StateTrigger, reason: str, *, key: str | None = None,
                  fact_ns: int | None = None, alert_kind: str | None = None, venue: str | None = None,
                  severity: str | None = None) -> StateChange | None:
        """Apply a trigger to a pair's (or the global) state; alert and journal a change.
        ``fact_ns``: when the fact that called for it arrived (None: not known)."""
        clock = self.clock
        t0 = clock.perf_ns()
        detect = self._detect_us(fact_ns)
        scope = pr.trading if pr is not None else self.state.trading
        now = clock.now_ns()
        change = scope.apply(trigger, now, reason, key=key)
        if change is None:
            return None
        action = (clock.perf_ns() - t0) / 1000
        if trigger in (StateTrigger.HALT, StateTrigger.REDUCE, StateTrigger.RESUME):
            self._journal_sticky(pr, reason)
        severity = severity or ("info" if change.to_state is TradingState.ACTIVE or alert_kind == "operator"
                                else "critical" if change.to_state is TradingState.HALTED else "warning")
        timing = {}
        if severity in PROTECTIVE:
            timing = {"action_us": action, "detect_us": detect,
                      "alert_to_action_us": None if detect is None else detect + action}
        self.alerts.alert(Alert(alert_kind or "state_change", severity,
                                f"{change.scope} {change.from_state.value} -> {change.to_state.value}: {reason}",
                                now, pair=pr.name if pr is not None else None, venue=venue,
                                action=f"{change.scope} {change.to_state.value}", **timing))
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
        if pr is not None:
            self._unwinds.pop(pr.name, None)
            self._rejects.pop(pr.name, None)

    def breach(self, pr: "PairRuntime | None", kind: str, message: str, trigger: StateTrigger, now_ns: int,
               venue: str | None = None) -> Protect | None:
        """A limit or quality breach found from a fact that arrived at ``now_ns``: the hold now;
        cancelling and alerting are the caller's next steps. ``None`` when the scope already holds
        this kind of breach (nothing new to protect or to say until an operator resumes it)."""
        t0 = self.clock.perf_ns()
        detect = self._detect_us(now_ns)
        trading = pr.trading if pr is not None else self.state.trading
        if f"sticky:{kind}" in trading.holds:
            return None
        trading.apply(trigger, now_ns, message, key=kind)
        self._journal_sticky(pr, message)
        return Protect(pr.name if pr is not None else None, kind, message, trigger is StateTrigger.HALT, now_ns,
                       detect, t0, venue)

    def report(self, p: Protect, cancelled: list[str]) -> None:
        """Alert a breach once the protection is in place (once per kind and scope until resumed)."""
        action = (self.clock.perf_ns() - p.t0_perf) / 1000
        scope = p.pair or "global"
        if (p.kind, scope) in self.state.breaches:
            return
        self.state.breaches.add((p.kind, scope))
        trading = self.state.pairs[p.pair].trading if p.pair is not None else self.state.trading
        text = f"{scope} {trading.state.value}"
        if cancelled:
            text += f", {len(cancelled)} working orders cancelled"
        self.alerts.alert(Alert(p.kind, "critical", p.message, p.ts_ns, pair=p.pair, venue=p.venue, action=text,
                                alert_to_action_us=p.detect_us + action, detect_us=p.detect_us, action_us=action))

    # -- venue sessions -----------------------------------------------------------------------
    def session_up(self, venue: str) -> None:
        for pr in self.state.pairs_on(venue):
            self.set_state(pr, StateTrigger.CLEAR, f"{venue} session up", key=f"session:{venue}")

    def session_down(self, venue: str, reason: str, fact_ns: int | None = None) -> None:
        """``fact_ns``: when the logout or the missed heartbeat reached us (the SessionDown event)."""
        for pr in self.state.pairs_on(venue):
            self.set_state(pr, StateTrigger.AUTO_HALT, f"{venue} session down{': ' + reason if reason else ''}",
                           key=f"session:{venue}", fact_ns=fact_ns, alert_kind="session_down", venue=venue)

    # -- fills, acknowledgements, outcomes ---------------------------------------------------
    def on_position_change(self, pr: "PairRuntime", order: Order, lots: Decimal, px: Decimal, now_ns: int,
                           fx: Decimal | None, exec_id: str | None = None) -> list[Protect]:
        """Book the fill (journaled: positions survive a restart) and its realised P&L for the pair's
        trading day; breaches of the daily loss or an instrument's position limit. ``now_ns``: the
        report's receipt."""
        inst = order.instrument
        ledger = self.state.ledger
        out = []
        day = self.state.trading_day(pr.inner, now_ns)
        ledger.roll_day(pr.name, day)
        iday = self.state.trading_day(inst, now_ns) if inst.position_effect else None
        effect = order.command.position_effect
        realised = ledger.on_fill(pr.name, inst, order.side, lots, px, leg=order.leg, account=order.command.account,
                                  effect=effect, day=iday)
        if realised and order.leg is LegRole.OUTER and pr.pricer.needs_fx and fx:
            realised = realised * fx if pr.pricer.fx_mode == 1 else realised / fx
        self.journal.write("fill", pair=pr.name, leg=order.leg.value, ticket_id=order.ticket_id,
                           cl_ord_id=order.cl_ord_id, exec_id=exec_id, venue=inst.venue, instrument=inst.name,
                           account=order.command.account, side=order.side.value, qty=str(lots), px=str(px),
                           realised=str(realised), day=day, pe=effect.value if effect else None, iday=iday)
        if realised:
            total = ledger.add_realised(pr.name, realised)
            limit = self.risk.pair(pr.name).daily_loss_limit
            if limit is not None and total <= -limit:
                out.append(self.breach(pr, "daily_loss", f"{pr.name} realised {_units(total)} {pr.inner.currency} "
                                       f"today (limit {limit})", StateTrigger.HALT, now_ns))
        lim = self.risk.instrument(inst.name).max_position
        pos = ledger.position(inst.name)
        if lim is not None and abs(pos) > lim:
            for other in self.state.pairs.values():
                if inst in (other.inner, other.outer):
                    out.append(self.breach(other, "limit_breach", f"{inst.name} position {pos} lots beyond "
                                           f"max_position {lim}", StateTrigger.HALT, now_ns, venue=inst.venue))
        return [p for p in out if p is not None]

    def on_ack(self, order: Order, now_ns: int) -> list[Protect]:
        ms = (order.ack_ns - order.sent_ns) / MS
        limit = self.risk.max_ack_ms
        if ms <= limit:
            return []
        venue = order.instrument.venue
        out = [self.breach(pr, "latency_spike", f"{venue} acknowledged {order.cl_ord_id} after {ms:.0f} ms "
                           f"(limit {limit})", StateTrigger.REDUCE, now_ns, venue=venue)
               for pr in self.state.pairs_on(venue)]
        return [p for p in out if p is not None]

    def on_outcome(self, gate, order: Order, now_ns: int) -> list[Protect]:
        """An order's final outcome: the venue's reject share, and the pair's rejects in the loop window."""
        venue = order.instrument.venue
        rejected = order.status is OrdStatus.REJECTED
        share = gate.record_outcome(venue, rejected)
        out = []
        if rejected:
            ticket = self.state.tickets.get(order.ticket_id)
            pr = self.state.pairs.get(ticket.pair) if ticket is not None else None
            if pr is not None:
                out.append(self._loop(pr, self._rejects, self.risk.max_rejects, "rejected orders", now_ns,
                                      f"{order.cl_ord_id} at {venue}: {order.text or 'no reason given'}"))
        limit = self.risk.max_reject_share
        if share > limit:
            out += [self.breach(pr, "reject_spike", f"{venue} rejected {share:.0%} of the last "
                                f"{self.risk.reject_window} orders (limit {limit:.0%})", StateTrigger.REDUCE, now_ns,
                                venue=venue)
                    for pr in self.state.pairs_on(venue)]
        return [p for p in out if p is not None]

    def on_unwound(self, pr: "PairRuntime", ticket_id: str, now_ns: int) -> Protect | None:
        """A ticket of the pair ended UNWOUND after a repair: its exposure was taken back at a cost.
        Again and again within the window is a loop, whatever causes it."""
        return self._loop(pr, self._unwinds, self.risk.max_unwinds, "unwound tickets", now_ns, f"last {ticket_id}")

    def _loop(self, pr: "PairRuntime", counts: dict, limit: int, what: str, now_ns: int, last: str) -> Protect | None:
        """Count one more event of the pair in ``loop_window_ms``; at ``limit`` the pair halts ("repair_loop")."""
        if not limit:
            return None
        window = self.risk.loop_window_ms * MS
        q = counts.setdefault(pr.name, deque())
        q.append(now_ns)
        while q and q[0] <= now_ns - window:
            q.popleft()
        if len(q) < limit:
            return None
        return self.breach(pr, "repair_loop", f"{pr.name}: {len(q)} {what} within {self.risk.loop_window_ms} ms "
                           f"(limit {limit}; {last}): stopped instead of trading again", StateTrigger.HALT, now_ns)

    # -- the venue's word against ours ----------------------------------------------------------
    def difference(self, pairs: list, kind: str, message: str, now_ns: int, venue: str | None) -> list[Protect]:
        """The engine's view and a venue's differ (a fill of an order we did not send, a report we
        could not read, positions that do not match): the pairs it touches go HALTED or REDUCING
        (``[reconcile] on_difference``) until an operator resumes, and it is alerted."""
        trigger = StateTrigger.HALT if self.state.strategy.reconcile.on_difference == "halt" else StateTrigger.REDUCE
        out = [self.breach(pr, kind, message, trigger, now_ns, venue=venue) for pr in pairs]
        if not pairs:     # nothing of ours trades it: still alerted
            self.alerts.alert(Alert(kind, "critical", message, now_ns, venue=venue, action="no pair trades it"))
        return [p for p in out if p is not None]

    def correction(self, pr: "PairRuntime", order: Order, kind: str, message: str, now_ns: int) -> None:
        """A fill busted or corrected by the venue: alerted; the ticket repairs what it changes."""
        self.alerts.alert(Alert(kind, "critical" if kind in ("trade_bust", "inferred_bust") else "warning", message, now_ns,
                                pair=pr.name, venue=order.instrument.venue,
                                action=f"position follows the venue; ticket {order.ticket_id} re-checked"))

    # -- books and markets ---------------------------------------------------------------------
    def check_stale(self, now_ns: int) -> None:
        """A leg's (or the FX) book silent longer than ``stale_halt_ms`` halts the pair until it speaks.
        ``now_ns``: the timer tick that looks."""
        limit = self.risk.stale_halt_ms * MS
        books, up = self.state.books, self.state.venues_up
        for pr in self.state.pairs.values():
            keys = [k for k in (pr.inner.key, pr.outer.key, pr.fx_key) if k is not None]
            stale = [k for k in keys if k[0] in up and books[k].recv_ns and now_ns - books[k].recv_ns > limit]
            if stale:
                v, sym = stale[0]
                age = (now_ns - books[stale[0]].recv_ns) / MS
                self.set_state(pr, StateTrigger.AUTO_HALT, f"{v} {sym} market data {age:.0f} ms old", key="stale",
                               fact_ns=now_ns, alert_kind="stale_data", venue=v)
            elif "stale" in pr.trading.holds:
                self.set_state(pr, StateTrigger.CLEAR, "market data fresh again", key="stale")

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
                           alert_kind="market_closed", severity="info")
        elif "market" in pr.trading.holds:
            self.set_state(pr, StateTrigger.CLEAR, "markets open", key="market")

    def on_timer(self, now_ns: int) -> None:
        for pr in self.state.pairs.values():    # the daily loss limit starts again each trading day
            self.state.ledger.roll_day(pr.name, self.state.trading_day(pr.inner, now_ns))
        self.check_stale(now_ns)
        for pr in self.state.pairs.values():
            if (pr.market_until_ns == 0 or now_ns >= pr.market_until_ns) and pr.calendars != (None, None):
                self.check_market(pr, self.clock.now_ns())
