"""The pre-trade gate. It refuses with a coded reason (:class:`Denial`) and never raises; every
verdict on a signal is stored by the engine.

Checks here: trading state (pair and global), both venues' sessions, quote and FX freshness, book
depth for the ticket's size, per-instrument maximum order quantity, and the pair's maximum basis
position. Issue 5 adds notional, account positions, collars, rates, loss and margin limits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from xmc_fix.domain.enums import TicketIntent, TradingState


class DenyReason(enum.Enum):
    GLOBAL_HALTED = "GLOBAL_HALTED"
    PAIR_HALTED = "PAIR_HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    SESSION_DOWN = "SESSION_DOWN"
    STALE_QUOTE = "STALE_QUOTE"
    STALE_FX = "STALE_FX"
    NO_DEPTH = "NO_DEPTH"
    MAX_ORDER_QTY = "MAX_ORDER_QTY"
    MAX_POSITION = "MAX_POSITION"
    ENGINE_STOPPING = "ENGINE_STOPPING"


@dataclass(frozen=True, slots=True)
class Denial:
    reason: DenyReason
    detail: str


@dataclass(frozen=True, slots=True)
class TicketCheck:
    """What the gate needs to know about a proposed ticket."""

    pair: str
    intent: TicketIntent
    pair_state: TradingState
    global_state: TradingState
    venues_up: tuple[bool, bool]
    venues: tuple[str, str]
    quote_ages_ms: tuple[float, float]
    fx_age_ms: float | None
    max_quote_age_ms: int
    max_fx_age_ms: int
    lots: tuple[Decimal, Decimal]
    depth: tuple[Decimal, Decimal]
    max_order_qty: tuple[Decimal, Decimal]
    position_after: Decimal
    max_position: Decimal
    stopping: bool = False


def check_ticket(c: TicketCheck) -> Denial | None:
    """``None`` when the ticket may start, else the first reason it may not."""
    opening = c.intent is TicketIntent.OPEN
    if c.stopping:
        return Denial(DenyReason.ENGINE_STOPPING, "engine is stopping")
    for state, where in ((c.global_state, "global"), (c.pair_state, c.pair)):
        if state is TradingState.HALTED:
            reason = DenyReason.GLOBAL_HALTED if where == "global" else DenyReason.PAIR_HALTED
            return Denial(reason, f"{where} is HALTED")
        if state is TradingState.REDUCING and opening:
            return Denial(DenyReason.REDUCING_ONLY, f"{where} is REDUCING: only closing tickets")
    for up, venue in zip(c.venues_up, c.venues):
        if not up:
            return Denial(DenyReason.SESSION_DOWN, f"{venue} session is not logged on")
    for age, venue in zip(c.quote_ages_ms, c.venues):
        if age > c.max_quote_age_ms:
            return Denial(DenyReason.STALE_QUOTE, f"{venue} quote is {age:.0f} ms old (limit {c.max_quote_age_ms})")
    if c.fx_age_ms is not None and c.fx_age_ms > c.max_fx_age_ms:
        return Denial(DenyReason.STALE_FX, f"FX quote is {c.fx_age_ms:.0f} ms old (limit {c.max_fx_age_ms})")
    for lots, depth, venue in zip(c.lots, c.depth, c.venues):
        if depth < lots:
            return Denial(DenyReason.NO_DEPTH, f"{venue} book shows {depth} of {lots} lots")
    for lots, limit, venue in zip(c.lots, c.max_order_qty, c.venues):
        if lots > limit:
            return Denial(DenyReason.MAX_ORDER_QTY, f"{lots} lots at {venue} above max_order_qty {limit}")
    if opening and abs(c.position_after) > c.max_position:
        return Denial(DenyReason.MAX_POSITION, f"position would be {c.position_after} (limit {c.max_position})")
    return None
