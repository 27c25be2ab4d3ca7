"""Every execution report understood: busts and corrections, done for day, restatements, suspended
orders, fills of orders the engine did not send, reports it cannot read, FIX 4.2's ExecTransType.
Driven event by event against the engine with a recording sender (busts, done for day and FIX 4.2
over real sessions: tests/integration/test_busts.py; silence: tests/integration/test_silence.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from tests.unit.execution.test_engine import MS, STRATEGY, World, _world_with, strategy, world  # noqa: F401
from xmc_fix.domain.enums import ExecType, OrdStatus, Side, TradingState
from xmc_fix.domain.events import ExecReport, MessageRejected, Uninterpretable
from xmc_fix.domain.tickets import TicketState
from xmc_fix.fixwire import SOH, format_utc, frame
from xmc_fix.venues.dialects import FIX42
from xmc_fix.venues.translate import Inbound, decode_execution_report, fmt_dec

MS = 1_000_000


def _alerts(w, kind):
    return [kw for k, kw in w.audit.events if k == "alert" and kw.get("alert") == kind]


def _completed(w):
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.fill(outer)
    assert w.ticket().state is TicketState.COMPLETED
    return inner, outer


def _exec_id_of_fill(w, cmd):
    return w.engine.orders[cmd.cl_ord_id].fills[0].exec_id


def test_a_bust_of_a_filled_leg_reopens_the_ticket_changes_the_position_and_is_alerted(world):
    inner, outer = _completed(world)
    assert world.pair.outer_lots == 1
    bust = world.report(outer, ExecType.TRADE_CANCEL, OrdStatus.CANCELED, last=D(1), px=outer.price, cum=D(0))
    world.engine.on_event(replace(bust, exec_ref_id=_exec_id_of_fill(world, outer)))
    t = world.ticket()
    assert world.pair.outer_lots == 0 and world.engine.state.ledger.position("LME_CA") == 0
    assert t.state is TicketState.REPAIRING                      # legged again, and repaired at once
    chase = world.sender.sent[-1]
    assert (chase.venue, chase.side, chase.qty) == ("LME", Side.BUY, D(1))
    assert _alerts(world, "trade_bust") and "trade_bust" in world.audit.kinds()
    world.fill(chase)
    assert t.state is TicketState.COMPLETED and world.pair.outer_lots == 1


def test_a_status_answer_counting_fewer_lots_of_a_finished_order_takes_the_missed_bust(world):
    """The bust itself never reached us (sent while we were down on a session since reset): the
    venue's answer about the finished order is the truth, and the position follows it."""
    inner, outer = _completed(world)
    status = world.report(outer, ExecType.ORDER_STATUS, OrdStatus.CANCELED, cum=D(0))
    world.engine.on_event(status)
    assert world.pair.outer_lots == 0 and world.engine.state.ledger.position("LME_CA") == 0
    assert world.engine.orders[outer.cl_ord_id].filled_qty == 0
    assert _alerts(world, "inferred_bust") and "inferred_bust" in world.audit.kinds()
    assert world.ticket().state in (TicketState.LEGGED, TicketState.REPAIRING)
    world.engine.on_event(replace(status, recv_ns=world.now()))     # asked again: nothing more comes off
    assert world.engine.state.ledger.position("LME_CA") == 0 and len(_alerts(world, "inferred_bust")) == 1


def test_a_status_answer_counting_fewer_lots_of_a_working_order_changes_nothing(tmp_path):
    """A working order's lower CumQty may be a lagging answer: the engine keeps the fills it has."""
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'), tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.engine.on_event(w.report(outer, ExecType.NEW, OrdStatus.NEW))
    w.engine.on_event(w.report(outer, ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, last=D(1), px=outer.price))
    held = w.engine.state.ledger.position("LME_CA")
    assert held != 0
    w.engine.on_event(w.report(outer, ExecType.ORDER_STATUS, OrdStatus.NEW, cum=D(0)))
    assert w.engine.state.ledger.position("LME_CA") == held and not _alerts(w, "inferred_bust")


