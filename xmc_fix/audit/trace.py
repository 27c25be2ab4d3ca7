"""``xmc audit trace TICKET``: a ticket's decision chain as one timeline, from the audit database.

market data it was decided on -> decision (basis, books, FX) -> risk verdict -> orders -> every FIX
message about them (sent and received) -> ticket transitions and repair steps -> fills.

Each step is a stored row (``ref`` names it: table and id/key), so the timeline is evidence, not a
reconstruction. The market data shown is the last snapshot or incremental refresh received from
each leg's venue (and the FX venue, when the run's strategy file is still readable) at or before the
entry of the callback that decided the ticket (``tickets.md_recv_ns``); the book tops and ages are the
ones the engine recorded in ``tickets.decision``. Read-only.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from sqlalchemy import or_, select

from xmc_fix.audit import models
from xmc_fix.audit.mdbatch import last_batched
from xmc_fix.audit.verify import reading
from xmc_fix.errors import ConfigError
from xmc_fix.fixwire import readable, split

MSG_NAMES = {"D": "NewOrderSingle", "F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest",
             "H": "OrderStatusRequest", "8": "ExecutionReport", "9": "OrderCancelReject", "3": "Reject",
             "j": "BusinessMessageReject", "W": "MarketDataSnapshot", "X": "MarketDataIncrementalRefresh"}
EXEC_TYPES = {"0": "New", "4": "Canceled", "5": "Replaced", "6": "PendingCancel", "8": "Rejected",
              "A": "PendingNew", "C": "Expired", "E": "PendingReplace", "F": "Trade", "I": "OrderStatus",
              "3": "DoneForDay", "1": "PartialFill", "2": "Fill"}
ORD_STATUSES = {"0": "New", "1": "PartiallyFilled", "2": "Filled", "4": "Canceled", "5": "Replaced",
                "6": "PendingCancel", "8": "Rejected", "A": "PendingNew", "C": "Expired", "E": "PendingReplace"}
_KIND_ORDER = {"market data": 0, "decision": 1, "risk": 2, "ticket": 3, "order": 4, "fix out": 5, "fix in": 6,
               "fill": 7, "event": 8}


def fix_fields(raw: bytes) -> list[tuple[str, str]]:
    return split(bytes(raw).decode("utf-8", "replace"))


def _first(fields: list[tuple[str, str]], tag: str) -> str | None:
    return next((v for t, v in fields if t == tag), None)


def _md_entries(fields: list[tuple[str, str]]) -> list[dict]:
    entries, cur = [], None
    for t, v in fields:
        if t in ("279", "269") and (cur is None or t in cur or (t == "269" and "269" in cur)):
            cur = {}
            entries.append(cur)
        if cur is not None and t in ("279", "269", "270", "271", "55"):
            cur.setdefault(t, v)
    return entries


def describe_message(msg_type: str | None, raw: bytes) -> str:
    """One line for people: the message's name and the fields that matter for the trace."""
    f = fix_fields(raw)
    name = MSG_NAMES.get(msg_type or "", msg_type or "?")
    if msg_type == "8":
        et, st = _first(f, "150"), _first(f, "39")
        parts = [f"ExecType {EXEC_TYPES.get(et, et)}", f"OrdStatus {ORD_STATUSES.get(st, st)}"]
        for tag, label in (("32", "LastQty"), ("31", "LastPx"), ("14", "CumQty"), ("151", "Leaves"),
                           ("17", "ExecID"), ("58", "Text")):
            v = _first(f, tag)
            if v is not None and (tag not in ("32", "31") or v not in ("0", "0.0")):
                parts.append(f"{label} {v}")
        if _first(f, "43") == "Y" or _first(f, "97") == "Y":
            parts.append("(possible duplicate)")
        return f"{name} " + ", ".join(parts)
    if msg_type in ("D", "F", "G", "H"):
        side = {"1": "BUY", "2": "SELL"}.get(_first(f, "54") or "", _first(f, "54"))
        parts = [x for x in (side, _first(f, "38"), _first(f, "55"), _first(f, "44") and f"@ {_first(f, '44')}")
                 if x]
        orig = _first(f, "41")
        return f"{name} ClOrdID {_first(f, '11')}" + (f" (orig {orig})" if orig else "") + \
            (" " + " ".join(parts) if parts else "")
    if msg_type in ("W", "X"):
        es = _md_entries(f)
        if msg_type == "W":
            bids = [(Decimal(e["270"]), e.get("271")) for e in es if e.get("269") == "0" and "270" in e]
            asks = [(Decimal(e["270"]), e.get("271")) for e in es if e.get("269") == "1" and "270" in e]
            bb = max(bids, default=None, key=lambda x: x[0])
            ba = min(asks, default=None, key=lambda x: x[0])
            top = (f"bid {bb[0]} x {bb[1]}" if bb else "no bid") + " / " + (f"ask {ba[0]} x {ba[1]}" if ba else "no ask")
            return f"{name} {_first(f, '55') or ''} {len(es)} entries, top {top}"
        acts = {"0": "new", "1": "change", "2": "delete"}
        counts: dict[str, int] = {}
        for e in es:
            a = acts.get(e.get("279", ""), e.get("279", "?"))
            counts[a] = counts.get(a, 0) + 1
        live = [e for e in es if e.get("279") in ("0", "1") and "270" in e]
        bb = max((e for e in live if e.get("269") == "0"), default=None, key=lambda e: Decimal(e["270"]))
        ba = min((e for e in live if e.get("269") == "1"), default=None, key=lambda e: Decimal(e["270"]))
        top = ", ".join(x for x in (bb and f"best bid {bb['270']} x {bb.get('271', '?')}",
                                    ba and f"best ask {ba['270']} x {ba.get('271', '?')}") if x)
        return (f"{name} {_first(f, '55') or ''} RptSeq {_first(f, '83') or '-'}: {len(es)} entries ("
                + ", ".join(f"{n} {a}" for a, n in counts.items()) + ")" + (f"; {top}" if top else ""))
    if msg_type in ("9", "3", "j"):
        return f"{name} " + ", ".join(f"{t}={v}" for t, v in f if t in ("11", "41", "102", "45", "371", "372",
                                                                           "373", "380", "58"))
    return name


