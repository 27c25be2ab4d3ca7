"""Gray release in the report: a pair's shadow tickets beside its live ones over the same window.

For every pair that had shadow tickets or a mode or size change in the report's window (``--from``,
``--to``, ``--pair``: the rule of :mod:`xmc_fix.reports.window`), per direction: how many shadow
tickets it decided and their mean executable basis at decision (and at the limits they were filled
at on paper), against how many live tickets it decided, their mean basis at decision, and what the
live ones realised (the volume-weighted basis of both legs' entry fills, from the shortfall frame of
:mod:`xmc_fix.reports.costs`) with the mean shortfall against the decision. The changes themselves
(who, when, from what to what) are listed.

Shadow tickets are the engine's ``shadow_ticket`` events (a pair in ``mode = "shadow"``); a run of
``xmc run --shadow`` records every ticket as a paper one in the tickets table instead, and says so
(``whole_run_shadow``). Reads the frames it is given, never the database.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from xmc_fix.clock import ns_to_iso

DIRECTIONS = ("SELL_BASIS", "BUY_BASIS")


def _details(ev: pd.DataFrame, kind: str) -> list[tuple[int, str | None, dict]]:
    if ev.empty:
        return []
    rows = ev[ev["kind"] == kind]
    out = []
    for ts, pair, d in zip(rows["ts_ns"], rows["pair"], rows["detail"]):
        try:
            out.append((int(ts), pair, json.loads(d) if isinstance(d, str) else (d or {})))
        except ValueError:
            out.append((int(ts), pair, {}))
    return out


def _mean(values) -> float | None:
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return round(sum(xs) / len(xs), 4) if xs else None


def release_figures(data, sf: pd.DataFrame) -> dict:
    """``{"release": {pair: {...}}}``: empty when no pair of the window was in shadow or changed."""
    ev, t = data.events, data.tickets
    shadow = _details(ev, "shadow_ticket")
    changes = _details(ev, "release_change")
    pairs = sorted({p for _, p, _ in shadow + changes if p})
    try:
        config = json.loads(data.run.get("config") or "{}")
    except (TypeError, ValueError):
        config = {}
    out = {}
    for pair in pairs:
        mine = [d for _, p, d in shadow if p == pair]
        live = t[(t["pair"] == pair) & t["intent"].isin(("OPEN", "CLOSE"))] if not t.empty else t
        realised = sf[sf["pair"] == pair].set_index("ticket_id") if not sf.empty else sf
        by_dir = {}
        for d in DIRECTIONS:
            s = [x for x in mine if x.get("direction") == d]
            lv = live[live["direction"] == d] if not live.empty else live
            rs = realised.loc[realised.index.intersection(lv["ticket_id"])] if not realised.empty and not lv.empty \
                else pd.DataFrame(columns=["realised_basis", "basis_shortfall"])
            if not s and lv.empty:
                continue
            by_dir[d] = {
                "shadow": {"tickets": len(s), "opening": sum(1 for x in s if x.get("intent") == "OPEN"),
                           "mean_basis_at_decision": _mean(x.get("basis") for x in s),
                           "mean_paper_basis": _mean(x.get("paper_basis") for x in s),
                           "mean_qty": _mean(x.get("qty") for x in s)},
                "live": {"tickets": int(len(lv)),
                         "completed": int((lv["state"] == "COMPLETED").sum()) if not lv.empty else 0,
                         "mean_basis_at_decision": _mean(lv["basis"]) if not lv.empty else None,
                         "traded": int(rs["realised_basis"].notna().sum()),
                         "mean_realised_basis": _mean(rs["realised_basis"]),
                         "mean_basis_shortfall": _mean(rs["basis_shortfall"])},
            }
        out[pair] = {
            "shadow_tickets": len(mine), "live_tickets": int(len(live)),
            "first_shadow": ns_to_iso(min(ts for ts, p, _ in shadow if p == pair)) if mine else None,
            "last_shadow": ns_to_iso(max(ts for ts, p, _ in shadow if p == pair)) if mine else None,
            "by_direction": by_dir,
            "changes": [{"at": ns_to_iso(ts), "who": d.get("who"), "old": d.get("old"), "new": d.get("new")}
                        for ts, p, d in changes if p == pair],
        }
    return {"release": out, "whole_run_shadow": bool(config.get("shadow")) if isinstance(config, dict) else False}


def render_lines(figs: dict) -> list[str]:
    """The table rendering's section (nothing when no pair was in shadow or changed)."""
    rel = figs.get("release") or {}
    if not rel:
        return []

    def f(v):
        return "-" if v is None else f"{v:,.1f}"
    lines = ["gray release       shadow tickets against live ones, same window (basis: mean at decision)",
             f"  {'pair':<16}{'side':<6}{'shadow':>7}{'basis':>10}{'live':>6}{'basis':>10}{'traded':>8}"
             f"{'realised':>10}{'shortfall':>10}"]
    for pair, p in rel.items():
        for d, x in p["by_direction"].items():
            s, lv = x["shadow"], x["live"]
            lines.append(f"  {pair:<16}{'sell' if d == 'SELL_BASIS' else 'buy':<6}{s['tickets']:>7}"
                         f"{f(s['mean_basis_at_decision']):>10}{lv['tickets']:>6}{f(lv['mean_basis_at_decision']):>10}"
                         f"{lv['traded']:>8}{f(lv['mean_realised_basis']):>10}{f(lv['mean_basis_shortfall']):>10}")
        for c in p["changes"]:
            old, new = c.get("old") or {}, c.get("new") or {}
            lines.append(f"  {pair:<16}{c['at'][:19]}  {old.get('mode')} -> {new.get('mode')}, cap "
                         f"{old.get('live_max_qty') or 'none'} -> {new.get('live_max_qty') or 'none'}  by {c['who']}")
    return lines
