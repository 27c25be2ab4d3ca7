"""Order.apply: ExecutionReports reconciled into one order's state, whatever their arrival order."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import ExecType, LegRole, OrderRole, OrdStatus, OrdType, Side, TimeInForce
from xmc_fix.domain.events import ExecReport
from xmc_fix.domain.instruments import Instrument
from xmc_fix.domain.orders import Order

ORDER_QTY = D(10)


# -- stub factories ----------------------------------------------------------------------------
def make_instrument(**overrides) -> Instrument:
    fields = dict(name="SHFE_CU", venue="SHFE", symbol="CU", currency="CNY", contract_size=D(5),
                  unit="t", tick=D(10))
    return Instrument(**{**fields, **overrides})


def make_command(**overrides) -> NewOrder:
    fields = dict(cl_ord_id="C1", instrument=make_instrument(), side=Side.BUY, qty=ORDER_QTY,
                  ord_type=OrdType.LIMIT, price=D(70000), tif=TimeInForce.IOC)
    return NewOrder(**{**fields, **overrides})


def make_order(**overrides) -> Order:
    fields = dict(command=make_command(), ticket_id="T1", leg=LegRole.INNER, role=OrderRole.ENTRY,
                  created_ns=0)
    return Order(**{**fields, **overrides})


def make_report(**overrides) -> ExecReport:
    """A NEW acknowledgement of the default order, nothing filled."""
    fields = dict(venue="SHFE", cl_ord_id="C1", orig_cl_ord_id=None, order_id="O1", exec_id="E-new",
                  exec_type=ExecType.NEW, ord_status=OrdStatus.NEW, side=Side.BUY, symbol="CU",
                  order_qty=ORDER_QTY, cum_qty=D(0), leaves_qty=ORDER_QTY, last_qty=D(0), last_px=D(0),
                  avg_px=D(0), text=None, poss_dup=False, venue_ns=None, recv_ns=1_000)
    return ExecReport(**{**fields, **overrides})


def make_trade(exec_id: str, last_qty: D, last_px: D, cum_qty: D, avg_px: D = D(0), **overrides) -> ExecReport:
    """A TRADE report; its OrdStatus follows from CumQty unless overridden."""
    status = OrdStatus.FILLED if cum_qty == ORDER_QTY else OrdStatus.PARTIALLY_FILLED
    fields = dict(exec_id=exec_id, exec_type=ExecType.TRADE, ord_status=status, cum_qty=cum_qty,
                  leaves_qty=ORDER_QTY - cum_qty, last_qty=last_qty, last_px=last_px, avg_px=avg_px)
    return make_report(**{**fields, **overrides})


def make_cancel(exec_id: str = "E-cxl", cum_qty: D = D(0), **overrides) -> ExecReport:
    fields = dict(exec_id=exec_id, exec_type=ExecType.CANCELED, ord_status=OrdStatus.CANCELED,
                  cum_qty=cum_qty, leaves_qty=D(0))
    return make_report(**{**fields, **overrides})


def make_terminal(status: OrdStatus, exec_id: str = "E-end", **overrides) -> ExecReport:
    exec_type = {OrdStatus.CANCELED: ExecType.CANCELED, OrdStatus.REJECTED: ExecType.REJECTED,
                 OrdStatus.EXPIRED: ExecType.EXPIRED}[status]
    return make_report(**{**dict(exec_id=exec_id, exec_type=exec_type, ord_status=status, leaves_qty=D(0)),
                          **overrides})


def snapshot(order: Order) -> tuple:
    """Everything an ExecutionReport can change, for before/after comparisons."""
    return (order.status, order.cum_qty, order.leaves_qty, order.avg_px, order.cl_ord_id, order.order_id,
            order.ack_ns, order.done_ns, order.text, tuple(order.fills), frozenset(order.exec_ids))


# -- construction ------------------------------------------------------------------------------
def test_new_order_starts_pending_with_the_commands_id_and_whole_quantity_leaving():
    order = make_order()

    assert order.status is OrdStatus.PENDING_NEW
    assert order.cl_ord_id == "C1"
    assert order.leaves_qty == ORDER_QTY
    assert order.cum_qty == 0
    assert order.filled_qty == 0
    assert not order.is_terminal


# -- at most once, by ExecID ---------------------------------------------------------------------
def test_duplicate_exec_id_is_ignored():
    order = make_order()
    order.apply(make_report())
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))
    before = snapshot(order)

    applied = order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))

    assert applied.duplicate
    assert applied.fill is None
    assert not applied.status_changed
    assert snapshot(order) == before


def test_poss_dup_repeat_of_a_fill_changes_nothing():
    order = make_order()
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))
    before = snapshot(order)

    applied = order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010), poss_dup=True, recv_ns=9_999))

    assert applied.duplicate
    assert snapshot(order) == before
    assert order.filled_qty == D(4)


def test_poss_dup_repeat_of_a_terminal_report_changes_nothing():
    order = make_order()
    order.apply(make_trade("E1", D(10), D(70010), D(10), D(70010)))
    before = snapshot(order)

    applied = order.apply(make_trade("E1", D(10), D(70010), D(10), D(70010), poss_dup=True))

    assert applied.duplicate
    assert snapshot(order) == before


def test_poss_dup_report_never_seen_before_is_applied():
    # PossDup only says "may have been sent before"; an ExecID we do not hold is news.
    order = make_order()

    applied = order.apply(make_trade("E1", D(3), D(70010), D(3), D(70010), poss_dup=True))

    assert not applied.duplicate
    assert applied.fill is not None
    assert order.cum_qty == D(3)


def test_same_trade_repeated_under_a_new_exec_id_counts_fills_but_not_cum_qty_twice():
    # A venue that re-reports a trade under a fresh ExecID adds a fill; CumQty stays the venue's
    # word, and filled_qty shows the larger of the two so that exposure is never understated.
    order = make_order()
    order.apply(make_trade("E1", D(3), D(70010), D(3), D(70010)))

    order.apply(make_trade("E1-again", D(3), D(70010), D(3), D(70010)))

    assert order.cum_qty == D(3)
    assert len(order.fills) == 2
    assert order.filled_qty == D(6)


# -- CumQty ---------------------------------------------------------------------------------------
def test_cum_qty_never_decreases_on_a_late_report():
    order = make_order()
    order.apply(make_trade("E2", D(3), D(70020), D(7), D(70014)))

    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))

    assert order.cum_qty == D(7)
    assert order.status is OrdStatus.PARTIALLY_FILLED
    assert order.leaves_qty == D(3)


def test_filled_qty_counts_a_trade_before_the_report_that_raised_cum_qty():
    order = make_order()
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))
    # a status report says CumQty 4 while a second trade of 2 has already been applied
    order.apply(make_trade("E2", D(2), D(70020), D(4), D(70010)))

    assert order.cum_qty == D(4)
    assert order.filled_qty == D(6)


def test_order_status_report_with_cum_qty_raises_cum_qty_without_a_fill():
    order = make_order()

    applied = order.apply(make_report(exec_id="E-st", exec_type=ExecType.ORDER_STATUS,
                                      ord_status=OrdStatus.PARTIALLY_FILLED, cum_qty=D(5), leaves_qty=D(5),
                                      avg_px=D(70000)))

    assert applied.fill is None
    assert order.fills == []
    assert order.cum_qty == D(5)
    assert order.filled_qty == D(5)
    assert order.avg_px == D(70000)


def test_trade_with_zero_last_qty_records_no_fill():
    order = make_order()

    applied = order.apply(make_trade("E1", D(0), D(70010), D(0), ord_status=OrdStatus.NEW))

    assert applied.fill is None
    assert order.fills == []


def test_fill_carries_exec_id_quantity_price_and_both_times():
    order = make_order()

    applied = order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010), venue_ns=500, recv_ns=700))

    fill = applied.fill
    assert (fill.exec_id, fill.cl_ord_id, fill.qty, fill.price, fill.venue_ns, fill.recv_ns) == \
        ("E1", "C1", D(4), D(70010), 500, 700)
    assert order.fills == [fill]


# -- average price --------------------------------------------------------------------------------
def test_avg_px_is_taken_from_the_report_that_raised_cum_qty():
    order = make_order()
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))
    order.apply(make_trade("E2", D(6), D(70020), D(10), D(70016)))

    assert order.avg_px == D(70016)


def test_avg_px_of_a_late_smaller_report_does_not_replace_the_newer_one():
    order = make_order()
    order.apply(make_trade("E2", D(6), D(70020), D(10), D(70016)))

    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))

    assert order.avg_px == D(70016)


def test_avg_px_is_the_fills_vwap_when_the_venue_sends_none():
    order = make_order()

    order.apply(make_trade("E1", D(2), D(100), D(2)))
    assert order.avg_px == D(100)

    order.apply(make_trade("E2", D(3), D(110), D(5)))
    # (2 x 100 + 3 x 110) / 5 = (200 + 330) / 5 = 530 / 5 = 106
    assert order.avg_px == D(106)


def test_avg_px_is_the_fills_vwap_when_a_trade_without_avg_px_does_not_raise_cum_qty():
    order = make_order()
    order.apply(make_report(exec_id="E-st", exec_type=ExecType.ORDER_STATUS,
                            ord_status=OrdStatus.PARTIALLY_FILLED, cum_qty=D(5), leaves_qty=D(5)))

    order.apply(make_trade("E1", D(2), D(100), D(2)))
    order.apply(make_trade("E2", D(3), D(110), D(5)))

    # (200 + 330) / 5 = 106
    assert order.avg_px == D(106)


# -- terminal states ------------------------------------------------------------------------------
@pytest.mark.parametrize("terminal", [OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED])
@pytest.mark.parametrize("late", [OrdStatus.PENDING_NEW, OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED,
                                  OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE, OrdStatus.REPLACED])
def test_terminal_status_is_not_undone_by_a_late_non_terminal_report(terminal, late):
    order = make_order()
    order.apply(make_terminal(terminal))

    applied = order.apply(make_report(exec_id="E-late", exec_type=ExecType.ORDER_STATUS, ord_status=late))

    assert order.status is terminal
    assert order.leaves_qty == 0
    assert not applied.status_changed


@pytest.mark.parametrize("late", [OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED])
def test_filled_is_not_undone_by_a_late_terminal_report(late):
    order = make_order()
    order.apply(make_trade("E1", D(10), D(70010), D(10), D(70010)))

    order.apply(make_terminal(late))

    assert order.status is OrdStatus.FILLED
    assert order.cum_qty == ORDER_QTY


@pytest.mark.parametrize("terminal", [OrdStatus.CANCELED, OrdStatus.EXPIRED])
def test_filled_completes_a_canceled_or_expired_order(terminal):
    order = make_order()
    order.apply(make_terminal(terminal, cum_qty=D(4)))

    applied = order.apply(make_trade("E-late", D(6), D(70020), D(10), D(70016)))

    assert order.status is OrdStatus.FILLED
    assert applied.status_changed
    assert order.cum_qty == ORDER_QTY
    assert order.leaves_qty == 0


def test_filled_does_not_complete_a_rejected_order():
    order = make_order()
    order.apply(make_terminal(OrdStatus.REJECTED, text="price out of band"))

    applied = order.apply(make_trade("E-late", D(10), D(70010), D(10), D(70010)))

    assert order.status is OrdStatus.REJECTED
    assert not applied.status_changed
    assert order.text == "price out of band"


@pytest.mark.parametrize("late_status", [OrdStatus.CANCELED, OrdStatus.PARTIALLY_FILLED])
def test_fill_after_a_cancel_is_still_counted(late_status):
    order = make_order()
    order.apply(make_trade("E1", D(2), D(70010), D(2), D(70010)))
    order.apply(make_cancel(cum_qty=D(2)))

    applied = order.apply(make_trade("E2", D(1), D(70020), D(3), ord_status=late_status, leaves_qty=D(0)))

    assert applied.fill is not None
    assert order.status is OrdStatus.CANCELED
    assert order.cum_qty == D(3)
    assert order.filled_qty == D(3)
    assert order.leaves_qty == 0


def test_terminal_report_sets_leaves_to_zero_whatever_the_venue_says():
    order = make_order()

    order.apply(make_cancel(leaves_qty=D(10)))

    assert order.leaves_qty == 0


# -- non-terminal ordering -----------------------------------------------------------------------
def test_late_new_does_not_undo_a_partial_fill():
    order = make_order()
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))

    applied = order.apply(make_report(exec_id="E-new"))

    assert order.status is OrdStatus.PARTIALLY_FILLED
    assert order.leaves_qty == D(6)
    assert not applied.status_changed


def test_late_pending_new_does_not_undo_new():
    order = make_order()
    order.apply(make_report(exec_id="E-new"))

    order.apply(make_report(exec_id="E-pnew", exec_type=ExecType.PENDING_NEW, ord_status=OrdStatus.PENDING_NEW))

    assert order.status is OrdStatus.NEW


def test_partial_fill_is_accepted_while_a_cancel_is_pending():
    order = make_order()
    order.apply(make_report(exec_id="E-pc", exec_type=ExecType.PENDING_CANCEL,
                            ord_status=OrdStatus.PENDING_CANCEL))

    applied = order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010)))

    assert order.status is OrdStatus.PARTIALLY_FILLED
    assert order.leaves_qty == D(6)
    assert applied.status_changed


def test_new_report_acknowledges_and_records_venue_order_id():
    order = make_order()

    applied = order.apply(make_report(order_id="V-77", recv_ns=1_234))

    assert applied.status_changed
    assert order.status is OrdStatus.NEW
    assert order.order_id == "V-77"
    assert order.ack_ns == 1_234


def test_order_id_none_placeholder_does_not_overwrite_the_known_order_id():
    order = make_order()
    order.apply(make_report(order_id="V-77"))

    order.apply(make_terminal(OrdStatus.REJECTED, order_id="NONE"))

    assert order.order_id == "V-77"


def test_rejected_order_keeps_the_venues_text_and_is_done():
    order = make_order()

    order.apply(make_terminal(OrdStatus.REJECTED, text="unknown account", recv_ns=2_000))

    assert order.is_terminal
    assert order.text == "unknown account"
    assert order.done_ns == 2_000


# -- replace ------------------------------------------------------------------------------------
def test_replaced_report_changes_cl_ord_id():
    order = make_order()
    order.apply(make_report())

    order.apply(make_report(exec_id="E-rpl", exec_type=ExecType.REPLACED, ord_status=OrdStatus.REPLACED,
                            cl_ord_id="C2", orig_cl_ord_id="C1"))

    assert order.cl_ord_id == "C2"


def test_non_replace_report_with_another_cl_ord_id_does_not_change_it():
    order = make_order()

    order.apply(make_report(exec_id="E-pr", exec_type=ExecType.PENDING_REPLACE,
                            ord_status=OrdStatus.PENDING_REPLACE, cl_ord_id="C2", orig_cl_ord_id="C1"))

    assert order.cl_ord_id == "C1"


# -- times ------------------------------------------------------------------------------------
def test_ack_ns_is_the_first_non_status_report_and_is_kept():
    order = make_order()
    order.apply(make_report(exec_id="E-st", exec_type=ExecType.ORDER_STATUS, recv_ns=100))
    assert order.ack_ns is None

    order.apply(make_report(exec_id="E-new", recv_ns=200))
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010), recv_ns=300))

    assert order.ack_ns == 200


def test_done_ns_is_when_the_order_first_became_terminal():
    order = make_order()
    order.apply(make_report(recv_ns=100))
    order.apply(make_trade("E1", D(4), D(70010), D(4), D(70010), recv_ns=200))
    assert order.done_ns is None

    order.apply(make_cancel(cum_qty=D(4), recv_ns=300))
    order.apply(make_trade("E2", D(6), D(70020), D(10), D(70016), recv_ns=400))

    assert order.status is OrdStatus.FILLED
    assert order.done_ns == 300


# -- any arrival order ---------------------------------------------------------------------------
FILLING = [
    make_report(exec_id="E-new"),
    make_trade("E1", D(2), D(100), D(2), D(100)),
    make_trade("E2", D(3), D(110), D(5), D(106)),
    make_trade("E3", D(5), D(120), D(10), D(113)),
]

CANCELLING = [
    make_report(exec_id="E-new"),
    make_trade("E1", D(2), D(100), D(2), D(100)),
    make_report(exec_id="E-pc", exec_type=ExecType.PENDING_CANCEL, ord_status=OrdStatus.PENDING_CANCEL,
                cum_qty=D(2), leaves_qty=D(8)),
    make_cancel(cum_qty=D(2)),
]


@pytest.mark.parametrize("reports", list(itertools.permutations(FILLING)))
def test_filling_reports_in_any_order_end_filled_at_the_venues_average(reports):
    order = make_order()

    for er in reports:
        order.apply(er)

    assert order.status is OrdStatus.FILLED
    assert order.cum_qty == ORDER_QTY
    assert order.filled_qty == ORDER_QTY
    assert order.leaves_qty == 0
    assert order.avg_px == D(113)
    assert sorted(f.exec_id for f in order.fills) == ["E1", "E2", "E3"]


@pytest.mark.parametrize("reports", list(itertools.permutations(CANCELLING)))
def test_cancelling_reports_in_any_order_end_canceled_with_the_partial_fill(reports):
    order = make_order()

    for er in reports:
        order.apply(er)

    assert order.status is OrdStatus.CANCELED
    assert order.cum_qty == D(2)
    assert order.filled_qty == D(2)
    assert order.leaves_qty == 0


def with_repeats(n: int):
    """Every index in range(n) at least once, some repeated, in any order."""
    return (st.lists(st.integers(0, n - 1), max_size=8)
            .map(lambda extra: list(range(n)) + extra)
            .flatmap(st.permutations))


@settings(max_examples=200, deadline=None)
@given(with_repeats(len(FILLING)))
def test_repeated_reports_in_any_order_change_nothing_after_their_first_arrival(indices):
    once = make_order()
    for er in FILLING:
        once.apply(er)

    order = make_order()
    seen = set()
    for i in indices:
        applied = order.apply(FILLING[i])
        assert applied.duplicate == (i in seen)
        seen.add(i)

    assert (order.status, order.cum_qty, order.filled_qty, order.leaves_qty, order.avg_px) == \
        (once.status, once.cum_qty, once.filled_qty, once.leaves_qty, once.avg_px)
    assert len(order.fills) == 3


# a cancel that raced the last fill: whichever arrives first, the order ends FILLED
RACING = FILLING + [make_cancel(exec_id="E-cxl", cum_qty=D(5))]


@settings(max_examples=200, deadline=None)
@given(with_repeats(len(RACING)))
def test_cum_qty_never_decreases_and_a_racing_cancel_never_hides_the_last_fill(indices):
    order = make_order()
    previous = order.cum_qty

    for i in indices:
        order.apply(RACING[i])
        assert order.cum_qty >= previous
        previous = order.cum_qty

    assert order.status is OrdStatus.FILLED
    assert order.cum_qty == ORDER_QTY
    assert order.avg_px == D(113)
