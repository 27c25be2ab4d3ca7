"""The ticket: one attempt to trade a pair, with both legs' orders and any repair orders.

Its lifecycle is a table ``{(state, trigger): next_state}``; anything not in the table raises
:class:`IllegalTransition`. Every transition is kept with its cause and time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from xmc_fix.domain.enums import Direction, LegRole, Side, TicketIntent
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import ZERO, Order
from xmc_fix.errors import IllegalTransition


class TicketState(enum.Enum):
    PENDING = "PENDING"        # decided and stored, orders not yet handed to the venues
    WORKING = "WORKING"        # orders out, at least one leg still live
    LEGGED = "LEGGED"          # legs done but filled quantities do not match
    REPAIRING = "REPAIRING"    # chase or unwind orders working
    COMPLETED = "COMPLETED"    # legs matched in underlying units
    UNWOUND = "UNWOUND"        # the excess was taken off: flat again, nothing left over
    MISSED = "MISSED"          # neither leg filled: no exposure was taken
    FAILED = "FAILED"          # ended with residual exposure (recorded and alerted)

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TicketState.COMPLETED, TicketState.UNWOUND, TicketState.MISSED,
                       TicketState.FAILED})


class TicketTrigger(enum.Enum):
    SENT = "SENT"
    SEND_FAILED = "SEND_FAILED"
    LEGS_MATCHED = "LEGS_MATCHED"
    LEGS_EMPTY = "LEGS_EMPTY"
    LEGS_MISMATCHED = "LEGS_MISMATCHED"
    REPAIR_STARTED = "REPAIR_STARTED"
    REPAIR_MATCHED = "REPAIR_MATCHED"
    REPAIR_UNWOUND = "REPAIR_UNWOUND"
    REPAIR_FAILED = "REPAIR_FAILED"
    FLATTENED = "FLATTENED"      # the operator flattened the pair: its exposure was taken off there


S, T = TicketState, TicketTrigger
TICKET_TRANSITIONS: dict[tuple[TicketState, TicketTrigger], TicketState] = {
    (S.PENDING, T.SENT): S.WORKING,
    (S.PENDING, T.SEND_FAILED): S.MISSED,        # nothing left: no exposure taken
    (S.WORKING, T.LEGS_MATCHED): S.COMPLETED,
    (S.WORKING, T.LEGS_EMPTY): S.MISSED,
    (S.WORKING, T.LEGS_MISMATCHED): S.LEGGED,
    (S.LEGGED, T.REPAIR_STARTED): S.REPAIRING,
    (S.LEGGED, T.REPAIR_FAILED): S.FAILED,
    (S.LEGGED, T.LEGS_MATCHED): S.COMPLETED,     # a late fill completed the lagging leg
    (S.REPAIRING, T.REPAIR_STARTED): S.REPAIRING,  # a further chase or unwind step
    (S.REPAIRING, T.REPAIR_MATCHED): S.COMPLETED,
    (S.REPAIRING, T.REPAIR_UNWOUND): S.UNWOUND,
    (S.REPAIRING, T.REPAIR_FAILED): S.FAILED,
    (S.REPAIRING, T.LEGS_MISMATCHED): S.LEGGED,   # a repair step ended short: decide again
    # A fill reported after the ticket finished (a fill that raced its cancel) can break the match:
    # the ticket is legged again and repaired like any other.
    (S.COMPLETED, T.LEGS_MISMATCHED): S.LEGGED,
    (S.UNWOUND, T.LEGS_MISMATCHED): S.LEGGED,
    (S.MISSED, T.LEGS_MISMATCHED): S.LEGGED,
    # Superseded by the flatten path: the pair's positions, this ticket's included, go to zero there.
    (S.WORKING, T.FLATTENED): S.UNWOUND,
    (S.LEGGED, T.FLATTENED): S.UNWOUND,
    (S.REPAIRING, T.FLATTENED): S.UNWOUND,
}
del S, T


@dataclass(frozen=True, slots=True)
class Transition:
    ts_ns: int
    from_state: TicketState
    to_state: TicketState
    trigger: TicketTrigger
    cause: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What the ticket was decided on: both books' executable prices, FX and the basis."""

    ts_ns: int
    basis: Decimal
    threshold: Decimal
    inner_px: Decimal
    outer_px: Decimal
    outer_converted: Decimal
    fx: Decimal
    inner_book: tuple   # ((bid, size), (ask, size)) at decision
    outer_book: tuple
    fx_age_ns: int | None
    inner_age_ns: int
    outer_age_ns: int
    planned_residual: Decimal  # alignment residual in the pair's unit, inner minus outer


