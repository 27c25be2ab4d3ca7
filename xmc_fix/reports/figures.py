"""Figures from the audit database, as pandas DataFrames and as the report's JSON document.

The JSON schema (``xmc report --format json``) is documented in the README ("Report"). Every figure
is computed from stored rows only, so a report of a finished run says the same thing tomorrow
(the one outside input is the strategy file, for contract sizes and ticks in cost figures; see
:mod:`xmc_fix.reports.conversions`). A :class:`~xmc_fix.reports.window.ReportFilter` narrows the
report to a time window and a pair by one rule for every figure (see :mod:`xmc_fix.reports.window`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from sqlalchemy import Integer, case, select

from xmc_fix.audit import models
from xmc_fix.audit.mdbatch import message_rows
from xmc_fix.audit.writer import make_engine
from xmc_fix.clock import ns_to_iso
from xmc_fix.errors import XmcError
from xmc_fix.reports.acceptance import acceptance
from xmc_fix.reports.conversions import Conversions, load_conversions
from xmc_fix.reports.outcomes import alignment, repair_figures
from xmc_fix.reports.release import release_figures
from xmc_fix.reports.release import render_lines as release_lines
from xmc_fix.reports.venue_truth import acceptance_row as venue_truth_row
from xmc_fix.reports.venue_truth import venue_truth_figures
from xmc_fix.reports.window import NO_FILTER, ReportFilter

SETTLED = ("COMPLETED", "UNWOUND", "MISSED", "FAILED", "LEGGED")
ALIGNED = ("COMPLETED", "UNWOUND", "MISSED")
#: message types whose raw bytes the analysis reads (TransactTime, TestReqID, NewSeqNo, ResetSeqNumFlag)
RAW_TYPES = ("8", "D", "0", "1", "4", "A")
WIRE_COLUMNS = ["id", "session", "venue", "direction", "admin", "msg_type", "seq_num", "poss_dup", "cl_ord_id",
                "orig_cl_ord_id", "sending_time", "ts_ns", "raw"]


class ReportError(XmcError):
    pass


@dataclass
class RunData:
    run: dict
    tickets: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    events: pd.DataFrame
    messages: pd.DataFrame   # counts by session, direction, admin, msg_type
    transitions: pd.DataFrame
    #: fix_messages rows of the window (``raw`` only for RAW_TYPES), for clock and latency estimates
    wire: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WIRE_COLUMNS))
    conversions: Conversions | None = None
    coverage: dict | None = None
    filter: ReportFilter = NO_FILTER
    #: ``basis`` samples before the window's start (the counters they carry are cumulative)
    basis_before: pd.DataFrame | None = None


def _frame(conn, table, run_id: str) -> pd.DataFrame:
    rows = conn.execute(select(table).where(table.c.run_id == run_id)).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in table.columns])
    for c in table.columns:
        if isinstance(c.type, models.Dec) and c.name in df:
            df[c.name] = df[c.name].map(lambda v: float(v) if v is not None else None).astype("float64")
        elif isinstance(c.type, Integer) and c.name in df:
            # nullable integers: with a NULL, pandas would make epoch ns float64 (256 ns steps)
            df[c.name] = pd.array([r[c.name] for r in rows], dtype="Int64")
    return df


def resolve_run(conn, run_id: str | None, role: str = "engine") -> dict:
    r = models.runs
    if run_id in (None, "latest"):
        row = conn.execute(select(r).where(r.c.role == role).order_by(r.c.started_ns.desc()).limit(1)).mappings().first()
        if row is None:
            raise ReportError(f"no {role} run in this database")
    else:
        row = conn.execute(select(r).where(r.c.run_id == run_id)).mappings().first()
        if row is None:
            raise ReportError(f"run {run_id!r} not found")
    return dict(row)


def _wire(conn, run_id: str, filt: ReportFilter) -> pd.DataFrame:
    """The run's FIX messages in the window, without the raw bytes of market data: ``fix_messages``
    rows and the market data stored in bulk (``id`` null, ``batch_id`` its ``fix_message_batches``
    row), in receive order."""
    m = models.fix_messages
    q = select(*[m.c[c] for c in WIRE_COLUMNS[:-1]],
               case((m.c.msg_type.in_(RAW_TYPES), m.c.raw), else_=None).label("raw")).where(m.c.run_id == run_id)
    if filt.start_ns is not None:
        q = q.where(m.c.ts_ns >= filt.start_ns)
    if filt.end_ns is not None:
        q = q.where(m.c.ts_ns < filt.end_ns)
    rows = [dict(r) for r in conn.execute(q).mappings()]
    for r in message_rows(conn, run_id, filt.start_ns, filt.end_ns):   # market data stored in bulk
        rows.append({c: r[c] for c in WIRE_COLUMNS[:-1]} | {"raw": r["raw"] if r["msg_type"] in RAW_TYPES else None,
                                                             "batch_id": r["batch_id"]})
    rows.sort(key=lambda r: r["ts_ns"] or 0)   # receive order (stable: a table's own order kept on ties)
    df = pd.DataFrame(rows, columns=WIRE_COLUMNS + ["batch_id"])
    for c in ("id", "seq_num", "ts_ns", "batch_id"):
        df[c] = pd.array([r.get(c) for r in rows], dtype="Int64")
    df["poss_dup"] = df["poss_dup"].fillna(False).astype(bool)
    df["admin"] = df["admin"].fillna(False).astype(bool)
    return df


def _message_counts(wire: pd.DataFrame) -> pd.DataFrame:
    cols = ["session", "venue", "direction", "admin", "msg_type"]
    if wire.empty:
        return pd.DataFrame(columns=cols + ["n"])
    return wire.groupby(cols, dropna=False).size().rename("n").reset_index()


def load_run(db_url: str, run_id: str | None = None, filt: ReportFilter | None = None, *,
             strategy_path: str | None = None) -> RunData:
    """Everything a report needs about one run (default: the latest engine run), narrowed by ``filt``.

    ``strategy_path`` overrides the strategy file recorded with the run (for cost conversions)."""
    from xmc_fix.audit.completeness import coverage

    filt = filt or NO_FILTER
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            run = resolve_run(conn, run_id)
            rid = run["run_id"]
            data = RunData(run=run, tickets=_frame(conn, models.tickets, rid), orders=_frame(conn, models.orders, rid),
                           fills=_frame(conn, models.fills, rid), events=_frame(conn, models.events, rid),
                           transitions=_frame(conn, models.ticket_events, rid),
                           messages=pd.DataFrame(), wire=_wire(conn, rid, filt))
    finally:
        eng.dispose()
    data.conversions = load_conversions(run, strategy_path)
    data.coverage = coverage(db_url, run)
    data = apply_filter(data, filt)
    data.messages = _message_counts(data.wire)
    return data


def pair_venues(data: RunData, pair: str) -> set[str]:
    """The venues of a pair: from the strategy when known, and every venue its orders went to."""
    venues = set(data.orders.loc[data.orders["ticket_id"].isin(
        data.tickets.loc[data.tickets["pair"] == pair, "ticket_id"]), "venue"]) if not data.orders.empty else set()
    pc = data.conversions.pairs.get(pair) if data.conversions is not None else None
    if pc is not None and pc.pricer is not None:
        venues |= {pc.pricer.inner.venue, pc.pricer.outer.venue}
    return venues


def apply_filter(data: RunData, filt: ReportFilter) -> RunData:
    """``data`` narrowed to ``filt`` by the rule of :mod:`xmc_fix.reports.window` (wire rows are
    expected already cut to the window by time)."""
    data.filter = filt
    ev = data.events
    basis = ev[ev["kind"] == "basis"] if not ev.empty else ev
    if not filt.active:
        data.basis_before = basis.iloc[0:0]
        return data
    t, o, f = data.tickets, data.orders, data.fills
    if filt.pair is not None:
        venues = pair_venues(data, filt.pair)
        other_tickets = set(t.loc[t["pair"] != filt.pair, "ticket_id"])
        other_orders = set(o.loc[o["ticket_id"].isin(other_tickets), "cl_ord_id"]) if not o.empty else set()
        t = t[t["pair"] == filt.pair]
    if not t.empty:
        t = t[filt.time_mask(t["created_ns"])]
    ids = set(t["ticket_id"])
    o = o[o["ticket_id"].isin(ids)] if not o.empty else o
    if not f.empty:
        f = f[f["ticket_id"].isin(ids) | f["cl_ord_id"].isin(set(o["cl_ord_id"]) if not o.empty else set())]
    tr = data.transitions
    tr = tr[tr["ticket_id"].isin(ids)] if not tr.empty else tr
    before = basis.iloc[0:0]
    if not ev.empty:
        keep = filt.time_mask(ev["ts_ns"])
        if filt.start_ns is not None:
            before = basis[basis["ts_ns"] < filt.start_ns]
        if filt.pair is not None:
            mine = ev["pair"] == filt.pair
            neutral = ev["pair"].isna() & ~ev["ticket_id"].isin(other_tickets) & \
                (ev["venue"].isna() | ev["venue"].isin(venues))
            keep &= (mine | neutral).fillna(False).astype(bool)
            before = before[before["pair"] == filt.pair]
        ev = ev[keep]
    w = data.wire
    if filt.pair is not None and not w.empty:
        w = w[w["venue"].isin(venues) & ~w["cl_ord_id"].isin(other_orders) & ~w["orig_cl_ord_id"].isin(other_orders)]
    data.tickets, data.orders, data.fills, data.transitions, data.events, data.wire = t, o, f, tr, ev, w
    data.basis_before = before
    return data


def _pct(series: pd.Series) -> dict:
    s = series.dropna()
    if s.empty:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": int(s.size), "p50": round(float(s.quantile(0.5)), 1), "p99": round(float(s.quantile(0.99)), 1),
            "max": round(float(s.max()), 1)}


def figures(data: RunData) -> dict:
    t, o, f, m = data.tickets, data.orders, data.fills, data.messages
    run = data.run
    settled = t[t["state"].isin(SETTLED)] if not t.empty else t
    # Aligned: the ticket ended with legs matched within the pair's tolerance (or nothing traded).
    aligned = settled[settled["state"].isin(ALIGNED)] if not settled.empty else settled
    by_state = {k: int(v) for k, v in t["state"].value_counts().items()} if not t.empty else {}

    legs: dict[str, dict] = {}
    if not o.empty:
        for venue, g in o.groupby("venue"):
            fv = f[f["venue"] == venue] if not f.empty else f
            legs[str(venue)] = {"orders": int(len(g)), "fills": int(len(fv)),
                                "rejects": int((g["status"] == "REJECTED").sum()),
                                "filled_lots": float(g["cum_qty"].sum())}

    entry = o[o["role"] == "ENTRY"] if not o.empty else o
    lat = {}
    if not t.empty:
        lat["decision_to_send"] = _pct((t["sent_ns"] - t["md_recv_ns"]) / 1000.0)
    else:
        lat["decision_to_send"] = _pct(pd.Series(dtype=float))
    if not entry.empty:
        lat["send_to_ack"] = _pct((entry["ack_ns"] - entry["sent_ns"]) / 1000.0)
        first_fill = f.groupby("cl_ord_id")["recv_ns"].min() if not f.empty else pd.Series(dtype=float)
        lat["send_to_first_fill"] = _pct((entry.set_index("cl_ord_id")["sent_ns"] - first_fill).dropna().abs() / 1000.0
                                         if not first_fill.empty else pd.Series(dtype=float))
    msgs_in = int(m.loc[m["direction"] == "in", "n"].sum()) if not m.empty else 0
    msgs_out = int(m.loc[m["direction"] == "out", "n"].sum()) if not m.empty else 0
    by_session = {}
    if not m.empty:
        for (session, direction), g in m.groupby(["session", "direction"]):
            by_session.setdefault(str(session), {})[str(direction)] = int(g["n"].sum())

    pairs = {}
    if not t.empty:
        for pair, g in t.groupby("pair"):
            gs = g[g["state"].isin(SETTLED)]
            pairs[str(pair)] = {
                "tickets": int(len(g)),
                "completed": int((g["state"] == "COMPLETED").sum()),
                "legged": int(g["state"].isin(("LEGGED", "FAILED")).sum()),
                "residual_units": float(gs.loc[gs["state"].isin(("LEGGED", "FAILED")), "residual"].sum()),
                "basis_at_decision": {"min": float(g["basis"].min()), "max": float(g["basis"].max())},
            }
    n_settled = int(len(settled))
    from xmc_fix.reports import costs
    conv = data.conversions if data.conversions is not None else load_conversions(data.run)
    sf = costs.shortfall(data, conv)
    repairs = repair_figures(t, data.transitions, sf)
    figs = {
        "run_id": run["run_id"],
        "started": ns_to_iso(run["started_ns"]),
        "ended": ns_to_iso(run["ended_ns"]) if run.get("ended_ns") else None,
        "duration_s": round((run["ended_ns"] - run["started_ns"]) / 1e9, 3) if run.get("ended_ns") else None,
        "tickets": int(len(t)),
        "tickets_completed": by_state.get("COMPLETED", 0),
        "tickets_by_state": by_state,
        "alignment_rate": round(len(aligned) / n_settled, 6) if n_settled else None,
        "alignment": alignment(settled, data.transitions),
        "messages": {"in": msgs_in, "out": msgs_out, "by_session": by_session},
        "legs": legs,
        "latency_us": lat,
        "pairs": pairs,
        **repairs,
        "events": {k: int(v) for k, v in data.events["kind"].value_counts().items()} if not data.events.empty else {},
        **_risk_figures(data.events),
    }
    figs.update(analysis(data, sf))
    figs.update(release_figures(data, sf))
    figs.update(venue_truth_figures(data.events, run, figs["residual_exposure"]))   # differences count as residual
    alerts = data.events[data.events["kind"] == "alert"] if not data.events.empty else None
    figs["acceptance"] = acceptance(figs, alerts) + [venue_truth_row(figs)]
    return figs


# -- cost and latency analysis -----------------------------------------------------------------------
def _num(v, digits: int = 1):
    """A float for the JSON document: rounded, None for missing."""
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else round(x, digits) + 0.0   # + 0.0: no "-0.0"


def _stats(series: pd.Series, digits: int = 1) -> dict:
    s = pd.Series(series, dtype="float64").dropna()
    if s.empty:
        return {"n": 0, "mean": None, "p50": None, "p99": None, "max": None}
    return {"n": int(s.size), "mean": _num(s.mean(), digits), "p50": _num(s.quantile(0.5), digits),
            "p99": _num(s.quantile(0.99), digits), "max": _num(s.max(), digits)}


def _total(series: pd.Series, digits: int = 2):
    """Sum of a money column; None when any value is unknown (a partial total would mislead)."""
    s = pd.Series(series, dtype="float64")
    if s.empty:
        return 0.0
    return None if s.isna().any() else _num(s.sum(), digits)


def analysis(data: RunData, sf: pd.DataFrame | None = None) -> dict:
    """The cost and latency figures added to the report (README "Report": the keys after ``events``);
    ``sf``: the shortfall frame when the caller has it already."""
    from xmc_fix.reports import costs
    from xmc_fix.reports.venueclock import clock_estimates, clock_samples

    conv = data.conversions if data.conversions is not None else load_conversions(data.run)
    currencies = sorted({pc.currency for pc in conv.pairs.values() if pc.currency}
                        if data.tickets.empty else
                        {conv.for_pair(p).currency for p in set(data.tickets["pair"]) if conv.for_pair(p).currency})
    currency = currencies[0] if len(currencies) == 1 else ("mixed" if currencies else None)
    # money of pairs in different inner currencies is not added up (per-pair shortfall still is)
    _sum = _total if currency != "mixed" else (lambda series, digits=2: None)

    ol = costs.order_latency(data)
    by_venue = {}
    for venue, g in ol.groupby("venue"):
        e = g[g["role"] == "ENTRY"]
        by_venue[str(venue)] = {"decision_to_send": _pct(e["decision_to_send_us"]),
                                "send_to_ack": _pct(g["send_to_ack_us"]),
                                "send_to_first_fill": _pct(g["send_to_first_fill_us"]),
                                "send_to_last_fill": _pct(g["send_to_last_fill_us"])}
    ack = ol["send_to_ack_us"].dropna() if not ol.empty else pd.Series(dtype=float)
    response = {**_pct(ack), "within_200ms": round(float((ack < 200_000).mean()), 6) if not ack.empty else None}

    tl = costs.ticket_latency(data)
    ticket_lat = {k: _pct(tl[f"{k}_us"]) for k in ("decision_to_send", "send_to_ack", "send_to_last_fill",
                                                    "decision_to_end")}

    sl = costs.slippage(data, conv)
    entry_sl = sl[sl["role"] == "ENTRY"]
    slip_venues = {}
    for venue, g in entry_sl.groupby("venue"):
        slip_venues[str(venue)] = {"orders": int(len(g)), "vs_decision_ticks": _stats(g["slip_decision_ticks"], 3),
                                   "vs_touch_ticks": _stats(g["slip_touch_ticks"], 3),
                                   "vs_decision_ccy": _sum(g["slip_decision_ccy"]),
                                   "vs_touch_ccy": _sum(g["slip_touch_ccy"])}
    slip = {"currency": currency, "orders": int(len(entry_sl)),
            "vs_decision": {"ticks": _stats(entry_sl["slip_decision_ticks"], 3),
                            "per_unit": _stats(entry_sl["slip_decision_per_unit"], 3),
                            "total_ccy": _sum(entry_sl["slip_decision_ccy"])},
            "vs_touch": {"ticks": _stats(entry_sl["slip_touch_ticks"], 3),
                         "per_unit": _stats(entry_sl["slip_touch_per_unit"], 3),
                         "total_ccy": _sum(entry_sl["slip_touch_ccy"])},
            "chase_orders": int((sl["role"] == "CHASE").sum()),
            "by_venue": slip_venues}

    lg = costs.legging(data, conv)
    legging = {"currency": currency, "tickets": int(len(lg)), "total_ccy": _sum(lg["cost_ccy"]),
               "per_unit": _stats(lg["cost_per_unit"], 3), "ticks": _stats(lg["cost_ticks"], 3),
               "lag_us": _pct(lg["lag_us"]),
               "lagging_leg": {str(k): int(v) for k, v in lg["lag_venue"].value_counts().items()}}

    sf = costs.shortfall(data, conv) if sf is None else sf
    per_pair = {}
    for pair, g in sf.groupby("pair"):
        per_pair[str(pair)] = {"tickets": int(len(g)), "execution_ccy": _total(g["execution_ccy"]),
                               "unwind_ccy": _total(g["unwind_ccy"]), "fees_ccy": _total(g["fees_ccy"]),
                               "total_ccy": _total(g["shortfall_ccy"]),
                               "basis_shortfall": _stats(g["basis_shortfall"], 3)}
    short = {"currency": currency, "tickets": int(len(sf)), "execution_ccy": _sum(sf["execution_ccy"]),
             "unwind_ccy": _sum(sf["unwind_ccy"]), "fees_ccy": _sum(sf["fees_ccy"]),
             "total_ccy": _sum(sf["shortfall_ccy"]), "per_unit": _stats(sf["shortfall_per_unit"], 3),
             "by_pair": per_pair,
             "fees_note": "no fee settings exist yet: the fee term is 0"}

    cap = costs.capture(data)
    sig = cap["signals"].dropna()
    signals = int(sig.sum()) if not sig.empty else None
    completed = int(cap.loc[cap["signals"].notna(), "completed"].sum()) if not cap.empty else 0
    # crossings captured (a ticket decided in the crossing completed); older runs: completed tickets
    captured = None if cap.empty or cap["captured"].isna().any() else int(cap["captured"].sum())
    won = captured if captured is not None else completed
    capture = {"signals": signals, "denials": int(cap["denials"].dropna().sum()) if signals is not None else None,
               "captured": captured, "completed": completed, "rate": round(won / signals, 6) if signals else None,
               "by_pair": {r["pair"]: {"signals": None if pd.isna(r["signals"]) else int(r["signals"]),
                                       "denials": None if pd.isna(r["denials"]) else int(r["denials"]),
                                       **({} if pd.isna(r["captured"]) else {"captured": int(r["captured"])}),
                                       "tickets": int(r["tickets"]), "completed": int(r["completed"]),
                                       "rate": _num(r["capture_rate"], 6)}
                           for r in cap.to_dict("records")}}

    ck = clock_estimates(data.wire, clock_samples(data.wire))
    clock = {"method": "NTP on-wire: order round trips (our send, venue TransactTime and SendingTime on its "
                       "first report, our receipt) and TestRequest/Heartbeat round trips; offset of the "
                       "least-delayed sample, venue clock minus ours",
             "venues": {r["venue"]: {k: (_num(v) if isinstance(v, float) else v) for k, v in r.items() if k != "venue"}
                        for r in ck.to_dict("records")}}
    return {"filter": data.filter.describe(), "conversions": conv.describe(),
            "latency_by_venue_us": by_venue, "order_response_us": response, "ticket_latency_us": ticket_lat,
            "slippage": slip, "legging_cost": legging, "shortfall": short, "capture": capture, "clock": clock,
            "coverage": data.coverage if data.coverage is not None else {"method": None, "rate": None}}


def _risk_figures(ev: pd.DataFrame) -> dict:
    """Denials by coded reason, alerts by kind, and for protective alerts the time from the arrival
    of the triggering fact to the protection in place (``alert_to_action_us``), with its detection
    (``detect_us``) and action (``action_us``) parts apart. Information alerts carry no timing."""
    denials: dict[str, int] = {}
    alerts: dict[str, int] = {}
    reaction: list[float] = []
    parts: dict[str, list[float]] = {"detect_us": [], "action_us": []}
    if not ev.empty:
        for kind, detail in zip(ev["kind"], ev["detail"]):
            if kind not in ("denial", "alert") or not detail:
                continue
            d = json.loads(detail) if isinstance(detail, str) else detail
            if kind == "denial":
                denials[d.get("reason", "?")] = denials.get(d.get("reason", "?"), 0) + 1
            else:
                alerts[d.get("alert", "?")] = alerts.get(d.get("alert", "?"), 0) + 1
                if d.get("alert_to_action_us") is not None:
                    reaction.append(float(d["alert_to_action_us"]))
                for k, v in parts.items():
                    if d.get(k) is not None:
                        v.append(float(d[k]))

    def stats(values: list[float]) -> dict:
        r = pd.Series(values, dtype=float)
        return {"n": int(r.size), "p50": round(float(r.quantile(0.5)), 1) if r.size else None,
                "p99": round(float(r.quantile(0.99)), 1) if r.size else None,
                "max": round(float(r.max()), 1) if r.size else None}
    return {"denials": dict(sorted(denials.items())), "alerts": dict(sorted(alerts.items())),
            "alert_to_action_us": {**stats(reaction), "measures": "protective alerts: the triggering fact's arrival "
                                   "(report receipt, timer tick, session event) to the protection in place"},
            "alert_detect_us": stats(parts["detect_us"]), "alert_action_us": stats(parts["action_us"])}


def render_json(figs: dict) -> str:
    return json.dumps(figs, indent=2, sort_keys=False, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))


def _flatten(prefix: str, v, out: list[tuple[str, object]]) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), x, out)
    elif isinstance(v, list) and v and isinstance(v[0], dict):
        for i, x in enumerate(v):
            _flatten(f"{prefix}.{i}", x, out)
    elif isinstance(v, list):
        out.append((prefix, " ".join(str(x) for x in v)))
    else:
        out.append((prefix, v))


def render_csv(figs: dict) -> str:
    rows: list[tuple[str, object]] = []
    _flatten("", figs, rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["figure", "value"])
    for k, v in rows:
        w.writerow([k, "" if v is None else v])
    return buf.getvalue()


def render_table(figs: dict) -> str:
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
        return str(v)

    lat = figs["latency_us"]
    al = figs["alignment"]
    lines = [
        f"run {figs['run_id']}  {figs['started']} .. {figs['ended'] or '(running)'}  ({fmt(figs['duration_s'])} s)",
        "",
        f"tickets            {figs['tickets']}   " + "  ".join(f"{k.lower()} {v}" for k, v in figs['tickets_by_state'].items()),
        f"alignment rate     {fmt(None if figs['alignment_rate'] is None else 100 * figs['alignment_rate'])} %"
        "   (no unmatched exposure left: matched, unwound or nothing traded)",
        f"finished tickets   {al['finished']}: matched first try {al['matched_first_try']}, after repair "
        f"{al['matched_after_repair']}, unwound {al['unwound']}, nothing traded {al['nothing_traded']}, left legged "
        f"{al['left_legged']}   matched of those that traded "
        f"{fmt(None if al['matched_rate'] is None else 100 * al['matched_rate'])} %",
        f"FIX messages       in {figs['messages']['in']}  out {figs['messages']['out']}",
        f"legged / repaired  {figs['tickets_repaired']['legged']} / {figs['tickets_repaired']['repaired']}"
        f"  (chased {figs['tickets_repaired']['chased']}, unwound {figs['tickets_repaired']['unwound']})"
        f"   repair success {fmt(None if figs['repair_success_rate'] is None else 100 * figs['repair_success_rate'])} %"
        f"   unwind cost {fmt(figs['tickets_repaired']['unwind_ccy'])} {figs['tickets_repaired']['currency'] or ''}",
        "residual exposure  " + ("  ".join(f"{p} {v:g}" for p, v in figs["residual_exposure"].items()) or "-"),
        "",
        f"{'latency (us)':<22}{'n':>6}{'p50':>10}{'p99':>10}{'max':>10}",
    ]
    for name, p in lat.items():
        lines.append(f"{name:<22}{p['n']:>6}{fmt(p['p50']):>10}{fmt(p['p99']):>10}{fmt(p['max']):>10}")
    lines += ["", f"{'venue':<10}{'orders':>8}{'fills':>8}{'rejects':>9}{'lots':>10}"]
    for venue, g in figs["legs"].items():
        lines.append(f"{venue:<10}{g['orders']:>8}{g['fills']:>8}{g['rejects']:>9}{fmt(g['filled_lots']):>10}")
    if figs["pairs"]:
        lines += ["", f"{'pair':<16}{'tickets':>8}{'done':>6}{'legged':>8}{'basis min':>12}{'basis max':>12}"]
        for pair, p in figs["pairs"].items():
            lines.append(f"{pair:<16}{p['tickets']:>8}{p['completed']:>6}{p['legged']:>8}"
                         f"{fmt(p['basis_at_decision']['min']):>12}{fmt(p['basis_at_decision']['max']):>12}")
    if figs["repairs"]:
        lines += ["", "repaired tickets"]
        for r in figs["repairs"]:
            lines.append(f"  {r['ticket_id']:<22}{r['pair']:<16}{r['outcome']:<11}{' > '.join(r['path']) or '-':<28}"
                         f"{r['repair_ms']:>9.1f} ms  unwind {fmt(r['unwind_ccy']):>9}   {r['legged_because'][:70]}")
    if figs.get("release"):
        lines += [""] + release_lines(figs)
    rc = figs.get("reconciliation")
    if rc and (rc["rounds"] or rc["foreign_fills"] or rc["drop_copy_applied"] or rc["trade_busts"]):
        lines += ["", f"reconciliation     {rc['rounds']} rounds, {rc['differences']} differences, "
                      f"{rc['foreign_fills']} fills of orders not ours, {rc['drop_copy_applied']} fills only on a "
                      f"drop copy, {rc['trade_busts']} busts ({rc.get('inferred_busts', 0)} seen only in a status answer), "
                      f"{rc['trade_corrections']} corrections"]
        for d in rc["listed"][:10]:
            lines.append(f"  {d['at'][11:23]} {d['venue']:<6} {d['about']:<9} {d['symbol'] or '-':<6} engine "
                         f"{d['engine']} / venue {d['venue_view']} -> {d['resolution']}")
        if figs.get("unreconciled"):
            lines.append("  foreign lots held at the end: " + ", ".join(
                f"{k} {v['lots']:g}" for k, v in figs["unreconciled"].items()))
    if "acceptance" in figs:
        f = figs["filter"]
        if f["from"] or f["to"] or f["pair"]:
            lines.insert(1, f"filter: tickets decided from {f['from'] or '-'} to {f['to'] or '-'}, pair {f['pair'] or 'all'}")
        lines += _analysis_table(figs, fmt)
    return "\n".join(lines) + "\n"


def _analysis_table(figs: dict, _fmt) -> list[str]:
    """The cost, latency, clock and acceptance sections of the table rendering."""
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
        return str(v)

    lines = []
    head = f"{'n':>6}{'p50':>10}{'p99':>10}{'max':>10}"
    lines += ["", f"{'latency by venue (us)':<34}{head}"]
    for venue, d in figs["latency_by_venue_us"].items():
        for name, p in d.items():
            lines.append(f"{venue + ' ' + name:<34}{p['n']:>6}{fmt(p['p50']):>10}{fmt(p['p99']):>10}{fmt(p['max']):>10}")
    lines.append("")
    lines.append(f"{'latency per ticket (us)':<34}{head}")
    for name, p in figs["ticket_latency_us"].items():
        lines.append(f"{name:<34}{p['n']:>6}{fmt(p['p50']):>10}{fmt(p['p99']):>10}{fmt(p['max']):>10}")
    s = figs["slippage"]
    ccy = s["currency"] or "inner ccy"
    lines += ["", f"{'slippage (entry orders)':<24}{'n':>5}{'mean tk':>10}{'p99 tk':>9}{'vs decision':>14}"
                  f"{'mean tk':>10}{'p99 tk':>9}{'vs touch':>14}   ({ccy}; + = against us)"]
    rows = list(s["by_venue"].items()) + [("all", {"orders": s["orders"], "vs_decision_ticks": s["vs_decision"]["ticks"],
                                                   "vs_touch_ticks": s["vs_touch"]["ticks"],
                                                   "vs_decision_ccy": s["vs_decision"]["total_ccy"],
                                                   "vs_touch_ccy": s["vs_touch"]["total_ccy"]})]
    for venue, v in rows:
        d, t = v["vs_decision_ticks"], v["vs_touch_ticks"]
        lines.append(f"{venue:<24}{v['orders']:>5}{fmt(d['mean']):>10}{fmt(d['p99']):>9}{fmt(v['vs_decision_ccy']):>14}"
                     f"{fmt(t['mean']):>10}{fmt(t['p99']):>9}{fmt(v['vs_touch_ccy']):>14}")
    lg = figs["legging_cost"]
    lines += ["", f"legging cost       {lg['tickets']} tickets   total {fmt(lg['total_ccy'])} {ccy}   "
                  f"mean {fmt(lg['per_unit']['mean'])} {ccy}/unit   lag p50 {fmt(lg['lag_us']['p50'])} us   "
                  f"lagging: " + (", ".join(f"{k} {v}" for k, v in lg["lagging_leg"].items()) or "-")]
    sf = figs["shortfall"]
    lines += ["", f"{'shortfall (' + ccy + ')':<24}{'tickets':>8}{'execution':>12}{'unwind':>12}{'fees':>8}{'total':>12}"]
    for pair, p in list(sf["by_pair"].items()) + [("all", {**sf, "tickets": sf["tickets"]})]:
        total = p.get("total_ccy")
        lines.append(f"{pair:<24}{p['tickets']:>8}{fmt(p['execution_ccy']):>12}{fmt(p['unwind_ccy']):>12}"
                     f"{fmt(p['fees_ccy']):>8}{fmt(total):>12}")
    lines.append(f"  ({sf['fees_note']})")
    c = figs["capture"]
    episodes = any("captured" in p for p in c["by_pair"].values())   # a run that counted crossings as episodes
    lines += ["", f"{'capture (crossings)' if episodes else 'capture':<24}{'signals':>8}{'denials':>9}"
                  + (f"{'captured':>10}" if episodes else "") + f"{'tickets':>9}{'completed':>11}{'rate':>8}"]
    for pair, p in c["by_pair"].items():
        lines.append(f"{pair:<24}{fmt(p['signals']):>8}{fmt(p['denials']):>9}"
                     + (f"{fmt(p.get('captured')):>10}" if episodes else "")
                     + f"{p['tickets']:>9}{p['completed']:>11}{fmt(None if p['rate'] is None else 100 * p['rate']):>7}%")
    lines += ["", f"{'venue clock (us)':<18}{'samples':>8}{'offset':>9}{'+-':>8}{'rtt min':>9}{'rtt p50':>9}"
                  f"{'out p50':>9}{'in p50':>9}{'md in p50':>11}"]
    for venue, v in figs["clock"]["venues"].items():
        lines.append(f"{venue:<18}{v['samples']:>8}{fmt(v['offset_us']):>9}{fmt(v['offset_error_us']):>8}"
                     f"{fmt(v['delay_min_us']):>9}{fmt(v['delay_p50_us']):>9}{fmt(v['one_way_out_p50_us']):>9}"
                     f"{fmt(v['one_way_in_p50_us']):>9}{fmt(v['inbound_one_way_p50_us']):>11}")
    cov = figs["coverage"]
    lines += ["", f"audit coverage     {fmt(None if cov.get('rate') is None else 100 * cov['rate'])} %"
                  f"  ({cov.get('method')} method" + (f": {cov['compared']}" if cov.get("compared") else "") + ")"]
    if cov.get("note"):
        lines.append(f"  {cov['note']}")
    lines += ["", f"{'acceptance':<32}{'verdict':<14}measured"]
    for r in figs["acceptance"]:
        verdict = "not measured" if r["met"] is None else "met" if r["met"] else "NOT MET"
        lines.append(f"{r['claim']:<32}{verdict:<14}{r['measured']}")
    return lines
