"""Figures from the audit database, as pandas DataFrames and as the report's JSON document.

The JSON schema (``xmc report --format json``) is documented in the README ("Report"). Every figure
is computed from stored rows only, so a report of a finished run says the same thing tomorrow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from sqlalchemy import Integer, func, select

from xmc_fix.audit import models
from xmc_fix.audit.writer import make_engine
from xmc_fix.clock import ns_to_iso
from xmc_fix.errors import XmcError

SETTLED = ("COMPLETED", "UNWOUND", "MISSED", "FAILED", "LEGGED")
ALIGNED = ("COMPLETED", "UNWOUND", "MISSED")


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


def load_run(db_url: str, run_id: str | None = None) -> RunData:
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            run = resolve_run(conn, run_id)
            rid = run["run_id"]
            m = models.fix_messages
            counts = conn.execute(
                select(m.c.session, m.c.venue, m.c.direction, m.c.admin, m.c.msg_type, func.count().label("n"))
                .where(m.c.run_id == rid).group_by(m.c.session, m.c.venue, m.c.direction, m.c.admin, m.c.msg_type)
            ).mappings().all()
            return RunData(run=run, tickets=_frame(conn, models.tickets, rid), orders=_frame(conn, models.orders, rid),
                           fills=_frame(conn, models.fills, rid), events=_frame(conn, models.events, rid),
                           transitions=_frame(conn, models.ticket_events, rid),
                           messages=pd.DataFrame([dict(c) for c in counts],
                                                 columns=["session", "venue", "direction", "admin", "msg_type", "n"]))
    finally:
        eng.dispose()


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
    repairs = _repairs(t, data.transitions)
    return {
        "run_id": run["run_id"],
        "started": ns_to_iso(run["started_ns"]),
        "ended": ns_to_iso(run["ended_ns"]) if run.get("ended_ns") else None,
        "duration_s": round((run["ended_ns"] - run["started_ns"]) / 1e9, 3) if run.get("ended_ns") else None,
        "tickets": int(len(t)),
        "tickets_completed": by_state.get("COMPLETED", 0),
        "tickets_by_state": by_state,
        "alignment_rate": round(len(aligned) / n_settled, 6) if n_settled else None,
        "messages": {"in": msgs_in, "out": msgs_out, "by_session": by_session},
        "legs": legs,
        "latency_us": lat,
        "pairs": pairs,
        **repairs,
        "events": {k: int(v) for k, v in data.events["kind"].value_counts().items()} if not data.events.empty else {},
    }


def _repairs(t: pd.DataFrame, tr: pd.DataFrame) -> dict:
    """Legging incidents and how each was repaired."""
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
                     "repair_ms": round((ended["ts_ns"] - first["ts_ns"]) / 1e6, 3)})
    residual = {}
    if not t.empty:
        for pair, g in t.groupby("pair"):
            open_or_failed = g[g["state"].isin(("FAILED", "LEGGED", "REPAIRING"))]
            residual[str(pair)] = float(open_or_failed["residual"].sum()) if not open_or_failed.empty else 0.0
    n = len(rows)
    return {"tickets_repaired": {"legged": n, "repaired": int(ok), "chased": int(chased), "unwound": int(unwound)},
            "repair_success_rate": round(ok / n, 6) if n else None,
            "residual_exposure": residual,
            "repairs": rows}


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
    import csv
    import io
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
    lines = [
        f"run {figs['run_id']}  {figs['started']} .. {figs['ended'] or '(running)'}  ({fmt(figs['duration_s'])} s)",
        "",
        f"tickets            {figs['tickets']}   " + "  ".join(f"{k.lower()} {v}" for k, v in figs['tickets_by_state'].items()),
        f"alignment rate     {fmt(None if figs['alignment_rate'] is None else 100 * figs['alignment_rate'])} %",
        f"FIX messages       in {figs['messages']['in']}  out {figs['messages']['out']}",
        f"legged / repaired  {figs['tickets_repaired']['legged']} / {figs['tickets_repaired']['repaired']}"
        f"  (chased {figs['tickets_repaired']['chased']}, unwound {figs['tickets_repaired']['unwound']})"
        f"   repair success {fmt(None if figs['repair_success_rate'] is None else 100 * figs['repair_success_rate'])} %",
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
                         f"{r['repair_ms']:>9.1f} ms   {r['legged_because'][:70]}")
    return "\n".join(lines) + "\n"
