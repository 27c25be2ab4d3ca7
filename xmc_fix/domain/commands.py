"""Commands: what the engine asks a venue to do. Distinct types from events (what happened)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from xmc_fix.domain.enums import OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.domain.instruments import Instrument


class NewOrder(NamedTuple):
    """A new order. A named tuple (immutable, built in C): two are made on every decision."""

    cl_ord_id: str
    instrument: Instrument
    side: Side
    qty: Decimal
    ord_type: OrdType
    price: Decimal | None
    tif: TimeInForce
    account: str | None = None
    position_effect: PositionEffect | None = None

    @property
    def venue(self) -> str:
        return self.instrument.venue


@dataclass(frozen=True, slots=True)
class CancelOrder:
    cl_ord_id: str
    orig_cl_ord_id: str
    instrument: Instrument
    side: Side
    qty: Decimal
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    cl_ord_id: str
    orig_cl_ord_id: str
    instrument: Instrument
    side: Side
    qty: Decimal
    ord_type: OrdType
    price: Decimal | None
    tif: TimeInForce
    account: str | None = None
    position_effect: PositionEffect | None = None
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueryOrderStatus:
    cl_ord_id: str
    instrument: Instrument
    side: Side
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubscribeMarketData:
    md_req_id: str
    instrument: Instrument
    depth: int


@dataclass(frozen=True, slots=True)
class RequestMassStatus:
    """OrderMassStatusRequest (AF): every working order of ``account`` at the venue."""

    req_id: str
    venue: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class RequestPositions:
    """RequestForPositions (AN): a snapshot of ``account``'s positions at the venue."""

    req_id: str
    venue: str
    account: str
    business_date: str          # ClearingBusinessDate (YYYYMMDD)
