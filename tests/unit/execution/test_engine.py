"""The ticket engine with a recording sender and an in-memory audit sink: decisions, paired orders,
reconciliation and settlement, driven event by event with a manual clock."""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from pathlib import Path

import pytest

from xmc_fix.clock import ManualClock
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import (BookAction, BookSide, Direction, ExecType, LegRole, OrdStatus, PositionEffect, Side,
                                  TicketIntent, TradingState)
from xmc_fix.domain.events import (BookEntry, BookSnapshot, BookUpdate, ExecReport, MessageRejected, SessionDown,
                                   SessionUp)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.domain.tickets import TicketState
from xmc_fix.execution.engine import Engine

MS = 1_000_000

STRATEGY = """
[engine]
namespace = "T"
account = "ACC1"
ticket_timeout_ms = 1000

[fx.USDCNH]
venue = "FX"
symbol = "USD/CNH"
base = "USD"
quote = "CNY"

[instruments.SHFE_CU]
venue = "SHFE"
symbol = "CU"
currency = "CNY"
contract_size = 5
unit = "t"
tick = 10
position_effect = true

[instruments.LME_CA]
venue = "LME"
symbol = "CA"
currency = "USD"
contract_size = 25
unit = "t"
tick = 0.5

[pairs.P]
inner = "SHFE_CU"
outer = "LME_CA"
fx = "USDCNH"
tax_factor = 1.13
ticket_qty = 25
max_position = 50
entry_above = 300
exit_above = 100
entry_below = -300
exit_below = -100
inner_slippage_ticks = 1
outer_slippage_ticks = 2
max_quote_age_ms = 500

[pairs.P.repair]
chase_ticks = 4
chase_attempts = 2
chase_interval_ms = 0
unwind_ticks = 10
unwind_attempts = 3
unwind_interval_ms = 0
give_up_ms = 60000
"""


class RecordingSender:
    def __init__(self) -> None:
        self.sent = []
        self.status = []
        self.subscriptions = []
        self.cancels = []
        self.down: set[str] = set()

    def is_up(self, venue):
        return venue not in self.down

    def send_new(self, cmd, now_ns):
        if cmd.venue in self.down:
            return False
        self.sent.append(cmd)
        return True

    def send_status(self, cmd):
        self.status.append(cmd)
        return True

    def send_cancel(self, cmd, now_ns):
        self.cancels.append(cmd)
        return True

    def subscribe(self, cmd):
        self.subscriptions.append(cmd)
        return True


class MemoryAudit:
    run_id = "test-run"

    def __init__(self) -> None:
        self.rows = []
        self.events = []

    def record(self, table, row):
        self.rows.append((table, dict(row)))

    def event(self, kind, ts_ns, **kw):
        self.events.append((kind, kw))

    def kinds(self):
        return [k for k, _ in self.events]


@pytest.fixture
def strategy(tmp_path: Path):
    p = tmp_path / "strategy.toml"
    p.write_text(STRATEGY)
    return load_strategy(p)


