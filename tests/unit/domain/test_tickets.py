"""The ticket: its transition table, exhaustively, and the leg arithmetic that picks its next trigger."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import Direction, ExecType, LegRole, OrderRole, OrdStatus, OrdType, Side, TicketIntent, \
    TimeInForce
from xmc_fix.domain.events import ExecReport
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import Order
from xmc_fix.domain.tickets import TICKET_TRANSITIONS, Decision, Leg, Ticket, TicketState, TicketTrigger
from xmc_fix.errors import IllegalTransition
from tests.unit.factories import comex_hg, lme_ca, shfe_cu  # noqa: F401

S, T = TicketState, TicketTrigger


_ids = itertools.count(1)


def make_order(instrument: Instrument, side: Side, qty: D, *, filled: D = D(0), done: bool = True,
               role: OrderRole = OrderRole.ENTRY) -> Order:
    """An order with ``filled`` lots done; terminal (FILLED or CANCELED) unless ``done`` is False."""
    cl = f"C{next(_ids)}"
    order = Order(NewOrder(cl, instrument, side, qty, OrdType.LIMIT, D(1), TimeInForce.IOC),
                  ticket_id="T1", leg=LegRole.INNER, role=role, created_ns=0)
    if filled:
        status = OrdStatus.FILLED if filled == qty else OrdStatus.PARTIALLY_FILLED
        order.apply(_report(cl, instrument, side, ExecType.TRADE, status, cum=filled, last=filled, leaves=qty - filled))
    if done and not order.is_terminal:
        order.apply(_report(cl, instrument, side, ExecType.CANCELED, OrdStatus.CANCELED, cum=filled, last=D(0),
                            leaves=D(0)))
    return order


def _report(cl: str, instrument: Instrument, side: Side, exec_type: ExecType, status: OrdStatus, *, cum: D,
            last: D, leaves: D) -> ExecReport:
    return ExecReport(venue=instrument.venue, cl_ord_id=cl, orig_cl_ord_id=None, order_id="O" + cl,
                      exec_id=f"E{next(_ids)}", exec_type=exec_type, ord_status=status, side=side,
                      symbol=instrument.symbol, order_qty=None, cum_qty=cum, leaves_qty=leaves, last_qty=last,
                      last_px=D(1), avg_px=D(1), text=None, poss_dup=False, venue_ns=None, recv_ns=1)


def make_decision(**overrides) -> Decision:
    fields = dict(ts_ns=0, basis=D(300), threshold=D(250), inner_px=D(80000), outer_px=D(9800),
                  outer_converted=D("79732.8"), fx=D("7.2"), inner_book=(None, None), outer_book=(None, None),
                  fx_age_ns=None, inner_age_ns=0, outer_age_ns=0, planned_residual=D(0))
    return Decision(**{**fields, **overrides})


def make_ticket(inner: Leg | None = None, outer: Leg | None = None, **overrides) -> Ticket:
    """SELL_BASIS on SHFE copper (5 t) against LME copper (25 t): 5 lots against 1."""
    inner = inner or Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5))
    outer = outer or Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1))
    fields = dict(ticket_id="T1", pair="CU", direction=Direction.SELL_BASIS, intent=TicketIntent.OPEN,
                  created_ns=0, decision=make_decision(), legs={LegRole.INNER: inner, LegRole.OUTER: outer},
                  unit="t", tolerance=D(0))
    return Ticket(**{**fields, **overrides})


# -- the transition table, every combination -----------------------------------------------------
ALL_PAIRS = list(itertools.product(TicketState, TicketTrigger))
LEGAL = [p for p in ALL_PAIRS if p in TICKET_TRANSITIONS]
ILLEGAL = [p for p in ALL_PAIRS if p not in TICKET_TRANSITIONS]


def _id(pair) -> str:
    return f"{pair[0].value}-{pair[1].value}"


@pytest.mark.parametrize("pair", LEGAL, ids=_id)
def test_legal_transition_moves_to_the_tables_next_state(pair):
    state, trigger = pair
    ticket = make_ticket(state=state)

    t = ticket.apply(trigger, ts_ns=42, cause="because")

    assert ticket.state is TICKET_TRANSITIONS[pair]
    assert (t.ts_ns, t.from_state, t.to_state, t.trigger, t.cause) == (42, state, TICKET_TRANSITIONS[pair], trigger,
                                                                        "because")
    assert ticket.transitions == [t]
    assert ticket.ended_ns == (42 if ticket.state.is_terminal else None)


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_illegal_transition_raises_and_leaves_the_ticket_unchanged(pair):
    state, trigger = pair
    ticket = make_ticket(state=state)

    with pytest.raises(IllegalTransition) as info:
        ticket.apply(trigger, ts_ns=42)

    assert (info.value.state, info.value.trigger) == (state, trigger)
    assert "T1" in info.value.machine
    assert ticket.state is state
    assert ticket.transitions == []
    assert ticket.ended_ns is None


@pytest.mark.parametrize("state", [s for s in TicketState if s.is_terminal], ids=lambda s: s.value)
def test_only_a_late_mismatch_reopens_a_finished_ticket(state):
    """A fill reported after the end (it raced the cancel) may leave the legs mismatched again;
    nothing else leaves a finished state, and a FAILED ticket is never reopened."""
    leaving = {t for s, t in TICKET_TRANSITIONS if s is state}
    if state is S.FAILED:
        assert leaving == set()
    else:
        assert leaving == {T.LEGS_MISMATCHED}
        assert TICKET_TRANSITIONS[(state, T.LEGS_MISMATCHED)] is S.LEGGED


def test_terminal_states_are_exactly_the_four_endings():
    assert {s for s in TicketState if s.is_terminal} == {S.COMPLETED, S.UNWOUND, S.MISSED, S.FAILED}


def test_transitions_are_kept_in_order_with_their_causes():
    ticket = make_ticket()

    ticket.apply(T.SENT, 1, "both legs sent")
    ticket.apply(T.LEGS_MISMATCHED, 2, "outer short")
    ticket.apply(T.REPAIR_STARTED, 3, "chase outer")
    ticket.apply(T.REPAIR_MATCHED, 4, "outer filled")

    assert [(t.from_state, t.to_state, t.cause) for t in ticket.transitions] == [
        (S.PENDING, S.WORKING, "both legs sent"),
        (S.WORKING, S.LEGGED, "outer short"),
        (S.LEGGED, S.REPAIRING, "chase outer"),
        (S.REPAIRING, S.COMPLETED, "outer filled"),
    ]
    assert ticket.ended_ns == 4


# -- legs -----------------------------------------------------------------------------------------
def test_leg_filled_lots_sums_its_orders():
    leg = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[
        make_order(shfe_cu(), Side.SELL, D(5), filled=D(3)),
        make_order(shfe_cu(), Side.SELL, D(2), filled=D(2), role=OrderRole.CHASE),
    ])

    assert leg.filled_lots == D(5)


def test_unwind_orders_trading_the_other_way_reduce_filled_lots():
    leg = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[
        make_order(shfe_cu(), Side.SELL, D(5), filled=D(5)),
        make_order(shfe_cu(), Side.BUY, D(5), filled=D(3), role=OrderRole.UNWIND),
    ])

    assert leg.filled_lots == D(2)


def test_leg_fully_unwound_has_nothing_filled():
    leg = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[
        make_order(lme_ca(), Side.BUY, D(1), filled=D(1)),
        make_order(lme_ca(), Side.SELL, D(1), filled=D(1), role=OrderRole.UNWIND),
    ])

    assert leg.filled_lots == 0


def test_leg_is_working_while_any_order_is_live():
    leg = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[
        make_order(shfe_cu(), Side.SELL, D(5), filled=D(5)),
        make_order(shfe_cu(), Side.BUY, D(1), done=False, role=OrderRole.UNWIND),
    ])

    assert leg.working


def test_leg_filled_units_converts_lots_to_the_asked_unit():
    leg = Leg(LegRole.OUTER, comex_hg(), Side.BUY, D(4), orders=[make_order(comex_hg(), Side.BUY, D(4), filled=D(4))])

    # 4 lots x 25,000 lb = 100,000 lb; x 0.00045359237 t/lb = 45.359237 t
    assert leg.filled_units("lb") == D(100000)
    assert leg.filled_units("t") == D("45.359237")


# -- residual, matched, settle_trigger -------------------------------------------------------------
def test_residual_is_inner_minus_outer_in_the_pairs_unit():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(9), orders=[make_order(shfe_cu(), Side.SELL, D(9), filled=D(9))])
    outer = Leg(LegRole.OUTER, comex_hg(), Side.BUY, D(4), orders=[make_order(comex_hg(), Side.BUY, D(4), filled=D(4))])
    ticket = make_ticket(inner, outer, tolerance=D("0.5"))

    # 9 x 5 t = 45 t against 4 x 25,000 lb = 45.359237 t
    assert ticket.residual == D(45) - D("45.359237")
    assert ticket.matched


def test_residual_beyond_tolerance_is_not_matched():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(9), orders=[make_order(shfe_cu(), Side.SELL, D(9), filled=D(9))])
    outer = Leg(LegRole.OUTER, comex_hg(), Side.BUY, D(4), orders=[make_order(comex_hg(), Side.BUY, D(4), filled=D(4))])
    ticket = make_ticket(inner, outer, tolerance=D("0.359"))

    assert not ticket.matched


def test_residual_exactly_at_tolerance_is_matched():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(9), orders=[make_order(shfe_cu(), Side.SELL, D(9), filled=D(9))])
    outer = Leg(LegRole.OUTER, comex_hg(), Side.BUY, D(4), orders=[make_order(comex_hg(), Side.BUY, D(4), filled=D(4))])
    ticket = make_ticket(inner, outer, tolerance=D("0.359237"))

    assert ticket.matched


def test_positive_residual_means_the_inner_leg_leads():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[make_order(shfe_cu(), Side.SELL, D(5), filled=D(5))])
    outer = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[make_order(lme_ca(), Side.BUY, D(1))])
    ticket = make_ticket(inner, outer)

    assert ticket.residual == D(25)


def test_settle_trigger_is_none_while_an_order_is_live():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[make_order(shfe_cu(), Side.SELL, D(5), filled=D(5))])
    outer = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[make_order(lme_ca(), Side.BUY, D(1), done=False)])
    ticket = make_ticket(inner, outer)

    assert ticket.working
    assert ticket.settle_trigger() is None


def test_settle_trigger_is_legs_empty_when_nothing_filled():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[make_order(shfe_cu(), Side.SELL, D(5))])
    outer = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[make_order(lme_ca(), Side.BUY, D(1))])
    ticket = make_ticket(inner, outer)

    assert ticket.empty
    assert ticket.settle_trigger() is T.LEGS_EMPTY


def test_settle_trigger_is_legs_matched_when_both_legs_filled_equally():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[make_order(shfe_cu(), Side.SELL, D(5), filled=D(5))])
    outer = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[make_order(lme_ca(), Side.BUY, D(1), filled=D(1))])
    ticket = make_ticket(inner, outer)

    assert ticket.residual == 0
    assert ticket.settle_trigger() is T.LEGS_MATCHED


def test_settle_trigger_is_legs_mismatched_when_one_leg_filled_short():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[make_order(shfe_cu(), Side.SELL, D(5), filled=D(3))])
    outer = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[make_order(lme_ca(), Side.BUY, D(1), filled=D(1))])
    ticket = make_ticket(inner, outer)

    # 3 x 5 t - 1 x 25 t = -10 t
    assert ticket.residual == D(-10)
    assert ticket.settle_trigger() is T.LEGS_MISMATCHED


def test_settle_trigger_is_legs_empty_once_the_leading_leg_is_fully_unwound():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[
        make_order(shfe_cu(), Side.SELL, D(5), filled=D(5)),
        make_order(shfe_cu(), Side.BUY, D(5), filled=D(5), role=OrderRole.UNWIND),
    ])
    outer = Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[make_order(lme_ca(), Side.BUY, D(1))])
    ticket = make_ticket(inner, outer)

    assert ticket.residual == 0
    assert ticket.settle_trigger() is T.LEGS_EMPTY


def test_settle_trigger_within_tolerance_is_legs_matched():
    inner = Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(9), orders=[make_order(shfe_cu(), Side.SELL, D(9), filled=D(9))])
    outer = Leg(LegRole.OUTER, comex_hg(), Side.BUY, D(4), orders=[make_order(comex_hg(), Side.BUY, D(4), filled=D(4))])
    ticket = make_ticket(inner, outer, tolerance=D("0.5"))

    assert ticket.settle_trigger() is T.LEGS_MATCHED


def test_ticket_orders_yields_every_leg_order():
    a = make_order(shfe_cu(), Side.SELL, D(5))
    b = make_order(lme_ca(), Side.BUY, D(1))
    c = make_order(lme_ca(), Side.BUY, D(1), role=OrderRole.CHASE)
    ticket = make_ticket(Leg(LegRole.INNER, shfe_cu(), Side.SELL, D(5), orders=[a]),
                         Leg(LegRole.OUTER, lme_ca(), Side.BUY, D(1), orders=[b, c]))

    assert list(ticket.orders()) == [a, b, c]
