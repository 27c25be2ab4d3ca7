"""FIX <-> domain translation, in tables. The only module that knows FIX tag numbers and enum codes
for application messages.

Incoming messages are taken as their wire text (``message.toString()``, under a microsecond) and
split here in Python (about 2 us for a market-data refresh), which measured several times cheaper
than walking QuickFIX groups field by field through SWIG. Outgoing messages are rendered as text and
parsed once by QuickFIX (``quickfix.Message(text, dd, False)``), again several times cheaper than a
``setField`` per tag. Neither path validates: QuickFIX validated incoming messages against the
session's dictionary before the callback, and it fills header, length and checksum on send.

What differs between venues that speak the same FIX version (PositionEffect values, extra order
tags, timestamp precision, enum codes) comes from the session's :class:`~xmc_fix.venues.dialects.
Dialect`; the tag=value format itself from :mod:`xmc_fix.fixwire`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from xmc_fix.domain.commands import (CancelOrder, NewOrder, QueryOrderStatus, ReplaceOrder, RequestMassStatus,
                                     RequestPositions, SubscribeMarketData)
from xmc_fix.domain.enums import (BookAction, BookSide, ExecType, OrdStatus, OrdType, PositionEffect, Side,
                                  TimeInForce)
from xmc_fix.domain.events import (BookEntry, BookSnapshot, BookUpdate, CancelRejected, ExecReport,
                                   MarketDataRejected, MessageRejected, PositionReport, PositionsAck,
                                   Uninterpretable)
from xmc_fix.errors import FixTranslationError
from xmc_fix.fixwire import SOH, fields, format_utc, frame, msg_type_of, parse_utc_ns, split, value_of
from xmc_fix.venues.credentials import mask_fix
from xmc_fix.venues.dialects import FIX44, Dialect

# --- enum tables -----------------------------------------------------------------------------
SIDE = {Side.BUY: "1", Side.SELL: "2"}
ORD_TYPE = {OrdType.MARKET: "1", OrdType.LIMIT: "2"}
TIME_IN_FORCE = {TimeInForce.DAY: "0", TimeInForce.GTC: "1", TimeInForce.IOC: "3", TimeInForce.FOK: "4"}
#: every PositionEffect (77) code any dialect uses; what one venue accepts is in its Dialect
POSITION_EFFECT = {PositionEffect.OPEN: "O", PositionEffect.CLOSE: "C",
                   PositionEffect.CLOSE_TODAY: "T", PositionEffect.CLOSE_YESTERDAY: "Y"}
ORD_STATUS = {
    "0": OrdStatus.NEW, "1": OrdStatus.PARTIALLY_FILLED, "2": OrdStatus.FILLED,
    "3": OrdStatus.DONE_FOR_DAY, "4": OrdStatus.CANCELED, "5": OrdStatus.REPLACED,
    "6": OrdStatus.PENDING_CANCEL, "7": OrdStatus.STOPPED, "8": OrdStatus.REJECTED,
    "9": OrdStatus.SUSPENDED, "A": OrdStatus.PENDING_NEW, "B": OrdStatus.CALCULATED,
    "C": OrdStatus.EXPIRED, "D": OrdStatus.ACCEPTED_FOR_BIDDING, "E": OrdStatus.PENDING_REPLACE,
}
EXEC_TYPE = {
    "0": ExecType.NEW, "F": ExecType.TRADE, "4": ExecType.CANCELED, "5": ExecType.REPLACED,
    "6": ExecType.PENDING_CANCEL, "8": ExecType.REJECTED, "A": ExecType.PENDING_NEW,
    "C": ExecType.EXPIRED, "E": ExecType.PENDING_REPLACE, "I": ExecType.ORDER_STATUS,
    "3": ExecType.DONE_FOR_DAY, "7": ExecType.STOPPED, "9": ExecType.SUSPENDED, "B": ExecType.CALCULATED,
    "D": ExecType.RESTATED, "G": ExecType.TRADE_CORRECT, "H": ExecType.TRADE_CANCEL,
    "J": ExecType.TRADE_IN_CLEARING_HOLD, "K": ExecType.TRADE_RELEASED_TO_CLEARING, "L": ExecType.TRIGGERED,
}
#: without the session's dialect, every version's codes are read (FIX 4.2's partial fill / fill too)
EXEC_TYPE_ANY = {**EXEC_TYPE, "1": ExecType.TRADE, "2": ExecType.TRADE}
#: FIX 4.2 ExecTransType (20): a cancel or correct refers to an earlier fill (ExecRefID); status answers.
EXEC_TRANS_TYPE = {"1": ExecType.TRADE_CANCEL, "2": ExecType.TRADE_CORRECT, "3": ExecType.ORDER_STATUS}
MD_ENTRY_TYPE = {"0": BookSide.BID, "1": BookSide.ASK}
MD_UPDATE_ACTION = {"0": BookAction.NEW, "1": BookAction.CHANGE, "2": BookAction.DELETE}

FIX_SIDE = {v: k for k, v in SIDE.items()}
FIX_ORD_TYPE = {v: k for k, v in ORD_TYPE.items()}
FIX_TIME_IN_FORCE = {v: k for k, v in TIME_IN_FORCE.items()}
FIX_POSITION_EFFECT = {v: k for k, v in POSITION_EFFECT.items()}
ORD_STATUS_FIX = {v: k for k, v in ORD_STATUS.items()}
EXEC_TYPE_FIX = {v: k for k, v in EXEC_TYPE.items()}
BOOK_SIDE_FIX = {v: k for k, v in MD_ENTRY_TYPE.items()}
BOOK_ACTION_FIX = {v: k for k, v in MD_UPDATE_ACTION.items()}

#: CxlRejReason (102) and SessionRejectReason (373) texts, for people reading alerts.
CXL_REJ_REASON = {"0": "too late to cancel", "1": "unknown order", "2": "broker option",
                  "3": "already pending cancel or replace", "6": "duplicate ClOrdID", "99": "other"}
SESSION_REJECT_REASON = {
    "0": "invalid tag number", "1": "required tag missing", "2": "tag not defined for this message type",
    "3": "undefined tag", "4": "tag specified without a value", "5": "value is incorrect for this tag",
    "6": "incorrect data format", "9": "CompID problem", "10": "SendingTime accuracy problem",
    "11": "invalid MsgType", "13": "tag appears more than once", "14": "tag specified out of order",
    "15": "repeating group fields out of order", "16": "incorrect NumInGroup count", "99": "other"}
BUSINESS_REJECT_REASON = {"0": "other", "1": "unknown ID", "2": "unknown security",
                          "3": "unsupported message type", "4": "application not available",
                          "5": "conditionally required field missing", "6": "not authorized"}


# --- per venue -------------------------------------------------------------------------------
class Inbound:
    """What reading one venue's messages needs beyond their text: the session's dialect and the
    MDReqIDs we subscribed with (a refresh entry may name its book only by MDReqID). The sender
    adds a request before it leaves; the QuickFIX thread reads (single dict operations)."""

    __slots__ = ("dialect", "exec_types", "md_symbols")

    MAX_REQUESTS = 10_000   # subscriptions are few; re-subscriptions after gaps add some

    def __init__(self, dialect: Dialect = FIX44) -> None:
        self.dialect = dialect
        self.exec_types = {**EXEC_TYPE, **dialect.extra_exec_types}
        self.md_symbols: dict[str, str] = {}

    def subscribed(self, md_req_id: str, symbol: str) -> None:
        if len(self.md_symbols) >= self.MAX_REQUESTS:
            del self.md_symbols[next(iter(self.md_symbols))]     # the oldest request
        self.md_symbols[md_req_id] = symbol


def fmt_dec(d: Decimal) -> str:
    """Plain decimal text for the wire (never exponent notation)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def _dec(d: dict[str, str], tag: str, default: Decimal | None = None) -> Decimal:
    v = d.get(tag)
    if v is None or v == "":
        if default is None:
            raise FixTranslationError(f"tag {tag} missing", int(tag), missing=True)
        return default
    try:
        return Decimal(v)
    except InvalidOperation:
        raise FixTranslationError(f"tag {tag}={v!r} is not a number", int(tag)) from None