def test_a_trade_correction_moves_the_position_by_the_corrected_quantity(tmp_path):
    w = _world_with(STRATEGY.replace("ticket_qty = 25\nmax_position = 50", "ticket_qty = 50\nmax_position = 100"),
                    tmp_path)
    inner, outer = _completed(w)                                  # 10 SHFE lots against 2 LME lots
    corr = w.report(outer, ExecType.TRADE_CORRECT, OrdStatus.CANCELED, last=D(1), px=outer.price, cum=D(1))
    w.engine.on_event(replace(corr, exec_ref_id=_exec_id_of_fill(w, outer)))
    assert w.pair.outer_lots == 1                                 # the venue says 1 lot, not 2
    assert _alerts(w, "trade_correction")
    assert w.ticket().state in (TicketState.LEGGED, TicketState.REPAIRING)


def test_done_for_day_on_a_partly_filled_day_order_ends_it_and_the_ticket_is_repaired(tmp_path):
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'), tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.engine.on_event(w.report(outer, ExecType.NEW, OrdStatus.NEW))
    assert w.ticket().state is TicketState.WORKING
    w.engine.on_event(w.report(outer, ExecType.DONE_FOR_DAY, OrdStatus.DONE_FOR_DAY))
    order = w.engine.orders[outer.cl_ord_id]
    assert order.is_terminal and order.status is OrdStatus.DONE_FOR_DAY
    assert w.ticket().state is TicketState.REPAIRING              # not WORKING for ever: legged, chased
    assert w.sender.sent[-1].venue == "LME"


def test_a_restatement_changes_the_order_quantity_and_a_suspended_order_stays_live(tmp_path):
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'), tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.engine.on_event(w.report(inner, ExecType.NEW, OrdStatus.NEW))
    restated = w.report(inner, ExecType.RESTATED, OrdStatus.NEW)
    w.engine.on_event(replace(restated, order_qty=D(3), leaves_qty=D(3), restatement_reason="3"))
    order = w.engine.orders[inner.cl_ord_id]
    assert order.qty == D(3) and order.leaves_qty == D(3)
    w.engine.on_event(w.report(outer, ExecType.SUSPENDED, OrdStatus.SUSPENDED))
    assert not w.engine.orders[outer.cl_ord_id].is_terminal and w.ticket().state is TicketState.WORKING


def test_a_fill_of_an_order_the_engine_did_not_send_moves_the_account_and_holds_the_pair(world):
    er = ExecReport(venue="SHFE", cl_ord_id="MANUAL-1", orig_cl_ord_id=None, order_id="V9", exec_id="VX1",
                    exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED, side=Side.BUY, symbol="CU",
                    order_qty=D(3), cum_qty=D(3), leaves_qty=D(0), last_qty=D(3), last_px=D(77300),
                    avg_px=D(77300), text=None, poss_dup=False, venue_ns=None, recv_ns=world.now(), account="ACC1")
    world.engine.on_event(er)
    world.engine.on_event(replace(er, poss_dup=True))                      # a resend counts once
    ledger = world.engine.state.ledger
    assert ledger.position("SHFE_CU") == 3 and ledger.foreign[("ACC1", "SHFE_CU")] == 3
    assert world.pair.inner_lots == 0                                       # no pair traded it
    assert world.engine.pair_state(world.pair) is TradingState.HALTED      # [reconcile] on_difference = halt
    assert _alerts(world, "unknown_order_fill")
    held = [e for e in world.engine.exposure() if e["state"] == "FOREIGN"]
    assert held and held[0]["residual"] == "3"
    world.cross_above()
    assert world.sender.sent == []                                          # no new exposure until resumed


