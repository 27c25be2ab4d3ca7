"""Guards a desk expects of post-trade risk, driven through the engine with a recording sender:
one hold per breach, repair loops stopped, hard rejects not chased, alert timings that start when
the fact arrived."""

from __future__ import annotations

import json
from decimal import Decimal as D

from tests.unit.execution.test_engine import MS, STRATEGY, World
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import ExecType, OrdStatus, Side, TradingState
from xmc_fix.domain.events import SessionDown, SessionUp
from xmc_fix.domain.tickets import TicketState


class RecordingJournal:
    def __init__(self) -> None:
        self.lines = []

    def write(self, kind, **fields):
        self.lines.append((kind, fields))

    def write_json(self, kind, body):
        self.lines.append((kind, json.loads(body)))


def world_with(tmp_path, extra: str = "", replace: tuple[str, str] | None = None) -> World:
    text = STRATEGY + extra
    if replace:
        text = text.replace(*replace)
    p = tmp_path / "guards.toml"
    p.write_text(text)
    w = World(load_strategy(p))
    w.journal = w.engine.journal = RecordingJournal()
    w.calm_market()
    return w


def alerts(w, kind=None):
    return [kw for k, kw in w.audit.events if k == "alert" and (kind is None or kw["alert"] == kind)]


# -- one hold per breach ----------------------------------------------------------------------------
def test_a_breach_repeated_on_every_reject_is_one_hold_and_one_journal_line(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nreject_window = 2\nmax_reject_share = 0.5\nmax_rejects = 0\n")
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    for _ in range(4):                       # both chases and two unwinds rejected: the spike goes on
        w.reject(w.sender.sent[-1])
    spikes = [h for h in w.pair.trading.holds.values() if "rejected" in h.reason]
    assert len(spikes) == 1 and spikes[0].sticky
    journalled = [f for k, f in w.journal.lines if k == "pair" and "rejected" in f["reason"]]
    assert len(journalled) == 1
    assert len(alerts(w, "reject_spike")) == 1
    w.engine.cmd_resume("P", "ops")
    assert not w.pair.trading.holds


# -- alert timings -----------------------------------------------------------------------------------
def test_a_breach_alert_is_timed_from_the_reports_receipt_with_detection_and_action_apart(tmp_path):
    w = world_with(tmp_path, "\n[risk.instruments.SHFE_CU]\nmax_position = 5\n")
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    late = w.report(inner, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("77690"), cum=D(6))
    w.clock.advance(30 * MS)                 # the report waited 30 ms behind others before the engine saw it
    w.engine.on_event(late)
    (a,) = alerts(w, "limit_breach")
    assert a["detect_us"] == 30_000 and a["action_us"] == 0
    assert a["alert_to_action_us"] == a["detect_us"] + a["action_us"]


def test_stale_data_is_timed_from_the_timer_tick_and_information_alerts_carry_no_timing(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nstale_halt_ms = 1000\n")
    w.engine.on_event(SessionDown("LME", w.now(), "reset"))
    w.engine.on_event(SessionUp("LME", w.now()))
    info = [a for a in alerts(w) if a["severity"] == "info"]
    assert info and all("alert_to_action_us" not in a and "detect_us" not in a for a in info)
    w.calm_market()
    w.clock.advance(1500 * MS)
    tick = w.now()
    w.clock.advance(5 * MS)                  # the tick queued 5 ms behind a callback
    w.engine.on_timer(tick)
    (a,) = alerts(w, "stale_data")
    assert a["detect_us"] == 5_000 and a["alert_to_action_us"] == 5_000


def _reject(w, cmd, text="no", code=None):
    from dataclasses import replace
    w.engine.on_event(replace(w.report(cmd, ExecType.REJECTED, OrdStatus.REJECTED, text=text), ord_rej_reason=code))


def _recross(w, bid="77700"):
    """A fresh tick with the sell basis still above entry (a size change at the best bid)."""
    from xmc_fix.domain.enums import BookAction, BookSide
    from xmc_fix.domain.events import BookEntry
    w.update("SHFE", "CU", BookEntry(BookAction.CHANGE, BookSide.BID, D(bid), D(40 + len(w.sender.sent))))


def role(w, cmd):
    return w.engine.orders[cmd.cl_ord_id].role.value


# -- repair loops ------------------------------------------------------------------------------------
def test_repeated_unwinds_of_a_pair_within_the_window_halt_it_with_a_repair_loop_alert(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nmax_unwinds = 2\nloop_window_ms = 60000\n",
                   ("chase_ticks = 4", 'mode = "unwind"\nchase_ticks = 4'))
    w.cross_above()
    for n in range(2):
        inner, outer = w.sender.sent[-2:]
        w.fill(inner)
        w.reject(outer)
        unwind = w.sender.sent[-1]
        assert role(w, unwind) == "UNWIND"
        w.fill(unwind)
        assert w.engine.tickets[w.engine.orders[inner.cl_ord_id].ticket_id].state is TicketState.UNWOUND
        if n == 0:
            assert w.engine.pair_state(w.pair) is TradingState.ACTIVE
            _recross(w)                       # the basis still crosses: the same ticket again
    assert w.engine.pair_state(w.pair) is TradingState.HALTED
    (a,) = alerts(w, "repair_loop")
    assert "2 unwound tickets" in a["message"] and a["action"].startswith("P HALTED")
    sent = len(w.sender.sent)
    _recross(w)
    assert len(w.sender.sent) == sent        # stopped instead of trading again


def test_repeated_rejects_halt_the_pair_but_the_legged_ticket_is_still_taken_back(tmp_path):
    w = world_with(tmp_path, "\n[risk]\nmax_rejects = 3\n")
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)                           # 1
    w.reject(w.sender.sent[-1])               # 2: the first chase
    assert w.engine.pair_state(w.pair) is TradingState.ACTIVE
    w.reject(w.sender.sent[-1])               # 3: the second chase
    assert w.engine.pair_state(w.pair) is TradingState.HALTED and alerts(w, "repair_loop")
    unwind = w.sender.sent[-1]
    assert role(w, unwind) == "UNWIND"        # the halt stops new tickets, not the repair under way
    w.fill(unwind)
    assert w.ticket().state is TicketState.UNWOUND and w.pair.inner_lots == 0
    sent = len(w.sender.sent)
    _recross(w)
    assert len(w.sender.sent) == sent


# -- hard rejects --------------------------------------------------------------------------------------
def test_a_reject_that_cannot_succeed_is_not_chased_the_leading_leg_is_unwound(tmp_path):
    w = world_with(tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    _reject(w, outer, "market closed for the day", code="2")      # OrdRejReason 2: exchange closed
    (unwind,) = w.sender.sent[2:]
    assert role(w, unwind) == "UNWIND" and (unwind.venue, unwind.side, unwind.qty) == ("SHFE", Side.BUY, D(5))
    step = [kw for k, kw in w.audit.events if k == "repair_step"][-1]
    assert "no chase: LME rejected" in step["reason"] and "exchange closed" in step["reason"]


def test_a_reject_text_saying_insufficient_position_is_final_without_a_code(tmp_path):
    w = world_with(tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(outer)
    _reject(w, inner, "insufficient short today position to close: 9 available, 27 asked", code="99")
    assert role(w, w.sender.sent[-1]) == "UNWIND" and w.sender.sent[-1].venue == "LME"


def test_an_unwind_rejected_for_good_is_not_sent_again_the_ticket_fails_at_once(tmp_path):
    w = world_with(tmp_path, replace=("chase_ticks = 4", 'mode = "unwind"\nchase_ticks = 4'))
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    unwind = w.sender.sent[-1]
    _reject(w, unwind, "insufficient short today position to close: 0 available, 5 asked", code="3")
    assert len(w.sender.sent) == 3
    assert w.ticket().state is TicketState.FAILED and "no repair can succeed" in w.ticket().transitions[-1].cause
    assert w.engine.pair_state(w.pair) is TradingState.HALTED


def test_a_soft_reject_is_still_chased(tmp_path):
    w = world_with(tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    _reject(w, outer, "rejected by venue (simulated)", code="99")
    assert role(w, w.sender.sent[-1]) == "CHASE"
