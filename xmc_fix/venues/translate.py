"""FIX <-> domain translation, in tables. The only module that knows FIX tag numbers and enum codes
for application messages.

Incoming messages are taken as their wire text (``message.toString()``, under a microsecond) and
split here in Python (about 2 us for a market-data refresh), which measured several times cheaper
than walking QuickFIX groups field by field through SWIG. Outgoing messages are rendered as text and
parsed once by QuickFIX (``quickfix.Message(text, dd, False)``), again several times cheaper than a
``setField`` per tag. Neither path validates: QuickFIX validated incoming messages against the
session's dictionary before the callback, and it fills header, length and checksum on send.
"""

from __future__ import annotations

import calendar
import time
from decimal import Decimal, InvalidOperation

from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, ReplaceOrder, SubscribeMarketData
from xmc_fix.domain.enums import (BookAction, BookSide, ExecType, OrdStatus, OrdType, PositionEffect, Side,
                                  TimeInForce)
from xmc_fix.domain.events import (BookEntry, BookSnapshot, BookUpdate, CancelRejected, ExecReport,
                                   MarketDataRejected, MessageRejected)
from xmc_fix.errors import FixTranslationError

SOH = "\x01"

# --- enum tables -----------------------------------------------------------------------------
SIDE = {Side.BUY: "1", Side.SELL: "2"}
ORD_TYPE = {OrdType.MARKET: "1", OrdType.LIMIT: "2"}
TIME_IN_FORCE = {TimeInForce.DAY: "0", TimeInForce.GTC: "1", TimeInForce.IOC: "3", TimeInForce.FOK: "4"}
POSITION_EFFECT = {PositionEffect.OPEN: "O", PositionEffect.CLOSE: "C",
                   PositionEffect.CLOSE_TODAY: "T", PositionEffect.CLOSE_YESTERDAY: "Y"}
ORD_STATUS = {
    "0": OrdStatus.NEW, "1": OrdStatus.PARTIALLY_FILLED, "2": OrdStatus.FILLED,
    "4": OrdStatus.CANCELED, "5": OrdStatus.REPLACED, "6": OrdStatus.PENDING_CANCEL,
    "8": OrdStatus.REJECTED, "A": OrdStatus.PENDING_NEW, "C": OrdStatus.EXPIRED,
    "E": OrdStatus.PENDING_REPLACE,
}
EXEC_TYPE = {
    "0": ExecType.NEW, "F": ExecType.TRADE, "4": ExecType.CANCELED, "5": ExecType.REPLACED,
    "6": ExecType.PENDING_CANCEL, "8": ExecType.REJECTED, "A": ExecType.PENDING_NEW,
    "C": ExecType.EXPIRED, "E": ExecType.PENDING_REPLACE, "I": ExecType.ORDER_STATUS,
    "3": ExecType.DONE_FOR_DAY,
    "1": ExecType.TRADE, "2": ExecType.TRADE,   # FIX 4.2 partial fill / fill
}
MD_ENTRY_TYPE = {"0": BookSide.BID, "1": BookSide.ASK}
MD_UPDATE_ACTION = {"0": BookAction.NEW, "1": BookAction.CHANGE, "2": BookAction.DELETE}

FIX_SIDE = {v: k for k, v in SIDE.items()}
FIX_ORD_TYPE = {v: k for k, v in ORD_TYPE.items()}
FIX_TIME_IN_FORCE = {v: k for k, v in TIME_IN_FORCE.items()}
FIX_POSITION_EFFECT = {v: k for k, v in POSITION_EFFECT.items()}
ORD_STATUS_FIX = {v: k for k, v in ORD_STATUS.items()}
EXEC_TYPE_FIX = {v: k for k, v in EXEC_TYPE.items() if k not in ("1", "2")}
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


# --- wire helpers -----------------------------------------------------------------------------
def split(raw: str) -> list[tuple[str, str]]:
    """``8=FIX.4.4<SOH>9=..`` -> ``[("8", "FIX.4.4"), ("9", ..), ...]`` (tags stay strings)."""
    return [f.partition("=")[::2] for f in raw.split(SOH) if f]


def fields(raw: str) -> dict[str, str]:
    """Tag -> value for a message without repeating groups (last occurrence wins)."""
    return dict(f.partition("=")[::2] for f in raw.split(SOH) if f)


_day_cache: dict[str, int] = {}


def parse_utc_ns(value: str | None) -> int | None:
    """``YYYYMMDD-HH:MM:SS[.fff[fff[fff]]]`` -> epoch ns; ``None`` when absent or malformed."""
    if not value or len(value) < 17:
        return None
    try:
        day = _day_cache.get(value[:8])
        if day is None:
            day = calendar.timegm(time.strptime(value[:8], "%Y%m%d"))
            if len(_day_cache) > 64:
                _day_cache.clear()
            _day_cache[value[:8]] = day
        secs = day + int(value[9:11]) * 3600 + int(value[12:14]) * 60 + int(value[15:17])
        frac = value[18:] if len(value) > 18 else ""
        ns = int(frac.ljust(9, "0")[:9]) if frac else 0
        return secs * 1_000_000_000 + ns
    except (ValueError, OverflowError):
        return None


