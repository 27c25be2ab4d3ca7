"""The pre-trade gate every order passes: first legs, chases, unwinds and the flatten path.

It refuses with a coded reason (:class:`Denial`) and never raises. Each check is a small pure
function over explicit numbers (a parametrised grid tests each at its boundary); :class:`RiskGate`
holds what the checks need to know about the running day — positions per instrument, working
lots, message-rate budgets, recent rejects, realised P&L — and composes them:

- :meth:`RiskGate.check_ticket` before a ticket starts: trading state, sessions, quote and FX
  freshness, book depth, and for each leg the order checks (quantity, notional, price collar against
  the touch, slippage against the decision price, message rate) plus the worst case — each leg
  checked as if it alone filled (instrument position, account gross position, margin, the pair's net
  exposure), so a ticket never starts that could leave a legged position outside the limits;
- :meth:`RiskGate.check_order` for repair, flatten and second-leg orders.

A MARKET order has no limit to check: its notional, collar and slippage are checked at the price
its size reaches in the book (:attr:`LegPlan.reach`), or, when the book does not reach it, at the
touch moved ``market_protection_ticks`` against it; with neither it is refused.

The composed checks record what they ran, in order, into a list the caller passes (``ran``):
(check, subject) pairs, cheap on the hot path; :func:`describe` turns them into the verdict's
``checks`` once the orders have left.

Positions, working lots and realised P&L are read from the engine's :class:`Ledger`; the gate itself
keeps only its own counters (message-rate budgets, recent outcomes per venue).

Which orders each trading state lets through is :data:`ALLOWED`: REDUCING only what reduces
exposure (closing tickets, chases and unwinds of a legged ticket, the flatten path); HALTED only the
flatten path (cancels are never gated).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from xmc_fix.config import RiskConfig
from xmc_fix.domain.enums import Side, TradingState
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.positions import Ledger

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class DenyReason(enum.Enum):
    GLOBAL_HALTED = "GLOBAL_HALTED"
    PAIR_HALTED = "PAIR_HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    SESSION_DOWN = "SESSION_DOWN"
    STALE_QUOTE = "STALE_QUOTE"
    STALE_FX = "STALE_FX"
    NO_DEPTH = "NO_DEPTH"
    MAX_ORDER_QTY = "MAX_ORDER_QTY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_POSITION = "MAX_POSITION"                 # the pair's basis position
    MAX_INSTRUMENT_POSITION = "MAX_INSTRUMENT_POSITION"
    MAX_ACCOUNT_POSITION = "MAX_ACCOUNT_POSITION"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    MAX_NET_EXPOSURE = "MAX_NET_EXPOSURE"
    PRICE_COLLAR = "PRICE_COLLAR"
    SLIPPAGE = "SLIPPAGE"
    MESSAGE_RATE = "MESSAGE_RATE"
    DAILY_LOSS = "DAILY_LOSS"
    ALIGNMENT = "ALIGNMENT"                       # no lot combination within the residual tolerance
    ENGINE_STOPPING = "ENGINE_STOPPING"


class OrderKind(enum.Enum):
    OPEN = "OPEN"          # a ticket adding basis exposure
    CLOSE = "CLOSE"        # a ticket taking it off
    CHASE = "CHASE"        # completing a legged ticket's lagging leg
    UNWIND = "UNWIND"      # taking back a legged ticket's excess
    FLATTEN = "FLATTEN"    # the operator's / kill switch's flatten path


ALLOWED: dict[TradingState, frozenset[OrderKind]] = {
    TradingState.ACTIVE: frozenset(OrderKind),
    TradingState.REDUCING: frozenset({OrderKind.CLOSE, OrderKind.CHASE, OrderKind.UNWIND, OrderKind.FLATTEN}),
    TradingState.HALTED: frozenset({OrderKind.FLATTEN}),
}
#: kinds that reduce exposure: they are not held to position, margin and loss limits
REDUCING_KINDS = frozenset({OrderKind.CLOSE, OrderKind.UNWIND, OrderKind.FLATTEN})


@dataclass(frozen=True, slots=True)
class Denial:
    reason: DenyReason
    detail: str


# -- the checks, each pure ------------------------------------------------------------------------
def check_state(kind: OrderKind, global_state: TradingState, pair_state: TradingState, pair: str) -> Denial | None:
    for state, where in ((global_state, "global"), (pair_state, pair)):
        if kind not in ALLOWED[state]:
            if state is TradingState.HALTED:
                reason = DenyReason.GLOBAL_HALTED if where == "global" else DenyReason.PAIR_HALTED
                return Denial(reason, f"{where} is HALTED: only the flatten path")
            return Denial(DenyReason.REDUCING_ONLY, f"{where} is REDUCING: only orders that reduce exposure")
    return None


def check_session(up: bool, venue: str) -> Denial | None:
    return None if up else Denial(DenyReason.SESSION_DOWN, f"{venue} session is not logged on")


def check_quote_age(age_ms: float, limit_ms: int, venue: str) -> Denial | None:
    if age_ms > limit_ms:
        return Denial(DenyReason.STALE_QUOTE, f"{venue} quote is {age_ms:.0f} ms old (limit {limit_ms}; since "
                                              f"our receipt or, if older, since the venue sent it)")
    return None


def check_fx_age(age_ms: float | None, limit_ms: int) -> Denial | None:
    if age_ms is not None and age_ms > limit_ms:
        return Denial(DenyReason.STALE_FX, f"FX quote is {age_ms:.0f} ms old (limit {limit_ms})")
    return None


def check_depth(depth: Decimal, lots: Decimal, venue: str) -> Denial | None:
    if depth < lots:
        return Denial(DenyReason.NO_DEPTH, f"{venue} book shows {depth} of {lots} lots")
    return None


def check_order_qty(lots: Decimal, limit: Decimal, venue: str) -> Denial | None:
    if lots > limit:
        return Denial(DenyReason.MAX_ORDER_QTY, f"{lots} lots at {venue} above max_order_qty {limit}")
    return None


def check_notional(price: Decimal | None, lots: Decimal, inst: Instrument, limit: Decimal | None) -> Denial | None:
    if limit is None or price is None:
        return None
    notional = price * lots * inst.contract_size
    if notional > limit:
        return Denial(DenyReason.MAX_ORDER_NOTIONAL,
                      f"{inst.name} order notional {notional} {inst.currency} above {limit}")
    return None


def check_collar(price: Decimal | None, touch: Decimal | None, pct: Decimal | None, inst: Instrument) -> Denial | None:
    """Fat-finger guard: a limit further than ``pct`` percent from the touch it trades against."""
    if pct is None or price is None or touch is None or touch <= 0:
        return None
    away = abs(price - touch) / touch * HUNDRED
    if away > pct:
        return Denial(DenyReason.PRICE_COLLAR, f"{inst.name} limit {price} is {away:.3f}% from the touch {touch} "
                                               f"(collar {pct}%)")
    return None


def check_slippage(price: Decimal | None, decision: Decimal | None, side: Side, allowance_ticks: int,
                   inst: Instrument) -> Denial | None:
    """The limit may be worse than the decision price by at most the allowance."""
    if price is None or decision is None:
        return None
    worse = price - decision if side is Side.BUY else decision - price
    if worse > allowance_ticks * inst.tick:
        return Denial(DenyReason.SLIPPAGE, f"{inst.name} limit {price} is {worse} worse than the decision price "
                                           f"{decision} (allowance {allowance_ticks} ticks)")
    return None


def check_instrument_position(position: Decimal, working: Decimal, side: Side, lots: Decimal,
                              limit: Decimal | None, inst: Instrument) -> Denial | None:
    """Worst case: this order and the working ones on the same side all fill."""
    if limit is None:
        return None
    after = position + (lots + working) * side.sign
    if abs(after) > limit and abs(after) > abs(position):
        return Denial(DenyReason.MAX_INSTRUMENT_POSITION, f"{inst.name} position could reach {after} lots "
                                                          f"(limit {limit})")
    return None


def check_account(gross: Decimal, lots: Decimal, limit: Decimal | None, venue: str) -> Denial | None:
    if limit is not None and gross + lots > limit:
        return Denial(DenyReason.MAX_ACCOUNT_POSITION, f"{venue} gross position could reach {gross + lots} lots "
                                                       f"(limit {limit})")
    return None


def check_funds(margin_used: Decimal, lots: Decimal, margin_per_lot: Decimal, funds: Decimal | None,
                venue: str) -> Denial | None:
    if funds is None or not margin_per_lot:
        return None
    need = margin_used + lots * margin_per_lot
    if need > funds:
        return Denial(DenyReason.INSUFFICIENT_FUNDS, f"{venue} margin would be {need} of {funds} available")
    return None


def check_net_exposure(net: Decimal, leg_units: Decimal, limit: Decimal | None, pair: str) -> Denial | None:
    """Worst case for a pair: one leg fills and the other does not."""
    if limit is not None and abs(net + leg_units) > limit:
        return Denial(DenyReason.MAX_NET_EXPOSURE, f"{pair} net exposure could reach {net + leg_units} "
                                                   f"(limit {limit})")
    return None


def check_pair_position(after: Decimal, limit: Decimal, pair: str) -> Denial | None:
    if abs(after) > limit:
        return Denial(DenyReason.MAX_POSITION, f"{pair} position would be {after} (limit {limit})")
    return None


def check_daily_loss(realised: Decimal, limit: Decimal | None, pair: str) -> Denial | None:
    if limit is not None and realised <= -limit:
        return Denial(DenyReason.DAILY_LOSS, f"{pair} realised {realised} today (loss limit {limit})")
    return None


def check_rate(available: float, needed: int, venue: str, limit: int) -> Denial | None:
    if available < needed:
        return Denial(DenyReason.MESSAGE_RATE, f"{venue} message budget spent ({limit} a second)")
    return None


# -- what the gate knows about the day --------------------------------------------------------------
class LegPlan(NamedTuple):
    """One order the gate is asked about (a named tuple: two are made on every decision)."""

    inst: Instrument
    side: Side
    lots: Decimal
    price: Decimal | None         # the limit; None for a MARKET order
    decision: Decimal | None      # the price the decision was made at (or the original limit)
    allowance_ticks: int
    touch: Decimal | None         # best price on the side the order trades against
    depth: Decimal | None = None  # lots the book shows for it (None: not checked)
    units: Decimal = ZERO         # signed underlying units in the pair's unit if it fills
    reach: Decimal | None = None  # a MARKET order: the level its size reaches in the book (None: beyond it)


def market_price(leg: LegPlan, protection_ticks: int | None) -> Decimal | None:
    """The price a MARKET order is checked at: the level its size reaches in the book, else the
    touch moved ``protection_ticks`` against us, else nothing (it cannot be checked)."""
    if leg.reach is not None:
        return leg.reach
    if protection_ticks is None or leg.touch is None:
        return None
    return leg.touch + protection_ticks * leg.inst.tick * leg.side.sign


def describe(ran: list[tuple[str, str]], denial: Denial | None = None) -> dict[str, str]:
    """The checks a verdict ran, in order, each with its result ("ok", or the denial's reason for
    the last one). Built after the orders have left, from the gate's compact record."""
    out = {f"{check} {subject}": "ok" for check, subject in ran}
    if denial is not None and ran:
        check, subject = ran[-1]
        out[f"{check} {subject}"] = denial.reason.value
    return out


