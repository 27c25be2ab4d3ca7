"""Operator commands from the control socket (run inside the engine, between two callbacks) and the
screens they read.

``halt``, ``resume``, ``cancel-all`` and ``flatten`` act through the monitor (trading states), the
order desk (cancels) and the lifecycle (the flatten path); a resume says which pairs it leaves held
and why (a global resume clears only the global scope's holds). ``status`` and ``watch`` only read,
through :class:`~xmc_fix.execution.state.StateView`, and return plain JSON-ready dicts: their shape
is what ``xmc status``, ``xmc watch`` and the web view read (README "Web view").
"""

from __future__ import annotations

import time
from decimal import Decimal

from xmc_fix.basis.pricing import fx_rate
from xmc_fix.basis.signal import decide
from xmc_fix.clock import Clock
from xmc_fix.domain.enums import Direction, TradingState
from xmc_fix.domain.tickets import Leg
from xmc_fix.execution.desk import OrderDesk
from xmc_fix.execution.lifecycle import Lifecycle
from xmc_fix.execution.records import units
from xmc_fix.execution.release import pair_release
from xmc_fix.execution.state import EngineState
from xmc_fix.risk.alerts import Alerter
from xmc_fix.risk.monitor import Monitor
from xmc_fix.risk.states import Hold, StateTrigger

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
        self.monitor.set_state(None if pair is None else targets[0], StateTrigger.HALT, why, alert_kind="operator")
        return self.status()

    def resume(self, pair: str | None, who: str) -> dict:
        """Clear the scope's sticky holds; the reply lists every pair of the scope still not ACTIVE
        (``still_held``: its state and the holds that keep it there) - a global resume does not clear
        a pair's own holds (a pair-level halt or flatten, a breach), nor anything automatic."""
        targets = self.state.scope(pair)
        self.monitor.resume(None if pair is None else targets[0], who)
        v = self.view
        held = []
        for pr in targets:
            state = v.pair_state(pr)
            if state is TradingState.ACTIVE:
                continue
            holds = [_hold(h) for h in pr.trading.holds.values()] + [
                {**_hold(h), "scope": "global"} for h in v.trading.holds.values()]
            held.append({"pair": pr.name, "state": state.value, "holds": holds,
                         "resume": f"xmc resume --pair {pr.name}" if any(h.sticky for h in pr.trading.holds.values())
                         else None})
        return {**self.status(), "still_held": held}

    def cancel_all(self, pair: str | None, who: str) -> dict:
        cancelled = []
        for pr in self.state.scope(pair):
            cancelled += self.desk.cancel_working(pr, f"cancel-all by {who}")
        return {"cancelled": cancelled}

    def flatten(self, pair: str | None, who: str) -> dict:
        """The kill switch: halt, cancel every working order, take every position of the scope to
        zero through the gate's flatten path. Works while HALTED."""
        st = self.state
        t0 = self.clock.perf_ns()
        why = f"flatten by {who}"
        if pair is None:
            self.monitor.set_state(None, StateTrigger.HALT, why, alert_kind="operator")
        started = []
        for pr in st.scope(pair):
            if pair is not None:
                self.monitor.set_state(pr, StateTrigger.HALT, why, alert_kind="operator")
            self.desk.cancel_working(pr, why)
            pr.flatten_request = (who, t0)
            # open tickets as they are now: superseding one may end it and start the flatten
            # ticket, which joins the table while we walk it
            for p in list(st.open_progress()):
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
            # the position the engine decides on: a shadow pair's paper position, else what it holds
            held = pr if pr.paper is None else pr.paper
            sig = decide(sell, buy, held.inner_lots, cfg)
            src = v.strategy.fx.get(cfg.fx) if cfg.fx else None
            out[pr.name] = {
                "state": v.pair_state(pr).value, "reason": pr.trading.reason or v.trading.reason,
                "inner": {"venue": pr.inner.venue, "symbol": pr.inner.symbol, "bids": _lv(ib.bids, depth),
                          "asks": _lv(ib.asks, depth), "age_ms": (wall - ib.recv_ns) / MS if ib.recv_ns else None,
                          "valid": ib.valid},
                "outer": {"venue": pr.outer.venue, "symbol": pr.outer.symbol, "bids": _lv(ob.bids, depth),
                          "asks": _lv(ob.asks, depth), "age_ms": (wall - ob.recv_ns) / MS if ob.recv_ns else None,
                          "valid": ob.valid},
                "fx": {"rate": str(fx) if fx is not None else None,
                       "age_ms": (wall - fxb.recv_ns) / MS if fxb is not None and fxb.recv_ns else None,
                       "source": src.name if src is not None else None,
                       "venue": src.venue if src is not None and src.rate is None else None,
                       "max_age_ms": pr.fx_max_age_ms if fxb is not None else None},
                "max_quote_age_ms": cfg.max_quote_age_ms,
                "last_denial": dict(pr.denied) if pr.denied is not None else None,
                "executable": ways, "lots": [str(pr.entry.inner_lots), str(pr.entry.outer_lots)],
                "thresholds": {k: str(x) if x is not None else None for k, x in (
                    ("entry_above", cfg.entry_above), ("exit_above", cfg.exit_above),
                    ("entry_below", cfg.entry_below), ("exit_below", cfg.exit_below))},
                "signal": sig.describe() if sig else None, "markets": markets,
                "position_units": units(pr.position_units), "residual_units": units(pr.residual_units),
                "unit": pr.inner.unit, "currency": pr.inner.currency,
                "active_ticket": pr.active.ticket_id if pr.active is not None else None,
                "mode": pr.mode,
            }
        st = self.status()
        up = v.venues_up
        return {"pairs": out, "global": st["global"], "open_tickets": st["open_tickets"],
                "alerts": st["alerts"][-8:], "venues_up": st["venues_up"],
                "sessions": [{"venue": venue, "up": venue in up} for venue in sorted(v.strategy.venues)]}

    def status(self) -> dict:
        v = self.view
        now = self.clock.now_ns()
        pairs = {}
        for pr in v.pairs.values():
            sell, buy = pr.last_basis
            pairs[pr.name] = {
                "state": v.pair_state(pr).value, "reason": pr.trading.reason or v.trading.reason,
                "holds": [_hold(h) for h in pr.trading.holds.values()],
                "last_denial": dict(pr.denied) if pr.denied is not None else None,
                "inner_lots": str(pr.inner_lots), "outer_lots": str(pr.outer_lots),
                "position_units": units(pr.position_units), "residual_units": units(pr.residual_units),
                "unit": pr.inner.unit, "basis_sell": str(sell) if sell is not None else None,
                "basis_buy": str(buy) if buy is not None else None,
                "realised": str(v.realised.get(pr.name, 0)), "currency": pr.inner.currency,
                "active_ticket": pr.active.ticket_id if pr.active is not None else None,
                "signals": pr.signals, "denials": pr.denials,
                **{k: v for k, v in pair_release(pr).items() if k not in ("pair", "unit")},
            }
        tickets = [{"ticket_id": p.ticket.ticket_id, "pair": p.ticket.pair, "state": p.ticket.state.value,
                    "intent": p.ticket.intent.value, "direction": p.ticket.direction.value,
                    "created_ns": p.ticket.created_ns, "age_ms": round((now - p.ticket.created_ns) / MS, 1),
                    "residual": str(p.ticket.residual), "repairs": list(p.repairs),
                    "legs": [_leg(leg) for leg in p.ticket.legs.values()]}
                   for p in v.open_progress()]
        alerts = [{"kind": a.kind, "severity": a.severity, "message": a.message, "pair": a.pair, "venue": a.venue,
                   "ts_ns": a.ts_ns, "action": a.action, "alert_to_action_us": a.alert_to_action_us}
                  for a in list(self.alerts.recent)[-20:]]
        return {"global": {"state": v.trading.state.value, "reason": v.trading.reason,
                           "holds": [_hold(h) for h in v.trading.holds.values()]},
                "venues_up": sorted(v.venues_up), "pairs": pairs, "open_tickets": tickets,
                "positions": {k: str(x) for k, x in v.positions.items()},
                "alerts": alerts, "tickets_by_state": v.tickets_by_state(), "stopping": v.stopping}


def _lv(levels, depth: int) -> list[list[str]]:
    return [[str(p), str(q)] for p, q in levels[:depth]]


def _hold(h: Hold) -> dict:
    return {"key": h.key, "level": h.level.value, "sticky": h.sticky, "reason": h.reason, "since_ns": h.since_ns}


def _dec(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def _leg(leg: Leg) -> dict:
    """A ticket's leg and its orders, as the web view lists them."""
    inst = leg.instrument
    return {"role": leg.role.value, "venue": inst.venue, "symbol": inst.symbol, "side": leg.side.value,
            "target_lots": str(leg.target_lots), "filled_lots": str(leg.filled_lots),
            "orders": [{"cl_ord_id": o.cl_ord_id, "role": o.role.value, "side": o.side.value, "qty": str(o.qty),
                        "price": _dec(o.command.price), "status": o.status.value, "cum_qty": str(o.cum_qty),
                        "avg_px": _dec(o.avg_px) if o.cum_qty else None, "uncertain": o.uncertain}
                       for o in leg.orders]}
