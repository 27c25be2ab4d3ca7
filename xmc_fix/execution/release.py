"""Gray release per pair: ``mode = "live" | "shadow"`` and a live size cap, ``live_max_qty``, set in
the strategy file and changed on a running engine (``xmc set-mode``, ``xmc set-size``).

A broker's go-live path runs a pair in shadow, then live with a small size cap raised step by step,
then at full size. A shadow pair's decisions are made exactly as a live pair's — signal, size, risk
gate — and end here instead of leaving: each becomes a *shadow ticket* (audit event
``shadow_ticket``, its orders as ``shadow_order`` events, as ``xmc run --shadow`` records them) that
is filled on paper at its limits into the pair's :class:`~xmc_fix.execution.state.PaperPosition`, so
its exits follow as they would. Nothing is sent for the pair and the engine's ledger is never
touched: what the pair really holds (if anything) stays as it is, and is still what the venues'
reconciliation, the risk limits, ``xmc flatten`` and the stop see.

A change is refused while a ticket of the pair is open (a ticket decided live finishes live),
audited (``release_change``: who, old, new), alerted (information) and journaled (``release``
records), so a restart keeps it — until the strategy file's own value for the pair changes: a file
edited since the command wins, and the restore says so.

What it deliberately does not do: decide (:mod:`xmc_fix.execution.decide` hands it a shadow pair's
decisions), or cap closing tickets (they close what a holding left, whatever the cap: capping them
would leave exposure behind).
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from xmc_fix.basis.alignment import align
from xmc_fix.clock import Clock
from xmc_fix.config import RELEASE_MODES, live_size_problem
from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.tickets import Ticket
from xmc_fix.errors import RefusedCommand
from xmc_fix.execution.records import AuditSink, units
from xmc_fix.execution.shadow import record_order
from xmc_fix.execution.state import EngineState, Holding, PairRuntime, PaperPosition
from xmc_fix.risk.alerts import Alert
from xmc_fix.risk.gate import describe

if TYPE_CHECKING:   # types only
    from xmc_fix.execution.lifecycle import Entry
    from xmc_fix.risk.monitor import Monitor

log = logging.getLogger("xmc.engine")

#: ``xmc set-size`` values that remove the cap (live tickets at the full ticket_qty)
NO_CAP = ("none", "full")


def _s(d: Decimal | None) -> str | None:
    return None if d is None else units(d)


def paper_of(pr: PairRuntime) -> PaperPosition:
    """A paper position starting where the pair really stands (its lots and holdings, copied)."""
    return PaperPosition(pr.inner, pr.outer, pr.inner_lots, pr.outer_lots,
                         deque(Holding(h.ticket_id, h.direction, h.opened_ns, h.inner_lots, h.outer_lots)
                               for h in pr.holdings if not h.empty))


def apply(pr: PairRuntime, shadow: bool, live_max_qty: Decimal | None) -> None:
    """Put a pair in ``shadow`` (or live) with the cap ``live_max_qty``: its opening tickets are
    aligned for the size that gives. The caller has checked that the size aligns."""
    pr.live_max_qty = live_max_qty
    if shadow and pr.paper is None:
        pr.paper = paper_of(pr)
    elif not shadow:
        pr.paper = None
    entry = align(pr.ticket_qty, pr.inner, pr.outer, tolerance=pr.cfg.residual_tolerance,
                  max_inner_lots=pr.inner.max_order_qty, max_outer_lots=pr.outer.max_order_qty)
    if entry is None:       # validated before: never a pair left without a size
        raise RefusedCommand(f"{pr.name}: {pr.ticket_qty} {pr.inner.unit} does not align")
    pr.entry = entry
    pr.carry_cache.clear()
    pr.quiet_screen = None          # look again at the next market data, at the new size


def open_ticket(state: EngineState, pr: PairRuntime) -> Ticket | None:
    """The pair's ticket still open (working, legged, repairing, a flatten ticket), if any."""
    for p in state.open_progress():
        if p.ticket.pair == pr.name:
            return p.ticket
    return pr.active


def pair_release(pr: PairRuntime) -> dict:
    """The pair's release as status screens and command replies show it."""
    return {"pair": pr.name, "mode": pr.mode, "live_max_qty": _s(pr.live_max_qty), "ticket_qty": _s(pr.ticket_qty),
            "unit": pr.inner.unit, "lots": [_s(pr.entry.inner_lots), _s(pr.entry.outer_lots)],
            "shadow_tickets": pr.shadow_tickets,
            "paper_position_units": _s(pr.paper.position_units) if pr.paper is not None else None}