def _strip(row) -> dict:
    out = {}
    for k, v in dict(row).items():
        if isinstance(v, Decimal):
            v = format(v.normalize(), "f") if v == v else str(v)
        elif isinstance(v, (bytes, memoryview)):
            v = readable(v)
        out[k] = v
    return out


def trace(db_url: str, ticket_id: str) -> dict:
    """The ticket's row, its decision and the timeline (``steps``, oldest first)."""
    with reading(db_url) as conn:
        return _trace(conn, ticket_id)


def _recovered(row) -> str:
    """A row the run never stored itself: the next start wrote it after a crash (from where)."""
    src = row.get("recovered")
    if not src:
        return ""
    return " [recovered after a crash from " + ("QuickFIX's store]" if src == models.RECOVERED_FROM_STORE
                                                else "the journal]")


def _trace(conn, ticket_id: str) -> dict:
    t_, o_, m_, e_, te_, f_, r_ = (models.tickets, models.orders, models.fix_messages, models.events,
                                   models.ticket_events, models.fills, models.runs)
    t = conn.execute(select(*models.stored_columns(conn, t_)).where(t_.c.ticket_id == ticket_id)).mappings().first()
    if t is None:
        raise ConfigError(f"ticket {ticket_id!r} not found", key="TICKET",
                          remedy="use a ticket_id from the tickets table (xmc report lists runs)")
    run = conn.execute(select(r_).where(r_.c.run_id == t["run_id"])).mappings().first()
    decision = {}
    if t["decision"]:
        try:
            decision = json.loads(t["decision"])
        except ValueError:
            decision = {"unreadable": t["decision"]}
    steps: list[dict] = []

    def step(ts, kind, what, detail, ref=None):
        if ts is not None:
            steps.append({"ts_ns": int(ts), "step": kind, "what": what, "detail": detail, "ref": ref})

    orders = conn.execute(select(*models.stored_columns(conn, o_)).where(o_.c.ticket_id == ticket_id)
                          .order_by(o_.c.created_ns)).mappings().all()
    cl_ids = [o["cl_ord_id"] for o in orders]
    md_ns = t["md_recv_ns"] or t["created_ns"]

    # -- the market data it was decided on --------------------------------------------------------
    legs = {}
    for o in orders:
        legs.setdefault(o["leg"], (o["venue"], o["symbol"]))
    fx_venue = _fx_venue(run, t["pair"])
    if fx_venue:
        legs.setdefault("FX", fx_venue)
    for leg, (venue, symbol) in legs.items():
        msg = _last_md(conn, t["run_id"], venue, symbol, md_ns)
        if msg is not None:
            step(msg["ts_ns"], "market data", f"{leg.lower()} {venue} in seq {msg['seq_num']}",
                 describe_message(msg["msg_type"], msg["raw"]) + _recovered(msg),
                 {"table": "fix_messages", "id": msg["id"]} if msg.get("batch_id") is None
                 else {"table": "fix_message_batches", "id": msg["batch_id"]})
    if t["md_recv_ns"]:
        step(t["md_recv_ns"], "decision", "market-data callback entered", "the update that decided the ticket")
    ages = ", ".join(f"{k.removesuffix('_age_ms')} {v:.3f} ms" for k, v in decision.items()
                     if k.endswith("_age_ms") and isinstance(v, (int, float)))
    books = "; ".join(f"{k.removesuffix('_book')} " + " / ".join(
        " x ".join(lvl) if lvl else "-" for lvl in v) for k, v in decision.items()
        if k.endswith("_book") and isinstance(v, list))
    td = _strip(t)
    step(t["created_ns"], "decision", f"basis {_people(t['basis'])} vs {_people(t['threshold'])}",
         f"{t['direction']} {t['intent']}: inner {_people(t['inner_px'])}, outer {_people(t['outer_px'])} -> "
         f"{_people(t['outer_converted'])} at FX {_people(t['fx'])} ({t['unit'] or ''})"
         + (f"; books (bid / ask) {books}" if books else "") + (f"; ages {ages}" if ages else ""),
         {"table": "tickets", "ticket_id": ticket_id})

    # -- risk verdict ------------------------------------------------------------------------------
    prev = conn.execute(select(t_.c.created_ns).where(t_.c.pair == t["pair"], t_.c.run_id == t["run_id"],
                                                      t_.c.created_ns < t["created_ns"])
                        .order_by(t_.c.created_ns.desc()).limit(1)).scalar()
    verdicts = conn.execute(select(e_).where(e_.c.kind.in_(("verdict", "denial")), or_(
        e_.c.ticket_id == ticket_id,
        (e_.c.ticket_id.is_(None)) & (e_.c.pair == t["pair"]) & (e_.c.run_id == t["run_id"])
        & (e_.c.ts_ns > (prev or 0)) & (e_.c.ts_ns <= t["created_ns"]))).order_by(e_.c.ts_ns, e_.c.id)).mappings().all()
    for v in verdicts:
        step(v["ts_ns"], "risk", v["kind"], _detail(v["detail"]), {"table": "events", "id": v["id"]})
    if not any(v["kind"] == "verdict" for v in verdicts):
        step(t["created_ns"], "risk", "passed",
             "no denial stopped this ticket (the gate records refusals as 'denial' events"
             + (", shown above)" if verdicts else "; none since the pair's previous ticket)"))

    # -- orders and every FIX message about them ----------------------------------------------------
    for o in orders:
        od = _strip(o)
        px = f" @ {od['price']}" if od["price"] is not None else ""
        step(o["sent_ns"] or o["created_ns"], "order", f"{o['leg']} {o['role']} {'sent' if o['sent_ns'] else 'not sent'}",
             f"{o['side']} {od['qty']} {o['symbol']}@{o['venue']} {o['ord_type']}{px} {o['tif']} ClOrdID "
             f"{o['cl_ord_id']}; now {o['status']}, cum {od['cum_qty']}" + (f" avg {od['avg_px']}" if od["avg_px"] else "")
             + _recovered(o), {"table": "orders", "cl_ord_id": o["cl_ord_id"]})
    if cl_ids:
        msgs = conn.execute(select(*models.stored_columns(conn, m_)).where(
            or_(m_.c.cl_ord_id.in_(cl_ids), m_.c.orig_cl_ord_id.in_(cl_ids)))
                            .order_by(m_.c.ts_ns, m_.c.id)).mappings().all()
        for msg in msgs:
            step(msg["ts_ns"], f"fix {msg['direction']}",
                 f"{msg['venue'] or msg['session']} {msg['direction']} seq {msg['seq_num']}",
                 describe_message(msg["msg_type"], msg["raw"]) + _recovered(msg),
                 {"table": "fix_messages", "id": msg["id"]} if msg.get("batch_id") is None
                 else {"table": "fix_message_batches", "id": msg["batch_id"]})

    # -- transitions, repair steps and other events, fills --------------------------------------------
    for tr in conn.execute(select(te_).where(te_.c.ticket_id == ticket_id).order_by(te_.c.ts_ns, te_.c.id)).mappings():
        step(tr["ts_ns"], "ticket", f"{tr['from_state'] or '-'} -> {tr['to_state']} ({tr['trigger']})",
             tr["cause"] or "", {"table": "ticket_events", "id": tr["id"]})
    ev_filter = e_.c.ticket_id == ticket_id
    if cl_ids:
        ev_filter = or_(ev_filter, (e_.c.ticket_id.is_(None)) & e_.c.cl_ord_id.in_(cl_ids))
    for ev in conn.execute(select(e_).where(ev_filter, e_.c.kind.not_in(("verdict", "denial")))
                           .order_by(e_.c.ts_ns, e_.c.id)).mappings():
        step(ev["ts_ns"], "event", ev["kind"], _detail(ev["detail"]), {"table": "events", "id": ev["id"]})
    for fl in conn.execute(select(*models.stored_columns(conn, f_)).where(f_.c.ticket_id == ticket_id)
                           .order_by(f_.c.recv_ns, f_.c.id)).mappings():
        fd = _strip(fl)
        step(fl["recv_ns"], "fill", f"{fl['venue']} {fl['side'] or ''} {fd['qty']} @ {fd['price']}",
             f"ExecID {fl['exec_id']} ClOrdID {fl['cl_ord_id']}"
             + (f"; venue time {_clock(fl['venue_ns'])}" if fl["venue_ns"] else "") + _recovered(fl),
             {"table": "fills", "id": fl["id"]})

    steps.sort(key=lambda s: (s["ts_ns"], _KIND_ORDER.get(s["step"], 9)))
    prev_ns = None
    for s in steps:
        s["time"] = _iso(s["ts_ns"])
        s["dt_prev_ns"] = None if prev_ns is None else s["ts_ns"] - prev_ns
        s["since_md_ns"] = s["ts_ns"] - md_ns
        prev_ns = s["ts_ns"]
    return {"ticket": td, "decision": decision, "run": _strip(run) if run else None, "steps": steps}


