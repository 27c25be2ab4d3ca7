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


class BookUpdate(NamedTuple):
    """One instrument's entries of an incremental refresh. RptSeq is per instrument and carried
    per entry: ``rpt_seq`` is the last entry's, ``first_rpt_seq`` the first's (equal when the venue
    numbers messages rather than entries; ``None``: the same as ``rpt_seq``). A named tuple, as
    :class:`BookEntry`: one is built per refresh, and a frozen dataclass's ``__init__`` cost a
    microsecond of the market-data path."""

    venue: str
    symbol: str
    entries: tuple[BookEntry, ...]
    rpt_seq: int | None
    venue_ns: int | None
    recv_ns: int
    first_rpt_seq: int | None = None


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
    exec_ref_id: str | None = None            # ExecRefID (19): the fill a bust or correction is about
    restatement_reason: str | None = None     # ExecRestatementReason (378), for RESTATED
    account: str | None = None                # Account (1), for an order we did not send
    mass_status_req_id: str | None = None     # MassStatusReqID (584): an answer to our AF
    tot_num_reports: int | None = None        # TotNumReports (911)
    last_rpt_requested: bool = False          # LastRptRequested (912) = Y
    ord_rej_reason: str | None = None         # OrdRejReason (103) on a reject, as the venue sent it


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
class Uninterpretable:
    """An application message from a venue that could not be read (a tag missing or a value we
    cannot interpret). QuickFIX has accepted it and the venue will not send it again, so it is
    never dropped silently: it is stored, handed on as this event, and the venue gets a
    BusinessMessageReject. ``raw`` has its secrets masked; ``symbols`` are the books a market-data
    message concerned, where the message (Symbol 55) or our MDReqID (262) tells."""

    venue: str
    msg_type: str
    ref_seq_num: int | None
    reason: str
    raw: str
    recv_ns: int
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionUp:
    venue: str
    recv_ns: int


@dataclass(frozen=True, slots=True)
class SessionDown:
    venue: str
    recv_ns: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PositionsAck:
    """RequestForPositionsAck (AO): whether the venue will answer, and with how many reports."""

    venue: str
    req_id: str
    result: str                 # PosReqResult (728): 0 valid, 1 unsupported, 2 no positions, 3 not authorised
    status: str                 # PosReqStatus (729): 0 completed, 1 with warnings, 2 rejected
    total: int                  # TotalNumPosReports (727)
    account: str | None
    text: str | None
    recv_ns: int


@dataclass(frozen=True, slots=True)
class PositionReport:
    """PositionReport (AP): one instrument's holding of one account, by PosType (e.g. SOD, TQ)."""

    venue: str
    req_id: str
    account: str | None
    symbol: str
    security_id: str | None
    total: int                  # TotalNumPosReports (727)
    quantities: tuple[tuple[str, Decimal, Decimal], ...]    # (PosType, LongQty, ShortQty)
    recv_ns: int

    @property
    def net(self) -> Decimal:
        """Long minus short, every PosType summed (lots, bought positive)."""
        return sum((lq - sq for _, lq, sq in self.quantities), Decimal(0))


@dataclass(frozen=True, slots=True)
class DropCopyReport:
    """An execution report as a venue's drop-copy session copied it: a second, independent source
    of fills (read-only; the order session's own report normally comes first)."""

    report: ExecReport


@dataclass(frozen=True, slots=True)
class DropCopySession:
    """A drop-copy session logged on or off (the venue's order session is unaffected)."""

    venue: str
    up: bool
    recv_ns: int
    reason: str = ""