def _file(pr: PairRuntime) -> dict:
    return {"mode": pr.cfg.mode, "live_max_qty": _s(pr.cfg.live_max_qty)}


class Release:
    def __init__(self, state: EngineState, monitor: "Monitor", audit: AuditSink, clock: Clock) -> None:
        self.state = state
        self.monitor = monitor
        self.audit = audit
        self.clock = clock
        self.account = state.strategy.engine.account
        self._ids: IdGenerator | None = None

    # -- shadow tickets (the decider's, on the engine thread) ---------------------------------------
    def shadow(self, e: "Entry") -> None:
        """A shadow pair's decision: recorded as a shadow ticket with the orders it would send, each
        filled on paper at its limit (a MARKET leg at the level its size reaches)."""
        pr = e.pair
        paper = pr.paper
        now = self.clock.now_ns()
        if self._ids is None:   # "S" never appears in a base-36 stamp: these ids cannot meet the engine's
            self._ids = IdGenerator(self.state.strategy.engine.namespace + "S", now // 1_000_000)
        tid = self._ids.ticket_id()
        cfg = pr.cfg
        prices, orders = [], []
        for plan, ot, tif in ((e.legs[0], cfg.inner_order_type, cfg.inner_tif),
                              (e.legs[1], cfg.outer_order_type, cfg.outer_tif)):
            px = plan.price if plan.price is not None else (plan.reach if plan.reach is not None else plan.decision)
            cmd = NewOrder(self._ids.cl_ord_id(), plan.inst, plan.side, plan.lots, ot, plan.price, tif, self.account)
            record_order(self.audit, cmd, px, now, tid)
            prices.append(px)
            orders.append(cmd.cl_ord_id)
        di = e.legs[0].lots * e.legs[0].side.sign
        do = e.legs[1].lots * e.legs[1].side.sign
        paper.inner_lots += di
        paper.outer_lots += do
        if e.holding is not None:       # a closing ticket closes what its holding left
            e.holding.inner_lots += di
            e.holding.outer_lots += do
            while paper.holdings and paper.holdings[0].empty:
                paper.holdings.popleft()
        else:
            paper.holdings.append(Holding(tid, e.direction, now, di, do))
        pr.shadow_tickets += 1
        q = e.quote
        paper_basis = pr.pricer.basis(prices[0], prices[1], e.fx) if None not in prices else None
        self.audit.event(
            "shadow_ticket", now, pair=pr.name, ticket_id=tid, direction=e.direction.value, intent=e.intent.value,
            basis=str(q.basis), threshold=str(e.threshold), inner_px=str(q.inner.avg), outer_px=str(q.outer.avg),
            fx=str(e.fx) if e.fx is not None else None, lots={"INNER": str(e.legs[0].lots), "OUTER": str(e.legs[1].lots)},
            qty=units(pr.inner.lots_to_units(e.legs[0].lots)), unit=pr.inner.unit, planned_residual=str(e.planned),
            paper_basis=str(paper_basis) if paper_basis is not None else None, orders=orders,
            paper_position=units(paper.position_units), md_recv_ns=e.recv_ns, checks=describe(e.checks))

    # -- operator commands ---------------------------------------------------------------------------
    def set_mode(self, pair: str | None, mode: str | None, who: str) -> dict:
        pr = self._pair(pair, "set-mode")
        if mode not in RELEASE_MODES:
            raise RefusedCommand(f"mode must be one of {', '.join(RELEASE_MODES)}, not {mode!r}")
        return self._change(pr, mode == "shadow", pr.live_max_qty, who)

    def set_size(self, pair: str | None, qty: str | None, who: str) -> dict:
        pr = self._pair(pair, "set-size")
        unit = pr.inner.unit
        if qty is not None and qty.strip().lower() in NO_CAP:
            cap = None
        else:
            try:
                cap = Decimal(str(qty).strip())
            except InvalidOperation:
                cap = None
                qty = None
            if qty is None or not cap.is_finite() or cap <= 0:
                raise RefusedCommand(f"the size must be a quantity of {unit} above zero (or 'none' for no cap)")
        if cap is not None and cap < pr.cfg.ticket_qty:
            problem = live_size_problem(pr.cfg, pr.inner, pr.outer, cap)
            if problem is not None:
                raise RefusedCommand(f"{pr.name}: {problem}")
        return self._change(pr, pr.paper is not None, cap, who)

    def _pair(self, pair: str | None, cmd: str) -> PairRuntime:
        if not pair:
            raise RefusedCommand(f"{cmd} needs a pair (--pair); pairs: {', '.join(self.state.pairs)}")
        return self.state.scope(pair)[0]

    def _change(self, pr: PairRuntime, shadow: bool, cap: Decimal | None, who: str) -> dict:
        old = {"mode": pr.mode, "live_max_qty": _s(pr.live_max_qty)}
        new = {"mode": "shadow" if shadow else "live", "live_max_qty": _s(cap)}
        if old == new:
            return {**pair_release(pr), "changed": False, "message": f"{pr.name}: already {_text(new, pr)}"}
        busy = open_ticket(self.state, pr)
        if busy is not None or pr.flatten_request:
            what = f"ticket {busy.ticket_id} is open ({busy.state.value})" if busy is not None else \
                "the flatten path is running"
            raise RefusedCommand(f"{pr.name}: {what}: its mode and size change only between tickets; try again "
                                 f"once it has finished (`xmc status` lists it)")
        apply(pr, shadow, cap)
        now = self.clock.now_ns()
        self.monitor.journal.write("release", pair=pr.name, **new, file=_file(pr), who=who)
        self.audit.event("release_change", now, pair=pr.name, who=who, old=old, new=new,
                         ticket_qty=_s(pr.ticket_qty), lots=[_s(pr.entry.inner_lots), _s(pr.entry.outer_lots)])
        message = f"{pr.name}: {_text(old, pr)} -> {_text(new, pr)} by {who}"
        self.monitor.alerts.alert(Alert("release", "info", message, now, pair=pr.name,
                                        action=f"{pr.name} {new['mode']}"))
        return {**pair_release(pr), "changed": True, "old": old, "message": message}


def _text(r: dict, pr: PairRuntime) -> str:
    cap = f"live size cap {r['live_max_qty']} {pr.inner.unit}" if r["live_max_qty"] is not None else "no live size cap"
    return f"{r['mode']}, {cap}"


# -- the journal ------------------------------------------------------------------------------------
def journal_records(state: EngineState) -> dict[str, dict]:
    """What a compacted journal keeps: each pair whose mode or cap differs from its strategy file's
    (with the file's values, which the restore compares)."""
    out = {}
    for pr in state.pairs.values():
        now = {"mode": pr.mode, "live_max_qty": _s(pr.live_max_qty)}
        if now != _file(pr):
            out[pr.name] = {**now, "file": _file(pr)}
    return out


def restore(state: EngineState, records: dict[str, dict]) -> dict:
    """At start, after the positions: each pair's journaled mode and cap, unless its strategy file
    changed them since (the file then wins); every shadow pair's paper position starts from what the
    pair holds. What was restored and what the file superseded, for the ``journal_replayed`` event."""
    restored, superseded = {}, {}
    for pair, rec in records.items():
        pr = state.pairs.get(pair)
        if pr is None:
            log.error("journal has a release record of unknown pair %s; ignored", pair)
            continue
        if rec.get("file") != _file(pr):
            superseded[pair] = {"journal": {"mode": rec.get("mode"), "live_max_qty": rec.get("live_max_qty")},
                                "strategy": _file(pr)}
            continue
        if {"mode": rec.get("mode"), "live_max_qty": rec.get("live_max_qty")} == _file(pr):
            continue                 # back to the file's values since: nothing to restore
        cap = Decimal(rec["live_max_qty"]) if rec.get("live_max_qty") is not None else None
        if rec.get("mode") not in RELEASE_MODES or (
                cap is not None and live_size_problem(pr.cfg, pr.inner, pr.outer, cap) is not None):
            log.error("journal's release record of %s no longer fits the strategy (%s); ignored", pair, rec)
            continue
        apply(pr, rec["mode"] == "shadow", cap)
        restored[pair] = {"mode": pr.mode, "live_max_qty": _s(pr.live_max_qty)}
    for pr in state.pairs.values():
        if pr.paper is not None:
            pr.paper = paper_of(pr)
    out = {}
    if restored:
        out["releases"] = restored
    if superseded:
        out["releases_superseded"] = superseded
    return out

