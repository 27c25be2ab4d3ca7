"""Domain enumerations. Their FIX encodings live in :mod:`xmc_fix.venues.translate`, not here."""

from __future__ import annotations

import enum


class Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrdType(enum.Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(enum.Enum):
    DAY = "DAY"
    IOC = "IOC"
    FOK = "FOK"
    GTC = "GTC"


class PositionEffect(enum.Enum):
    """Open/close instruction. CLOSE_TODAY/CLOSE_YESTERDAY exist on SHFE and INE, whose
    clearing keeps today's and earlier positions apart (and charges them differently)."""

    OPEN = "OPEN"
    CLOSE = "CLOSE"
    CLOSE_TODAY = "CLOSE_TODAY"
    CLOSE_YESTERDAY = "CLOSE_YESTERDAY"


class OrdStatus(enum.Enum):
    """Every OrdStatus (39) FIX 4.2 to 5.0 SP2 define. Terminal: nothing more will fill (today)."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    DONE_FOR_DAY = "DONE_FOR_DAY"          # a DAY order the venue has finished with for the day
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_REPLACE = "PENDING_REPLACE"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    STOPPED = "STOPPED"                    # guaranteed a price, still live
    SUSPENDED = "SUSPENDED"                # not working now, may be reinstated: still live
    CALCULATED = "CALCULATED"              # fills calculated (after the close): done
    ACCEPTED_FOR_BIDDING = "ACCEPTED_FOR_BIDDING"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED,
                       OrdStatus.DONE_FOR_DAY, OrdStatus.CALCULATED})


class ExecType(enum.Enum):
    """Every ExecType (150) FIX 4.2 to 5.0 SP2 define (FIX 4.2's ExecTransType cancel / correct /
    status arrive as TRADE_CANCEL / TRADE_CORRECT / ORDER_STATUS)."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    TRADE = "TRADE"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    PENDING_REPLACE = "PENDING_REPLACE"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    ORDER_STATUS = "ORDER_STATUS"
    DONE_FOR_DAY = "DONE_FOR_DAY"
    STOPPED = "STOPPED"
    SUSPENDED = "SUSPENDED"
    CALCULATED = "CALCULATED"
    RESTATED = "RESTATED"                  # the venue changed the order (quantity, price, ...): 378 says why
    TRADE_CORRECT = "TRADE_CORRECT"        # a fill (ExecRefID) corrected: quantity or price
    TRADE_CANCEL = "TRADE_CANCEL"          # a fill (ExecRefID) busted
    TRADE_IN_CLEARING_HOLD = "TRADE_IN_CLEARING_HOLD"
    TRADE_RELEASED_TO_CLEARING = "TRADE_RELEASED_TO_CLEARING"
    TRIGGERED = "TRIGGERED"                # triggered or activated by the system

    @property
    def corrects(self) -> bool:
        """A report that changes an earlier fill: the venue's CumQty and OrdStatus stand, even backwards."""
        return self in (ExecType.TRADE_CANCEL, ExecType.TRADE_CORRECT)


class BookSide(enum.Enum):
    BID = "BID"
    ASK = "ASK"


class BookAction(enum.Enum):
    NEW = "NEW"
    CHANGE = "CHANGE"
    DELETE = "DELETE"


class LegRole(enum.Enum):
    """A pair's inner leg is the domestic contract, the outer leg the foreign one."""

    INNER = "INNER"
    OUTER = "OUTER"


class Direction(enum.Enum):
    """Which way a ticket trades the basis (inner minus converted outer)."""

    SELL_BASIS = "SELL_BASIS"  # sell inner, buy outer: profits when the basis falls
    BUY_BASIS = "BUY_BASIS"    # buy inner, sell outer: profits when the basis rises

    def side(self, role: LegRole) -> Side:
        inner = Side.SELL if self is Direction.SELL_BASIS else Side.BUY
        return inner if role is LegRole.INNER else inner.opposite

    @property
    def opposite(self) -> "Direction":
        return Direction.BUY_BASIS if self is Direction.SELL_BASIS else Direction.SELL_BASIS


class TicketIntent(enum.Enum):
    OPEN = "OPEN"        # adds basis exposure
    CLOSE = "CLOSE"      # takes basis exposure off
    FLATTEN = "FLATTEN"  # the operator's flatten path: every position of the pair to zero


class OrderRole(enum.Enum):
    ENTRY = "ENTRY"    # the ticket's first order on a leg
    CHASE = "CHASE"    # a repair order completing the lagging leg
    UNWIND = "UNWIND"  # a repair order taking off the leading leg's excess
    FLATTEN = "FLATTEN"


class TradingState(enum.Enum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"