class World:
    """The engine plus helpers that play the venues' side."""

    def __init__(self, strategy) -> None:
        self.clock = ManualClock()
        self.sender = RecordingSender()
        self.audit = MemoryAudit()
        self.engine = Engine(strategy, self.sender, self.audit, self.clock, IdGenerator("T", 1))
        self._exec = itertools.count(1)
        self._seq = {}
        for venue in ("SHFE", "LME", "FX"):
            self.engine.on_event(SessionUp(venue, self.clock.now_ns()))

    def now(self):
        return self.clock.now_ns()

    def book(self, venue, symbol, bid, ask, size=D(100)):
        self._seq[(venue, symbol)] = 1
        self.engine.on_event(BookSnapshot(venue, symbol, ((D(bid), size),), ((D(ask), size),), 1, None, self.now()))

    def update(self, venue, symbol, *entries):
        self._seq[(venue, symbol)] += 1
        self.engine.on_event(BookUpdate(venue, symbol, tuple(entries), self._seq[(venue, symbol)], None, self.now()))

    def calm_market(self):
        """FX 7.2; LME 9500/9501; SHFE near the converted price: basis about 0."""
        self.book("FX", "USD/CNH", "7.1999", "7.2001")
        self.book("LME", "CA", "9500", "9501")
        # converted LME ask: 9501 x 7.2 x 1.13 = 77300.136 ; bid 9500 x 7.2 x 1.13 = 77292.0
        self.book("SHFE", "CU", "77290", "77300")

    def report(self, cmd, exec_type, status, *, last=D(0), px=D(0), cum=None, exec_id=None, text=None, poss_dup=False):
        cum = cum if cum is not None else last
        return ExecReport(venue=cmd.venue, cl_ord_id=cmd.cl_ord_id, orig_cl_ord_id=None, order_id="O-" + cmd.cl_ord_id,
                          exec_id=exec_id or f"E{next(self._exec)}", exec_type=exec_type, ord_status=status,
                          side=cmd.side, symbol=cmd.instrument.symbol, order_qty=cmd.qty, cum_qty=cum,
                          leaves_qty=cmd.qty - cum if status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED) else D(0),
                          last_qty=last, last_px=px, avg_px=px if cum else D(0), text=text, poss_dup=poss_dup,
                          venue_ns=None, recv_ns=self.now())

    def fill(self, cmd, qty=None, px=None):
        qty = qty if qty is not None else cmd.qty
        px = px if px is not None else cmd.price
        self.engine.on_event(self.report(cmd, ExecType.NEW, OrdStatus.NEW))
        status = OrdStatus.FILLED if qty == cmd.qty else OrdStatus.PARTIALLY_FILLED
        self.engine.on_event(self.report(cmd, ExecType.TRADE, status, last=qty, px=px, cum=qty))
        if qty != cmd.qty:
            self.engine.on_event(self.report(cmd, ExecType.CANCELED, OrdStatus.CANCELED, cum=qty))

    def reject(self, cmd, text="no"):
        self.engine.on_event(self.report(cmd, ExecType.REJECTED, OrdStatus.REJECTED, text=text))

    def cross_above(self):
        """SHFE jumps to 77700/77710: sell basis = 77700 - 9501 x 7.2 x 1.13 = 77700 - 77300.136 = 399.864."""
        self.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
                    BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
                    BookEntry(BookAction.NEW, BookSide.BID, D("77700"), D(50)),
                    BookEntry(BookAction.NEW, BookSide.ASK, D("77710"), D(50)))

    def come_back(self):
        """After ``cross_above``: SHFE back to 77340/77350, the basis inside the exit threshold
        (buy basis = 77350 - 9500 x 7.2 x 1.13 = 58 <= exit_above 100)."""
        self.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77700"), D(0)),
                    BookEntry(BookAction.DELETE, BookSide.ASK, D("77710"), D(0)),
                    BookEntry(BookAction.NEW, BookSide.BID, D("77340"), D(100)),
                    BookEntry(BookAction.NEW, BookSide.ASK, D("77350"), D(100)))

    def complete_a_ticket(self):
        """The basis crosses and both legs fill: the engine holds a short basis of 25 t."""
        self.cross_above()
        inner, outer = self.sender.sent
        self.fill(inner)
        self.fill(outer)
        return inner, outer

    @property
    def pair(self):
        return self.engine.pairs["P"]

    def ticket(self):
        return next(iter(self.engine.tickets.values()))

    def work(self):
        return self.engine.progress[self.ticket().ticket_id]


@pytest.fixture
def world(strategy):
    w = World(strategy)
    w.calm_market()
    return w


def test_no_ticket_while_the_basis_is_inside_the_thresholds(world):
    assert world.sender.sent == []
    assert world.engine.tickets == {}


def test_crossing_the_entry_threshold_sends_both_legs_from_the_same_event(world):
    world.cross_above()
    inner, outer = world.sender.sent
    # sell the basis: sell SHFE at its bid, buy LME at its ask; 25 t = 5 SHFE lots = 1 LME lot
    assert (inner.venue, inner.side, inner.qty) == ("SHFE", Side.SELL, D(5))
    assert (outer.venue, outer.side, outer.qty) == ("LME", Side.BUY, D(1))
    # limits: the level the size reaches plus the slippage allowance (1 tick SHFE, 2 ticks LME)
    assert inner.price == D("77690") and outer.price == D("9502.0")
    assert inner.position_effect is PositionEffect.OPEN and outer.position_effect is None
    assert inner.account == outer.account == "ACC1"
    t = world.ticket()
    assert t.state is TicketState.WORKING
    assert t.direction is Direction.SELL_BASIS and t.intent is TicketIntent.OPEN
    assert t.decision.basis == D("77700") - D("9501") * D("7.2000") * D("1.13")


