"""The audit rows a crashed run's journal implies and its database lacks or has stale.

The journal (:mod:`xmc_fix.execution.journal`) holds, for the run that wrote it since its start,
every ticket (``intent``, ``ticket``), every order about to leave (``intent``, ``order``), every fill
booked (``fill``: ClOrdID, ExecID, lots, price) and every ticket's end (``end``: its final state),
each with its wall time ``t``. Compared with the ``tickets``, ``orders`` and ``fills`` rows the
audit database has, that gives:

- tickets the database lacks (written with what the journal knew: the decision's prices, the target
  and filled lots, the final state when it had ended), and tickets it has in another state than the
  one the journal ended them in (the journal is written first, the database after: their state, end
  time and filled lots are brought up to date);
- orders it lacks, and orders whose fills it lacks (cumulative quantity and average price from the
  journal's fills); the status follows from the fills, and for an order of an ended ticket that was
  not filled, from what was sent (a cancel request: CANCELED; IOC or FOK: EXPIRED; else CANCELED),
  and the row's ``text`` says it was inferred: the venue's last report was lost;
- fills it lacks (those the journal booked with an ExecID).

Each row is marked ``recovered = 'journal'``. Pure over the journal's records and a read of the
database: nothing is written here (:mod:`xmc_fix.audit.recovery` writes). It does not recover what
the journal never held: ticket transitions, events, the venue's OrderID and acknowledgement times.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from xmc_fix.audit import models
from xmc_fix.domain.enums import Direction, LegRole, OrdStatus

ZERO = Decimal(0)
_INFERRED = "recovered from the journal after a crash: status inferred (the venue's last report was lost)"


@dataclass
class JournalRows:
    new_tickets: list[dict] = field(default_factory=list)
    ticket_updates: list[dict] = field(default_factory=list)
    new_orders: list[dict] = field(default_factory=list)
    order_updates: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_ns: int = 0


def _dec(v) -> Decimal | None:
    if v is None:
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def _terminal_order(status: str | None) -> bool:
    try:
        return OrdStatus(status).is_terminal
    except ValueError:
        return False


@dataclass
class _Seen:
    tickets: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    ends: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    fills: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    last_ns: int = 0


def _fold(records: list[dict]) -> _Seen:
    s = _Seen()
    for r in records:
        k, t = r.get("k"), r.get("t")
        if isinstance(t, int):
            s.last_ns = max(s.last_ns, t)
        try:
            if k == "intent":
                s.tickets[r["ticket"]["ticket_id"]] = r["ticket"]
                for o in r.get("orders") or ():
                    s.orders[o["cl_ord_id"]] = o
            elif k == "ticket":
                s.tickets[r["ticket_id"]] = r
            elif k == "order":
                s.orders[r["cl_ord_id"]] = r
            elif k == "end":
                s.ends[r["ticket_id"]] = (r.get("state"), t if isinstance(t, int) else None)
            elif k == "reopen":
                s.ends.pop(r["ticket_id"], None)
            elif k == "fill":
                s.fills[r["cl_ord_id"]].append(r)
        except (KeyError, TypeError):
            continue        # a record of a shape this version does not know: what it says is not used
    return s


def journal_rows(conn, run_id: str, records: list[dict], instruments: dict[str, tuple[str, str]],
                 sent: dict[str, tuple[str | None, str, int | None]]) -> JournalRows:
    """The rows to write for ``run_id`` (module docstring). ``sent``: ClOrdID -> (venue, MsgType, time)
    of each NewOrderSingle the run sent (and ``cancel:<ClOrdID>`` of each cancel request), from the
    database and QuickFIX's store."""
    s = _fold(records)
    out = JournalRows(last_ns=s.last_ns)
    db_tickets = _existing(conn, models.tickets, "ticket_id", list(s.tickets))
    db_orders = _existing(conn, models.orders, "cl_ord_id", list(s.orders))
    f = models.fills
    db_fills = set()
    cls = list(s.orders)
    for i in range(0, len(cls), 500):
        db_fills |= {tuple(x) for x in conn.execute(select(f.c.venue, f.c.exec_id, f.c.cl_ord_id).where(
            f.c.cl_ord_id.in_(cls[i:i + 500])))}

    filled: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for cl, o in s.orders.items():
        tid = o.get("ticket_id")
        ended = s.ends.get(tid)
        cum, avg = _cum(o, s.fills.get(cl, ()))
        leg_side = _leg_side(s.tickets.get(tid), o.get("leg"))
        filled[tid][o.get("leg", "")] += -cum if leg_side is not None and o.get("side") != leg_side else cum
        venue, symbol = instruments.get(o.get("instrument"), (None, None))
        venue = venue or (sent.get(cl) or (None,))[0]
        if venue is None:
            out.notes.append(f"order {cl}: instrument {o.get('instrument')} is not in the strategy and the order "
                             "was not seen sent: not recovered")
            continue
        status = _status(o, cum, ended is not None, sent)
        done_ns = ended[1] if ended is not None and (status is not None and _terminal_order(status)) else None
        have = db_orders.get(cl)
        if have is None:
            out.new_orders.append({
                "cl_ord_id": cl, "run_id": run_id, "ticket_id": tid, "leg": o.get("leg"), "role": o.get("role"),
                "venue": venue, "symbol": symbol or o.get("instrument"), "side": o.get("side"),
                "qty": _dec(o.get("qty")), "ord_type": o.get("ord_type"), "price": _dec(o.get("price")),
                "tif": o.get("tif"), "position_effect": o.get("position_effect"), "account": o.get("account"),
                "status": status, "cum_qty": cum, "avg_px": avg, "order_id": None,
                "created_ns": o.get("created_ns") or s.last_ns, "sent_ns": (sent.get(cl) or (0, 0, None))[2],
                "ack_ns": None, "done_ns": done_ns,
                "text": _INFERRED if ended is not None and status != OrdStatus.FILLED.value else
                "recovered from the journal after a crash",
                "recovered": models.RECOVERED_FROM_JOURNAL})
        else:
            db_cum = _dec(have.get("cum_qty")) or ZERO
            stale = not _terminal_order(have.get("status")) and ended is not None
            if cum > db_cum or stale:
                keep = _terminal_order(have.get("status")) and status != OrdStatus.FILLED.value
                out.order_updates.append({
                    "cl_ord_id": cl, "status": have.get("status") if keep else status,
                    "cum_qty": max(cum, db_cum), "avg_px": avg if cum > db_cum else have.get("avg_px"),
                    "done_ns": have.get("done_ns") or done_ns,
                    "text": _INFERRED if stale and status != OrdStatus.FILLED.value else
                    "fills recovered from the journal after a crash",
                    "recovered": models.RECOVERED_FROM_JOURNAL})
        for fr in s.fills.get(cl, ()):
            qty, px, exec_id = _dec(fr.get("qty")), _dec(fr.get("px")), fr.get("exec_id")
            if not exec_id or qty is None or qty <= 0 or px is None or (venue, exec_id, cl) in db_fills:
                continue
            db_fills.add((venue, exec_id, cl))
            out.fills.append({"run_id": run_id, "venue": venue, "exec_id": exec_id, "cl_ord_id": cl, "ticket_id": tid,
                              "symbol": symbol or o.get("instrument"), "side": fr.get("side") or o.get("side"),
                              "qty": qty, "price": px, "venue_ns": None,
                              "recv_ns": fr.get("t") or o.get("created_ns") or s.last_ns,
                              "recovered": models.RECOVERED_FROM_JOURNAL})

    for tid, t in s.tickets.items():
        ended = s.ends.get(tid)
        legs = filled.get(tid, {})
        have = db_tickets.get(tid)
        if have is None:
            d = t.get("decision") or {}
            lots = t.get("lots") or {}
            entries = [sent[c][2] for c, o in s.orders.items()
                       if o.get("ticket_id") == tid and o.get("role") == "ENTRY" and c in sent]
            state = ended[0] if ended else ("WORKING" if entries else t.get("state") or "PENDING")
            out.new_tickets.append({
                "ticket_id": tid, "run_id": run_id, "pair": t.get("pair"), "direction": t.get("direction"),
                "intent": t.get("intent"), "state": state, "created_ns": t.get("created_ns") or s.last_ns,
                "sent_ns": max([x for x in entries if x], default=None),
                "ended_ns": (ended[1] or s.last_ns) if ended else None,
                "basis": _dec(d.get("basis")), "threshold": _dec(d.get("threshold")),
                "inner_px": _dec(d.get("inner_px")), "outer_px": _dec(d.get("outer_px")),
                "outer_converted": _dec(d.get("outer_converted")), "fx": _dec(d.get("fx")),
                "planned_residual": _dec(d.get("planned_residual")),
                "inner_target_lots": _dec(lots.get("INNER")), "outer_target_lots": _dec(lots.get("OUTER")),
                "inner_filled_lots": legs.get("INNER", ZERO), "outer_filled_lots": legs.get("OUTER", ZERO),
                "reason": f"recovered from the journal after a crash{f' (ended {ended[0]})' if ended else ''}",
                "recovered": models.RECOVERED_FROM_JOURNAL})
        elif ended is not None and have.get("state") != ended[0]:
            # the journal is written before the database is asked to: a different state there is stale
            out.ticket_updates.append({
                "ticket_id": tid, "state": ended[0], "ended_ns": ended[1] or s.last_ns,
                "inner_filled_lots": legs.get("INNER", _dec(have.get("inner_filled_lots")) or ZERO),
                "outer_filled_lots": legs.get("OUTER", _dec(have.get("outer_filled_lots")) or ZERO),
                "reason": f"ended {ended[0]} before the crash (recovered from the journal; the database had "
                          f"{have.get('state')})",
                "recovered": models.RECOVERED_FROM_JOURNAL})
    return out


