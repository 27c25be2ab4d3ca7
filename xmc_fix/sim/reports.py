"""The simulator's application messages as FIX text: execution reports in the dialect of the session
they go to, order cancel rejects, business message rejects, and the answers to a
RequestForPositions.

A venue event becomes one :class:`Report` (a frozen fact: what happened to which order, as it stood
then); :func:`render_report` writes it for a FIX 4.4 session (ExecType F / G / H / I, CopyMsgIndicator
on drop copies) or a FIX 4.2 one (ExecTransType 0 new / 1 cancel / 2 correct / 3 status, ExecType 1 /
2 for partial fill / fill, as FIX 4.2 defines them), so one event reaches an order session and its
drop copies with the same ExecID in each session's own dialect. The tables below are the mapping.

Only the message body is produced (from the first field after MsgType); the header, BodyLength and
CheckSum are QuickFIX's. Nothing here validates: what each function writes is checked against the
receiving dictionaries by the unit and integration tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from xmc_fix.domain.enums import OrdStatus
from xmc_fix.fixwire import SOH, format_utc
from xmc_fix.sim.matching import SimOrder
from xmc_fix.venues import translate as tr

ZERO = Decimal(0)
FIX42 = "FIX.4.2"


class Kind(enum.Enum):
    """What an execution report says happened (ExecType, and in FIX 4.2 ExecTransType)."""

    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    STATUS = "STATUS"
    DONE_FOR_DAY = "DONE_FOR_DAY"
    SUSPENDED = "SUSPENDED"
    RESTATED = "RESTATED"
    EXPIRED = "EXPIRED"
    TRADE_CANCEL = "TRADE_CANCEL"
    TRADE_CORRECT = "TRADE_CORRECT"


#: FIX 4.3 and later: ExecType (150) per kind.
EXEC_TYPE_44 = {
    Kind.NEW: "0", Kind.TRADE: "F", Kind.CANCELED: "4", Kind.REPLACED: "5", Kind.REJECTED: "8",
    Kind.STATUS: "I", Kind.DONE_FOR_DAY: "3", Kind.SUSPENDED: "9", Kind.RESTATED: "D", Kind.EXPIRED: "C",
    Kind.TRADE_CANCEL: "H", Kind.TRADE_CORRECT: "G",
}
#: FIX 4.2: (ExecTransType (20), ExecType (150)); ExecType None = by the order's state: "2" (fill)
#: when it is filled, else "1" (partial fill) — for a status report, the OrdStatus itself.
EXEC_TYPE_42 = {
    Kind.NEW: ("0", "0"), Kind.TRADE: ("0", None), Kind.CANCELED: ("0", "4"), Kind.REPLACED: ("0", "5"),
    Kind.REJECTED: ("0", "8"), Kind.STATUS: ("3", None), Kind.DONE_FOR_DAY: ("0", "3"),
    Kind.SUSPENDED: ("0", "9"), Kind.RESTATED: ("0", "D"), Kind.EXPIRED: ("0", "C"),
    Kind.TRADE_CANCEL: ("1", None), Kind.TRADE_CORRECT: ("2", None),
}
#: ExecRestatementReason (378) values FIX 4.2 defines; another one is sent as 4 (broker option).
RESTATEMENT_REASONS_42 = frozenset({"0", "1", "2", "3", "4", "5"})
#: OrdRejReason (103) values FIX 4.2 defines; another one (11 unsupported, 13 quantity, 99 other)
#: is sent as 0 (broker / exchange option).
ORD_REJ_REASONS_42 = frozenset({"0", "1", "2", "3", "4", "5", "6", "7", "8"})
#: BusinessRejectReason (380) "not authorized" (6) arrived with FIX 4.3; FIX 4.2 says 3 (unsupported).
NOT_AUTHORIZED = {FIX42: "3"}


def ord_status_code(o: SimOrder) -> str:
    """OrdStatus (39) of an order now: a venue state the domain enum has no member for (done for
    day, suspended) wins, as FIX's order state precedence says."""
    return o.wire_status or tr.ORD_STATUS_FIX.get(o.status, "0")


