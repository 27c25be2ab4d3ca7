"""The acceptance table: each figure the field asks of a basis-arbitrage engine beside what this run
measured, and the audit-coverage figure it needs.

The claims and how each is measured:

- order response < 200 ms: ``send_to_ack`` (order handed to QuickFIX to the venue's first
  execution report) over every order sent, entry and repair; judged on the 99th percentile, the
  maximum shown beside it;
- quantity alignment >= 99.5 %: ``alignment.matched_rate``, the tickets that traded whose legs
  ended matched in underlying units, at the first try or after a repair; an unwound ticket and one
  left legged count against it, a ticket that traded nothing is not counted (``alignment_rate``,
  which counts unwound and nothing-traded tickets as aligned, is not what the claim means);
- risk alarm < 100 ms: protective ``alert`` events (those carrying ``alert_to_action_us``: from the
  arrival of the fact that triggered them - a report's receipt, a timer tick - to the protection in
  place, detection and action apart in ``detect_us`` and ``action_us``); judged on the 99th
  percentile; "not measured" when no alert carries it;
- automatic repair >= 95 %: ``repair_success_rate`` (legged tickets repaired without a human),
  with what unwinding cost beside it (``tickets_repaired.unwind_ccy``): a repair that succeeds by
  unwinding at a loss again and again is not a success the row may hide;
- audit coverage 100 %: the share of the sequence numbers QuickFIX used in and out that are in
  ``fix_messages`` (:mod:`xmc_fix.audit.completeness` for the two methods); "met" only when every
  session was checked against what the run recorded of its store, "not measured" when anything
  could not be checked or only the database's own gaplessness could be.
"""

from __future__ import annotations

import json

import pandas as pd

from xmc_fix.audit.completeness import coverage  # noqa: F401 (the report's coverage figure)


# -- the table -------------------------------------------------------------------------------------
def _fmt_ms(us) -> str:
    if us is None:
        return "-"
    if abs(us) < 1000:
        return f"{us:.3g} \u00b5s"
    return f"{us / 1000:.3g} ms" if abs(us) < 1e6 else f"{us / 1000:,.0f} ms"