_sec_cache: list = [None, ""]


def format_utc(ns: int, digits: int = 6) -> str:
    """Epoch ns -> ``YYYYMMDD-HH:MM:SS.ffffff`` (FIX UTCTimestamp with microseconds)."""
    secs, rem = divmod(ns, 1_000_000_000)
    if _sec_cache[0] != secs:
        _sec_cache[0] = secs
        _sec_cache[1] = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs))
    if digits == 0:
        return _sec_cache[1]
    frac = f"{rem:09d}"[:digits]
    return f"{_sec_cache[1]}.{frac}"


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
            raise FixTranslationError(f"tag {tag} missing", int(tag))
        return default
    try:
        return Decimal(v)
    except InvalidOperation:
        raise FixTranslationError(f"tag {tag}={v!r} is not a number", int(tag)) from None


def _req(d: dict[str, str], tag: str) -> str:
    v = d.get(tag)
    if not v:
        raise FixTranslationError(f"tag {tag} missing", int(tag))
    return v


def _enum(table: dict, d: dict[str, str], tag: str):
    v = d.get(tag)
    try:
        return table[v]
    except KeyError:
        raise FixTranslationError(f"tag {tag}={v!r} not supported", int(tag)) from None


# --- incoming: wire text -> domain events -----------------------------------------------------
ZERO = Decimal(0)


def decode_execution_report(venue: str, raw: str, recv_ns: int) -> ExecReport:
    d = fields(raw)
    return ExecReport(
        venue=venue,
        cl_ord_id=_req(d, "11"),
        orig_cl_ord_id=d.get("41") or None,
        order_id=d.get("37", ""),
        exec_id=_req(d, "17"),
        exec_type=_enum(EXEC_TYPE, d, "150"),
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
        ord_rej_reason=d.get("103"),
    )


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


def decode_incremental(venue: str, raw: str, recv_ns: int) -> list[BookUpdate]:
    """One BookUpdate per symbol in the refresh, entries in wire order.

    The hot path of market data: one pass over the fields, no intermediate dict per entry."""
    venue_ns = None
    by_symbol: dict[str, list[BookEntry]] = {}
    seqs: dict[str, int] = {}
    action = side = px = size = sym = None
    in_group = False
    actions, sides = MD_UPDATE_ACTION, MD_ENTRY_TYPE

    def close():
        if action is None:
            return
        if not sym:
            raise FixTranslationError("MD entry without Symbol (55)", 55)
        try:
            by_symbol.setdefault(sym, []).append(BookEntry(
                actions[action], sides[side], Decimal(px) if px else ZERO, Decimal(size) if size else ZERO))
        except KeyError:
            bad = "279" if action not in actions else "269"
            raise FixTranslationError(f"tag {bad}={(action if bad == '279' else side)!r} not supported",
                                      int(bad)) from None
        except InvalidOperation:
            raise FixTranslationError(f"tag 270/271 not a number: {px!r}/{size!r}", 270) from None

    for f in raw.split(SOH):
        tag, _, value = f.partition("=")
        if tag == "279":
            close()
            action, side, px, size, sym, in_group = value, None, None, None, None, True
        elif not in_group:
            if tag == "52":
                venue_ns = parse_utc_ns(value)
        elif tag == "269":
            side = value
        elif tag == "270":
            px = value
        elif tag == "271":
            size = value
        elif tag == "55":
            sym = value
        elif tag == "83":
            if sym:
                seqs[sym] = int(value)
        elif tag == "10":
            break
    close()
    return [BookUpdate(venue, s, tuple(e), seqs.get(s), venue_ns, recv_ns) for s, e in by_symbol.items()]


def decode_snapshot(venue: str, raw: str, recv_ns: int) -> BookSnapshot:
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
    return BookSnapshot(venue, _req(top, "55"), tuple(bids), tuple(asks), int(seq) if seq else None,
                        parse_utc_ns(top.get("52")), recv_ns)


def decode_md_reject(venue: str, raw: str, recv_ns: int) -> MarketDataRejected:
    d = fields(raw)
    return MarketDataRejected(venue, d.get("262", ""), d.get("58") or f"reason {d.get('281', '?')}", recv_ns)


def decode_cancel_reject(venue: str, raw: str, recv_ns: int) -> CancelRejected:
    d = fields(raw)
    reason = CXL_REJ_REASON.get(d.get("102", ""), d.get("102", "unspecified"))
    if d.get("58"):
        reason = f"{reason}: {d['58']}"
    return CancelRejected(venue, _req(d, "11"), d.get("41") or None, d.get("37") or None,
                          ORD_STATUS.get(d.get("39", "")), reason, recv_ns)


