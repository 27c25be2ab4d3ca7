"""Operator commands from the control socket (run inside the engine, between two callbacks) and the
screens they read.

``halt``, ``resume``, ``cancel-all`` and ``flatten`` act through the monitor (trading states), the
order desk (cancels) and the lifecycle (the flatten path). ``status`` and ``watch`` only read, through
:class:`~xmc_fix.execution.state.StateView`, and return plain JSON-ready dicts.
"""

from __future__ import annotations

import time

from xmc_fix.basis.pricing import fx_rate
from xmc_fix.basis.signal import decide
from xmc_fix.clock import Clock
from xmc_fix.domain.enums import Direction
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.lifecycle import Lifecycle
from xmc_fix.execution.records import units
from xmc_fix.execution.state import EngineState
from xmc_fix.risk.alerts import Alerter
from xmc_fix.risk.monitor import Monitor
from xmc_fix.risk.states import StateTrigger

MS = 1_000_000


class Operator:
    def __init__(self, state: EngineState, monitor: Monitor, desk: OrderDesk, lifecycle: Lifecycle,
                 alerts: Alerter, clock: Clock) -> None:
        self.state = state
        self.view = state.view()
        self.monitor = monitor
        self.desk = desk
        self.lifecycle = lifecycle
        self.alerts = alerts
        self.clock = clock

    def halt(self, pair: str | None, who: str, reason: str = "") -> dict:
        why = f"halted by {who}" + (f": {reason}" if reason else "")
        targets = self.state.scope(pair)
        t0 = time.perf_counter_ns()
        self.monitor.set_state(None if pair is None else targets[0], StateTrigger.HALT, why, alert_kind="operator",
                               t0_perf=t0)
        return self.status()

    def resume(self, pair: str | None, who: str) -> dict:
        self.monitor.resume(None if pair is None else self.state.scope(pair)[0], who)
        return self.status()

    def cancel_all(self, pair: str | None, who: str) -> dict:
        cancelled = []
        for pr in self.state.scope(pair):
            cancelled += self.desk.cancel_working(pr, f"cancel-all by {who}")
        return {"cancelled": cancelled}

    def flatten(self, pair: str | None, who: str) -> dict:
        """The kill switch: halt, cancel every working order, take every position of the scope to
        zero through the gate's flatten path. Works while HALTED."""
        st = self.state
        t0 = time.perf_counter_ns()
        why = f"flatten by {who}"
        if pair is None:
            self.monitor.set_state(None, StateTrigger.HALT, why, alert_kind="operator", t0_perf=t0)
        started = []
        for pr in st.scope(pair):
            if pair is not None:
                self.monitor.set_state(pr, StateTrigger.HALT, why, alert_kind="operator", t0_perf=t0)
            self.desk.cancel_working(pr, why)
            pr.flatten_request = (who, t0)
            for p in st.progress.values():
                if p.ticket.pair == pr.name and not p.ticket.state.is_terminal and not p.flatten:
                    p.superseded = "the flatten path"
                    p.pending = None
                    if not p.ticket.working and not any(o.uncertain for o in p.ticket.orders()):
                        self.lifecycle.progress(p.ticket, self.clock.now_ns())
            started.append(self.lifecycle.flatten.maybe_start(pr, self.clock.now_ns()))
        return {"flatten": started, "status": self.status()}

    # -- screens -----------------------------------------------------------------------------
    def watch(self, pair: str | None = None, depth: int = 5) -> dict:
        """One screen per pair for ``xmc watch``: both books, FX, the executable basis each way at the
        ticket's size, thresholds and signal, quote ages, markets, position, open tickets."""
        v = self.view
        now = self.clock.now_ns()
        wall = time.time_ns()
        out = {}
        for pr in v.scope(pair):
            ib, ob = v.books[pr.inner.key], v.books[pr.outer.key]
            fxb = v.books.get(pr.fx_key) if pr.fx_key else None
            fx = fxb.mid() if fxb is not None and fxb.valid else (
                fx_rate(None, v.strategy.fx[pr.cfg.fx]) if pr.cfg.fx else None)
            ways = {}
            if ib.valid and ob.valid and (fx is not None or not pr.pricer.needs_fx):
                for d in (Direction.SELL_BASIS, Direction.BUY_BASIS):
                    q = pr.pricer.executable(d, ib, ob, pr.entry.inner_lots, pr.entry.outer_lots, fx)
                    if q is not None:
                        ways[d.value] = {"basis": str(q.basis), "inner_px": str(q.inner.avg),
                                         "outer_px": str(q.outer.avg), "size_inner": str(q.inner.qty),
                                         "size_outer": str(q.outer.qty)}
            cfg = pr.cfg
            markets = []
            for inst, cal in zip((pr.inner, pr.outer), pr.calendars):
                ms = cal.state(now) if cal is not None else None
                markets.append({"venue": inst.venue, "open": ms.open if ms else True,
                                "reason": ms.reason if ms else "no calendar (always open)"})
            sell, buy = pr.last_basis
            sig = decide(sell, buy, pr.inner_lots, cfg)
            out[pr.name] = {
                "state": v.pair_state(pr).value, "reason": pr.trading.reason or v.trading.reason,
                "inner": {"venue": pr.inner.venue, "symbol": pr.inner.symbol, "bids": _lv(ib.bids, depth),
                          "asks": _lv(ib.asks, depth), "age_ms": (wall - ib.recv_ns) / MS if ib.recv_ns else None,
                          "valid": ib.valid},
                "outer": {"venue": pr.outer.venue, "symbol": pr.outer.symbol, "bids": _lv(ob.bids, depth),
                          "asks": _lv(ob.asks, depth), "age_ms": (wall - ob.recv_ns) / MS if ob.recv_ns else None,
                          "valid": ob.valid},
                "fx": {"rate": str(fx) if fx is not None else None,
                       "age_ms": (wall - fxb.recv_ns) / MS if fxb is not None and fxb.recv_ns else None},
                "executable": ways, "lots": [str(pr.entry.inner_lots), str(pr.entry.outer_lots)],
                "thresholds": {k: str(x) if x is not None else None for k, x in (
                    ("entry_above", cfg.entry_above), ("exit_above", cfg.exit_above),
                    ("entry_below", cfg.entry_below), ("exit_below", cfg.exit_below))},
                "signal": sig.describe() if sig else None, "markets": markets,
                "position_units": units(pr.position_units), "residual_units": units(pr.residual_units),
                "unit": pr.inner.unit, "currency": pr.inner.currency,
                "active_ticket": pr.active.ticket_id if pr.active is not None else None,
            }
        st = self.status()
        return {"pairs": out, "global": st["global"], "open_tickets": st["open_tickets"],
                "alerts": st["alerts"][-8:], "venues_up": st["venues_up"]}

    def status(self) -> dict:
        v = self.view
        now = self.clock.now_ns()
        pairs = {}
        for pr in v.pairs.values():
            sell, buy = pr.last_basis
            pairs[pr.name] = {
                "state": v.pair_state(pr).value, "reason": pr.trading.reason or v.trading.reason,
                "holds": [{"key": h.key, "level": h.level.value, "sticky": h.sticky, "reason": h.reason}
                          for h in pr.trading.holds.values()],
                "inner_lots": str(pr.inner_lots), "outer_lots": str(pr.outer_lots),
                "position_units": units(pr.position_units), "residual_units": units(pr.residual_units),
                "unit": pr.inner.unit, "basis_sell": str(sell) if sell is not None else None,
                "basis_buy": str(buy) if buy is not None else None,
                "realised": str(v.realised.get(pr.name, 0)), "currency": pr.inner.currency,
                "active_ticket": pr.active.ticket_id if pr.active is not None else None,
                "signals": pr.signals, "denials": pr.denials,
            }
        tickets = [{"ticket_id": p.ticket.ticket_id, "pair": p.ticket.pair, "state": p.ticket.state.value,
                    "intent": p.ticket.intent.value, "age_ms": round((now - p.ticket.created_ns) / MS, 1),
                    "residual": str(p.ticket.residual), "repairs": list(p.repairs)}
                   for p in v.open_progress()]
        alerts = [{"kind": a.kind, "severity": a.severity, "message": a.message, "pair": a.pair, "venue": a.venue,
                   "ts_ns": a.ts_ns, "action": a.action, "alert_to_action_us": a.alert_to_action_us}
                  for a in list(self.alerts.recent)[-20:]]
        return {"global": {"state": v.trading.state.value, "reason": v.trading.reason},
                "venues_up": sorted(v.venues_up), "pairs": pairs, "open_tickets": tickets,
                "positions": {k: str(x) for k, x in v.positions.items()},
                "alerts": alerts, "tickets_by_state": v.tickets_by_state(), "stopping": v.stopping}


def _lv(levels, depth: int) -> list[list[str]]:
    return [[str(p), str(q)] for p, q in levels[:depth]]