def acceptance(figs: dict, alerts: pd.DataFrame | None = None) -> list[dict]:
    """One row per claim: ``claim``, ``target``, ``measured`` (text), ``value`` (the number judged,
    None when not measured), ``met`` (True / False / None: not measured) and ``method``."""
    rows = []
    resp = figs.get("order_response_us") or {}
    p99 = resp.get("p99")
    rows.append({"claim": "order response < 200 ms", "target": "< 200 ms", "value": p99,
                 "measured": "not measured (no order acknowledged)" if p99 is None else
                 f"p99 {_fmt_ms(p99)}, max {_fmt_ms(resp.get('max'))} over {resp['n']} orders "
                 f"({100 * resp['within_200ms']:.1f} % within 200 ms)",
                 "met": None if p99 is None else p99 < 200_000,
                 "method": "send to first execution report, every order sent (entry and repair), 99th percentile"})
    al = figs.get("alignment") or {}
    a = al.get("matched_rate")
    rows.append({"claim": "quantity alignment >= 99.5 %", "target": ">= 99.5 %", "value": a,
                 "measured": "not measured (no ticket that traded has finished)" if a is None else
                 f"{100 * a:.2f} % of {al['traded']} tickets that traded ended matched ({al['matched_first_try']} at "
                 f"the first try, {al['matched_after_repair']} after a repair; {al['unwound']} unwound, "
                 f"{al['left_legged']} left legged; {al['nothing_traded']} traded nothing, not counted)",
                 "met": None if a is None else a >= 0.995,
                 "method": "alignment.matched_rate: finished tickets that traded whose legs ended matched in underlying "
                           "units (first try or after a repair) / finished tickets that traded; unwound and left "
                           "legged count against"})
    lat, detect, action = [], [], []
    if alerts is not None and not alerts.empty:
        for d in alerts["detail"]:
            try:
                dd = json.loads(d) if isinstance(d, str) else {}
            except ValueError:
                dd = {}
            v = dd.get("alert_to_action_us")
            if isinstance(v, (int, float)):
                lat.append(float(v))
                if isinstance(dd.get("detect_us"), (int, float)) and isinstance(dd.get("action_us"), (int, float)):
                    detect.append(float(dd["detect_us"]))
                    action.append(float(dd["action_us"]))
    how = ("protective alerts: arrival of the triggering fact (report receipt, timer tick) to the protection "
           "in place (alert_to_action_us = detect_us + action_us)")
    if lat:
        s = pd.Series(lat)
        ap99 = float(s.quantile(0.99))
        split = (f" (detection p99 {_fmt_ms(float(pd.Series(detect).quantile(0.99)))}, action p99 "
                 f"{_fmt_ms(float(pd.Series(action).quantile(0.99)))})" if detect else "")
        rows.append({"claim": "risk alarm < 100 ms", "target": "< 100 ms", "value": round(ap99, 1),
                     "measured": f"p99 {_fmt_ms(ap99)}, max {_fmt_ms(float(s.max()))} over {len(s)} alerts{split}",
                     "met": ap99 < 100_000, "method": how})
    else:
        rows.append({"claim": "risk alarm < 100 ms", "target": "< 100 ms", "value": None,
                     "measured": "not measured (no alert records alert_to_action_us)", "met": None,
                     "method": how})
    r = figs.get("repair_success_rate")
    tr = figs.get("tickets_repaired") or {}
    n = tr.get("legged", 0)
    cost = tr.get("unwind_ccy")
    cost_text = ("unwind cost unknown (no contract sizes for the money)" if cost is None else
                 f"unwinding cost {cost:,.2f} {tr.get('currency') or ''}".rstrip()) + \
        f" ({tr.get('unwound', 0)} unwound, {tr.get('chased', 0)} chased)"
    rows.append({"claim": "automatic repair >= 95 %", "target": ">= 95 %", "value": r,
                 "measured": "not measured (no legged ticket)" if r is None else
                 f"{100 * r:.1f} % of {n} legged tickets; {cost_text}",
                 "met": None if r is None else r >= 0.95,
                 "method": "legged tickets that ended COMPLETED or UNWOUND / legged tickets; cost: round trip of the "
                           "lots unwound (shortfall unwind_ccy), inner currency"})
    rows.append(_coverage_row(figs.get("coverage") or {}))
    return rows


def _coverage_row(c: dict) -> dict:
    """Met only when every sequence number of every session was checked against what the run
    recorded of its QuickFIX store and found; a gap found is "not met" whatever else; anything
    unchecked, or only the database's own gaplessness, is "not measured" (never a false "met")."""
    cr = c.get("rate")
    row = {"claim": "audit coverage 100 %", "target": "100 %", "value": cr,
           "method": "sequence numbers in and out present in fix_messages"}
    if cr is None and not c.get("unchecked"):
        return {**row, "met": None, "measured": "not measured (no sequence numbers)"}
    unchecked = c.get("unchecked") or []
    if c.get("method") == "filestore":
        row["method"] += (", against the range each session's QuickFIX store had at the run's start and end; "
                          "outgoing messages compared with the store while it is the run's generation")
        found = (f"{100 * cr:.3f} % of {c.get('checked', 0):,} numbers, {c.get('store_compared', 0):,} outgoing "
                 "compared with QuickFIX's store" if cr is not None else "nothing could be checked")
        if unchecked:
            found += f"; {len(unchecked)} session direction(s) unchecked ({unchecked[0]['reason']})"
        met = False if c.get("missing") else (None if unchecked or cr is None else True)
    else:
        row["method"] += " (gapless between the first and last stored per session; cannot prove completeness)"
        found = f"{100 * cr:.3f} % ({c.get('method')} method, whole run)"
        met = False if c.get("missing") or cr < 1.0 else None
        if met is None:
            found += ", no gap; losses before the first or after the last stored message cannot be seen"
    return {**row, "met": met, "measured": found}