@dataclass(slots=True)
class Leg:
    role: LegRole
    instrument: Instrument
    side: Side
    target_lots: Decimal
    orders: list[Order] = field(default_factory=list)

    @property
    def filled_lots(self) -> Decimal:
        """Net lots done in the leg's direction (unwind orders trade the other way)."""
        net = ZERO
        for o in self.orders:
            net += o.filled_qty if o.side is self.side else -o.filled_qty
        return net

    @property
    def working(self) -> bool:
        return any(not o.is_terminal for o in self.orders)

    def filled_units(self, unit: str) -> Decimal:
        return self.instrument.lots_to_units(self.filled_lots, unit)


@dataclass(slots=True)
class Ticket:
    ticket_id: str
    pair: str
    direction: Direction
    intent: TicketIntent
    created_ns: int
    decision: Decision
    legs: dict[LegRole, Leg]
    unit: str                      # the pair's common unit (the inner leg's)
    tolerance: Decimal             # |residual - aim| in ``unit`` still counted as matched
    state: TicketState = TicketState.PENDING
    transitions: list[Transition] = field(default_factory=list)
    sent_ns: int | None = None
    ended_ns: int | None = None
    #: The residual (inner minus outer, in ``unit``) the ticket exists to leave. Zero for an opening
    #: ticket; minus the carried residual under the "carry" policy (so the pair's residual ends within
    #: the tolerance); for a closing ticket, the residual of the holding it closes (closing exactly
    #: what is held is matched, whatever the contract sizes left out of line).
    aim: Decimal = ZERO

    def apply(self, trigger: TicketTrigger, ts_ns: int, cause: str = "") -> Transition:
        try:
            to_state = TICKET_TRANSITIONS[(self.state, trigger)]
        except KeyError:
            raise IllegalTransition("ticket " + self.ticket_id, self.state, trigger) from None
        t = Transition(ts_ns, self.state, to_state, trigger, cause)
        self.transitions.append(t)
        self.state = to_state
        self.ended_ns = ts_ns if to_state.is_terminal else None
        return t

    @property
    def working(self) -> bool:
        return any(leg.working for leg in self.legs.values())

    @property
    def residual(self) -> Decimal:
        """Inner filled minus outer filled, in the pair's unit (positive: inner leads)."""
        inner, outer = self.legs[LegRole.INNER], self.legs[LegRole.OUTER]
        return inner.filled_units(self.unit) - outer.filled_units(self.unit)

    @property
    def excess(self) -> Decimal:
        """How far the fills are from what the ticket set out to leave (positive: inner leads)."""
        return self.residual - self.aim

    @property
    def matched(self) -> bool:
        return abs(self.excess) <= self.tolerance

    @property
    def empty(self) -> bool:
        return all(leg.filled_lots == 0 for leg in self.legs.values())

    def settle_trigger(self) -> TicketTrigger | None:
        """The trigger the ticket's fills call for once no order is live, else ``None``."""
        if self.working:
            return None
        if self.empty:
            return TicketTrigger.LEGS_EMPTY
        return TicketTrigger.LEGS_MATCHED if self.matched else TicketTrigger.LEGS_MISMATCHED

    def orders(self):
        for leg in self.legs.values():
            yield from leg.orders