def decode_reject(venue: str, raw: str, recv_ns: int) -> MessageRejected:
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
APP_DECODERS = {
    "8": decode_execution_report,
    "X": decode_incremental,
    "W": decode_snapshot,
    "Y": decode_md_reject,
    "9": decode_cancel_reject,
    "j": decode_reject,
}


# --- outgoing: commands -> wire text ----------------------------------------------------------
def _message(begin: str, msg_type: str, body: list[tuple[int, str]]) -> str:
    text = SOH.join(f"{t}={v}" for t, v in body) + SOH
    return f"8={begin}{SOH}9={len(text)}{SOH}35={msg_type}{SOH}{text}10=000{SOH}"


def _instrument(cmd) -> list[tuple[int, str]]:
    inst = cmd.instrument
    out = [(55, inst.symbol)]
    if inst.security_id:
        out += [(48, inst.security_id), (22, "8")]
    return out


_NOS_PARTS: dict[tuple, tuple[str, str, str]] = {}


def encode_new_order(cmd: NewOrder, now_ns: int, begin: str = "FIX.4.4") -> str:
    """NewOrderSingle text. What does not change between two orders of the same instrument, side
    and type is rendered once and kept (the hot path renders ClOrdID, time, quantity and price)."""
    key = (id(cmd.instrument), cmd.side, cmd.ord_type, cmd.tif, cmd.account, cmd.position_effect, begin)
    parts = _NOS_PARTS.get(key)
    if parts is None:
        head = (f"1={cmd.account}{SOH}" if cmd.account else "") + "".join(f"{t}={v}{SOH}" for t, v in _instrument(cmd))
        head += f"54={SIDE[cmd.side]}{SOH}"
        mid = f"40={ORD_TYPE[cmd.ord_type]}{SOH}"
        tail = f"59={TIME_IN_FORCE[cmd.tif]}{SOH}"
        if cmd.position_effect is not None:
            tail += f"77={POSITION_EFFECT[cmd.position_effect]}{SOH}"
        parts = _NOS_PARTS[key] = (head, mid, tail)
        if len(_NOS_PARTS) > 4096:  # instruments are few; this only guards against misuse
            _NOS_PARTS.clear()
    head, mid, tail = parts
    price = f"44={fmt_dec(cmd.price)}{SOH}" if cmd.price is not None and cmd.ord_type is OrdType.LIMIT else ""
    body = (f"11={cmd.cl_ord_id}{SOH}{head}60={format_utc(now_ns)}{SOH}38={fmt_dec(cmd.qty)}{SOH}{mid}{price}{tail}")
    return f"8={begin}{SOH}9={len(body)}{SOH}35=D{SOH}{body}10=000{SOH}"


def encode_cancel(cmd: CancelOrder, now_ns: int, begin: str = "FIX.4.4") -> str:
    body = [(41, cmd.orig_cl_ord_id), (11, cmd.cl_ord_id)]
    if cmd.order_id:
        body.append((37, cmd.order_id))
    body += _instrument(cmd)
    body += [(54, SIDE[cmd.side]), (60, format_utc(now_ns)), (38, fmt_dec(cmd.qty))]
    return _message(begin, "F", body)


def encode_replace(cmd: ReplaceOrder, now_ns: int, begin: str = "FIX.4.4") -> str:
    body = [(41, cmd.orig_cl_ord_id), (11, cmd.cl_ord_id)]
    if cmd.order_id:
        body.append((37, cmd.order_id))
    if cmd.account:
        body.append((1, cmd.account))
    body += _instrument(cmd)
    body += [(54, SIDE[cmd.side]), (60, format_utc(now_ns)), (38, fmt_dec(cmd.qty)),
             (40, ORD_TYPE[cmd.ord_type])]
    if cmd.price is not None and cmd.ord_type is OrdType.LIMIT:
        body.append((44, fmt_dec(cmd.price)))
    body.append((59, TIME_IN_FORCE[cmd.tif]))
    if cmd.position_effect is not None:
        body.append((77, POSITION_EFFECT[cmd.position_effect]))
    return _message(begin, "G", body)


def encode_status_request(cmd: QueryOrderStatus, begin: str = "FIX.4.4") -> str:
    body = [(11, cmd.cl_ord_id)]
    if cmd.order_id:
        body.insert(0, (37, cmd.order_id))
    body += _instrument(cmd)
    body.append((54, SIDE[cmd.side]))
    return _message(begin, "H", body)


def encode_md_request(cmd: SubscribeMarketData, begin: str = "FIX.4.4") -> str:
    body = [(262, cmd.md_req_id), (263, "1"), (264, str(cmd.depth)), (265, "1"),
            (267, "2"), (269, "0"), (269, "1"), (146, "1")]
    body += _instrument(cmd)
    return _message(begin, "V", body)