@dataclass(frozen=True, slots=True)
class Report:
    """One execution report as the venue means it, before it is written for a session."""

    kind: Kind
    exec_id: str
    order_id: str
    cl_ord_id: str
    ord_status: str
    symbol: str
    side: str
    leaves: Decimal
    cum: Decimal
    avg_px: Decimal
    transact_ns: int
    orig_cl_ord_id: str | None = None
    account: str | None = None
    order_qty: Decimal | None = None
    ord_type: str | None = None
    price: Decimal | None = None
    tif: str | None = None
    position_effect: str | None = None
    last_qty: Decimal | None = None
    last_px: Decimal | None = None
    exec_ref_id: str | None = None
    text: str | None = None
    rej_reason: str | None = None
    restatement_reason: str | None = None
    ord_status_req_id: str | None = None
    mass_status_req_id: str | None = None
    tot_num_reports: int | None = None
    last_rpt_requested: bool | None = None


def order_report(o: SimOrder, kind: Kind, exec_id: str, now_ns: int, *,
                 at: tuple[Decimal, Decimal] | None = None, status: str | None = None, **extra) -> Report:
    """A report about ``o`` as it stands, or as it stood at (CumQty, notional) ``at`` — for a fill
    reported after later fills of the same match were already applied."""
    cum, notional, leaves = o.cum_qty, o.notional, o.leaves
    code = ord_status_code(o)
    if at is not None:
        cum, notional = at
        leaves = o.qty - cum
        code = tr.ORD_STATUS_FIX[OrdStatus.FILLED if leaves <= 0 else
                                 OrdStatus.PARTIALLY_FILLED if cum else OrdStatus.NEW]
    if kind is Kind.REJECTED:
        code = "8"
    if status is not None:
        code = status
    if code in ("2", "3", "4", "8", "C") or kind in (Kind.REJECTED, Kind.CANCELED):
        leaves = ZERO
    return Report(kind=kind, exec_id=exec_id, order_id=o.order_id, cl_ord_id=o.cl_ord_id, ord_status=code,
                  symbol=o.symbol, side=tr.SIDE[o.side], leaves=max(leaves, ZERO), cum=cum,
                  avg_px=notional / cum if cum else ZERO, transact_ns=now_ns, account=o.account,
                  order_qty=o.qty or None, ord_type=tr.ORD_TYPE[o.ord_type], price=o.price,
                  tif=tr.TIME_IN_FORCE[o.tif],
                  position_effect=tr.POSITION_EFFECT[o.position_effect] if o.position_effect else None, **extra)


def render_report(r: Report, begin: str, *, copy: bool = False) -> str:
    """The ExecutionReport body for a session speaking ``begin``; ``copy``: sent on a drop copy."""
    fix42 = begin == FIX42
    parts = [f"37={r.order_id}", f"11={r.cl_ord_id}"]
    if r.orig_cl_ord_id:
        parts.append(f"41={r.orig_cl_ord_id}")
    parts.append(f"17={r.exec_id}")
    if fix42:
        trans, exec_type = EXEC_TYPE_42[r.kind]
        if exec_type is None:
            exec_type = r.ord_status if r.kind is Kind.STATUS else ("2" if r.ord_status == "2" else "1")
        parts.append(f"20={trans}")
    else:
        exec_type = EXEC_TYPE_44[r.kind]
    if r.exec_ref_id:
        parts.append(f"19={r.exec_ref_id}")
    parts += [f"150={exec_type}", f"39={r.ord_status}"]
    if r.account:
        parts.append(f"1={r.account}")
    parts += [f"55={r.symbol}", f"54={r.side}"]
    if r.order_qty:
        parts.append(f"38={tr.fmt_dec(r.order_qty)}")
    if r.ord_type:
        parts.append(f"40={r.ord_type}")
    if r.price is not None:
        parts.append(f"44={tr.fmt_dec(r.price)}")
    if r.tif:
        parts.append(f"59={r.tif}")
    if r.position_effect and not (fix42 and r.position_effect not in ("O", "C")):
        parts.append(f"77={r.position_effect}")
    if r.last_qty is not None:
        parts += [f"32={tr.fmt_dec(r.last_qty)}", f"31={tr.fmt_dec(r.last_px or ZERO)}"]
    parts += [f"151={tr.fmt_dec(r.leaves)}", f"14={tr.fmt_dec(r.cum)}", f"6={tr.fmt_dec(r.avg_px)}",
              f"60={format_utc(r.transact_ns)}"]
    if r.text:
        parts.append(f"58={r.text}")
    if r.rej_reason:
        parts.append(f"103={r.rej_reason if not fix42 or r.rej_reason in ORD_REJ_REASONS_42 else '0'}")
    if r.restatement_reason:
        reason = r.restatement_reason
        if fix42 and reason not in RESTATEMENT_REASONS_42:
            reason = "4"
        parts.append(f"378={reason}")
    if not fix42:
        if r.ord_status_req_id:
            parts.append(f"790={r.ord_status_req_id}")
        if r.mass_status_req_id is not None:
            parts += [f"584={r.mass_status_req_id}", f"911={r.tot_num_reports}",
                      f"912={'Y' if r.last_rpt_requested else 'N'}"]
        if copy:
            parts.append("797=Y")
    return SOH.join(parts) + SOH