@dataclass
class RiskGate:
    cfg: RiskConfig
    ledger: Ledger = field(default_factory=Ledger)   # the engine's positions (read here, changed there)
    _tokens: dict[str, tuple[float, int]] = field(default_factory=dict)
    _outcomes: dict[str, deque] = field(default_factory=dict)

    @property
    def realised(self) -> dict[str, Decimal]:
        """Realised P&L per pair (inner currency), as the ledger has it."""
        return self.ledger.realised

    # -- rate budget (token bucket per venue) -------------------------------------------------
    def available(self, venue: str, now_ns: int) -> float:
        rate = self.cfg.max_message_rate
        tokens, last = self._tokens.get(venue, (float(rate), now_ns))
        return min(float(rate), tokens + (now_ns - last) * rate / 1e9)

    def spend(self, venue: str, now_ns: int, n: int = 1) -> None:
        self._tokens[venue] = (self.available(venue, now_ns) - n, now_ns)

    # -- outcomes -----------------------------------------------------------------------------
    def record_outcome(self, venue: str, rejected: bool) -> Decimal:
        """Record an order's outcome; the share rejected over the last ``reject_window`` orders."""
        q = self._outcomes.setdefault(venue, deque(maxlen=self.cfg.reject_window))
        q.append(rejected)
        if len(q) < q.maxlen:
            return ZERO
        return Decimal(sum(q)) / Decimal(len(q))

    def margin_used(self, instruments: list[Instrument]) -> Decimal:
        total = ZERO
        for i in instruments:
            m = self.cfg.instrument(i.name).margin_per_lot
            if m:
                total += self.ledger.exposure_lots(i.name) * m
        return total

    # -- composed checks ----------------------------------------------------------------------
    # Each composed check appends (check, subject) to ``ran`` before running it, so a verdict says
    # exactly which checks were made (the last one failed if there is a denial). Checks without a
    # configured limit, or without the number they compare (no touch, no decision price), are not
    # made and not listed.
    def check_order(self, kind: OrderKind, leg: LegPlan, *, pair: str, global_state: TradingState,
                    pair_state: TradingState, session_up: bool, now_ns: int, venue_instruments: list[Instrument],
                    pair_net: Decimal = ZERO, rate_needed: int = 1, ran: list | None = None) -> Denial | None:
        ran = [] if ran is None else ran
        ran.append(("state", pair))
        d = check_state(kind, global_state, pair_state, pair)
        if d is not None:
            return d
        ran.append(("session", leg.inst.venue))
        return check_session(session_up, leg.inst.venue) or self._order(kind, leg, pair, now_ns, venue_instruments,
                                                                      pair_net, rate_needed, ran)

    def _order(self, kind: OrderKind, leg: LegPlan, pair: str, now_ns: int, venue_instruments: list[Instrument],
               pair_net: Decimal, rate_needed: int, ran: list) -> Denial | None:
        inst = leg.inst
        name = inst.name
        venue = inst.venue
        lim = self.cfg.instrument(name)
        if leg.depth is not None:
            ran.append(("depth", name))
            d = check_depth(leg.depth, leg.lots, venue)
            if d is not None:
                return d
        ran.append(("order_qty", name))
        d = check_order_qty(leg.lots, inst.max_order_qty, venue)
        if d is not None:
            return d
        px = leg.price
        if px is None:   # MARKET: checked at the price it would reach
            px = market_price(leg, lim.market_protection_ticks)
            if px is None and (lim.max_order_notional is not None or lim.collar_pct is not None
                               or leg.decision is not None):
                ran.append(("market_price", name))
                return Denial(DenyReason.NO_DEPTH, f"{name} MARKET order of {leg.lots} lots: the book does not "
                                                   "reach its size and no market_protection_ticks is set")
        if px is not None:
            if lim.max_order_notional is not None:
                ran.append(("notional", name))
                d = check_notional(px, leg.lots, inst, lim.max_order_notional)
                if d is not None:
                    return d
            if lim.collar_pct is not None and leg.touch is not None:
                ran.append(("collar", name))
                d = check_collar(px, leg.touch, lim.collar_pct, inst)
                if d is not None:
                    return d
            if leg.decision is not None:
                ran.append(("slippage", name))
                d = check_slippage(px, leg.decision, leg.side, leg.allowance_ticks, inst)
                if d is not None:
                    return d
        ran.append(("message_rate", venue))
        d = check_rate(self.available(venue, now_ns), rate_needed, venue, self.cfg.max_message_rate)
        if d is not None or kind in REDUCING_KINDS:
            return d
        acct = self.cfg.account(venue)
        # aggregates are only summed when a limit asks for them (the decision path is hot)
        if lim.max_position is not None:
            ran.append(("instrument_position", name))
            d = check_instrument_position(self.ledger.position(name), self.ledger.working_lots(name, leg.side),
                                          leg.side, leg.lots, lim.max_position, inst)
            if d is not None:
                return d
        if acct.max_gross_lots is not None:
            ran.append(("account_gross", venue))
            d = check_account(self.ledger.gross(venue_instruments), leg.lots, acct.max_gross_lots, venue)
            if d is not None:
                return d
        if acct.funds is not None and lim.margin_per_lot:
            ran.append(("margin", venue))
            d = check_funds(self.margin_used(venue_instruments), leg.lots, lim.margin_per_lot, acct.funds, venue)
            if d is not None:
                return d
        net_limit = self.cfg.pair(pair).max_net_exposure
        if net_limit is not None:
            ran.append(("net_exposure", pair))
            return check_net_exposure(pair_net, leg.units, net_limit, pair)
        return None

    def check_ticket(self, kind: OrderKind, legs: tuple[LegPlan, LegPlan], *, pair: str, global_state: TradingState,
                     pair_state: TradingState, sessions_up: tuple[bool, bool], quote_ages_ms: tuple[float, float],
                     max_quote_age_ms: int, fx_age_ms: float | None, max_fx_age_ms: int, position_after: Decimal,
                     max_position: Decimal, pair_net: Decimal, now_ns: int,
                     venue_instruments: dict[str, list[Instrument]], stopping: bool = False,
                     ran: list | None = None) -> Denial | None:
        """Both legs, each as if it alone filled."""
        ran = [] if ran is None else ran
        if stopping:
            ran.append(("engine", "stopping"))
            return Denial(DenyReason.ENGINE_STOPPING, "engine is stopping")
        ran.append(("state", pair))
        d = check_state(kind, global_state, pair_state, pair)
        if d is not None:
            return d
        for up, leg in zip(sessions_up, legs):
            ran.append(("session", leg.inst.venue))
            d = check_session(up, leg.inst.venue)
            if d is not None:
                return d
        for age, leg in zip(quote_ages_ms, legs):
            ran.append(("quote_age", leg.inst.venue))
            d = check_quote_age(age, max_quote_age_ms, leg.inst.venue)
            if d is not None:
                return d
        if fx_age_ms is not None:
            ran.append(("fx_age", pair))
            d = check_fx_age(fx_age_ms, max_fx_age_ms)
            if d is not None:
                return d
        if kind is OrderKind.OPEN:
            loss_limit = self.cfg.pair(pair).daily_loss_limit
            if loss_limit is not None:
                ran.append(("daily_loss", pair))
                d = check_daily_loss(self.ledger.realised.get(pair, ZERO), loss_limit, pair)
                if d is not None:
                    return d
            ran.append(("pair_position", pair))
            d = check_pair_position(position_after, max_position, pair)
            if d is not None:
                return d
        for leg in legs:
            d = self._order(kind, leg, pair, now_ns, venue_instruments[leg.inst.venue], pair_net, 1, ran)
            if d is not None:
                return d
        return None
