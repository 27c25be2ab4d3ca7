"""A price-time-priority limit order book with limit and market orders and DAY / IOC / FOK.

Pure and synchronous: ``submit`` returns the trades it caused and leaves the remainder resting
(DAY limit) or cancelled (IOC, FOK, market). Trades execute at the resting order's price. The
simulator's market makers and its clients' orders go through the same book.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from xmc_fix.domain.enums import OrdStatus, OrdType, PositionEffect, Side, TimeInForce

ZERO = Decimal(0)


@dataclass(slots=True, eq=False)
class SimOrder:
    order_id: str
    owner: str                  # session key of a client, or "MM"
    cl_ord_id: str
    side: Side
    qty: Decimal
    price: Decimal | None
    ord_type: OrdType = OrdType.LIMIT
    tif: TimeInForce = TimeInForce.DAY
    account: str | None = None
    position_effect: PositionEffect | None = None
    symbol: str = ""
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO
    status: OrdStatus = OrdStatus.NEW
    seq: int = 0
    orig_cl_ord_id: str | None = None
    released: bool = False      # a closing order's position reservation was given back
    history: list[str] = field(default_factory=list)  # every ClOrdID this order has carried
    # The venue side of the simulator (not the matching) keeps these with the order:
    wire_status: str | None = None   # OrdStatus code the domain enum lacks: 3 done for day, 9 suspended
    fills: list["SimFill"] = field(default_factory=list)  # its trades, for busts and corrections
    route: str = "both"              # where its reports go: both, order (session only), drop_copy
                                     # (only), withheld (its own client's, now only the drop copy's)

    @property
    def leaves(self) -> Decimal:
        if self.status.is_terminal:
            return ZERO
        return self.qty - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        return self.notional / self.cum_qty if self.cum_qty else ZERO

    def crosses(self, price: Decimal) -> bool:
        """Would this order trade against a resting order at ``price``?"""
        if self.ord_type is OrdType.MARKET or self.price is None:
            return True
        return price <= self.price if self.side is Side.BUY else price >= self.price


@dataclass(slots=True)
class SimFill:
    """One trade of a client's order as reported: the ExecID a bust or correction refers to (the
    latest correction's, once corrected) and what stands of it."""

    exec_id: str
    qty: Decimal
    price: Decimal
    busted: bool = False


