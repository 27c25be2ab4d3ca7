"""The order watchdog: silence is a state.

Every order without a final answer is watched on the timer:

- ``ticket_timeout_ms`` after it was sent, a resting (DAY/GTC) order is cancelled and any other is
  asked about (OrderStatusRequest) — never assumed dead;
- still no final answer: asked again after ``[reconcile] status_retry_ms``, the pause doubling each
  round (up to 30 s); every unanswered round raises a ``venue_silent`` alert, and from the third the
  venue is also asked for its whole picture (a reconciliation round: mass status, positions);
- nothing at all from the venue about the order for ``[reconcile] silent_halt_ms``: the pairs of its
  ticket go HALTED (a sticky hold only an operator resumes) and the alert states the exposure.

An order the venue never acknowledged counts against ``[risk] max_ack_ms`` as it waits, not only
once an acknowledgement finally comes. What the watchdog sends goes through the order desk.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmc_fix.clock import Clock
from xmc_fix.domain.enums import TimeInForce
from xmc_fix.domain.orders import Order
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.records import AuditSink, units
from xmc_fix.execution.settlement import Settlement
from xmc_fix.execution.state import EngineState
from xmc_fix.execution.venue_sync import VenueSync
from xmc_fix.risk.alerts import Alert
from xmc_fix.risk.monitor import Monitor
from xmc_fix.risk.states import StateTrigger

MS = 1_000_000
LIVE_TIF = (TimeInForce.DAY, TimeInForce.GTC)
MAX_RETRY_MS = 30_000


@dataclass(slots=True)
class Ask:
    """How long and how often the engine has been asking a venue about one order."""

    first_ns: int          # the first cancel or status request of this watch
    next_ns: int           # when to ask again
    rounds: int = 1
    halted: bool = False


class Watchdog:
    def __init__(self, state: EngineState, desk: OrderDesk, settlement: Settlement, monitor: Monitor,
                 sync: VenueSync, audit: AuditSink, clock: Clock) -> None:
        self.state = state
        self.desk = desk
        self.settle = settlement
        self.monitor = monitor
        self.sync = sync
        self.audit = audit
        self.clock = clock
        self.asks: dict[str, Ask] = {}
        self._unacked: set[str] = set()

    def on_timer(self, now_ns: int) -> None:
        st = self.state
        strategy = st.strategy
        timeout = strategy.engine.ticket_timeout_ms * MS
        max_ack = strategy.risk.max_ack_ms * MS
        if len(self._unacked) > 10_000:          # only the orders still watched matter
            self._unacked &= set(st.orders)
        for p in list(st.open_progress()):
            t = p.ticket
            for order in t.orders():
                if order.sent_ns is None or (order.is_terminal and not order.uncertain):
                    self.asks.pop(order.cl_ord_id, None)
                    continue
                age = now_ns - order.sent_ns
                # (an order restored at a restart waited for our restart, not for the venue)
                if order.ack_ns is None and age > max_ack and not order.restored and order.cl_ord_id not in self._unacked:
                    self._unacked.add(order.cl_ord_id)
                    self._unacknowledged(order, age, now_ns)
                ask = self.asks.get(order.cl_ord_id)
                if ask is None:
                    if age >= timeout and order.cl_ord_id not in st.asked:
                        self._first_ask(t, order, now_ns)
                    continue
                if now_ns >= ask.next_ns:
                    self._ask_again(t, order, ask, now_ns)
                self._maybe_halt(t, order, ask, now_ns)

    def _first_ask(self, t, order: Order, now_ns: int) -> None:
        st = self.state
        self.audit.event("order_timeout", now_ns, venue=order.instrument.venue, pair=t.pair, ticket_id=t.ticket_id,
                         cl_ord_id=order.cl_ord_id)
        if order.command.tif in LIVE_TIF and order.instrument.venue in st.venues_up and not order.is_terminal:
            self.desk.cancel(order, "ticket timeout")
        else:
            self.desk.query(order, "no final report within ticket_timeout_ms")
        self.asks[order.cl_ord_id] = Ask(now_ns, now_ns + st.strategy.reconcile.status_retry_ms * MS)

    def _ask_again(self, t, order: Order, ask: Ask, now_ns: int) -> None:
        cfg = self.state.strategy.reconcile
        heard = max(order.last_report_ns or 0, ask.first_ns)
        silent_ms = (now_ns - heard) / MS
        pause = min(cfg.status_retry_ms * 2 ** ask.rounds, MAX_RETRY_MS)
        ask.rounds += 1
        ask.next_ns = now_ns + pause * MS
        venue = order.instrument.venue
        if venue not in self.state.venues_up:
            return      # the logon asks about it; the session-down hold already holds its pairs
        self.desk.query(order, f"no final answer (round {ask.rounds})", force=True)
        self.monitor.alerts.alert(Alert("venue_silent", "warning",
                                        f"{venue} has given no final answer about {order.cl_ord_id} "
                                        f"(ticket {t.ticket_id}) for {silent_ms:.0f} ms: asked again "
                                        f"(round {ask.rounds})", now_ns, pair=t.pair, venue=venue,
                                        action=f"status request; next in {pause} ms"))
        if ask.rounds == 3:
            self.sync.start(venue, f"{order.cl_ord_id} unanswered", query_uncertain=False)

    def _maybe_halt(self, t, order: Order, ask: Ask, now_ns: int) -> None:
        """Nothing heard about the order for ``silent_halt_ms``: its ticket's pair halts."""
        cfg = self.state.strategy.reconcile
        heard = max(order.last_report_ns or 0, ask.first_ns)
        if ask.halted or now_ns - heard < cfg.silent_halt_ms * MS:
            return
        ask.halted = True
        venue = order.instrument.venue
        pr = self.state.pairs[t.pair]
        msg = (f"{venue} silent about {order.cl_ord_id} for {(now_ns - heard) / MS:.0f} ms (limit "
               f"{cfg.silent_halt_ms}): ticket {t.ticket_id} {t.state.value}, residual {units(t.residual)} "
               f"{t.unit}, the order's outcome unknown")
        self.settle.protect([self.monitor.breach(pr, "venue_silent", msg, StateTrigger.HALT, now_ns, venue=venue)])

    def _unacknowledged(self, order: Order, age_ns: int, now_ns: int) -> None:
        venue = order.instrument.venue
        limit = self.state.strategy.risk.max_ack_ms
        self.settle.protect([self.monitor.breach(pr, "latency_spike", f"{venue} has not acknowledged "
                                                 f"{order.cl_ord_id} after {age_ns / MS:.0f} ms (limit {limit})",
                                                 StateTrigger.REDUCE, now_ns, venue=venue)
                             for pr in self.state.pairs_on(venue)])