def _req(d: dict[str, str], tag: str) -> str:
    v = d.get(tag)
    if not v:
        raise FixTranslationError(f"tag {tag} missing", int(tag), missing=True)
    return v


def _enum(table: dict, d: dict[str, str], tag: str):
    v = d.get(tag)
    try:
        return table[v]
    except KeyError:
        if not v:
            raise FixTranslationError(f"tag {tag} missing", int(tag), missing=True) from None
        raise FixTranslationError(f"tag {tag}={v!r} not supported", int(tag)) from None


# --- incoming: wire text -> domain events -----------------------------------------------------
ZERO = Decimal(0)


def decode_execution_report(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> ExecReport:
    d = fields(raw)
    exec_type = EXEC_TRANS_TYPE.get(d.get("20", "0")) or _enum(EXEC_TYPE_ANY if ctx is None else ctx.exec_types,
                                                                 d, "150")
    return ExecReport(
        venue=venue,
        cl_ord_id=d.get("11") or ("" if d.get("584") else _req(d, "11")),   # a mass status "no orders" has none
        orig_cl_ord_id=d.get("41") or None,
        order_id=d.get("37", ""),
        exec_id=_req(d, "17"),
        exec_type=exec_type,
        ord_status=_enum(ORD_STATUS, d, "39"),
        side=_enum(FIX_SIDE, d, "54"),
        symbol=d.get("55", ""),
        order_qty=_dec(d, "38", ZERO) if "38" in d else None,
        cum_qty=_dec(d, "14", ZERO),
        leaves_qty=_dec(d, "151", ZERO),
        last_qty=_dec(d, "32", ZERO),
        last_px=_dec(d, "31", ZERO),
        avg_px=_dec(d, "6", ZERO),
        text=d.get("58"),
        poss_dup=d.get("43") == "Y" or d.get("97") == "Y",
        venue_ns=parse_utc_ns(d.get("60") or d.get("52")),
        recv_ns=recv_ns,
        exec_ref_id=d.get("19") or None,
        restatement_reason=d.get("378") or None,
        account=d.get("1") or None,
        mass_status_req_id=d.get("584") or None,
        tot_num_reports=int(d["911"]) if d.get("911", "").isdigit() else None,
        last_rpt_requested=d.get("912") == "Y",
        ord_rej_reason=d.get("103"),
    )


_GROUP = SOH + "279="             # the first entry of a refresh: MDUpdateAction
_SENDING_TIME = SOH + "52="
_MD_REQ_ID = SOH + "262="
_tuple_new = tuple.__new__        # a named tuple built without its Python-level __new__


def _entries(pairs: list[tuple[str, str]], start_tag: str):
    """Yield each repeating-group entry (a dict) that begins with ``start_tag``."""
    cur: dict[str, str] | None = None
    for tag, value in pairs:
        if tag == start_tag:
            if cur is not None:
                yield cur
            cur = {tag: value}
        elif cur is not None:
            if tag in ("10",):
                break
            cur[tag] = value
    if cur is not None:
        yield cur


def decode_incremental(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> list[BookUpdate]:
    """One BookUpdate per symbol in the refresh, entries in wire order.

    An entry without Symbol (55) belongs to the book our MDReqID (262) asked for: FIX 4.4 makes
    the instrument optional in the entries. RptSeq (83) is per instrument and carried per entry;
    each update keeps its instrument's first and last, so the book can follow a venue that numbers
    every entry as well as one that numbers messages.

    The hot path of market data: the two header fields it needs (SendingTime, MDReqID) are found by
    ``str.find`` rather than walked to, then one pass over the entries' fields; no intermediate dict
    per entry, and the entries are built as tuples directly."""
    start = raw.find(_GROUP)
    if start < 0:
        return []           # no entries (QuickFIX's dictionary requires at least one)
    venue_ns = None
    i = raw.find(_SENDING_TIME, 0, start)
    if i >= 0:
        venue_ns = parse_utc_ns(raw[i + 4:raw.find(SOH, i + 4)])
    req_symbol = None
    if ctx is not None:
        i = raw.find(_MD_REQ_ID, 0, start)
        if i >= 0:
            req_symbol = ctx.md_symbols.get(raw[i + 5:raw.find(SOH, i + 5)])
    by_symbol: dict[str, list[BookEntry]] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    action = side = px = size = sym = seq = None
    actions, sides = MD_UPDATE_ACTION, MD_ENTRY_TYPE

    def close():
        s = sym or req_symbol
        if not s:
            raise FixTranslationError("MD entry without Symbol (55), and its MDReqID (262) is not one of ours",
                                      55, missing=True)
        try:
            e = _tuple_new(BookEntry, (actions[action], sides[side], Decimal(px) if px else ZERO,
                                       Decimal(size) if size else ZERO))
        except KeyError:
            bad = "279" if action not in actions else "269"
            value = action if bad == "279" else side
            raise FixTranslationError(f"tag {bad}={value!r} not supported", int(bad), missing=not value) from None
        except InvalidOperation:
            raise FixTranslationError(f"tag 270/271 not a number: {px!r}/{size!r}", 270) from None
        entries = by_symbol.get(s)
        if entries is None:
            by_symbol[s] = [e]
        else:
            entries.append(e)
        if seq is not None:
            if s not in first:
                first[s] = seq
            last[s] = seq

    for f in raw[start + 1:].split(SOH):
        tag, _, value = f.partition("=")
        if tag == "279":
            if action is not None:
                close()
            action, side, px, size, sym, seq = value, None, None, None, None, None
        elif tag == "269":
            side = value
        elif tag == "270":
            px = value
        elif tag == "271":
            size = value
        elif tag == "55":
            sym = value
        elif tag == "83":
            try:
                seq = int(value)
            except ValueError:
                raise FixTranslationError(f"tag 83={value!r} is not a sequence number", 83) from None
        elif tag == "10":
            break
    close()
    return [_tuple_new(BookUpdate, (venue, s, tuple(e), last.get(s), venue_ns, recv_ns, first.get(s)))
            for s, e in by_symbol.items()]


def decode_snapshot(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> BookSnapshot:
    pairs = split(raw)
    top: dict[str, str] = {}
    for tag, value in pairs:
        if tag == "268":
            break
        top[tag] = value
    bids, asks = [], []
    for e in _entries(pairs, "269"):
        side = _enum(MD_ENTRY_TYPE, e, "269") if e.get("269") in MD_ENTRY_TYPE else None
        if side is None:
            continue  # trades, settlement prices: not book levels
        lvl = (_dec(e, "270"), _dec(e, "271", ZERO))
        (bids if side is BookSide.BID else asks).append(lvl)
    bids.sort(key=lambda x: x[0], reverse=True)
    asks.sort(key=lambda x: x[0])
    seq = top.get("83")
    symbol = top.get("55") or (ctx.md_symbols.get(top.get("262", "")) if ctx is not None else None)
    if not symbol:
        raise FixTranslationError("snapshot without Symbol (55), and its MDReqID (262) is not one of ours", 55,
                                  missing=True)
    try:
        rpt_seq = int(seq) if seq else None
    except ValueError:
        raise FixTranslationError(f"tag 83={seq!r} is not a sequence number", 83) from None
    return BookSnapshot(venue, symbol, tuple(bids), tuple(asks), rpt_seq, parse_utc_ns(top.get("52")), recv_ns)


def decode_md_reject(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> MarketDataRejected:
    d = fields(raw)
    return MarketDataRejected(venue, d.get("262", ""), d.get("58") or f"reason {d.get('281', '?')}", recv_ns)


def decode_cancel_reject(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> CancelRejected:
    d = fields(raw)
    reason = CXL_REJ_REASON.get(d.get("102", ""), d.get("102", "unspecified"))
    if d.get("58"):
        reason = f"{reason}: {d['58']}"
    return CancelRejected(venue, _req(d, "11"), d.get("41") or None, d.get("37") or None,
                          ORD_STATUS.get(d.get("39", "")), reason, recv_ns)


def decode_reject(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> MessageRejected:
    """Session-level Reject (35=3) or BusinessMessageReject (35=j)."""
    d = fields(raw)
    business = d.get("35") == "j"
    if business:
        reason = BUSINESS_REJECT_REASON.get(d.get("380", ""), d.get("380", "unspecified"))
    else:
        reason = SESSION_REJECT_REASON.get(d.get("373", ""), d.get("373", "unspecified"))
        if d.get("371"):
            reason += f" (tag {d['371']})"
    if d.get("58"):
        reason = f"{reason}: {d['58']}"
    seq = d.get("45")
    return MessageRejected(venue, business, int(seq) if seq and seq.isdigit() else None,
                           d.get("372") or None, d.get("379") or None, reason, recv_ns)


#: MsgType -> decoder for application messages the engine consumes.
def decode_positions_ack(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> PositionsAck:
    d = fields(raw)
    total = d.get("727", "0")
    return PositionsAck(venue, d.get("710", ""), _req(d, "728"), d.get("729", "0"), int(total) if total.isdigit() else 0,
                        d.get("1") or None, d.get("58") or None, recv_ns)


def decode_position_report(venue: str, raw: str, recv_ns: int, ctx: Inbound | None = None) -> PositionReport:
    pairs = split(raw)
    # QuickFIX renders body fields in tag order, so the NoPositions group (702) may sit before the
    # request's id (710): read the top level from every field outside the group's own tags
    top = {t: v for t, v in pairs if t not in _POSITION_GROUP_TAGS}
    quantities = tuple((e.get("703", ""), _dec(e, "704", ZERO), _dec(e, "705", ZERO)) for e in _entries(pairs, "703"))
    total = top.get("727", "0")
    return PositionReport(venue, top.get("710", ""), top.get("1") or None, top.get("55", ""), top.get("48") or None,
                          int(total) if total.isdigit() else 0, quantities, recv_ns)


#: tags of a PositionReport's NoPositions entries (PositionQty)
_POSITION_GROUP_TAGS = frozenset({"703", "704", "705", "706", "976", "539", "524", "525", "538", "804", "545", "805"})

APP_DECODERS = {
    "8": decode_execution_report,
    "AO": decode_positions_ack,
    "AP": decode_position_report,
    "X": decode_incremental,
    "W": decode_snapshot,
    "Y": decode_md_reject,
    "9": decode_cancel_reject,
    "j": decode_reject,
}


def uninterpretable(venue: str, raw: str, reason: str, recv_ns: int, ctx: Inbound | None = None) -> Uninterpretable:
    """The event for an application message that could not be read: what it was, which of our
    books it concerned (market data), and its text with secrets masked."""
    mt = msg_type_of(raw)
    seq = value_of(raw, 34)
    symbols: tuple[str, ...] = ()
    if mt in ("W", "X"):
        named = [v for t, v in split(raw) if t == "55" and v]
        req = value_of(raw, 262)
        if ctx is not None and req in ctx.md_symbols:
            named.append(ctx.md_symbols[req])
        symbols = tuple(dict.fromkeys(named))
    return Uninterpretable(venue, mt, int(seq) if seq and seq.isdigit() else None, reason, mask_fix(raw),
                           recv_ns, symbols)


# --- outgoing: commands -> wire text ----------------------------------------------------------
def _message(dialect: Dialect, msg_type: str, body: list[tuple[int, str]]) -> str:
    return frame(dialect.begin_string, msg_type, "".join(f"{t}={v}{SOH}" for t, v in body))


def _instrument(cmd) -> list[tuple[int, str]]:
    inst = cmd.instrument
    out = [(55, inst.symbol)]
    if inst.security_id:
        out += [(48, inst.security_id), (22, "8")]
    return out


def _order_tail(pe: PositionEffect | None, dialect: Dialect) -> list[tuple[int, str]]:
    """PositionEffect as the venue spells it, then the dialect's own order tags (HedgeFlag)."""
    out = [] if pe is None else [(77, dialect.position_effects[pe])]
    return out + list(dialect.order_values)


_NOS_PARTS: dict[tuple, tuple[str, str, str, Dialect]] = {}


def encode_new_order(cmd: NewOrder, now_ns: int, dialect: Dialect = FIX44) -> str:
    """NewOrderSingle text in the session's dialect. What does not change between two orders of the
    same instrument, side, type and dialect is rendered once and kept (the hot path renders
    ClOrdID, time, quantity and price)."""
    key = (id(cmd.instrument), cmd.side, cmd.ord_type, cmd.tif, cmd.account, cmd.position_effect, id(dialect))
    parts = _NOS_PARTS.get(key)
    if parts is None or parts[3] is not dialect:
        head = (f"1={cmd.account}{SOH}" if cmd.account else "") + "".join(f"{t}={v}{SOH}" for t, v in _instrument(cmd))
        head += f"54={SIDE[cmd.side]}{SOH}"
        mid = f"40={ORD_TYPE[cmd.ord_type]}{SOH}"
        tail = f"59={TIME_IN_FORCE[cmd.tif]}{SOH}" + "".join(
            f"{t}={v}{SOH}" for t, v in _order_tail(cmd.position_effect, dialect))
        parts = _NOS_PARTS[key] = (head, mid, tail, dialect)
        if len(_NOS_PARTS) > 4096:  # instruments are few; this only guards against misuse
            _NOS_PARTS.clear()
    head, mid, tail, _ = parts
    price = f"44={fmt_dec(cmd.price)}{SOH}" if cmd.price is not None and cmd.ord_type is OrdType.LIMIT else ""
    body = (f"11={cmd.cl_ord_id}{SOH}{head}60={format_utc(now_ns, dialect.timestamp_digits)}{SOH}"
            f"38={fmt_dec(cmd.qty)}{SOH}{mid}{price}{tail}")
    return frame(dialect.begin_string, "D", body)


def encode_cancel(cmd: CancelOrder, now_ns: int, dialect: Dialect = FIX44) -> str:
    body = [(41, cmd.orig_cl_ord_id), (11, cmd.cl_ord_id)]
    if cmd.order_id:
        body.append((37, cmd.order_id))
    body += _instrument(cmd)
    body += [(54, SIDE[cmd.side]), (60, format_utc(now_ns, dialect.timestamp_digits)), (38, fmt_dec(cmd.qty))]
    return _message(dialect, "F", body)


def encode_replace(cmd: ReplaceOrder, now_ns: int, dialect: Dialect = FIX44) -> str:
    body = [(41, cmd.orig_cl_ord_id), (11, cmd.cl_ord_id)]
    if cmd.order_id:
        body.append((37, cmd.order_id))
    if cmd.account:
        body.append((1, cmd.account))
    body += _instrument(cmd)
    body += [(54, SIDE[cmd.side]), (60, format_utc(now_ns, dialect.timestamp_digits)), (38, fmt_dec(cmd.qty)),
             (40, ORD_TYPE[cmd.ord_type])]
    if cmd.price is not None and cmd.ord_type is OrdType.LIMIT:
        body.append((44, fmt_dec(cmd.price)))
    body.append((59, TIME_IN_FORCE[cmd.tif]))
    body += _order_tail(cmd.position_effect, dialect)
    return _message(dialect, "G", body)


def encode_status_request(cmd: QueryOrderStatus, dialect: Dialect = FIX44) -> str:
    body = [(11, cmd.cl_ord_id)]
    if cmd.order_id:
        body.insert(0, (37, cmd.order_id))
    body += _instrument(cmd)
    body.append((54, SIDE[cmd.side]))
    return _message(dialect, "H", body)


def encode_md_request(cmd: SubscribeMarketData, dialect: Dialect = FIX44) -> str:
    body = [(262, cmd.md_req_id), (263, "1"), (264, str(cmd.depth)), (265, "1"),
            (267, "2"), (269, "0"), (269, "1"), (146, "1")]
    body += _instrument(cmd)
    return _message(dialect, "V", body)


def encode_mass_status_request(cmd: RequestMassStatus, dialect: Dialect = FIX44) -> str:
    """OrderMassStatusRequest (AF), MassStatusReqType 7: every order (the venue answers the working ones)."""
    body = [(584, cmd.req_id), (585, "7")]
    if cmd.account:
        body.append((1, cmd.account))
    return _message(dialect, "AF", body)


def encode_positions_request(cmd: RequestPositions, now_ns: int, dialect: Dialect = FIX44) -> str:
    """RequestForPositions (AN), PosReqType 0 (positions), a snapshot for one account."""
    body = [(710, cmd.req_id), (724, "0"), (1, cmd.account), (581, "1"), (715, cmd.business_date),
            (60, format_utc(now_ns, dialect.timestamp_digits))]
    return _message(dialect, "AN", body)


#: BusinessRejectReason (380) we answer an unreadable message with
BUSINESS_REJECT_OTHER = "0"
BUSINESS_REJECT_FIELD_MISSING = "5"   # conditionally required field missing


def encode_business_reject(ref_seq_num: int | str | None, ref_msg_type: str, reason: str, text: str,
                           ref_id: str | None = None, begin: str = "FIX.4.4") -> str:
    """BusinessMessageReject (35=j) of a message the venue sent: the application level answer to
    one we cannot process (a session Reject would tell the venue its message was never received)."""
    body = [(45, ref_seq_num if ref_seq_num is not None else 0), (372, ref_msg_type)]
    if ref_id:
        body.append((379, ref_id))
    body += [(380, reason), (58, text.replace(SOH, " ")[:200])]
    return frame(begin, "j", "".join(f"{t}={v}{SOH}" for t, v in body))
