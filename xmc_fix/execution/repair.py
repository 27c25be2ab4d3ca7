"""Repair planning for a legged ticket: chase the lagging leg or unwind the leading one.

Pure: given the ticket's fills, the current books and the pair's policy, :func:`plan` returns the
next step (one or two IOC orders) or the reason repair must stop. The engine sends the step, waits
for its outcome, and plans again, so every step is decided on fresh prices.

- Chase: trade the missing quantity on the lagging leg, in the ticket's direction, priced at the
  level its size reaches now plus the leg's slippage allowance, but never more than
  ``chase_ticks`` beyond the leg's original limit (re-pricing step by step over the attempts).
- Unwind: trade back the leading leg's excess, crossing the touch by ``unwind_ticks``. When no
  partial unwind brings the legs within tolerance (contract sizes that do not divide), the whole
  ticket is unwound: both legs back to zero.
- ``auto`` compares the expected cost of each at current prices, in the inner leg's currency:
  chasing costs the adverse move of the lagging leg since the decision; unwinding costs the
  round trip of the leading leg (its fill price against the price it can be sold back at now).
- A reject that cannot succeed if the same order goes to the same venue again (unknown
  instrument, market closed, insufficient margin or position, invalid price or quantity, duplicate
  ClOrdID: :func:`final_reject`, from OrdRejReason (103) and the text) closes that path for the
  ticket: a lagging leg rejected so is not chased but the leading leg unwound; an unwind rejected
  so is not sent again; with both paths closed, repair stops (the ticket fails, the pair halts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from xmc_fix.basis.pricing import PairPricer, sweep
from xmc_fix.config import RepairPolicy
from xmc_fix.domain.enums import LegRole, OrderRole, OrdStatus, Side
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.tickets import Leg, Ticket

ZERO = Decimal(0)

#: OrdRejReason (103) values after which the same order sent to the same venue again cannot
#: succeed (FIX 4.4; 16 and 18 from FIX 5.0). Not here: 0 broker option, 8 stale order,
#: 12 surveillance option (a retry may pass), 99 other (the text decides).
FINAL_REJECT_CODES: dict[str, str] = {
    "1": "unknown symbol",
    "2": "exchange closed",
    "3": "order exceeds limit",
    "4": "too late to enter",
    "5": "unknown order",
    "6": "duplicate order",
    "7": "duplicate of a verbally communicated order",
    "9": "trade along required",
    "10": "invalid investor ID",
    "11": "unsupported order characteristic",
    "13": "incorrect quantity",
    "14": "incorrect allocated quantity",
    "15": "unknown account",
    "16": "price exceeds current price band",
    "18": "invalid price increment",
}
#: The same, read from the reject's text (Text 58) when the code is missing, 0 or 99.
FINAL_REJECT_TEXTS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p, re.I), why) for p, why in (
    (r"unknown (symbol|instrument|security|contract)|no such (symbol|instrument)", "unknown instrument"),
    (r"(market|exchange|session) (is )?closed|not open for trading|outside (the )?trading hours|"
     r"trading (is )?(halted|suspended)", "market closed"),
    (r"insufficient|not enough (margin|funds|position)|exceeds? (the )?(position|credit|margin|risk) limit",
     "insufficient margin or position"),
    (r"invalid (price|quantity|qty|lot)|tick (size|grid)|price increment|lot size|multiple of|bad (price|quantity)",
     "price or quantity invalid"),
    (r"duplicate", "duplicate order"),
    (r"unsupported|unknown account", "not accepted by the venue"),
))


#: A reject's text saying the account does not hold what a close asked for (whatever the code: SHFE
#: gateways send 103=3 "exceeds limit" with it).
POSITION_TEXT = re.compile(r"insufficient\b.*\bposition|position\b.*\binsufficient|not enough position|"
                           r"no position to close", re.I)


def refused_for_position(text: str | None) -> bool:
    return bool(text and POSITION_TEXT.search(text))


def final_reject(code: str | None, text: str | None) -> str | None:
    """Why a rejected order cannot succeed if sent to the same venue again, or ``None`` if a retry
    may pass (a simulated or unexplained reject, a price outside today's limits)."""
    if code in FINAL_REJECT_CODES:
        return FINAL_REJECT_CODES[code]
    for pattern, why in FINAL_REJECT_TEXTS:
        if text and pattern.search(text):
            return why
    return None


def _closed(leg: Leg, side: Side) -> str | None:
    """A reject on ``leg`` in direction ``side`` that closes that path for the ticket, said for people."""
    for o in leg.orders:
        if o.side is side and o.status is OrdStatus.REJECTED:
            why = final_reject(o.rej_reason, o.text)
            if why is not None:
                return f"{o.instrument.venue} rejected {o.cl_ord_id} for good ({why})"
    return None


@dataclass(frozen=True, slots=True)
class Step:
    role: OrderRole          # CHASE or UNWIND
    leg: LegRole
    side: Side
    lots: Decimal
    price: Decimal
    expected_cost: Decimal   # inner currency, at current prices


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    kind: str                # CHASE | UNWIND | UNWIND_ALL
    reason: str


@dataclass(frozen=True, slots=True)
class Stop:
    reason: str


def _avg_fill(leg: Leg) -> Decimal | None:
    qty = ZERO
    notional = ZERO
    for o in leg.orders:
        if o.side is leg.side and o.filled_qty:
            qty += o.filled_qty
            notional += o.filled_qty * (o.avg_px or (o.command.price or ZERO))
    return notional / qty if qty else None


def _original_limit(leg: Leg) -> Decimal | None:
    for o in leg.orders:
        if o.role is OrderRole.ENTRY and o.command.price is not None:
            return o.command.price
    return None


def _best_lots(residual: Decimal, size: Decimal, inst: Instrument, tolerance: Decimal,
               upto: Decimal | None = None) -> Decimal | None:
    """Lots of ``size`` units that bring ``|residual|`` within ``tolerance``, the closest first."""
    best = None
    target = abs(residual) / size
    step = inst.lot_step
    for rounding in (ROUND_FLOOR, ROUND_CEILING):
        lots = (target / step).to_integral_value(rounding) * step
        if lots <= 0 or (upto is not None and lots > upto):
            continue
        left = abs(abs(residual) - lots * size)
        if left <= tolerance and (best is None or left < best[0]):
            best = (left, lots)
    return best[1] if best else None


def _money(pricer: PairPricer, role: LegRole, price_diff: Decimal, lots: Decimal, fx: Decimal | None) -> Decimal:
    """A price difference on ``lots`` of a leg, in the inner leg's currency."""
    if role is LegRole.INNER:
        return price_diff * pricer.inner.lots_to_units(lots)
    units = pricer.outer.lots_to_units(lots, pricer.inner.unit)
    conv = pricer.convert(price_diff, fx) - pricer.convert(ZERO, fx)  # the cost term cancels
    return conv * units


def plan(ticket: Ticket, pricer: PairPricer, policy: RepairPolicy, books: dict[LegRole, object],
         fx: Decimal | None, attempts: dict[str, int], slippage: dict[LegRole, int]) -> Plan | Stop | None:
    """The next repair step for ``ticket``, ``Stop`` if repair cannot go on, ``None`` if matched."""
    unit = ticket.unit
    legs = ticket.legs
    r = ticket.excess        # what the fills are off the ticket's aim; repair brings it within tolerance
    if abs(r) <= ticket.tolerance:
        return None
    if policy.mode == "halt":
        return Stop("repair mode is halt: left for the operator")
    lead_role = LegRole.INNER if r > 0 else LegRole.OUTER
    lag_role = LegRole.OUTER if lead_role is LegRole.INNER else LegRole.INNER
    lead, lag = legs[lead_role], legs[lag_role]
    lead_size = lead.instrument.lots_to_units(Decimal(1), unit)
    lag_size = lag.instrument.lots_to_units(Decimal(1), unit)

    chase = None
    no_chase = _closed(lag, lag.side)             # the lagging leg cannot be had at its venue
    no_unwind = _closed(lead, lead.side.opposite)  # nor the leading leg taken back at its venue
    # a chase completes the ticket's planned size, never more: an over-filled leg is unwound instead
    room = lag.target_lots - lag.filled_lots
    chase_lots = _best_lots(r, lag_size, lag.instrument, ticket.tolerance, upto=room) if room > 0 else None
    if (policy.mode in ("auto", "chase") and chase_lots and attempts.get("CHASE", 0) < policy.chase_attempts
            and no_chase is None):
        book = books[lag_role]
        levels = book.asks if lag.side is Side.BUY else book.bids
        sw = sweep(levels, chase_lots) if book is not None and book.valid else None
        original = _original_limit(lag)
        if sw is not None and sw.qty >= chase_lots:
            inst = lag.instrument
            tick = inst.tick
            n = attempts.get("CHASE", 0) + 1
            reach = (Decimal(policy.chase_ticks) * n / max(policy.chase_attempts, 1)).to_integral_value(ROUND_CEILING)
            want = sw.worst + slippage[lag_role] * tick if lag.side is Side.BUY else sw.worst - slippage[lag_role] * tick
            if original is not None:
                cap = original + reach * tick if lag.side is Side.BUY else original - reach * tick
                price = min(want, cap) if lag.side is Side.BUY else max(want, cap)
                reachable = (sw.worst <= cap) if lag.side is Side.BUY else (sw.worst >= cap)
            else:
                price, reachable = want, True
            if reachable:
                d = ticket.decision
                decision_px = (d.inner_px if lag_role is LegRole.INNER else d.outer_px) or sw.avg
                diff = (sw.avg - decision_px) if lag.side is Side.BUY else (decision_px - sw.avg)
                cost = _money(pricer, lag_role, diff, chase_lots, fx)
                per_unit = cost / (chase_lots * lag_size)
                if policy.max_chase_cost is None or per_unit <= policy.max_chase_cost:
                    chase = Step(OrderRole.CHASE, lag_role, lag.side, chase_lots,
                                 inst.round_price(price, lag.side), cost)

    unwind = None
    if attempts.get("UNWIND", 0) < policy.unwind_attempts and no_unwind is None:
        unwind = _unwind(ticket, lead_role, lag_role, lead_size, r, policy, books, pricer, fx)
        if unwind is not None and unwind.kind == "UNWIND_ALL" and _closed(lag, lag.side.opposite):
            no_unwind, unwind = _closed(lag, lag.side.opposite), None
    if unwind is not None and no_chase is not None:
        unwind = Plan(unwind.steps, unwind.kind, f"{unwind.reason}; no chase: {no_chase}")
    if policy.mode == "unwind" and unwind is not None:
        return unwind
    if chase is not None and (policy.mode == "chase" or unwind is None
                              or chase.expected_cost <= sum(s.expected_cost for s in unwind.steps)):
        alt = f"; unwind would cost {sum(s.expected_cost for s in unwind.steps):.2f}" if unwind else ""
        return Plan((chase,), "CHASE", f"chase {chase.lots} lots on {lag_role.value.lower()} "
                                      f"(expected cost {chase.expected_cost:.2f}{alt})")
    if unwind is not None:
        return unwind
    if no_unwind is not None and (chase_lots is None or no_chase is not None or policy.mode == "unwind"
                                  or attempts.get("CHASE", 0) >= policy.chase_attempts):
        return Stop(f"no repair can succeed: {no_unwind}" + (f"; {no_chase}" if no_chase else "")
                    + f"; residual {r} {unit}")
    if attempts.get("UNWIND", 0) >= policy.unwind_attempts:
        return Stop(f"unwind attempts exhausted ({policy.unwind_attempts}); residual {r} {unit}")
    return Stop(f"no liquidity to repair residual {r} {unit}")


def _unwind(ticket: Ticket, lead_role: LegRole, lag_role: LegRole, lead_size: Decimal, r: Decimal,
            policy: RepairPolicy, books, pricer: PairPricer, fx) -> Plan | None:
    legs = ticket.legs
    lead = legs[lead_role]
    held = lead.filled_lots
    lots = _best_lots(r, lead_size, lead.instrument, ticket.tolerance, upto=held)
    wanted: list[tuple[LegRole, Decimal]]
    if lots is not None:
        wanted = [(lead_role, lots)]
        kind = "UNWIND"
    else:  # contract sizes do not divide: take the whole ticket back to zero
        wanted = [(role, legs[role].filled_lots) for role in (lead_role, lag_role) if legs[role].filled_lots > 0]
        kind = "UNWIND_ALL"
    steps = []
    for role, n in wanted:
        leg = legs[role]
        side = leg.side.opposite
        book = books[role]
        if book is None or not book.valid:
            return None
        levels = book.asks if side is Side.BUY else book.bids
        if not levels:
            return None
        sw = sweep(levels, n)
        tick = leg.instrument.tick
        worst = sw.worst if sw is not None else levels[-1][0]
        price = worst + policy.unwind_ticks * tick if side is Side.BUY else worst - policy.unwind_ticks * tick
        if price <= 0:
            price = tick
        avg = sw.avg if sw is not None else worst
        entry = _avg_fill(leg) or avg
        diff = (entry - avg) if leg.side is Side.BUY else (avg - entry)   # round trip of the excess
        steps.append(Step(OrderRole.UNWIND, role, side, n, leg.instrument.round_price(price, side),
                          _money(pricer, role, diff, n, fx)))
    if not steps:
        return None
    what = " and ".join(f"{s.lots} lots on {s.leg.value.lower()}" for s in steps)
    return Plan(tuple(steps), kind, f"unwind {what} (expected cost {sum(s.expected_cost for s in steps):.2f})")