def render_unknown_status(cl_ord_id: str, exec_id: str, symbol: str, side: str, now_ns: int, begin: str, *,
                          text: str = "unknown order", mass: tuple[str, int, bool] | None = None,
                          status_req_id: str | None = None) -> str:
    """The answer to a status request for an order the venue does not know — or, with ``mass``
    (MassStatusReqID, TotNumReports, LastRptRequested), to a mass status request no order matches:
    ExecType Order Status, OrdStatus Rejected, OrderID NONE, nothing working or done."""
    parts = ["37=NONE", f"11={cl_ord_id or 'NONE'}", f"17={exec_id}"]
    if begin == FIX42:
        parts.append("20=3")
        parts.append("150=8")
    else:
        parts.append("150=I")
    parts.append("39=8")
    if symbol:
        parts.append(f"55={symbol}")
    parts += [f"54={side or '1'}", "151=0", "14=0", "6=0", f"60={format_utc(now_ns)}", f"58={text}"]
    if begin != FIX42:
        if status_req_id:
            parts.append(f"790={status_req_id}")
        if mass is not None:
            parts += [f"584={mass[0]}", f"911={mass[1]}", f"912={'Y' if mass[2] else 'N'}"]
    return SOH.join(parts) + SOH


def render_cancel_reject(order_id: str, cl_ord_id: str, orig: str, status: str, response_to: str, reason: str,
                         text: str, begin: str = "FIX.4.4") -> str:
    """OrderCancelReject (9): ``response_to`` 1 cancel, 2 cancel/replace; CxlRejReason ``reason``
    (FIX 4.2 knows only 0 to 3: another one is sent as 2, broker / exchange option)."""
    if begin == FIX42 and reason not in ("0", "1", "2", "3"):
        reason = "2"
    return (f"37={order_id}{SOH}11={cl_ord_id}{SOH}41={orig}{SOH}39={status}{SOH}434={response_to}{SOH}"
            f"102={reason}{SOH}58={text}{SOH}")


def render_business_reject(ref_seq: str, ref_msg_type: str, reason: str, text: str, ref_id: str | None = None) -> str:
    """BusinessMessageReject (j) of a client message: RefSeqNum, RefMsgType, BusinessRejectRefID."""
    return (f"45={ref_seq}{SOH}372={ref_msg_type}{SOH}380={reason}{SOH}58={text}{SOH}"
            + (f"379={ref_id}{SOH}" if ref_id else ""))


def render_positions_ack(rpt_id: str, req_id: str, total: int, result: str, status: str, account: str,
                         account_type: str, text: str | None = None) -> str:
    """RequestForPositionsAck (AO): PosReqResult 0 valid / 1 unsupported / 2 no positions;
    PosReqStatus 0 completed / 2 rejected."""
    return (f"721={rpt_id}{SOH}710={req_id}{SOH}727={total}{SOH}728={result}{SOH}729={status}{SOH}"
            f"1={account}{SOH}581={account_type}{SOH}" + (f"58={text}{SOH}" if text else ""))


def render_position_report(rpt_id: str, req_id: str, total: int, business_date: str, account: str,
                           account_type: str, symbol: str, security_id: str | None, settle: Decimal,
                           prior_settle: Decimal, entries: list[tuple[str, Decimal, Decimal]]) -> str:
    """PositionReport (AP) for one instrument of one account: ``entries`` (PosType, LongQty,
    ShortQty) in the NoPositions group, written last so nothing follows the group."""
    ident = f"55={symbol}{SOH}" + (f"48={security_id}{SOH}22=8{SOH}" if security_id else "")
    head = (f"721={rpt_id}{SOH}710={req_id}{SOH}724=0{SOH}727={total}{SOH}325=N{SOH}728=0{SOH}"
            f"715={business_date}{SOH}1={account}{SOH}581={account_type}{SOH}{ident}"
            f"730={tr.fmt_dec(settle)}{SOH}731=2{SOH}734={tr.fmt_dec(prior_settle)}{SOH}")
    group = f"702={len(entries)}{SOH}" + "".join(
        f"703={t}{SOH}704={tr.fmt_dec(lq)}{SOH}705={tr.fmt_dec(sq)}{SOH}" for t, lq, sq in entries)
    return head + group