def test_a_report_the_engine_cannot_read_holds_the_venues_pairs_and_asks_about_live_orders(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.engine.on_event(Uninterpretable("LME", "8", 77, "tag 150='Z' not supported", "8=FIX.4.4|...", world.now()))
    assert world.engine.pair_state(world.pair) is TradingState.HALTED
    assert {q.cl_ord_id for q in world.sender.status} == {outer.cl_ord_id}   # LME's live orders
    assert _alerts(world, "uninterpretable_report")


def test_a_session_reject_of_a_status_request_does_not_kill_the_live_order(world):
    world.cross_above()
    inner, outer = world.sender.sent
    world.engine.on_event(world.report(outer, ExecType.NEW, OrdStatus.NEW))
    for ref_msg_type in (None, "H", "F"):
        world.engine.on_event(MessageRejected("LME", False, 12, ref_msg_type, outer.cl_ord_id, "required tag missing",
                                              world.now()))
        assert world.engine.orders[outer.cl_ord_id].status is OrdStatus.NEW
    world.engine.on_event(MessageRejected("LME", False, 3, "D", outer.cl_ord_id, "bad", world.now()))
    assert world.engine.orders[outer.cl_ord_id].status is OrdStatus.REJECTED


# -- FIX 4.2: ExecTransType (20) says whether a report is a new execution, a cancel or correction of
# an earlier one, or a status; its ExecType 1 / 2 (partial fill / fill) stays on every kind.
def _fix42(w, cmd, trans, exec_type, status, exec_id, *, last=D(0), px=D(0), cum=D(0), ref=None):
    """An execution report as a FIX 4.2 venue writes it, read as the engine reads one off the wire."""
    tags = [("37", "O-" + cmd.cl_ord_id), ("11", cmd.cl_ord_id), ("17", exec_id), ("20", trans)]
    tags += [("19", ref)] if ref else []
    tags += [("150", exec_type), ("39", status), ("55", cmd.instrument.symbol), ("54", "1" if cmd.side is Side.BUY else "2"),
             ("38", fmt_dec(cmd.qty)), ("32", fmt_dec(last)), ("31", fmt_dec(px)),
             ("151", fmt_dec(cmd.qty - cum) if status in ("0", "1") else "0"), ("14", fmt_dec(cum)),
             ("6", fmt_dec(px if cum else D(0))), ("60", format_utc(w.now(), 3))]
    raw = frame("FIX.4.2", "8", "".join(f"{t}={v}{SOH}" for t, v in tags))
    return decode_execution_report(cmd.venue, raw, w.now(), Inbound(FIX42))


def _completed_over_fix42(w):
    """Both legs filled; the outer leg's reports are FIX 4.2 ones (20=0, ExecType 0 then 2)."""
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.engine.on_event(_fix42(w, outer, "0", "0", "0", "X1"))
    w.engine.on_event(_fix42(w, outer, "0", "2", "2", "X2", last=outer.qty, px=outer.price, cum=outer.qty))
    assert w.ticket().state is TicketState.COMPLETED
    return inner, outer


def test_a_fix42_cancel_of_a_trade_busts_the_fill_and_the_ticket_repairs_it(world):
    inner, outer = _completed_over_fix42(world)
    assert world.pair.outer_lots == 1 and world.engine.state.ledger.position("LME_CA") == 1
    # 20=1 with ExecType 1: read without its ExecTransType, this would be one more lot bought
    bust = _fix42(world, outer, "1", "1", "4", "X3", last=D(1), px=outer.price, cum=D(0), ref="X2")
    assert bust.exec_type is ExecType.TRADE_CANCEL
    world.engine.on_event(bust)
    assert world.pair.outer_lots == 0 and world.engine.state.ledger.position("LME_CA") == 0
    assert world.engine.orders[outer.cl_ord_id].fills == []
    assert world.ticket().state is TicketState.REPAIRING
    chase = world.sender.sent[-1]
    assert (chase.venue, chase.side, chase.qty) == ("LME", Side.BUY, D(1))
    assert _alerts(world, "trade_bust")
    world.fill(chase)
    assert world.ticket().state is TicketState.COMPLETED and world.pair.outer_lots == 1


def test_a_fix42_correction_of_a_trade_moves_the_position_to_the_corrected_fill(tmp_path):
    w = _world_with(STRATEGY.replace("ticket_qty = 25\nmax_position = 50", "ticket_qty = 50\nmax_position = 100"),
                    tmp_path)
    inner, outer = _completed_over_fix42(w)                        # 10 SHFE lots against 2 LME lots
    assert w.engine.state.ledger.position("LME_CA") == 2
    better = outer.price - D(1)
    corr = _fix42(w, outer, "2", "2", "4", "X3", last=D(1), px=better, cum=D(1), ref="X2")
    assert corr.exec_type is ExecType.TRADE_CORRECT
    w.engine.on_event(corr)
    assert w.pair.outer_lots == 1 and w.engine.state.ledger.position("LME_CA") == 1
    (fill,) = w.engine.orders[outer.cl_ord_id].fills
    assert (fill.qty, fill.price) == (D(1), better)
    assert w.engine.state.ledger.cost[("P", "LME_CA")].avg == better
    assert _alerts(w, "trade_correction")
    assert w.ticket().state in (TicketState.LEGGED, TicketState.REPAIRING)


def test_a_fix42_status_report_adds_no_fill(world):
    inner, outer = _completed_over_fix42(world)
    fills = world.engine.state.stats.fills.get("LME", 0)
    # 20=3 with ExecType 2 and the last fill's LastShares: an answer about the order, not a second fill
    status = _fix42(world, outer, "3", "2", "2", "X9", last=D(1), px=outer.price, cum=D(1))
    assert status.exec_type is ExecType.ORDER_STATUS
    world.engine.on_event(status)
    world.engine.on_event(replace(status, recv_ns=world.now()))   # asked again: the same answer
    assert world.pair.outer_lots == 1 and world.engine.state.ledger.position("LME_CA") == 1
    assert len(world.engine.orders[outer.cl_ord_id].fills) == 1
    assert world.engine.state.stats.fills.get("LME", 0) == fills
    assert world.ticket().state is TicketState.COMPLETED and not _alerts(world, "inferred_bust")


# -- silence is a state ------------------------------------------------------------------------------
def test_a_venue_that_goes_silent_is_asked_again_with_backoff_then_its_pair_halts_with_the_exposure(tmp_path):
    w = _world_with(STRATEGY + "\n[reconcile]\nstatus_retry_ms = 100\nsilent_halt_ms = 2000\n", tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)                                   # SHFE answers; LME says nothing at all
    t = w.ticket()
    asked_at = []
    for _ in range(60):                             # 6 s of timer ticks every 100 ms
        w.clock.advance(100 * MS)
        w.engine.on_timer(w.now())
        asked_at += [w.now()] * (len(w.sender.status) - len(asked_at))
    gaps = [b - a for a, b in zip(asked_at, asked_at[1:])]
    assert len(asked_at) >= 4 and all(b > a for a, b in zip(gaps, gaps[1:])), gaps    # backoff: longer each time
    rounds = [a for a in _alerts(w, "venue_silent") if a["severity"] == "warning"]
    assert len(rounds) == len(asked_at) - 1                # every unanswered round is alerted
    (halted,) = [a for a in _alerts(w, "venue_silent") if a["severity"] == "critical"]
    assert "residual 25 t" in halted["message"] and "for 2000 ms" in halted["message"] and halted["action"].startswith("P HALTED")
    assert w.engine.pair_state(w.pair) is TradingState.HALTED and t.state is TicketState.WORKING
    assert any(e["ticket_id"] == t.ticket_id for e in w.engine.exposure())


def test_an_order_never_acknowledged_counts_against_max_ack_ms_while_it_waits(tmp_path):
    w = _world_with(STRATEGY + "\n[risk]\nmax_ack_ms = 300\n", tmp_path)
    w.cross_above()
    w.clock.advance(400 * MS)
    w.engine.on_timer(w.now())
    assert w.engine.pair_state(w.pair) is TradingState.REDUCING
    assert any("has not acknowledged" in a["message"] for a in _alerts(w, "latency_spike"))


def test_a_drop_copy_fill_of_another_account_is_recorded_and_never_applied(world):
    # a firm's drop copy carries every account it trades: another desk's fill is none of our exposure
    from xmc_fix.domain.events import DropCopyReport
    er = ExecReport(venue="SHFE", cl_ord_id="OTHER-1", orig_cl_ord_id=None, order_id="V7", exec_id="VO1",
                    exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED, side=Side.BUY, symbol="CU",
                    order_qty=D(3), cum_qty=D(3), leaves_qty=D(0), last_qty=D(3), last_px=D(77300),
                    avg_px=D(77300), text=None, poss_dup=False, venue_ns=None, recv_ns=world.now(), account="OTHER")
    world.engine.on_event(DropCopyReport(er))
    world.engine.on_event(DropCopyReport(replace(er, exec_id="VO2", cl_ord_id="MANUAL-2", account="ACC1")))
    world.clock.advance(60_000_000_000)
    world.engine.on_timer(world.now())
    ledger = world.engine.state.ledger
    # the other account's 3 lots never reach the ledger; our own account's (a manual order) do
    assert ("OTHER", "SHFE_CU") not in ledger.foreign and ledger.foreign[("ACC1", "SHFE_CU")] == 3
    assert ledger.position("SHFE_CU") == 3
    assert world.engine.drop_copy.counts["other_account"] == 1
    assert [kw["account"] for k, kw in world.audit.events if k == "drop_copy_other_account"] == ["OTHER"]


def test_a_bust_that_puts_a_day_order_back_to_work_reopens_the_ticket_and_the_order_is_timed_out(tmp_path):
    """Seen in the chaos demo: the venue busted the fill of a DAY order and reported the order New
    again, its whole quantity open. The ticket had ended; left so, no timer ever looked at the order
    and the pair stayed legged by the busted lots. It reopens, the order is cancelled at the ticket
    timeout, and the repair follows."""
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'), tmp_path)
    inner, outer = _completed(w)
    t = w.ticket()
    bust = w.report(outer, ExecType.TRADE_CANCEL, OrdStatus.NEW, last=D(1), px=outer.price, cum=D(0))
    w.engine.on_event(replace(bust, exec_ref_id=_exec_id_of_fill(w, outer)))
    assert w.engine.orders[outer.cl_ord_id].leaves_qty == outer.qty      # working again at the venue
    assert t.state is TicketState.LEGGED and t in [p.ticket for p in w.engine.state.open_progress()]
    assert t.ticket_id in w.pair.legged                                  # the pair opens nothing meanwhile
    assert w.engine.state.progress[t.ticket_id].repairs == ["REOPENED:order working again"]
    assert w.sender.sent == [inner, outer]                               # no repair while it works
    w.clock.advance(w.engine.state.strategy.engine.ticket_timeout_ms * MS + MS)
    w.engine.on_timer(w.now())
    (cancel,) = w.sender.cancels
    assert cancel.orig_cl_ord_id == outer.cl_ord_id
    er = w.report(outer, ExecType.CANCELED, OrdStatus.CANCELED)
    w.engine.on_event(replace(er, cl_ord_id=cancel.cl_ord_id, orig_cl_ord_id=outer.cl_ord_id))
    chase = w.sender.sent[-1]
    assert t.state is TicketState.REPAIRING and (chase.venue, chase.side, chase.qty) == ("LME", Side.BUY, D(1))
    w.fill(chase)
    assert t.state is TicketState.COMPLETED and w.pair.outer_lots == 1
    assert w.engine.state.progress[t.ticket_id].repairs == ["REOPENED:order working again", "CHASE#1"]


def test_an_order_working_again_that_fills_after_all_ends_the_reopened_ticket_with_its_path_said(tmp_path):
    """The venue fills the busted DAY order again before the ticket timeout: the ticket is matched
    with no repair step of ours, and its path still says what happened (the report lists every
    legging with its path)."""
    w = _world_with(STRATEGY.replace("max_quote_age_ms = 500", 'max_quote_age_ms = 500\ntif = "DAY"'), tmp_path)
    inner, outer = _completed(w)
    t = w.ticket()
    bust = w.report(outer, ExecType.TRADE_CANCEL, OrdStatus.NEW, last=D(1), px=outer.price, cum=D(0))
    w.engine.on_event(replace(bust, exec_ref_id=_exec_id_of_fill(w, outer)))
    assert t.state is TicketState.LEGGED
    w.engine.on_event(w.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=outer.price, cum=D(1)))
    assert t.state is TicketState.COMPLETED and w.pair.outer_lots == 1 and t.ticket_id not in w.pair.legged
    assert w.engine.state.progress[t.ticket_id].repairs == ["REOPENED:order working again"]
    assert w.sender.sent == [inner, outer] and not w.sender.cancels
