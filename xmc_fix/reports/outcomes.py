"""How tickets ended: alignment apart by outcome, and legging incidents with how each was repaired
and what unwinding cost. Figures of :mod:`xmc_fix.reports.figures`; they read frames only (tickets,
transitions, the shortfall frame of :mod:`xmc_fix.reports.costs`), never the database.
"""

from __future__ import annotations

import math

import pandas as pd


def _money(v) -> float | None:
    """Rounded to the cent; None when unknown."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else round(x, 2) + 0.0


def alignment(settled: pd.DataFrame, tr: pd.DataFrame) -> dict:
    """How the finished tickets ended, apart: legs matched at the first try, matched after a repair
    (chased, or partly unwound back within tolerance), unwound (both legs back to zero), nothing
    traded, left legged (LEGGED or FAILED).
    ``matched_rate`` is matched (either way) over the tickets that traded: an unwound ticket did not
    trade the basis and a ticket that traded nothing is not counted."""
    legged = set(tr.loc[tr["to_state"] == "LEGGED", "ticket_id"]) if not tr.empty else set()
    st = settled["state"] if not settled.empty else pd.Series(dtype=object)
    completed = settled[st == "COMPLETED"] if not settled.empty else settled
    after = int(completed["ticket_id"].isin(legged).sum()) if not completed.empty else 0
    first = int(len(completed)) - after
    nothing = int((st == "MISSED").sum())
    traded = int(len(settled)) - nothing
    return {"finished": int(len(settled)), "matched_first_try": first, "matched_after_repair": after,
            "unwound": int((st == "UNWOUND").sum()), "nothing_traded": nothing,
            "left_legged": int(st.isin(("LEGGED", "FAILED")).sum()), "traded": traded,
            "matched_rate": round((first + after) / traded, 6) if traded else None}


def repair_figures(t: pd.DataFrame, tr: pd.DataFrame, sf: pd.DataFrame | None = None) -> dict:
    """Legging incidents, how each was repaired and what unwinding cost (from the shortfall frame:
    the round trip of the lots unwound, in the pair's inner currency; None when unknown)."""
    unwind_cost = dict(zip(sf["ticket_id"], sf["unwind_ccy"])) if sf is not None and not sf.empty else {}
    ccy = dict(zip(sf["ticket_id"], sf["currency"])) if sf is not None and not sf.empty else {}
    legged_ids = set(tr.loc[tr["to_state"] == "LEGGED", "ticket_id"]) if not tr.empty else set()
    rows = []
    chased = unwound = ok = 0
    for tid in sorted(legged_ids):
        row = t[t["ticket_id"] == tid]
        if row.empty:
            continue
        r = row.iloc[0]
        first = tr[(tr["ticket_id"] == tid) & (tr["to_state"] == "LEGGED")].sort_values("ts_ns").iloc[0]
        path = r["repairs"].split(",") if isinstance(r.get("repairs"), str) and r["repairs"] else []
        success = r["state"] in ("COMPLETED", "UNWOUND")
        ok += success
        chased += success and any(p.startswith("CHASE") for p in path) and r["state"] == "COMPLETED" \
            and not any(p.startswith("UNWIND") for p in path)
        unwound += success and any(p.startswith("UNWIND") for p in path)
        ended = tr[tr["ticket_id"] == tid].sort_values("ts_ns").iloc[-1]
        rows.append({"ticket_id": tid, "pair": r["pair"], "legged_because": first["cause"], "path": path,
                     "outcome": r["state"], "residual": float(r["residual"]) if r["residual"] is not None else None,
                     "repair_ms": round((ended["ts_ns"] - first["ts_ns"]) / 1e6, 3),
                     "unwind_ccy": _money(unwind_cost.get(tid, 0.0))})
    residual = {}
    if not t.empty:
        for pair, g in t.groupby("pair"):
            # every ticket not finished (a WORKING one with one leg filled is legged too) and every FAILED one
            open_or_failed = g[g["state"].isin(("FAILED", "LEGGED", "REPAIRING", "WORKING", "PENDING"))]
            residual[str(pair)] = float(open_or_failed["residual"].sum()) if not open_or_failed.empty else 0.0
    n = len(rows)
    currencies = {ccy.get(r["ticket_id"]) for r in rows} - {None}
    costs_known = all(r["unwind_ccy"] is not None for r in rows) and len(currencies) <= 1
    total = round(sum(r["unwind_ccy"] for r in rows), 2) + 0.0 if costs_known else None
    return {"tickets_repaired": {"legged": n, "repaired": int(ok), "chased": int(chased), "unwound": int(unwound),
                                 "unwind_ccy": total,
                                 "currency": next(iter(currencies)) if len(currencies) == 1 else
                                 ("mixed" if currencies else None)},
            "repair_success_rate": round(ok / n, 6) if n else None,
            "residual_exposure": residual,
            "repairs": rows}