def _fx_venue(run, pair: str) -> tuple[str, str] | None:
    """The pair's FX venue and symbol, from the strategy the run recorded: its text when the run kept
    it (``runs.config`` ``strategy_text``), else the file, if it is still readable."""
    try:
        cfg = json.loads(run["config"]) if run is not None and run["config"] else {}
    except (TypeError, ValueError):
        return None
    from xmc_fix.config import load_strategy
    path, text_ = cfg.get("strategy"), cfg.get("strategy_text")
    attempts = []
    if text_:
        attempts.append("text")
    if path:
        attempts.append("file")
    for how in attempts:
        try:
            if how == "file":
                strategy = load_strategy(path)
            else:
                import tempfile
                from pathlib import Path
                with tempfile.TemporaryDirectory() as d:
                    p = Path(d) / "strategy.toml"
                    p.write_text(text_)
                    strategy = load_strategy(str(p))
            src = strategy.fx.get(strategy.pairs[pair].fx or "")
            return (src.venue, src.symbol) if src is not None and src.venue else None
        except Exception:  # a moved or changed strategy only costs the FX line
            continue
    return None


def _last_md(conn, run_id: str, venue: str, symbol: str, at_ns: int):
    """The last market data of ``venue`` received at or before ``at_ns`` naming ``symbol`` first,
    else the last of any symbol: from ``fix_messages`` and from the market data stored in bulk."""
    m = models.fix_messages
    base = select(m.c.id, m.c.ts_ns, m.c.seq_num, m.c.msg_type, m.c.raw).where(
        m.c.run_id == run_id, m.c.venue == venue, m.c.direction == "in", m.c.msg_type.in_(("X", "W")),
        m.c.ts_ns <= at_ns).order_by(m.c.ts_ns.desc(), m.c.id.desc()).limit(1)
    mine = conn.execute(base.where(m.c.symbol == symbol)).mappings().first()
    anyone = conn.execute(base).mappings().first() if mine is None else None
    b_mine, b_any = last_batched(conn, run_id, venue, symbol, at_ns)
    found = [r for r in (mine, b_mine) if r is not None] or [r for r in (anyone, b_any) if r is not None]
    return max(found, key=lambda r: r["ts_ns"]) if found else None


