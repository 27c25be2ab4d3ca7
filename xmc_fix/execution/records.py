"""What the engine writes down: audit rows for tickets, transitions, orders and fills, and the
journal's records of tickets and orders.

The audit sink is a queue to the writer process and the journal one ``os.write``: nothing here
blocks. The rows' shapes are the audit schema's (:mod:`xmc_fix.audit.models`); the journal's are
:mod:`xmc_fix.execution.journal`'s.
"""

from __future__ import annotations

from decimal import Decimal
from json.encoder import encode_basestring_ascii as _js
from typing import Protocol

from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import LegRole
from xmc_fix.domain.orders import Fill, Order
from xmc_fix.domain.tickets import Ticket, Transition

MS = 1_000_000


class AuditSink(Protocol):
    run_id: str

    def record(self, table: str, row: dict) -> None: ...
    def event(self, kind: str, ts_ns: int, **kw) -> None: ...


class JournalSink(Protocol):
    def write(self, kind: str, **fields) -> None: ...
    def write_json(self, kind: str, body: str) -> None: ...


class NullJournal:
    def write(self, kind: str, **fields) -> None:
        pass

    def write_json(self, kind: str, body: str) -> None:
        pass


def units(d: Decimal) -> str:
    """A quantity for people: at most six decimals, no trailing zeros."""
    q = d.quantize(Decimal("0.000001")).normalize()
    return format(q, "f")


def book_top(top) -> list:
    """((bid, size), (ask, size)) as text for a JSON record."""
    return [[str(x) for x in lvl] if lvl else None for lvl in top]


# -- journal records -------------------------------------------------------------------------------
def cmd_record(c: NewOrder, ticket_id: str, leg: str, role: str, created_ns: int) -> dict:
    """An order as the journal keeps it (plain strings: no encoder hooks on the hot path)."""
    return {"ticket_id": ticket_id, "leg": leg, "role": role, "cl_ord_id": c.cl_ord_id,
            "instrument": c.instrument.name, "side": c.side.value, "qty": str(c.qty),
            "ord_type": c.ord_type.value, "price": str(c.price) if c.price is not None else None,
            "tif": c.tif.value, "account": c.account,
            "position_effect": c.position_effect.value if c.position_effect else None, "created_ns": created_ns}


def _jn(v: str | None) -> str:
    return "null" if v is None else _js(v)


def cmd_json(c: NewOrder, ticket_id: str, leg: str, role: str, created_ns: int) -> str:
    """:func:`cmd_record` as the JSON text ``json.dumps(..., separators=(",", ":"))`` makes of it,
    without building the dict (strings through the same C escaper ``json.dumps`` uses)."""
    pe = c.position_effect
    return (f'{{"ticket_id":{_js(ticket_id)},"leg":{_js(leg)},"role":{_js(role)},"cl_ord_id":{_js(c.cl_ord_id)},'
            f'"instrument":{_js(c.instrument.name)},"side":{_js(c.side.value)},"qty":{_js(str(c.qty))},'
            f'"ord_type":{_js(c.ord_type.value)},"price":{_jn(str(c.price) if c.price is not None else None)},'
            f'"tif":{_js(c.tif.value)},"account":{_jn(c.account)},'
            f'"position_effect":{_jn(pe.value if pe else None)},"created_ns":{int(created_ns)}}}')


def intent_json(ticket_id: str, pair: str, direction: str, intent: str, created_ns: int, closes: str | None,
                aim: Decimal, lots: tuple[Decimal, Decimal], decision: tuple, orders: list[str]) -> str:
    """The fields of a ticket's ``intent`` journal line (its ticket and the orders it sends first,
    ``orders`` rendered by :func:`cmd_json`) as one JSON object's text, the same text
    ``json.dumps(..., separators=(",", ":"))`` makes of the dict :func:`intent_record` builds: the
    hot path renders it directly (a third of the time), :func:`replay` reads it as before.
    ``decision``: basis, threshold, inner_px, outer_px, outer_converted, fx, planned_residual."""
    basis, threshold, inner_px, outer_px, converted, fx, planned = decision
    return (f'{{"ticket":{{"ticket_id":{_js(ticket_id)},"pair":{_js(pair)},"direction":{_js(direction)},'
            f'"intent":{_js(intent)},"created_ns":{int(created_ns)},"state":"PENDING","closes":{_jn(closes)},'
            f'"aim":{_js(str(aim))},"lots":{{"INNER":{_js(str(lots[0]))},"OUTER":{_js(str(lots[1]))}}},'
            f'"decision":{{"basis":{_js(str(basis))},"threshold":{_js(str(threshold))},'
            f'"inner_px":{_js(str(inner_px))},"outer_px":{_js(str(outer_px))},'
            f'"outer_converted":{_js(str(converted))},"fx":{_js(str(fx))},'
            f'"planned_residual":{_js(str(planned))}}}}},"orders":[{",".join(orders)}]}}')


