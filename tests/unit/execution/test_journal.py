"""The intent journal: written before orders leave, replayed after a crash into positions held and
tickets still open, compacted without changing what it says."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.execution.test_engine import World, strategy  # noqa: F401  (fixture)
from xmc_fix.domain.enums import ExecType, OrdStatus, Side, TicketIntent, TradingState
from xmc_fix.domain.events import SessionUp
from xmc_fix.domain.tickets import TicketState
from xmc_fix.execution.journal import Journal, replay


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / "journal" / "T.jsonl"


def journaled_world(strategy, path):
    w = World(strategy)
    w.engine.journal = Journal(path)
    w.calm_market()
    return w


def test_ticket_and_orders_are_journaled_before_they_are_sent(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    sent_when_journaled = []
    original = w.sender.send_new

    def spy(cmd, now):
        text = journal_path.read_text()
        sent_when_journaled.append(cmd.cl_ord_id in text)
        return original(cmd, now)

    w.sender.send_new = spy
    w.cross_above()
    assert sent_when_journaled == [True, True]


def test_replay_gives_held_lots_of_finished_tickets_and_the_open_ones(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    first = list(w.sender.sent)
    for cmd in first:
        w.fill(cmd)
    w.sender.sent.clear()
    w.cross_above()                 # a second ticket, its reports never arrive (the engine dies)
    second = list(w.sender.sent)
    st = replay(journal_path)
    (held,) = st.held
    assert (held["pair"], D(held["inner"]), D(held["outer"])) == ("P", D(-5), D(1))
    (open_t,) = st.open_tickets.values()
    assert [o["cl_ord_id"] for o in open_t.orders] == [c.cl_ord_id for c in second]
    assert st.bad_lines == 0


def test_a_restarted_engine_asks_about_open_orders_and_finishes_the_ticket(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    w.sender.sent.clear()
    w.cross_above()
    inner, outer = w.sender.sent

    again = World.__new__(World)
    World.__init__(again, strategy)      # a new process: new engine, same journal
    again.engine.journal = Journal(journal_path)
    restored = again.engine.restore(replay(journal_path))
    assert restored == {"held": 1, "tickets": 1, "orders": 2, "fills": 2}   # the first ticket's two fills
    assert again.pair.inner_lots == D(-5) and again.pair.outer_lots == D(1)
    # World.__init__ already brought the sessions up; bring them up again as a reconnect would
    for v in ("SHFE", "LME"):
        again.engine.on_event(SessionUp(v, again.now()))
    asked = sorted(q.cl_ord_id for q in again.sender.status)
    assert asked == sorted([inner.cl_ord_id, outer.cl_ord_id])
    assert again.sender.sent == []      # nothing re-sent
    for cmd in (inner, outer):
        again.engine.on_event(again.report(cmd, ExecType.ORDER_STATUS, OrdStatus.FILLED, cum=cmd.qty, px=cmd.price))
    t = again.engine.tickets[w.pair.active.ticket_id]
    assert t.state is TicketState.COMPLETED
    assert again.pair.inner_lots == D(-10) and again.pair.outer_lots == D(2)


def test_a_torn_last_line_is_skipped(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    with open(journal_path, "a") as f:
        f.write('{"k":"end","ticket_id":"TT1-1","st')
    st = replay(journal_path)
    assert st.bad_lines == 1 and len(st.open_tickets) == 1


def test_compaction_keeps_what_the_journal_says(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    w.sender.sent.clear()
    w.cross_above()
    before = replay(journal_path)
    w.engine.journal.compact(w.engine.journal_state())
    after = replay(journal_path)
    assert [(h["ticket_id"], h["inner"], h["outer"]) for h in after.held] == \
           [(h["ticket_id"], h["inner"], h["outer"]) for h in before.held]
    assert list(after.open_tickets) == list(before.open_tickets)
    assert after.accounted.keys() == before.accounted.keys() and len(after.accounted) == 2   # the first ticket's fills
    assert list(after.finished) == list(before.finished) and len(after.finished) == 1
    # the ledger's snapshot, the holding, the ExecIDs the ledger took, the first ticket (finished lately),
    # the open ticket and its two orders
    assert len(journal_path.read_text().splitlines()) == 1 + 1 + 1 + 1 + 1 + 2


def test_a_late_fill_reopening_a_ticket_is_replayed_as_open(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.engine.on_event(w.report(outer, ExecType.CANCELED, OrdStatus.CANCELED))
    w.fill(w.sender.sent[-1])   # chase fills: completed
    w.engine.on_event(w.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=D(1), px=D("9501"), cum=D(1)))
    st = replay(journal_path)
    assert len(st.open_tickets) == 1   # reopened and the unwind not finished yet


# -- state that survives a restart --------------------------------------------------------------------
def _restart(strategy, journal_path, later_ns: int = 0):
    again = World.__new__(World)
    World.__init__(again, strategy)
    again.clock.advance(later_ns)
    again.engine.ids.prefix = "R"          # a new process: its own ids (the real one's start time)
    again.engine.journal = Journal(journal_path)
    return again, again.engine.restore(replay(journal_path))


def test_positions_cost_basis_and_realised_pnl_survive_a_restart(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    ledger = w.engine.state.ledger
    before = (dict(ledger.positions), dict(ledger.by_account), {k: (c.lots, c.avg) for k, c in ledger.cost.items()})
    again, _ = _restart(strategy, journal_path)
    after = again.engine.state.ledger
    assert (dict(after.positions), dict(after.by_account), {k: (c.lots, c.avg) for k, c in after.cost.items()}) == before
    assert after.position("SHFE_CU") == D(-5) and after.position("LME_CA") == D(1)
    # and again after a compaction (the ledger's snapshot instead of the fills)
    again.engine.journal.compact(again.engine.journal_state())
    third, _ = _restart(strategy, journal_path)
    assert dict(third.engine.state.ledger.positions) == before[0]


def test_a_global_halt_survives_a_restart(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.engine.cmd_halt(None, "alice", "end of day")
    again, _ = _restart(strategy, journal_path)
    assert again.engine.state.trading.state is TradingState.HALTED
    assert again.engine.pair_state(again.pair) is TradingState.HALTED


def _round_trip(w):
    """Open on the crossing, close when the basis comes back: the pair realises P&L."""
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    w.sender.sent.clear()
    w.come_back()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    assert w.pair.position_units == 0


def test_realised_pnl_per_pair_and_its_trading_day_survive_a_restart(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    _round_trip(w)
    ledger = w.engine.state.ledger
    realised, day = ledger.realised["P"], ledger.realised_day["P"]
    assert realised != 0 and day is not None
    again, _ = _restart(strategy, journal_path)
    after = again.engine.state.ledger
    assert (after.realised["P"], after.realised_day["P"]) == (realised, day)
    # and again after a compaction (the ledger's snapshot instead of the fills)
    again.engine.journal.compact(again.engine.journal_state())
    third, _ = _restart(strategy, journal_path)
    assert (third.engine.state.ledger.realised["P"], third.engine.state.ledger.realised_day["P"]) == (realised, day)


def test_a_pair_an_operator_halted_stays_halted_after_a_restart_and_a_resume_is_remembered_too(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.engine.cmd_halt("P", "alice", "venue maintenance")
    again, _ = _restart(strategy, journal_path)
    assert again.engine.pair_state(again.pair) is TradingState.HALTED
    assert again.engine.state.trading.state is TradingState.ACTIVE           # only the pair was halted
    assert "venue maintenance" in again.pair.trading.reason
    again.calm_market()
    again.cross_above()
    assert again.sender.sent == []
    again.engine.cmd_resume("P", "alice")
    third, _ = _restart(strategy, journal_path)
    assert third.engine.pair_state(third.pair) is TradingState.ACTIVE


def test_a_global_flatten_survives_a_restart_halted_with_its_flatten_finishing(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    w.sender.sent.clear()
    (f,) = w.engine.cmd_flatten(None, "alice")["flatten"]
    assert f["state"] == "flattening"
    closing = list(w.sender.sent)                   # out, and the engine dies before any answer
    assert {(c.venue, c.side) for c in closing} == {("SHFE", Side.BUY), ("LME", Side.SELL)}

    again, restored = _restart(strategy, journal_path)
    assert again.engine.state.trading.state is TradingState.HALTED
    assert "flatten by alice" in again.engine.state.trading.reason
    flat = again.engine.tickets[f["ticket"]]
    assert flat.intent is TicketIntent.FLATTEN and not flat.state.is_terminal
    for v in ("SHFE", "LME"):
        again.engine.on_event(SessionUp(v, again.now()))
    assert sorted(q.cl_ord_id for q in again.sender.status) == sorted(c.cl_ord_id for c in closing)
    for cmd in closing:                             # the venues filled them while the engine was down
        again.fill(cmd)
    assert flat.state is TicketState.COMPLETED and (again.pair.inner_lots, again.pair.outer_lots) == (0, 0)
    again.calm_market()
    again.cross_above()
    assert [c for c in again.sender.sent if c.cl_ord_id not in {x.cl_ord_id for x in closing}] == []


def test_the_daily_loss_starts_again_at_the_trading_day_boundary(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    ledger = w.engine.state.ledger
    day = w.engine.state.trading_day(w.pair.inner, w.now())
    ledger.roll_day("P", day)
    ledger.add_realised("P", D(-1000))
    w.engine.on_timer(w.now())
    assert ledger.realised["P"] == D(-1000)                  # same trading day: it stands
    w.clock.advance(24 * 3600 * 1_000_000_000)
    w.engine.on_timer(w.now())
    assert ledger.realised["P"] == 0                          # the next trading day starts from zero


def test_a_fill_resent_after_a_restart_for_an_order_finished_before_it_is_not_counted_again(strategy, journal_path):
    """The venue resends (or its drop copy repeats) a fill of an order the engine finished and no
    longer holds (ended longer than ``retain_finished_ms`` before the restart): the ExecID the ledger
    took is in the journal, so it is a duplicate, not a foreign fill, before and after a compaction."""
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    inner, outer = list(w.sender.sent)
    w.fill(inner)
    w.fill(outer)
    assert w.ticket().state is TicketState.COMPLETED
    fill_id = w.engine.orders[inner.cl_ord_id].fills[0].exec_id
    before = dict(w.engine.state.ledger.positions)
    for compact in (False, True):
        again, _ = _restart(strategy, journal_path, later_ns=strategy.engine.retain_finished_ms * 1_000_000 * 2)
        assert inner.cl_ord_id not in again.engine.orders          # finished long ago: not restored
        resent = again.report(inner, ExecType.TRADE, OrdStatus.FILLED, last=inner.qty, px=inner.price,
                              exec_id=fill_id, poss_dup=True)
        again.engine.on_event(resent)
        assert dict(again.engine.state.ledger.positions) == before
        assert not again.engine.state.ledger.foreign
        assert again.engine.pair_state(again.pair) is TradingState.ACTIVE
        if compact:
            break
        again.engine.journal.compact(again.engine.journal_state())
        again.engine.journal.close()
    # a fill the ledger never took, of an order it does not know, is still foreign
    new = again.report(inner, ExecType.TRADE, OrdStatus.FILLED, last=inner.qty, px=inner.price, exec_id="NEW-1")
    again.engine.on_event(new)
    assert again.engine.state.ledger.foreign


def test_every_record_carries_its_wall_time_for_the_audit_and_replay_ignores_it(strategy, journal_path):
    from xmc_fix.execution.journal import history
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)

    records = history(journal_path)

    assert {r["k"] for r in records} >= {"intent", "fill", "end"}
    assert all(isinstance(r["t"], int) and r["t"] > 1_600_000_000 * 10 ** 9 for r in records)
    st = replay(journal_path)
    assert all("t" not in h for h in st.held) and all("t" not in f for f in st.fills)


def test_a_late_fill_after_a_restart_reopens_a_recently_finished_ticket_instead_of_passing_for_foreign(
        strategy, journal_path):
    """The outer leg was cancelled with nothing done, the ticket repaired (chased) and ended, the
    engine restarted; then the venue reports the fill it had made after all (a late fill). The restarted
    engine knows the order (finished tickets are kept for ``retain_finished_ms``, across a
    compaction too): the ticket reopens and is repaired, nothing is foreign, nothing halts."""
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    inner, outer = list(w.sender.sent)
    w.fill(inner)
    w.engine.on_event(w.report(outer, ExecType.CANCELED, OrdStatus.CANCELED))
    chase = w.sender.sent[-1]
    w.fill(chase)                                        # chased: matched, ended
    assert w.ticket().state is TicketState.COMPLETED
    for compact in (True, False):
        again, _ = _restart(strategy, journal_path)
        if compact:
            again.engine.journal.compact(again.engine.journal_state())
            again.engine.journal.close()
            again, _ = _restart(strategy, journal_path)
        t = again.engine.tickets.get(w.ticket().ticket_id)
        assert t is not None and t.state is TicketState.COMPLETED
        assert again.engine.orders[outer.cl_ord_id].is_terminal
        if compact:
            continue
        again.calm_market()
        late = again.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=outer.qty, px=outer.price)
        again.engine.on_event(late)
        assert not again.engine.state.ledger.foreign
        assert again.engine.pair_state(again.pair) is TradingState.ACTIVE
        assert t.state in (TicketState.LEGGED, TicketState.REPAIRING)      # reopened: one lot too many
        excess = again.sender.sent[-1]
        assert (excess.venue, excess.side, excess.qty) == (outer.venue, outer.side.opposite, outer.qty)


def test_a_ticket_finished_longer_ago_than_the_retention_is_not_restored(strategy, journal_path):
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    tid = w.ticket().ticket_id
    again = World.__new__(World)
    World.__init__(again, strategy)
    again.clock.advance(strategy.engine.retain_finished_ms * 1_000_000 + 1_000_000_000)
    again.engine.journal = Journal(journal_path)
    st = replay(journal_path)
    for ft in st.finished.values():            # as if it ended at the first world's time
        ft.ended_ns = w.now()
    again.engine.restore(st)
    assert tid not in again.engine.tickets


@pytest.mark.parametrize("compacted", [False, True])
def test_a_status_answer_naming_the_order_by_our_cancels_clordid_alone_finds_it_after_a_restart(
        strategy, journal_path, compacted):
    # the engine asks a venue to cancel a working order and dies; the venue answers a status request
    # for the order by the cancel's ClOrdID, without OrigClOrdID (FIX makes it optional there)
    from dataclasses import replace
    w = journaled_world(strategy, journal_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    order = w.engine.orders[outer.cl_ord_id]
    w.engine.desk.cancel(order, "test")
    (alias,) = order.aliases

    again = World.__new__(World)
    World.__init__(again, strategy)      # a new process: new engine, same journal
    again.engine.journal = Journal(journal_path)
    state = replay(journal_path)
    if compacted:
        again.engine.journal.compact(state)
        state = replay(journal_path)
    again.engine.restore(state)
    answer = replace(again.report(outer, ExecType.ORDER_STATUS, OrdStatus.CANCELED, cum=D(0)),
                     cl_ord_id=alias, orig_cl_ord_id=None)
    again.engine.on_event(answer)
    restored = again.engine.orders[outer.cl_ord_id]
    assert again.engine.orders[alias] is restored and restored.status is OrdStatus.CANCELED
    assert again.engine.state.stats.unknown_reports == 0          # not taken for another terminal's order


def _a_closed_position_with_a_late_fill_to_come(w):
    """Sell the basis, then close it: the close's LME leg is cancelled with nothing done, the ticket
    chases it and ends with the pair flat. Returns the cancelled order, whose fill comes late."""
    w.complete_a_ticket()
    w.sender.sent.clear()
    w.come_back()
    inner, outer = w.sender.sent
    closing = w.engine.tickets[w.pair.active.ticket_id]
    assert closing.intent is TicketIntent.CLOSE
    w.fill(inner)
    w.engine.on_event(w.report(outer, ExecType.CANCELED, OrdStatus.CANCELED))
    chase = w.sender.sent[-1]
    w.fill(chase)                                        # chased: matched, ended, the pair flat
    assert closing.state is TicketState.COMPLETED and not w.pair.holdings
    return closing, (inner, outer, chase)


def _compacted_restart(strategy, journal_path):
    """A restart as ``xmc run`` does it: replay, restore, then the journal rewritten compactly."""
    again, _ = _restart(strategy, journal_path)
    again.engine.journal.compact(again.engine.journal_state())
    return again


def test_a_closing_ticket_reopened_by_a_late_fill_after_a_restart_and_ended_again_leaves_no_lots_behind(
        strategy, journal_path):
    """Seen in the kill -9 test under load: after a compacting restart a late fill reopened a closing
    ticket, which was repaired and ended again with the same net lots. The next restart's replay
    applied its whole net a second time (the holding it had closed was gone, so the lots became a
    holding of their own), and the engine believed in a position no venue held."""
    w = journaled_world(strategy, journal_path)
    closing, (inner, outer, chase) = _a_closed_position_with_a_late_fill_to_come(w)
    again = _compacted_restart(strategy, journal_path)
    again.calm_market()
    again.engine.on_event(again.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=outer.qty, px=outer.price))
    t = again.engine.tickets[closing.ticket_id]
    assert t.state is TicketState.REPAIRING                # reopened: one LME lot too many, unwound
    again.fill(again.sender.sent[-1])
    assert t.state is TicketState.COMPLETED
    assert not again.pair.holdings and again.pair.inner_lots == 0 and again.pair.outer_lots == 0
    assert replay(journal_path).held == []
    third, restored = _restart(strategy, journal_path)
    assert restored["held"] == 0 and not third.pair.holdings
    assert third.pair.inner_lots == 0 and third.pair.outer_lots == 0


def test_a_ticket_reopened_before_a_restart_applies_only_what_changed_when_it_ends_after_it(
        strategy, journal_path):
    """The engine dies while a reopened closing ticket is being repaired. The holdings it restarts with
    already include the ticket's lots as they were at its first end (in the compacted journal too), so
    its end after the restart applies only the change the repair made."""
    w = journaled_world(strategy, journal_path)
    closing, (inner, outer, chase) = _a_closed_position_with_a_late_fill_to_come(w)
    again = _compacted_restart(strategy, journal_path)
    again.calm_market()
    again.engine.on_event(again.report(outer, ExecType.TRADE, OrdStatus.FILLED, last=outer.qty, px=outer.price))
    unwind = again.sender.sent[-1]
    third = None
    for compact in (False, True):                        # the engine dies with the unwind working
        if third is not None:
            third.engine.journal.close()
        third = _compacted_restart(strategy, journal_path) if compact else _restart(strategy, journal_path)[0]
        t = third.engine.tickets[closing.ticket_id]
        assert not t.state.is_terminal
        assert not third.pair.holdings and third.pair.outer_lots == -1   # the late lot: no holding has it yet
    for v in ("SHFE", "LME"):
        third.engine.on_event(SessionUp(v, third.now()))
    for cmd in (inner, outer, chase):                    # the venues answer the status requests
        third.engine.on_event(third.report(cmd, ExecType.ORDER_STATUS, OrdStatus.FILLED, cum=cmd.qty, px=cmd.price))
    third.engine.on_event(third.report(unwind, ExecType.TRADE, OrdStatus.FILLED, last=unwind.qty,
                                       px=unwind.price, cum=unwind.qty))
    assert third.engine.tickets[closing.ticket_id].state is TicketState.COMPLETED
    assert not third.pair.holdings and third.pair.inner_lots == 0 and third.pair.outer_lots == 0
    assert replay(journal_path).held == []