@dataclass(frozen=True, slots=True)
class Trade:
    aggressor: SimOrder
    resting: SimOrder
    qty: Decimal
    price: Decimal


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._levels: dict[Side, dict[Decimal, deque[SimOrder]]] = {Side.BUY: {}, Side.SELL: {}}
        # prices sorted ascending; best bid is the last, best ask the first
        self._prices: dict[Side, list[Decimal]] = {Side.BUY: [], Side.SELL: []}
        self._seq = itertools.count(1)

    # -- queries ---------------------------------------------------------------------------
    def best(self, side: Side) -> Decimal | None:
        p = self._prices[side]
        if not p:
            return None
        return p[-1] if side is Side.BUY else p[0]

    def levels(self, side: Side, depth: int) -> list[tuple[Decimal, Decimal]]:
        """Aggregated (price, size) from the best price outwards."""
        prices = self._prices[side]
        it = reversed(prices) if side is Side.BUY else iter(prices)
        out = []
        for px in it:
            size = sum((o.leaves for o in self._levels[side][px]), ZERO)
            out.append((px, size))
            if len(out) >= depth:
                break
        return out

    def orders(self, side: Side):
        for px in self._prices[side]:
            yield from self._levels[side][px]

    def available(self, order: SimOrder) -> Decimal:
        """Opposite quantity this order could trade now (for FOK)."""
        opp = order.side.opposite
        total = ZERO
        prices = self._prices[opp]
        it = reversed(prices) if opp is Side.BUY else iter(prices)
        for px in it:
            if not order.crosses(px):
                break
            total += sum((o.leaves for o in self._levels[opp][px]), ZERO)
            if total >= order.leaves:
                break
        return total

    # -- commands --------------------------------------------------------------------------
    def submit(self, order: SimOrder) -> list[Trade]:
        """Match ``order``; rest a DAY/GTC limit remainder, cancel any other remainder."""
        order.seq = next(self._seq)
        if order.tif is TimeInForce.FOK and self.available(order) < order.leaves:
            order.status = OrdStatus.CANCELED
            return []
        trades = self._match(order)
        if order.leaves > 0:
            if order.ord_type is OrdType.LIMIT and order.tif in (TimeInForce.DAY, TimeInForce.GTC):
                self._rest(order)
            else:
                order.status = OrdStatus.CANCELED
        return trades

    def cancel(self, order: SimOrder) -> bool:
        if order.status.is_terminal:
            return False
        self._remove(order)
        order.status = OrdStatus.CANCELED
        return True

    def replace(self, order: SimOrder, qty: Decimal, price: Decimal | None) -> list[Trade]:
        """Amend a resting order. Priority is kept only when the price is unchanged and the
        quantity does not grow. A quantity at or below what is filled completes the order."""
        if order.status.is_terminal:
            return []
        keep = price == order.price and qty <= order.qty
        if qty <= order.cum_qty:
            self._remove(order)
            order.qty = order.cum_qty
            order.status = OrdStatus.FILLED if order.cum_qty > 0 else OrdStatus.CANCELED
            return []
        if keep:
            order.qty = qty
            return []
        self._remove(order)
        order.qty, order.price = qty, price
        order.status = OrdStatus.PARTIALLY_FILLED if order.cum_qty else OrdStatus.NEW
        order.seq = next(self._seq)
        trades = self._match(order)
        if order.leaves > 0:
            self._rest(order)
        return trades

    def withdraw(self, order: SimOrder) -> None:
        """Take a resting order out of the book without finishing it (a suspension)."""
        self._remove(order)

    def reinstate(self, order: SimOrder) -> list[Trade]:
        """Put a working order back (resumed, or re-opened by a bust) with new time priority:
        it trades first if it crosses, then rests."""
        self._remove(order)
        order.seq = next(self._seq)
        trades = self._match(order)
        if order.leaves > 0:
            self._rest(order)
        return trades

    # -- internals -------------------------------------------------------------------------
    def _match(self, order: SimOrder) -> list[Trade]:
        trades = []
        opp = order.side.opposite
        levels, prices = self._levels[opp], self._prices[opp]
        while order.leaves > 0 and prices:
            px = prices[-1] if opp is Side.BUY else prices[0]
            if not order.crosses(px):
                break
            queue = levels[px]
            while queue and order.leaves > 0:
                resting = queue[0]
                qty = min(order.leaves, resting.leaves)
                for o in (order, resting):
                    o.cum_qty += qty
                    o.notional += qty * px
                    o.status = OrdStatus.FILLED if o.cum_qty >= o.qty else OrdStatus.PARTIALLY_FILLED
                trades.append(Trade(order, resting, qty, px))
                if resting.leaves <= 0:
                    queue.popleft()
            if not queue:
                del levels[px]
                prices.pop(-1 if opp is Side.BUY else 0)
        return trades

    def _rest(self, order: SimOrder) -> None:
        levels, prices = self._levels[order.side], self._prices[order.side]
        q = levels.get(order.price)
        if q is None:
            q = levels[order.price] = deque()
            bisect.insort(prices, order.price)
        q.append(order)

    def _remove(self, order: SimOrder) -> None:
        levels = self._levels[order.side]
        q = levels.get(order.price)
        if q is None:
            return
        try:
            q.remove(order)
        except ValueError:
            return
        if not q:
            del levels[order.price]
            prices = self._prices[order.side]
            i = bisect.bisect_left(prices, order.price)
            if i < len(prices) and prices[i] == order.price:
                prices.pop(i)