def intent_record(ticket_id: str, pair: str, direction: str, intent: str, created_ns: int, closes: str | None,
                  aim: Decimal, lots: tuple[Decimal, Decimal], decision: tuple, orders: list[dict]) -> dict:
    """The fields of an ``intent`` journal line as a dict (``orders``: :func:`cmd_record` dicts);
    :func:`intent_json` renders the same as text."""
    basis, threshold, inner_px, outer_px, converted, fx, planned = decision
    return {"ticket": {
        "ticket_id": ticket_id, "pair": pair, "direction": direction, "intent": intent,
        "created_ns": created_ns, "state": "PENDING", "closes": closes, "aim": str(aim),
        "lots": {"INNER": str(lots[0]), "OUTER": str(lots[1])},
        "decision": {"basis": str(basis), "threshold": str(threshold), "inner_px": str(inner_px),
                     "outer_px": str(outer_px), "outer_converted": str(converted), "fx": str(fx),
                     "planned_residual": str(planned)}},
        "orders": orders}


def order_record(o: Order) -> dict:
    rec = cmd_record(o.command, o.ticket_id, o.leg.value, o.role.value, o.created_ns)
    if o.aliases:
        rec["aliases"] = list(o.aliases)
    return rec


def ticket_record(t: Ticket, closes: str | None) -> dict:
    d = t.decision
    return {"ticket_id": t.ticket_id, "pair": t.pair, "direction": t.direction.value, "intent": t.intent.value,
            "created_ns": t.created_ns, "state": t.state.value, "closes": closes, "aim": t.aim,
            "lots": {r.value: leg.target_lots for r, leg in t.legs.items()},
            "decision": {"basis": d.basis, "threshold": d.threshold, "inner_px": d.inner_px,
                         "outer_px": d.outer_px, "outer_converted": d.outer_converted, "fx": d.fx,
                         "planned_residual": d.planned_residual}}


# -- audit rows ------------------------------------------------------------------------------------
class Records:
    """Audit rows about tickets and orders, for one run."""

    def __init__(self, audit: AuditSink) -> None:
        self.audit = audit

    def ticket(self, t: Ticket, repairs: list[str] | None, md_recv_ns: int | None) -> None:
        d = t.decision
        inner, outer = t.legs[LegRole.INNER], t.legs[LegRole.OUTER]
        row = {
            "ticket_id": t.ticket_id, "run_id": self.audit.run_id, "pair": t.pair,
            "direction": t.direction.value, "intent": t.intent.value, "state": t.state.value,
            "created_ns": t.created_ns, "sent_ns": t.sent_ns, "ended_ns": t.ended_ns,
            "basis": d.basis, "threshold": d.threshold, "inner_px": d.inner_px, "outer_px": d.outer_px,
            "outer_converted": d.outer_converted, "fx": d.fx, "unit": t.unit,
            "planned_residual": d.planned_residual,
            "inner_target_lots": inner.target_lots, "outer_target_lots": outer.target_lots,
            "inner_filled_lots": inner.filled_lots, "outer_filled_lots": outer.filled_lots,
            "residual": t.residual,
            "reason": t.transitions[-1].cause if t.transitions else None,
            "repairs": ",".join(repairs) if repairs else None,
        }
        if md_recv_ns is not None:
            row["md_recv_ns"] = md_recv_ns
            row["decision"] = {
                "inner_book": book_top(d.inner_book), "outer_book": book_top(d.outer_book),
                "inner_age_ms": d.inner_age_ns / MS, "outer_age_ms": d.outer_age_ns / MS,
                "fx_age_ms": d.fx_age_ns / MS if d.fx_age_ns is not None else None,
                "aim": str(t.aim),
            }
        self.audit.record("tickets", row)

    def transition(self, t: Ticket, tr: Transition) -> None:
        self.audit.record("ticket_events", {
            "run_id": self.audit.run_id, "ticket_id": t.ticket_id, "ts_ns": tr.ts_ns,
            "from_state": tr.from_state.value, "to_state": tr.to_state.value, "trigger": tr.trigger.value,
            "cause": tr.cause})

    def order(self, o: Order) -> None:
        c = o.command
        self.audit.record("orders", {
            "cl_ord_id": c.cl_ord_id, "run_id": self.audit.run_id, "ticket_id": o.ticket_id, "leg": o.leg.value,
            "role": o.role.value, "venue": c.instrument.venue, "symbol": c.instrument.symbol,
            "side": c.side.value, "qty": o.qty, "ord_type": c.ord_type.value, "price": c.price,
            "tif": c.tif.value, "position_effect": c.position_effect.value if c.position_effect else None,
            "account": c.account, "status": o.status.value, "cum_qty": o.filled_qty, "avg_px": o.avg_px,
            "order_id": o.order_id, "created_ns": o.created_ns, "sent_ns": o.sent_ns, "ack_ns": o.ack_ns,
            "done_ns": o.done_ns, "text": o.text})

    def fill(self, order: Order, f: Fill) -> None:
        self.audit.record("fills", {
            "run_id": self.audit.run_id, "venue": order.instrument.venue, "exec_id": f.exec_id,
            "cl_ord_id": order.cl_ord_id, "ticket_id": order.ticket_id, "symbol": order.instrument.symbol,
            "side": order.side.value, "qty": f.qty, "price": f.price, "venue_ns": f.venue_ns, "recv_ns": f.recv_ns})
