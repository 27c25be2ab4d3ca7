"""Shadow mode (``xmc run --shadow``): the first step of a go-live.

The engine runs exactly as it would — market data, decisions, risk, tickets — but no order
reaches a venue. :class:`ShadowSender` records each order it would have sent (audit event
``shadow_order``) and answers it with a paper fill at its limit price, posted back into the engine
after the current callback, so exits, positions and repairs follow as they would. Market-data
subscriptions still go to the real sessions. Paper fills carry ExecIDs starting ``SHADOW-``.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Callable

from xmc_fix.domain.commands import CancelOrder, NewOrder, QueryOrderStatus, SubscribeMarketData
from xmc_fix.domain.enums import ExecType, OrdStatus
from xmc_fix.domain.events import ExecReport

ZERO = Decimal(0)


def record_order(audit, cmd: NewOrder, price: Decimal | None, now_ns: int, ticket_id: str | None = None) -> None:
    """The audit's ``shadow_order`` event: an order that would have been sent, at ``price``."""
    audit.event("shadow_order", now_ns, venue=cmd.venue, cl_ord_id=cmd.cl_ord_id, ticket_id=ticket_id,
                side=cmd.side.value, qty=str(cmd.qty), price=str(price) if price is not None else None,
                symbol=cmd.instrument.symbol)


class ShadowSender:
    def __init__(self, real, post: Callable[[object], None], audit, mark: Callable[[NewOrder], Decimal | None]) -> None:
        self._real = real
        self._post = post
        self._audit = audit
        self._mark = mark
        self._ids = itertools.count(1)

    def is_up(self, venue: str) -> bool:
        return self._real.is_up(venue)

    def dialect(self, venue: str):
        """The venue's dialect, as the real sender knows it (a shadow order is written the same way)."""
        return self._real.dialect(venue)

    def subscribe(self, cmd: SubscribeMarketData) -> bool:
        return self._real.subscribe(cmd)

    def send_new(self, cmd: NewOrder, now_ns: int) -> bool:
        price = cmd.price if cmd.price is not None else self._mark(cmd)
        record_order(self._audit, cmd, price, now_ns)
        if price is None:
            self._post(self._report(cmd, ExecType.REJECTED, OrdStatus.REJECTED, ZERO, ZERO, now_ns,
                                    "shadow: no price to fill a market order"))
            return True
        self._post(self._report(cmd, ExecType.NEW, OrdStatus.NEW, ZERO, ZERO, now_ns))
        self._post(self._report(cmd, ExecType.TRADE, OrdStatus.FILLED, cmd.qty, price, now_ns))
        return True

    def send_cancel(self, cmd: CancelOrder, now_ns: int) -> bool:
        return True

    def send_status(self, cmd: QueryOrderStatus) -> bool:
        return True

    def _report(self, cmd: NewOrder, et: ExecType, st: OrdStatus, qty: Decimal, px: Decimal, now_ns: int,
                text: str | None = None) -> ExecReport:
        return ExecReport(venue=cmd.venue, cl_ord_id=cmd.cl_ord_id, orig_cl_ord_id=None,
                          order_id=f"SHADOW-{cmd.cl_ord_id}", exec_id=f"SHADOW-{next(self._ids)}", exec_type=et,
                          ord_status=st, side=cmd.side, symbol=cmd.instrument.symbol, order_qty=cmd.qty, cum_qty=qty,
                          leaves_qty=ZERO if st.is_terminal else cmd.qty - qty, last_qty=qty, last_px=px,
                          avg_px=px, text=text, poss_dup=False, venue_ns=now_ns, recv_ns=now_ns)