def _people(v) -> str:
    """A decimal for people: at most six decimals (the JSON ``ticket`` keeps the exact value)."""
    if v is None:
        return "-"
    d = Decimal(v) if not isinstance(v, Decimal) else v
    if not d.is_finite():
        return str(d)
    q = d.quantize(Decimal("0.000001")) if d.as_tuple().exponent < -6 else d
    return format(q.normalize(), "f") if q != 0 else "0"


def _detail(text: str | None) -> str:
    if not text:
        return ""
    try:
        d = json.loads(text)
    except ValueError:
        return text
    if isinstance(d, dict):
        return ", ".join(f"{k}={v}" for k, v in d.items() if v is not None)
    return str(d)


def _iso(ns: int) -> str:
    secs, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f".{rem // 1000:06d}"


def _clock(ns: int) -> str:
    return _iso(ns)[11:]


def fmt_ns(ns: int | None, signed: bool = False) -> str:
    """A duration for people: ns, us, ms or s, three significant decimals."""
    if ns is None:
        return "-"
    sign = ("+" if ns >= 0 else "-") if signed else ("-" if ns < 0 else "")
    a = abs(ns)
    if a < 1_000:
        return f"{sign}{a} ns"
    if a < 1_000_000:
        return f"{sign}{a / 1e3:.1f} us"
    if a < 1_000_000_000:
        return f"{sign}{a / 1e6:.3f} ms"
    return f"{sign}{a / 1e9:.3f} s"