def _leg_side(ticket: dict | None, leg: str | None) -> str | None:
    """The side a ticket's leg trades in (its unwind orders trade the other way)."""
    try:
        return Direction(ticket["direction"]).side(LegRole(leg)).value
    except (KeyError, TypeError, ValueError):
        return None


def _existing(conn, table, key: str, keys: list[str]) -> dict[str, dict]:
    out = {}
    for i in range(0, len(keys), 500):
        for row in conn.execute(select(*models.stored_columns(conn, table)).where(
                table.c[key].in_(keys[i:i + 500]))).mappings():
            out[row[key]] = dict(row)
    return out


def _cum(order: dict, fills) -> tuple[Decimal, Decimal | None]:
    """The order's cumulative lots and average price: what it had when the journal was compacted,
    then every fill booked after (a bust books the lots back off at their price)."""
    cum = _dec(order.get("cum_qty")) or ZERO
    avg = _dec(order.get("avg_px"))
    notional = cum * (avg or ZERO)
    for f in fills:
        q, px = _dec(f.get("qty")), _dec(f.get("px"))
        if q is None or px is None:
            continue
        cum += q
        notional += q * px
    return cum, (notional / cum if cum > 0 else None)


def _status(order: dict, cum: Decimal, ended: bool, sent: dict) -> str:
    qty = _dec(order.get("qty")) or ZERO
    cl = order.get("cl_ord_id")
    if qty > 0 and cum >= qty:
        return OrdStatus.FILLED.value
    if ended:   # a ticket ends only once every order of it is done
        if f"cancel:{cl}" in sent:
            return OrdStatus.CANCELED.value
        return OrdStatus.EXPIRED.value if order.get("tif") in ("IOC", "FOK") else OrdStatus.CANCELED.value
    if cum > 0:
        return OrdStatus.PARTIALLY_FILLED.value
    return OrdStatus.NEW.value if cl in sent else OrdStatus.PENDING_NEW.value
