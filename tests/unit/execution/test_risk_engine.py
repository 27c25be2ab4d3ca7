"""Risk inside the engine: breaches halt or reduce with an alert and a measured reaction, conditions
hold and clear themselves, operators halt, resume and flatten (also while halted)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.execution.test_engine import MS, STRATEGY, World
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import ExecType, OrdStatus, PositionEffect, Side, TradingState
from xmc_fix.domain.events import SessionDown, SessionUp
from xmc_fix.domain.tickets import TicketState


def world_with(tmp_path, extra: str = "", replace: tuple[str, str] | None = None) -> World:
    text = STRATEGY + extra
    if replace:
        text = text.replace(*replace)
    p = tmp_path / "risk.toml"
    p.write_text(text)
    w = World(load_strategy(p))
    w.calm_market()
    return w


def alerts(w, kind=None):
    return [kw for k, kw in w.audit.events if k == "alert" and (kind is None or kw["alert"] == kind)]


def test_an_instrument_position_beyond_its_limit_halts_the_pair_and_cancels_its_orders(tmp_path):
    w = world_with(tmp_path, "\n[risk.instruments.SHFE_CU]\nmax_position = 5\n", ("tif = \"IOC\"", ""))
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    # a late extra fill the venue reports on the SHFE order (over-fill): position -6 > 5
    w.engine.on_event(w.report(inner, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("77690"), cum=D(6)))
    assert w.engine.pair_state(w.pair) is TradingState.HALTED
    (a,) = alerts(w, "limit_breach")
    assert "max_position 5" in a["message"] and a["alert_to_action_us"] < 100_000  # protect within 100 ms


def test_daily_realised_loss_beyond_the_limit_halts_the_pair(tmp_path):
    w = world_with(tmp_path, "\n[risk.pairs.P]\ndaily_loss_limit = 100\n")
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)                      # sold 5 SHFE lots at 77690
    w.reject(outer)
    for _ in range(2):                 # both chases rejected: the SHFE sale is unwound
        w.reject(w.sender.sent[-1])
    unwind = w.sender.sent[-1]
    assert unwind.side is Side.BUY and unwind.qty == 5
    w.fill(unwind)                     # bought back at its limit, above 77690: a realised loss
    # (77690 - unwind price) x 5 lots x 5 t per lot
    expected = (D("77690") - unwind.price) * 5 * 5
    assert expected < -100 and w.engine.gate.realised["P"] == expected
    assert w.engine.pair_state(w.pair) is TradingState.HALTED
    (a,) = alerts(w, "daily_loss")
    assert a["action"].startswith("P HALTED")


def _entries(bid, ask):
    from xmc_fix.domain.enums import BookAction, BookSide
    from xmc_fix.domain.events import BookEntry
    return (BookEntry(BookAction.DELETE, BookSide.BID, D("77700"), D(0)),
            BookEntry(BookAction.DELETE, BookSide.ASK, D("77710"), D(0)),
            BookEntry(BookAction.NEW, BookSide.BID, D(bid), D(100)),
            BookEntry(BookAction.NEW, BookSide.ASK, D(ask), D(100)))


def _lme(bid, ask):
    from xmc_fix.domain.enums import BookAction, BookSide
    from xmc_fix.domain.events import BookEntry
    return (BookEntry(BookAction.DELETE, BookSide.BID, D("9500"), D(0)),
            BookEntry(BookAction.DELETE, BookSide.ASK, D("9501"), D(0)),
            BookEntry(BookAction.NEW, BookSide.BID, D(bid), D(100)),
            BookEntry(BookAction.NEW, BookSide.ASK, D(ask), D(100)))


def test_a_venue_session_down_halts_its_pairs_until_it_is_back(world):
    world.engine.on_event(SessionDown("LME", world.now(), "reset"))
    assert world.engine.pair_state(world.pair) is TradingState.HALTED
    assert alerts(world, "session_down")
    world.engine.on_event(SessionUp("LME", world.now()))
    assert world.engine.pair_state(world.pair) is TradingState.ACTIVE


def test_stale_market_data_halts_until_fresh_data_arrives(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nstale_halt_ms = 1000\n")
    w.clock.advance(1500 * MS)
    w.engine.on_timer(w.now())
    assert w.engine.pair_state(w.pair) is TradingState.HALTED and alerts(w, "stale_data")
    w.calm_market()   # fresh snapshots from every venue
    w.engine.on_timer(w.now())
    assert w.engine.pair_state(w.pair) is TradingState.ACTIVE


def test_a_reject_spike_puts_the_venues_pairs_into_reducing(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nreject_window = 2\nmax_reject_share = 0.5\n",
                   ("mode = \"auto\"", ""))
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)               # 1 of 1 LME orders rejected: window not full yet
    chase = w.sender.sent[-1]
    w.reject(chase)               # 2 of 2 rejected: 100% > 50%
    assert w.engine.pair_state(w.pair) is TradingState.REDUCING
    (a,) = alerts(w, "reject_spike")
    assert a["venue"] == "LME"
    # reducing still repairs (the unwind takes exposure off)
    assert w.engine.orders[w.sender.sent[-1].cl_ord_id].role.value in ("CHASE", "UNWIND")


def test_a_slow_acknowledgement_is_a_latency_spike(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nmax_ack_ms = 100\n")
    w.cross_above()
    inner, outer = w.sender.sent
    w.clock.advance(250 * MS)
    w.fill(outer)
    assert w.engine.pair_state(w.pair) is TradingState.REDUCING and alerts(w, "latency_spike")


def test_operator_halt_stops_new_tickets_and_resume_restarts_them(world):
    world.engine.cmd_halt("P", "alice", "lunch")
    world.cross_above()
    assert world.sender.sent == []
    assert alerts(world, "operator")[0]["message"].endswith("halted by alice: lunch")
    world.engine.cmd_resume("P", "alice")
    world.update("SHFE", "CU", *_entries(bid="77700", ask="77710"))
    assert len(world.sender.sent) == 2


def test_global_halt_covers_every_pair(world):
    world.engine.cmd_halt(None, "bob")
    assert world.engine.pair_state(world.pair) is TradingState.HALTED
    world.cross_above()
    assert world.sender.sent == []


def test_flatten_takes_a_legged_position_to_zero_while_halted(tmp_path):
    w = world_with(tmp_path, replace=("chase_ticks = 4", 'mode = "halt"\nchase_ticks = 4'))
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    assert w.engine.pair_state(w.pair) is TradingState.HALTED      # repair mode halt: left to the operator
    assert (w.pair.inner_lots, w.pair.outer_lots) == (D(-5), D(0))
    res = w.engine.cmd_flatten("P", "carol")
    (f,) = res["flatten"]
    assert f["state"] == "flattening"
    order = w.sender.sent[-1]
    # buy back 5 SHFE lots, closing today's position, through the flatten path while HALTED
    assert (order.venue, order.side, order.qty, order.position_effect) == ("SHFE", Side.BUY, D(5),
                                                                           PositionEffect.CLOSE_TODAY)
    w.fill(order)
    assert (w.pair.inner_lots, w.pair.outer_lots) == (D(0), D(0))
    flat = w.engine.tickets[f["ticket"]]
    assert flat.state is TicketState.COMPLETED
    assert w.engine.pair_state(w.pair) is TradingState.HALTED          # still halted after the flatten


def test_a_flatten_on_shfe_closes_each_day_s_lots_with_its_own_position_effect(tmp_path):
    """Three of the five short lots were opened on an earlier trading day: SHFE refuses a close-today
    of them. The flatten sends one close-yesterday and one close-today order."""
    w = world_with(tmp_path, replace=("chase_ticks = 4", 'mode = "halt"\nchase_ticks = 4'))
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    st = w.engine.state
    inst = w.pair.inner
    st.ledger.days.set("ACC1", inst.name, D(0), D(0), D(2), D(3), st.trading_day(inst, w.now()))
    sent = len(w.sender.sent)
    w.engine.cmd_flatten("P", "carol")
    orders = w.sender.sent[sent:]
    assert [(o.venue, o.side, o.qty, o.position_effect) for o in orders] == [
        ("SHFE", Side.BUY, D(3), PositionEffect.CLOSE_YESTERDAY), ("SHFE", Side.BUY, D(2), PositionEffect.CLOSE_TODAY)]
    for o in orders:
        w.fill(o)
    assert (w.pair.inner_lots, w.pair.outer_lots) == (D(0), D(0))
    p = st.ledger.days.get("ACC1", inst.name)
    assert (p.short_today, p.short_yday) == (0, 0)


def test_a_flatten_that_finds_no_book_waits_and_goes_on_when_the_book_is_back(tmp_path):
    w = world_with(tmp_path, replace=("chase_ticks = 4", 'mode = "halt"\nchase_ticks = 4'))
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    w.engine.state.books[w.pair.inner.key].invalidate()           # SHFE's book gone (a snapshot is due)
    sent = len(w.sender.sent)
    (f,) = w.engine.cmd_flatten("P", "carol")["flatten"]
    assert len(w.sender.sent) == sent and "repair_waiting" in w.audit.kinds()
    flat = w.engine.tickets[f["ticket"]]
    assert flat.state is TicketState.WORKING and not flat.working
    w.clock.advance(10_000_000_000)
    w.calm_market()                                                # the book is back
    w.engine.on_timer(w.now())
    order = w.sender.sent[-1]
    assert len(w.sender.sent) == sent + 1 and (order.venue, order.side, order.qty) == ("SHFE", Side.BUY, D(5))
    w.fill(order)
    assert flat.state is TicketState.COMPLETED and (w.pair.inner_lots, w.pair.outer_lots) == (D(0), D(0))


def test_flatten_supersedes_a_ticket_still_being_repaired(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.fill(inner)
    world.reject(outer)
    chase = world.sender.sent[-1]
    world.engine.cmd_flatten("P", "dave")
    assert any(c.orig_cl_ord_id == chase.cl_ord_id for c in world.sender.cancels)
    world.fill(chase, qty=D(0))   # the chase ends unfilled: the ticket is superseded, the flatten starts
    t = world.ticket()
    assert t.state is TicketState.UNWOUND and "flattened" in t.transitions[-1].cause
    order = world.sender.sent[-1]
    assert (order.venue, order.side, order.qty) == ("SHFE", Side.BUY, D(5))
    world.fill(order)
    assert world.pair.residual_units == 0 and world.pair.inner_lots == 0


def test_cancel_all_cancels_working_orders_and_changes_no_state(tmp_path):
    w = world_with(tmp_path, replace=("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'))
    w.cross_above()
    for cmd in w.sender.sent:
        w.engine.on_event(w.report(cmd, ExecType.NEW, OrdStatus.NEW))
    res = w.engine.cmd_cancel_all(None, "erin")
    assert len(res["cancelled"]) == 2 and w.engine.pair_state(w.pair) is TradingState.ACTIVE


def test_every_started_ticket_has_a_stored_verdict(world):
    world.cross_above()
    verdicts = [kw for k, kw in world.audit.events if k == "verdict"]
    assert verdicts and verdicts[0]["ok"] is True and verdicts[0]["order_kind"] == "OPEN"


import pytest  # noqa: E402


@pytest.fixture
def world(strategy):
    w = World(strategy)
    w.calm_market()
    return w


from tests.unit.execution.test_engine import strategy  # noqa: E402,F401  (fixture)


def test_a_flatten_over_a_legged_ticket_waiting_for_its_venue_supersedes_it_and_starts(world):
    """The ticket is legged and not working (its repair waits for LME's session): the flatten ends it
    at once and its flatten ticket starts in the same command (it used to fail the command: the
    table of tickets grew while the command walked it)."""
    world.sender.down.add("LME")
    world.cross_above()
    (inner,) = world.sender.sent
    world.fill(inner)
    t = world.ticket()
    assert t.state is TicketState.LEGGED and not t.working
    res = world.engine.cmd_flatten("P", "frank")
    (f,) = res["flatten"]
    assert f["state"] == "flattening" and "flattened" in t.transitions[-1].cause
    order = world.sender.sent[-1]
    assert (order.venue, order.side, order.qty) == ("SHFE", Side.BUY, D(5))
