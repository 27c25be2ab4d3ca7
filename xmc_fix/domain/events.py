"""Events: frozen facts about what happened, each with the venue's time and our receive time.

Venue times are epoch ns parsed from the message (SendingTime 52 / TransactTime 60) or ``None``
when the venue did not send one; ``recv_ns`` is our wall clock when the callback was entered.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from xmc_fix.domain.enums import BookAction, BookSide, ExecType, OrdStatus, Side


class BookEntry(NamedTuple):
    """One change to a book level. A named tuple rather than a dataclass: market data is the
    hottest path, and a tuple is built in C (immutable all the same)."""

    action: BookAction
    side: BookSide
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    venue: str
    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    rpt_seq: int | None
    venue_ns: int | None
    recv_ns: int


@dataclass(frozen=True, slots=True)
class BookUpdate:
    venue: str
    symbol: str
    entries: tuple[BookEntry, ...]
    rpt_seq: int | None
    venue_ns: int | None
    recv_ns: int


@dataclass(frozen=True, slots=True)
class MarketDataRejected:
    venue: str
    md_req_id: str
    reason: str
    recv_ns: int


@dataclass(frozen=True, slots=True)
class ExecReport:
    venue: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    side: Side
    symbol: str
    order_qty: Decimal | None
    cum_qty: Decimal
    leaves_qty: Decimal
    last_qty: Decimal
    last_px: Decimal
    avg_px: Decimal
    text: str | None
    poss_dup: bool
    venue_ns: int | None
    recv_ns: int
    ord_rej_reason: str | None = None   # OrdRejReason (103) on a reject, as the venue sent it


@dataclass(frozen=True, slots=True)
class CancelRejected:
    venue: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    ord_status: OrdStatus | None
    reason: str
    recv_ns: int


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """A session-level Reject (35=3) or BusinessMessageReject (35=j) of something we sent."""

    venue: str
    business: bool
    ref_seq_num: int | None
    ref_msg_type: str | None
    ref_id: str | None
    reason: str
    recv_ns: int


@dataclass(frozen=True, slots=True)
class SessionUp:
    venue: str
    recv_ns: int


@dataclass(frozen=True, slots=True)
class SessionDown:
    venue: str
    recv_ns: int
    reason: str = ""