def render_table(tr: dict, width: int = 110) -> str:
    t = tr["ticket"]
    lines = [f"ticket {t['ticket_id']}  pair {t['pair']}  {t['direction']} {t['intent']}  state {t['state']}  "
             f"run {t['run_id']}",
             f"basis {_people(t['basis'])} (threshold {_people(t['threshold'])}), planned residual "
             f"{_people(t['planned_residual'])} {t['unit'] or ''}, "
             f"filled inner {t['inner_filled_lots']}/{t['inner_target_lots']} outer "
             f"{t['outer_filled_lots']}/{t['outer_target_lots']} lots, residual {_people(t['residual'])}",
             ""]
    head = f"{'time (UTC)':<16}{'+prev':>11}{'since md':>12}  {'step':<12}{'what':<38}detail"
    lines += [head, "-" * min(width, len(head) + 20)]
    for s in tr["steps"]:
        lines.append(f"{s['time'][11:]:<16}{fmt_ns(s['dt_prev_ns'], True):>11}{fmt_ns(s['since_md_ns'], True):>12}  "
                     f"{s['step']:<12}{s['what'][:37]:<38}{s['detail']}")
    first, last = (tr["steps"][0], tr["steps"][-1]) if tr["steps"] else (None, None)
    if first:
        lines += ["", f"{len(tr['steps'])} steps from {first['time']} to {last['time']} "
                      f"({fmt_ns(last['ts_ns'] - first['ts_ns'])})"]
    return "\n".join(lines) + "\n"


def render_json(tr: dict) -> str:
    return json.dumps(tr, indent=2, default=str)