def test_both_legs_filled_completes_the_ticket_and_records_the_position(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    assert world.ticket().state is TicketState.WORKING  # one leg done: still working
    world.fill(outer)
    t = world.ticket()
    assert t.state is TicketState.COMPLETED and t.matched
    assert world.pair.position_units == D(-25)          # short 25 t of basis
    assert world.pair.active is None and len(world.pair.holdings) == 1


def test_a_rejected_leg_is_chased_and_the_ticket_completes(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.reject(outer, "price outside limits")
    t = world.ticket()
    assert t.state is TicketState.REPAIRING
    chase = world.sender.sent[-1]
    # the lagging leg, in the ticket's direction, for what is missing: buy 1 LME lot, IOC
    assert (chase.venue, chase.side, chase.qty, chase.tif.value) == ("LME", Side.BUY, D(1), "IOC")
    assert world.engine.orders[chase.cl_ord_id].role.value == "CHASE"
    world.fill(chase)
    assert t.state is TicketState.COMPLETED and t.matched
    assert world.pair.state is TradingState.ACTIVE and world.pair.residual_units == 0
    assert [tr.to_state.value for tr in t.transitions] == ["WORKING", "LEGGED", "REPAIRING", "COMPLETED"]
    assert "order_rejected" in world.audit.kinds() and "repair_step" in world.audit.kinds()


def test_neither_leg_filled_is_a_missed_ticket_with_no_exposure(world):
    world.cross_above()
    for cmd in world.sender.sent:
        world.fill(cmd, qty=D(0))
    assert world.ticket().state is TicketState.MISSED
    assert world.pair.position_units == 0 and world.pair.state is TradingState.ACTIVE


def test_a_partial_fill_on_the_inner_leg_is_chased_for_the_rest(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner, qty=D(3))  # 15 t of 25
    world.fill(outer)            # 25 t: the outer leads by 10 t
    t = world.ticket()
    assert t.state is TicketState.REPAIRING and t.residual == D(15) - D(25)
    chase = world.sender.sent[-1]
    assert (chase.venue, chase.side, chase.qty) == ("SHFE", Side.SELL, D(2))
    assert chase.position_effect is PositionEffect.OPEN
    world.fill(chase)
    assert t.state is TicketState.COMPLETED and world.pair.residual_units == 0


def test_chase_attempts_exhausted_then_the_leading_leg_is_unwound(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.reject(outer)
    for _ in range(2):                       # chase_attempts = 2, each re-priced further
        chase = world.sender.sent[-1]
        assert world.engine.orders[chase.cl_ord_id].role.value == "CHASE"
        world.fill(chase, qty=D(0))
    unwind = world.sender.sent[-1]
    assert world.engine.orders[unwind.cl_ord_id].role.value == "UNWIND"
    # take back the SHFE sale: buy 5 lots, closing today's position
    assert (unwind.venue, unwind.side, unwind.qty, unwind.position_effect) == (
        "SHFE", Side.BUY, D(5), PositionEffect.CLOSE_TODAY)
    world.fill(unwind)
    t = world.ticket()
    assert t.state is TicketState.UNWOUND and t.empty
    assert world.pair.inner_lots == 0 and world.pair.outer_lots == 0 and not world.pair.holdings
    assert world.work().repairs == ["CHASE#1", "CHASE#2", "UNWIND#1"]


def test_chases_reprice_step_by_step_but_never_beyond_chase_ticks(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.reject(outer)
    first = world.sender.sent[-1]
    world.fill(first, qty=D(0))
    second = world.sender.sent[-1]
    # original limit 9502.0; chase_ticks 4 over 2 attempts: at most 9503.0 then 9504.0
    assert first.price <= D("9503.0") and second.price <= D("9504.0")


def test_unwind_failures_beyond_the_limit_fail_the_ticket_halt_the_pair_and_alert(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.reject(outer)
    for _ in range(2 + 3):                   # 2 chases, then 3 unwinds, all rejected
        world.reject(world.sender.sent[-1])
    t = world.ticket()
    assert t.state is TicketState.FAILED and t.residual == D(25)
    assert world.pair.state is TradingState.HALTED
    alerts = [kw for k, kw in world.audit.events if k == "alert"]
    assert alerts and alerts[0]["alert"] == "residual_exposure"


def test_halt_mode_repairs_nothing(strategy, tmp_path):
    text = STRATEGY.replace("chase_ticks = 4", 'mode = "halt"\nchase_ticks = 4')
    p = tmp_path / "halt.toml"
    p.write_text(text)
    from xmc_fix.config import load_strategy as load
    w = World(load(p))
    w.calm_market()
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    assert len(w.sender.sent) == 2
    assert w.ticket().state is TicketState.FAILED and w.pair.state is TradingState.HALTED


def test_no_repair_while_an_order_outcome_is_uncertain(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.engine.on_event(SessionDown("LME", world.now(), "connection reset"))
    assert world.ticket().state is TicketState.WORKING    # the LME order may have filled: wait
    assert len(world.sender.sent) == 2
    world.engine.on_event(SessionUp("LME", world.now()))
    assert [q.cl_ord_id for q in world.sender.status] == [outer.cl_ord_id]
    # the venue answers: it was filled while we were away
    world.engine.on_event(world.report(outer, ExecType.ORDER_STATUS, OrdStatus.FILLED, cum=D(1), px=D("9501")))
    assert world.ticket().state is TicketState.COMPLETED and len(world.sender.sent) == 2
    assert world.pair.outer_lots == D(1)


def test_duplicate_execution_reports_are_applied_once(world):
    world.cross_above()
    inner, outer = world.sender.sent
    trade = world.report(inner, ExecType.TRADE, OrdStatus.FILLED, last=D(5), px=D("77700"), cum=D(5), exec_id="X1")
    world.engine.on_event(trade)
    world.engine.on_event(trade)
    world.engine.on_event(world.report(inner, ExecType.TRADE, OrdStatus.FILLED, last=D(5), px=D("77700"), cum=D(5),
                                       exec_id="X1", poss_dup=True))
    assert world.pair.inner_lots == D(-5)
    assert world.engine.stats.duplicates == 2


def test_reports_out_of_order_still_complete_the_ticket(world):
    world.cross_above()
    inner, outer = world.sender.sent
    # the fill arrives before the acknowledgement
    world.engine.on_event(world.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("9501"), cum=D(1)))
    world.engine.on_event(world.report(outer, ExecType.NEW, OrdStatus.NEW))
    world.fill(inner)
    order = world.engine.orders[outer.cl_ord_id]
    assert order.status is OrdStatus.FILLED and order.cum_qty == 1
    assert world.ticket().state is TicketState.COMPLETED


def test_a_crossed_book_is_not_traded_on(world):
    world.update("SHFE", "CU", BookEntry(BookAction.NEW, BookSide.BID, D("77700"), D(50)))  # bid above the ask
    assert world.sender.sent == []


def test_a_late_fill_after_a_cancel_reopens_the_ticket_and_the_excess_is_unwound(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.engine.on_event(world.report(outer, ExecType.CANCELED, OrdStatus.CANCELED))
    chase = world.sender.sent[-1]
    world.fill(chase)
    t = world.ticket()
    assert t.state is TicketState.COMPLETED
    st = world.engine.state
    assert list(st.open_progress()) == [] and t.ticket_id not in st.progress.open   # finished: out of the index
    # the original LME order's fill arrives after its cancel: now 2 LME lots against 5 SHFE lots
    world.engine.on_event(world.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("9501"), cum=D(1)))
    assert t.state is TicketState.REPAIRING
    assert [p.ticket for p in st.open_progress()] == [t]      # reopened: the timer and the status see it again
    unwind = world.sender.sent[-1]
    assert (unwind.venue, unwind.side, unwind.qty) == ("LME", Side.SELL, D(1))  # never chase past the plan
    world.fill(unwind)
    assert t.state is TicketState.COMPLETED and world.pair.residual_units == 0
    assert list(st.open_progress()) == []
    assert world.pair.outer_lots == D(1) and world.pair.inner_lots == D(-5)


def test_a_late_fill_long_after_an_earlier_legging_is_repaired_not_given_up(world):
    """The ticket was legged and repaired once; a late fill reopens it after longer than the repair's
    time limit: that limit counts from the reopening, so the excess is unwound, not given up on."""
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.engine.on_event(world.report(outer, ExecType.CANCELED, OrdStatus.CANCELED))   # legged: chased
    world.fill(world.sender.sent[-1])
    t = world.ticket()
    assert t.state is TicketState.COMPLETED
    world.clock.advance(61_000 * MS)                                     # give_up_ms is 60 s here
    world.calm_market()
    world.engine.on_event(world.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("9501"), cum=D(1)))
    assert t.state is TicketState.REPAIRING
    unwind = world.sender.sent[-1]
    assert (unwind.venue, unwind.side, unwind.qty) == ("LME", Side.SELL, D(1))
    world.fill(unwind)
    assert t.state is TicketState.COMPLETED and world.engine.pair_state(world.pair) is TradingState.ACTIVE


def test_reverting_basis_closes_the_position_with_close_today_on_shfe(world):
    world.cross_above()
    for cmd in list(world.sender.sent):
        world.fill(cmd)
    world.sender.sent.clear()
    # back inside: SHFE ask 77350 -> buy basis = 77350 - 9500 x 7.2 x 1.13 = 77350 - 77292 = 58 <= exit_above 100
    world.come_back()
    inner, outer = world.sender.sent
    assert (inner.side, inner.qty, inner.position_effect) == (Side.BUY, D(5), PositionEffect.CLOSE_TODAY)
    assert (outer.side, outer.qty) == (Side.SELL, D(1))
    closing = world.engine.tickets[world.pair.active.ticket_id]
    assert closing.intent is TicketIntent.CLOSE
    for cmd in (inner, outer):
        world.fill(cmd)
    assert world.pair.position_units == 0 and not world.pair.holdings


def test_hysteresis_no_exit_between_exit_and_entry_levels(world):
    world.cross_above()
    for cmd in list(world.sender.sent):
        world.fill(cmd)
    world.sender.sent.clear()
    # buy basis = 77500 - 77292 = 208: below the entry (300) but above the exit (100): hold
    world.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77700"), D(0)),
                 BookEntry(BookAction.DELETE, BookSide.ASK, D("77710"), D(0)),
                 BookEntry(BookAction.NEW, BookSide.BID, D("77490"), D(100)),
                 BookEntry(BookAction.NEW, BookSide.ASK, D("77500"), D(100)))
    assert world.sender.sent == []


def test_position_limit_denies_a_third_ticket(world):
    for _ in range(3):
        world.cross_above()
        for cmd in list(world.sender.sent):
            world.fill(cmd)
        world.sender.sent.clear()
    assert world.pair.position_units == D(-50)  # max_position 50 t
    denials = [kw for kind, kw in world.audit.events if kind == "denial"]
    assert denials and denials[-1]["reason"] == "MAX_POSITION"


def test_stale_outer_quote_denies_the_ticket(world):
    world.clock.advance(600 * MS)  # LME last updated 600 ms ago; limit 500 ms
    world.cross_above()
    assert world.sender.sent == []
    (kind, kw), = [(k, kw) for k, kw in world.audit.events if k == "denial"]
    assert kw["reason"] == "STALE_QUOTE"


def test_session_down_invalidates_its_books_and_blocks_tickets(world):
    world.engine.on_event(SessionDown("LME", world.now(), "connection reset"))
    world.cross_above()
    assert world.sender.sent == []
    assert not world.engine.books[("LME", "CA")].valid


def test_session_up_subscribes_market_data_and_asks_about_orders_in_flight(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.engine.on_event(SessionDown("LME", world.now()))
    world.sender.subscriptions.clear()
    world.engine.on_event(SessionUp("LME", world.now()))
    assert [s.instrument.symbol for s in world.sender.subscriptions] == ["CA"]
    assert [q.cl_ord_id for q in world.sender.status] == [outer.cl_ord_id]


def test_an_order_not_sent_because_its_session_is_down_waits_for_the_venue_before_repair(world):
    world.sender.down.add("LME")
    world.cross_above()
    (inner,) = world.sender.sent
    world.fill(inner)
    t = world.ticket()
    assert t.state is TicketState.LEGGED
    assert world.engine.orders[t.legs[LegRole.OUTER].orders[0].cl_ord_id].text.startswith("not sent")
    assert "repair_waiting" in world.audit.kinds() and len(world.sender.sent) == 1
    world.sender.down.clear()
    world.engine.on_timer(world.now())
    chase = world.sender.sent[-1]
    assert (chase.venue, chase.side, chase.qty) == ("LME", Side.BUY, D(1))


def test_a_session_reject_naming_our_order_kills_that_order(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.engine.on_event(MessageRejected("LME", False, 7, "D", outer.cl_ord_id, "required tag missing", world.now()))
    assert world.engine.orders[outer.cl_ord_id].status is OrdStatus.REJECTED
    assert world.ticket().state is TicketState.REPAIRING


def test_timer_asks_for_status_of_orders_without_final_report(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.engine.on_event(world.report(outer, ExecType.NEW, OrdStatus.NEW))
    world.clock.advance(1500 * MS)
    world.engine.on_timer(world.now())
    world.engine.on_timer(world.now())
    assert [q.cl_ord_id for q in world.sender.status] == [outer.cl_ord_id]  # asked once
    assert "order_timeout" in world.audit.kinds()


def test_unknown_execution_report_is_recorded_not_applied(world):
    world.engine.on_event(ExecReport("LME", "nobody", None, "O1", "E1", ExecType.TRADE, OrdStatus.FILLED, Side.BUY, "CA",
                                     D(1), D(1), D(0), D(1), D(9500), D(9500), None, False, None, world.now()))
    assert "unknown_exec_report" in world.audit.kinds()
    assert world.pair.outer_lots == 0


def test_every_ticket_and_order_is_written_to_the_audit_sink(world):
    world.cross_above()
    for cmd in list(world.sender.sent):
        world.fill(cmd)
    tables = [t for t, _ in world.audit.rows]
    assert tables.count("fills") == 2
    t_rows = [r for t, r in world.audit.rows if t == "tickets"]
    assert t_rows[0]["md_recv_ns"] is not None and t_rows[-1]["state"] == "COMPLETED"
    transitions = [(r["from_state"], r["to_state"]) for t, r in world.audit.rows if t == "ticket_events"]
    assert transitions == [("PENDING", "WORKING"), ("WORKING", "COMPLETED")]
    orders = {r["cl_ord_id"]: r for t, r in world.audit.rows if t == "orders"}
    assert {r["status"] for r in orders.values()} == {"FILLED"}


def _world_with(strategy_text: str, tmp_path) -> World:
    p = tmp_path / "variant.toml"
    p.write_text(strategy_text)
    w = World(load_strategy(p))
    w.calm_market()
    return w


def test_sequential_submission_sends_the_second_leg_for_what_the_first_filled(tmp_path):
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\nsubmission = "sequential"'
                                     '\nsequential_first = "outer"'), tmp_path)
    w.cross_above()
    (first,) = w.sender.sent
    assert (first.venue, first.side, first.qty) == ("LME", Side.BUY, D(1))
    w.fill(first)
    second = w.sender.sent[-1]
    assert (second.venue, second.side, second.qty) == ("SHFE", Side.SELL, D(5))
    w.fill(second)
    assert w.ticket().state is TicketState.COMPLETED


def test_sequential_first_leg_unfilled_sends_nothing_more(tmp_path):
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\nsubmission = "sequential"'
                                     '\nsequential_first = "outer"'), tmp_path)
    w.cross_above()
    (first,) = w.sender.sent
    w.fill(first, qty=D(0))
    assert len(w.sender.sent) == 1 and w.ticket().state is TicketState.MISSED


def test_resting_day_orders_are_cancelled_at_the_ticket_timeout(tmp_path):
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'), tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    for cmd in (inner, outer):
        w.engine.on_event(w.report(cmd, ExecType.NEW, OrdStatus.NEW))
    w.clock.advance(1500 * MS)
    w.engine.on_timer(w.now())
    assert sorted(c.orig_cl_ord_id for c in w.sender.cancels) == sorted([inner.cl_ord_id, outer.cl_ord_id])
    for c in w.sender.cancels:
        orig = next(x for x in (inner, outer) if x.cl_ord_id == c.orig_cl_ord_id)
        er = w.report(orig, ExecType.CANCELED, OrdStatus.CANCELED)
        w.engine.on_event(_with_ids(er, c.cl_ord_id, orig.cl_ord_id))
    assert w.ticket().state is TicketState.MISSED


def _with_ids(er, cl, orig):
    from dataclasses import replace
    return replace(er, cl_ord_id=cl, orig_cl_ord_id=orig)


def test_carry_policy_offsets_the_residual_the_pair_holds(tmp_path):
    """SHFE 5 t lots against 11.34 t lots: with "carry" the second ticket's lots bring the pair's
    running residual back within the tolerance instead of doubling it."""
    text = STRATEGY.replace('''[instruments.LME_CA]
venue = "LME"
symbol = "CA"
currency = "USD"
contract_size = 25
unit = "t"''', '''[instruments.LME_CA]
venue = "LME"
symbol = "CA"
currency = "USD"
contract_size = 25000
unit = "lb"''').replace("ticket_qty = 25\nmax_position = 50", 'ticket_qty = 50\nmax_position = 500\n'
                                                              'residual_tolerance = 1\nresidual_policy = "carry"')
    w = _world_with(text, tmp_path)
    w.book("LME", "CA", "4.30", "4.31")
    w.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
             BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
             BookEntry(BookAction.NEW, BookSide.BID, D("78700"), D(500)),
             BookEntry(BookAction.NEW, BookSide.ASK, D("78710"), D(500)))
    first = w.sender.sent[:2]
    assert [c.qty for c in first] == [D(9), D(4)]       # 45 t against 45.359 t: residual -0.359 t
    for cmd in first:
        w.fill(cmd)
    w.sender.sent.clear()
    w.update("SHFE", "CU", BookEntry(BookAction.CHANGE, BookSide.BID, D("78700"), D(499)))
    second = w.sender.sent[:2]
    # the pair holds +0.359 t (sold 45 t of SHFE, bought 45.359 t of HG); 9 against 4 again would
    # make it 0.718 t, still within 1; the chosen lots keep |carry + residual| <= 1
    inner_t = second[0].qty * 5
    outer_t = second[1].qty * D("11.33980925")
    assert abs(D("0.359237") - (inner_t - outer_t)) <= 1


# -- a market that closes while a decision is being made ------------------------------------------
class _SlowPricer:
    """The pair's pricer, but pricing takes until ``until`` on the engine's clock."""

    def __init__(self, inner, clock, until):
        self._inner, self._clock, self._until = inner, clock, until

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def basis(self, *args):
        if self._clock.now_ns() < self._until:
            self._clock.set(self._until)
        return self._inner.basis(*args)


def test_a_break_that_begins_during_the_decision_stops_the_ticket(tmp_path):
    """SHFE's morning session ends at 11:30 Shanghai. The crossing tick arrives 1 us before; the
    decision takes until 11:30:00.000005. No order leaves, and the pair is paused for the break."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    p = tmp_path / "strategy.toml"
    p.write_text(STRATEGY.replace('position_effect = true\n', 'position_effect = true\ncalendar = "SHFE"\n'))
    w = World(load_strategy(p))
    lunch = int(datetime(2026, 11, 23, 11, 30, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()) * 1_000_000_000
    w.clock.set(lunch - 1_000)
    w.calm_market()
    w.engine.on_timer(w.now())
    assert w.engine.pair_state(w.pair) is TradingState.ACTIVE and w.pair.market_until_ns == lunch
    w.pair.pricer = _SlowPricer(w.pair.pricer, w.clock, lunch + 5_000)

    w.cross_above()

    assert w.sender.sent == [] and not w.engine.tickets
    assert w.engine.pair_state(w.pair) is TradingState.HALTED
    assert [kw["alert"] for k, kw in w.audit.events if k == "alert"] == ["market_closed"]


def test_once_closing_a_late_fill_legs_the_ticket_but_nothing_is_sent_and_the_exposure_is_reported(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.reject(inner)
    world.engine.on_event(world.report(outer, ExecType.CANCELED, OrdStatus.CANCELED))
    t = world.ticket()
    assert t.state is TicketState.MISSED and world.engine.exposure() == []
    world.engine.close()                       # the sessions are logging out
    world.engine.on_event(world.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("9502"), cum=D(1)))
    world.clock.advance(500 * MS)
    world.engine.on_timer(world.now())
    assert t.state is TicketState.LEGGED       # the late fill counts...
    assert world.sender.sent == [inner, outer] and world.sender.cancels == [] and world.sender.status == []
    assert "repair_deferred" in world.audit.kinds()   # ...but no repair leaves with the Logout
    (held, pair_held) = world.engine.exposure()
    assert (held["ticket_id"], held["state"], held["residual"]) == (t.ticket_id, "LEGGED", "-25")
    assert (pair_held["state"], pair_held["residual"]) == ("HELD", "25")   # long 25 t of copper, unhedged


# -- a ticket is judged against what it set out to leave ------------------------------------------
_COMEX_LIKE = STRATEGY.replace('''[instruments.LME_CA]
venue = "LME"
symbol = "CA"
currency = "USD"
contract_size = 25
unit = "t"''', '''[instruments.LME_CA]
venue = "LME"
symbol = "CA"
currency = "USD"
contract_size = 25000
unit = "lb"''')


def _hg_world(tmp_path, pair_extra: str):
    """SHFE 5 t lots against 25,000 lb (11.34 t) lots, SHFE far above the converted HG price."""
    w = _world_with(_COMEX_LIKE.replace("ticket_qty = 25\nmax_position = 50", pair_extra), tmp_path)
    w.book("LME", "CA", "4.30", "4.31")
    w.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
             BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
             BookEntry(BookAction.NEW, BookSide.BID, D("78700"), D(500)),
             BookEntry(BookAction.NEW, BookSide.ASK, D("78710"), D(500)))
    return w


def test_a_carry_ticket_filled_exactly_as_planned_is_completed_not_unwound(tmp_path):
    """Tolerance 3 t: the first ticket leaves the pair 0.36 t long; the second's lots offset that
    carry, so its own residual may exceed the tolerance - filled as planned it is COMPLETED, and the
    pair's residual stays within the tolerance."""
    w = _hg_world(tmp_path, 'ticket_qty = 50\nmax_position = 500\nresidual_tolerance = 3\nresidual_policy = "carry"')
    for cmd in w.sender.sent[:2]:
        w.fill(cmd)
    w.sender.sent.clear()
    w.update("SHFE", "CU", BookEntry(BookAction.CHANGE, BookSide.BID, D("78700"), D(499)))
    second = w.sender.sent[:2]
    for cmd in second:
        w.fill(cmd)
    t = w.engine.tickets[w.engine.orders[second[0].cl_ord_id].ticket_id]
    assert abs(t.residual) > 0 and t.state is TicketState.COMPLETED, (t.residual, t.state)
    assert not [c for c in w.sender.sent if w.engine.orders[c.cl_ord_id].role.value != "ENTRY"]
    assert abs(w.pair.residual_units) <= 3


def test_closing_exactly_what_a_holding_left_completes_even_when_it_is_out_of_line(tmp_path):
    """A holding of 2 SHFE lots (10 t) against 1 HG lot (11.34 t) - out of line by 1.34 t, more than
    the 1 t tolerance. Closing it fills exactly as planned: COMPLETED, the pair flat - not judged
    legged and unwound again and again."""
    from xmc_fix.execution.journal import JournalState

    p = tmp_path / "hg.toml"
    p.write_text(_COMEX_LIKE.replace("ticket_qty = 25\nmax_position = 50",
                                     "ticket_qty = 50\nmax_position = 500\nresidual_tolerance = 1"))
    w = World(load_strategy(p))
    w.engine.restore(JournalState(held=[{"ticket_id": "T-OLD", "pair": "P", "direction": "SELL_BASIS",
                                         "opened_ns": 0, "inner": "-2", "outer": "1"}]))
    w.book("FX", "USD/CNH", "7.1999", "7.2001")
    w.book("LME", "CA", "4.30", "4.31")      # converted HG bid: 4.30 x 2204.62 x 7.2 x 1.13 = 77,131 CNY/t
    w.book("SHFE", "CU", "77150", "77160")   # buy basis 29 <= exit_above 100: buy the basis back
    close = w.sender.sent[:2]
    assert [(c.side, c.qty) for c in close] == [(Side.BUY, D(2)), (Side.SELL, D(1))]
    for cmd in close:
        w.fill(cmd)
    t = w.engine.tickets[w.engine.orders[close[0].cl_ord_id].ticket_id]
    assert t.intent is TicketIntent.CLOSE and t.state is TicketState.COMPLETED, (t.state, t.transitions)
    assert w.pair.inner_lots == 0 and w.pair.outer_lots == 0 and not w.pair.holdings
    assert len(w.sender.sent) == 2   # no repair order


def test_a_long_run_stays_flat_finished_tickets_are_forgotten_after_the_retention(tmp_path):
    w = _world_with(STRATEGY.replace('account = "ACC1"', 'account = "ACC1"\nretain_finished_ms = 60000')
                    .replace("max_position = 50", "max_position = 25"), tmp_path)
    for _ in range(100):                  # each minute: the basis crosses (open), then comes back (close)
        for move in (w.cross_above, w.calm_market):
            w.sender.sent.clear()
            move()
            for cmd in list(w.sender.sent):
                w.fill(cmd)
        w.clock.advance(60 * 1_000_000_000)
        w.calm_market()                   # fresh books a minute later
        w.engine.on_timer(w.now())
    st = w.engine.state
    assert w.engine.stats.tickets == 200
    assert len(st.tickets) <= 4 and len(st.progress) <= 4 and len(st.orders) <= 8
    assert len(st.orders.by_ticket) <= 4 and len(st.progress.ended) <= 4   # the indexes stay flat too
    assert set(st.orders.by_ticket) == {o.ticket_id for o in st.orders.values()}


def test_a_close_takes_off_a_holding_it_reduces_never_one_of_the_other_sign(world):
    """A closing ticket repaired after the holding it closed was gone leaves lots of its own, of the
    other sign (here in front). The next close must take off the pair's real holding: closing the
    other one would add to it, and each close would grow the position instead of ending it."""
    from xmc_fix.execution.state import Holding
    world.cross_above()
    for cmd in list(world.sender.sent):
        world.fill(cmd)
    world.sender.sent.clear()
    (real,) = world.pair.holdings
    assert real.inner_lots == D(-5) and real.closed_by(Direction.BUY_BASIS)
    stray = Holding("TSTRAY", Direction.BUY_BASIS, world.now(), D(5), D(-1))
    world.pair.holdings.appendleft(stray)
    world.come_back()
    inner, outer = world.sender.sent
    assert (inner.side, inner.qty) == (Side.BUY, D(5))
    closing = world.engine.state.progress[world.pair.active.ticket_id]
    assert closing.closes == real.ticket_id


def test_a_closing_tickets_own_lots_are_named_by_their_sign():
    from xmc_fix.execution.state import Holding
    assert Holding("T", Direction.SELL_BASIS, 0, D(5), D(-1)).closed_by(Direction.SELL_BASIS)
    assert not Holding("T", Direction.SELL_BASIS, 0, D(5), D(-1)).closed_by(Direction.BUY_BASIS)
    assert Holding("T", Direction.BUY_BASIS, 0, D(0), D(1)).closed_by(Direction.BUY_BASIS)   # outer only


def test_a_close_never_takes_off_more_than_the_pair_holds(world):
    """Whatever a holding says (here one that claims twice what the pair holds), the closing
    ticket's lots are capped at the pair's position: a close never opens the other way."""
    world.cross_above()
    for cmd in list(world.sender.sent):
        world.fill(cmd)
    world.sender.sent.clear()
    (real,) = world.pair.holdings
    real.inner_lots, real.outer_lots = D(-10), D(2)
    world.come_back()
    inner, outer = world.sender.sent
    assert (inner.side, inner.qty) == (Side.BUY, D(5)) and (outer.side, outer.qty) == (Side.SELL, D(1))
