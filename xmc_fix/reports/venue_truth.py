"""Venue truth in the report: what the venues said against what the engine believed.

- ``reconciliation``: every reconciliation round (at logon, periodic, on demand, after silence) and
  every difference it found, with both views and how it was resolved; fills the engine learnt only
  from a drop copy; fills of orders it did not send; busts and corrections the venues made.
- ``unreconciled``: lots no pair traded, as the engine held them when it stopped (the run summary's
  foreign lots: orders it did not send, differences taken from a venue) — exposure nobody hedged —
  per instrument, in lots and in underlying units. They count in ``residual_exposure`` too, under
  the instrument's name beside the pairs' (an instrument two pairs trade is counted once, not in
  each); a run recorded before the summary carried underlying units counts them in lots.
- ``position_truth``: at the end of the run, once the sessions were closed, the engine's position
  per instrument of its account against what the venues hold (``xmc demo`` asks the simulator);
  absent when nothing was compared.

Figures read the events frame and the run row only, never the database.
"""

from __future__ import annotations

import json

import pandas as pd

from xmc_fix.clock import ns_to_iso

MAX_LISTED = 50


def _details(ev: pd.DataFrame, kind: str) -> list[tuple[int, dict]]:
    if ev.empty:
        return []
    rows = ev[ev["kind"] == kind]
    out = []
    for ts, d in zip(rows["ts_ns"], rows["detail"]):
        try:
            out.append((int(ts), json.loads(d) if isinstance(d, str) else (d or {})))
        except ValueError:
            out.append((int(ts), {}))
    return out


def venue_truth_figures(ev: pd.DataFrame, run: dict, residual: dict[str, float] | None = None) -> dict:
    """The venue-truth sections; with ``residual`` (the tickets' residual exposure per pair), also
    ``residual_exposure``: those figures with every unreconciled difference added."""
    rounds = _details(ev, "reconcile_round")
    diffs = _details(ev, "reconcile_difference")
    by_venue: dict[str, dict] = {}
    for _, d in rounds:
        v = by_venue.setdefault(d.get("venue", "?"), {"rounds": 0, "incomplete": 0, "differences": 0})
        v["rounds"] += 1
        v["incomplete"] += bool(d.get("incomplete"))
    listed = []
    for ts, d in diffs:
        by_venue.setdefault(d.get("venue", "?"), {"rounds": 0, "incomplete": 0, "differences": 0})["differences"] += 1
        if len(listed) < MAX_LISTED:
            listed.append({"at": ns_to_iso(ts), "venue": d.get("venue"), "about": d.get("about"),
                           "symbol": d.get("symbol"), "engine": d.get("engine"), "venue_view": d.get("venue_view"),
                           "resolution": d.get("resolution"), "reason": d.get("reason")})
    kinds = ev["kind"].value_counts().to_dict() if not ev.empty else {}
    foreign = [d for _, d in _details(ev, "unknown_exec_report")
               if d.get("exec_type") in ("TRADE", "TRADE_CANCEL", "TRADE_CORRECT") and d.get("last_qty") not in (None, "0")]
    try:
        summary = json.loads(run.get("summary") or "{}")
    except ValueError:
        summary = {}
    held = [x for x in summary.get("exposure", []) if x.get("state") == "FOREIGN"]
    truth = summary.get("position_truth")
    if truth is None:
        found = _details(ev, "position_truth")
        truth = found[-1][1] if found else None
    unreconciled: dict[str, dict] = {}
    for x in held:        # one row per account and instrument: summed per instrument
        u = unreconciled.setdefault(x["pair"], {"lots": 0.0, "account": None, "units": 0.0,
                                                "unit": x.get("underlying_unit")})
        u["lots"] += float(x["residual"])
        u["account"] = x.get("unit") if u["account"] is None else f"{u['account']}; {x.get('unit')}"
        u["units"] = None if u["units"] is None or x.get("underlying") is None else u["units"] + float(x["underlying"])
    out = {
        "reconciliation": {
            "rounds": len(rounds), "differences": len(diffs), "by_venue": by_venue, "listed": listed,
            "foreign_fills": len(foreign), "drop_copy_applied": int(kinds.get("drop_copy_applied", 0)),
            "trade_busts": int(kinds.get("trade_bust", 0)) + int(kinds.get("inferred_bust", 0)),
            "inferred_busts": int(kinds.get("inferred_bust", 0)), "trade_corrections": int(kinds.get("trade_correction", 0)),
            "uninterpretable": int(kinds.get("uninterpretable", 0)),
            "drop_copy": summary.get("drop_copy") or {},
        },
        "unreconciled": unreconciled,
        "position_truth": truth,
    }
    if residual is not None:
        total = dict(residual)
        for inst, u in unreconciled.items():
            total[inst] = total.get(inst, 0.0) + (u["units"] if u["units"] is not None else u["lots"])
        out["residual_exposure"] = total
    return out


def acceptance_row(figs: dict) -> dict:
    """The claim the product rests on: the engine never believes less exposure than the venues hold."""
    t = figs.get("position_truth")
    if not t or not t.get("compared"):
        why = (t or {}).get("why") or "no venue's positions were compared at the end of the run"
        return {"claim": "position truth: engine = venue", "target": "every instrument equal", "value": None,
                "measured": f"not measured ({why})", "met": None,
                "method": "at the end of the run, the engine's position per instrument of its account against the "
                          "venues' own (xmc demo: the simulator's)"}
    rows = t.get("instruments", {})
    off = {k: r for k, r in rows.items() if not r.get("equal")}
    text = ("every instrument equal: " if not off else f"{len(off)} of {len(rows)} differ: ") + ", ".join(
        f"{k} engine {r['engine']} / venue {r['venue']}" for k, r in (off or rows).items())
    return {"claim": "position truth: engine = venue", "target": "every instrument equal",
            "value": len(rows) - len(off), "measured": text, "met": not off,
            "method": "at the end of the run, once the sessions were closed, the engine's position per instrument of "
                      f"account {t.get('account') or '-'} (its ledger) against the venues' own"}
