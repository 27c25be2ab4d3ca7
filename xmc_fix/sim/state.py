"""The simulated venues' state, shared by the parts of :class:`xmc_fix.sim.exchange.Exchange`: each
venue's instruments (book, market makers, subscribers), its clients' orders, its positions, and the
ids it hands out. Plain holders: the rules live in the modules that change them.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from xmc_fix.domain.ids import base36
from xmc_fix.sim.config import SimInstrumentCfg, SimVenueCfg
from xmc_fix.sim.matching import OrderBook
from xmc_fix.sim.positions import Position

ZERO = Decimal(0)


@dataclass(slots=True)
class SimInstrument:
    cfg: SimInstrumentCfg
    book: OrderBook
    rng: random.Random
    rpt_seq: int = 0
    published: tuple[dict, dict] = field(default_factory=lambda: ({}, {}))
    mm_orders: dict = field(default_factory=dict)     # (side, price) -> SimOrder
    subscribers: dict = field(default_factory=dict)   # session key -> MDReqID
    prior_settle: Decimal | None = None               # the fair value when the venue opened


@dataclass(slots=True)
class SimVenue:
    cfg: SimVenueCfg
    instruments: dict[str, SimInstrument]
    orders: dict = field(default_factory=dict)          # (session, ClOrdID) -> SimOrder
    orders_by_id: dict = field(default_factory=dict)    # OrderID -> SimOrder
    seen_cl_ord_ids: dict = field(default_factory=dict)  # session -> set of ClOrdIDs ever received
    positions: dict = field(default_factory=dict)       # (account, symbol) -> Position

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def netting(self) -> bool:
        """A venue without open/close nets every account's buys against its sells."""
        return not self.cfg.position_effect

    def position(self, account: str | None, symbol: str) -> Position:
        return self.positions.setdefault((account, symbol), Position())

    def working(self):
        """Clients' orders that are not finished, in arrival order (suspended ones included)."""
        seen = set()
        for o in self.orders_by_id.values():
            if id(o) not in seen and not o.status.is_terminal and o.wire_status != "3":
                seen.add(id(o))
                yield o


class Ids:
    """ExecIDs, OrderIDs and report ids, unique per simulator run (a start stamp and a counter)."""

    def __init__(self, now_ns: int) -> None:
        self.stamp = base36(now_ns // 1_000_000)
        self._exec = itertools.count(1)
        self._order = itertools.count(1)
        self._report = itertools.count(1)
        self._foreign = itertools.count(1)

    def exec_id(self) -> str:
        return f"E{self.stamp}-{base36(next(self._exec))}"

    def order_id(self, venue: str) -> str:
        return f"{venue[:3]}{self.stamp}-{base36(next(self._order))}"

    def report_id(self) -> str:
        return f"P{self.stamp}-{base36(next(self._report))}"

    def foreign_cl_ord_id(self) -> str:
        return f"MANUAL-{self.stamp}-{next(self._foreign)}"


def new_stats() -> dict[str, int]:
    return {"orders": 0, "fills": 0, "rejects": 0, "md_messages": 0, "steps": 0,
            "simulated_rejects": 0, "partials": 0, "duplicates": 0, "reordered": 0, "late_fills": 0,
            "disconnects": 0, "busts": 0, "corrections": 0, "restatements": 0, "done_for_day": 0,
            "unsolicited_cancels": 0, "suspensions": 0, "expiries": 0, "foreign_orders": 0, "silences": 0,
            "quiet": 0, "withheld": 0, "mass_status": 0, "position_requests": 0}


class ExchangeCore(Protocol):
    """What the exchange's parts (order desk, request desk, venue events) use of the exchange that
    owns them: its state, its outlet and its clock. A protocol, so the parts never import the
    exchange module (which imports them)."""

    venues: dict
    orders: Any
    stats: dict
    ids: Any
    outbox: Any
    events: Any
    clock: Any

    def publish(self, *args: Any, **kwargs: Any) -> Any: ...
    def schedule(self, *args: Any, **kwargs: Any) -> Any: ...
    def begin(self, *args: Any, **kwargs: Any) -> Any: ...
    def _send(self, *args: Any, **kwargs: Any) -> Any: ...
