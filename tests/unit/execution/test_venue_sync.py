"""Reconciliation with a venue, driven event by event: rounds at logon and every ``interval_ms``; mass
status and position reports against the engine's orders and ledger; differences recorded with both
views, resolved toward the venue, and holding the pairs they touch (HALTED, or REDUCING with
``on_difference = "reduce"``). (Over real sessions with the simulator: tests/integration/test_reconcile.py.)"""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.execution.test_engine import STRATEGY, MemoryAudit, RecordingSender, strategy  # noqa: F401
from xmc_fix.clock import ManualClock
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import ExecType, OrdStatus, Side, TradingState
from xmc_fix.domain.events import (BookSnapshot, ExecReport, MessageRejected, PositionReport, PositionsAck,
                                   SessionUp)
from xmc_fix.domain.ids import IdGenerator
from xmc_fix.execution.engine import Engine
from xmc_fix.execution.venue_sync import VenueCaps


class ReconcilingSender(RecordingSender):
    def __init__(self) -> None:
        super().__init__()
        self.mass, self.positions = [], []

    def send_mass_status(self, cmd):
        self.mass.append(cmd)
        return True

    def send_positions_request(self, cmd, now_ns):
        self.positions.append(cmd)
        return True


def _engine(strategy, caps=None):
    clock, sender, audit = ManualClock(), ReconcilingSender(), MemoryAudit()
    e = Engine(strategy, sender, audit, clock, IdGenerator("T", 1),
               venue_caps=caps if caps is not None else {"SHFE": VenueCaps(True, True), "LME": VenueCaps(True, True)})
    return e, sender, audit, clock


def _status(venue, cl, symbol, side, status, req, total, last, clock):
    return ExecReport(venue=venue, cl_ord_id=cl, orig_cl_ord_id=None, order_id="V1" if cl else "NONE",
                      exec_id="S1", exec_type=ExecType.ORDER_STATUS, ord_status=status, side=side, symbol=symbol,
                      order_qty=D(5), cum_qty=D(0), leaves_qty=D(5), last_qty=D(0), last_px=D(0), avg_px=D(0),
                      text=None, poss_dup=False, venue_ns=None, recv_ns=clock.now_ns(), mass_status_req_id=req,
                      tot_num_reports=total, last_rpt_requested=last)


def test_at_logon_the_engine_asks_each_venue_for_working_orders_and_positions(strategy):
    e, sender, audit, clock = _engine(strategy)
    e.on_event(SessionUp("SHFE", clock.now_ns()))
    (af,), (an,) = sender.mass, sender.positions
    assert af.venue == an.venue == "SHFE" and an.account == "ACC1"
    assert "reconcile_started" in audit.kinds()


def test_a_venue_that_agrees_leaves_everything_as_it_was(strategy):
    e, sender, audit, clock = _engine(strategy)
    e.on_event(SessionUp("SHFE", clock.now_ns()))
    (af,), (an,) = sender.mass, sender.positions
    e.on_event(_status("SHFE", "", "", Side.BUY, OrdStatus.REJECTED, af.req_id, 0, True, clock))
    e.on_event(PositionsAck("SHFE", an.req_id, "2", "0", 0, "ACC1", "no positions found", clock.now_ns()))
    r = e.sync.results["SHFE"]
    assert r["differences"] == [] and r["orders_compared"] and r["positions_compared"] and not r["incomplete"]
    assert e.pair_state(e.pairs["P"]) is TradingState.ACTIVE


def test_a_position_the_venue_holds_and_the_engine_does_not_is_taken_from_the_venue_and_holds_the_pair(strategy):
    e, sender, audit, clock = _engine(strategy)
    e.on_event(SessionUp("SHFE", clock.now_ns()))
    (af,), (an,) = sender.mass, sender.positions
    e.on_event(_status("SHFE", "", "", Side.BUY, OrdStatus.REJECTED, af.req_id, 0, True, clock))
    e.on_event(PositionsAck("SHFE", an.req_id, "0", "0", 1, "ACC1", None, clock.now_ns()))
    e.on_event(PositionReport("SHFE", an.req_id, "ACC1", "CU", None, 1, (("SOD", D(4), D(0)), ("TQ", D(0), D(1))),
                              clock.now_ns()))
    (d,) = e.sync.results["SHFE"]["differences"]
    assert (d["about"], d["engine"], d["venue_view"]) == ("position", "0", "3")
    ledger = e.state.ledger
    assert ledger.position("SHFE_CU") == 3 and ledger.foreign[("ACC1", "SHFE_CU")] == 3
    days = ledger.days.get("ACC1", "SHFE_CU")                     # SHFE's own split by open day, taken too
    assert (days.long_yday, days.long_today, days.short_today) == (4, 0, 1)
    assert e.pair_state(e.pairs["P"]) is TradingState.HALTED
    assert any(x["state"] == "FOREIGN" for x in e.exposure())
    kinds = [kw.get("alert") for k, kw in audit.events if k == "alert"]
    assert "venue_difference" in kinds and "reconcile_difference" in audit.kinds()


def test_an_order_the_venue_works_that_the_engine_did_not_send_is_a_difference(strategy):
    e, sender, audit, clock = _engine(strategy)
    e.on_event(SessionUp("LME", clock.now_ns()))
    (af,), (an,) = sender.mass, sender.positions
    e.on_event(_status("LME", "MANUAL-7", "CA", Side.SELL, OrdStatus.NEW, af.req_id, 1, True, clock))
    e.on_event(PositionsAck("LME", an.req_id, "2", "0", 0, "ACC1", None, clock.now_ns()))
    (d,) = e.sync.results["LME"]["differences"]
    assert d["about"] == "order" and d["cl_ord_id"] == "MANUAL-7"
    assert e.pair_state(e.pairs["P"]) is TradingState.HALTED


def test_a_venue_that_does_not_serve_mass_status_is_asked_no_more_and_the_round_still_ends(strategy):
    e, sender, audit, clock = _engine(strategy)
    e.on_event(SessionUp("LME", clock.now_ns()))
    (af,), (an,) = sender.mass, sender.positions
    e.on_event(MessageRejected("LME", True, 5, "AF", af.req_id, "unsupported message type", clock.now_ns()))
    e.on_event(PositionsAck("LME", an.req_id, "2", "0", 0, "ACC1", None, clock.now_ns()))
    r = e.sync.results["LME"]
    assert not r["orders_compared"] and r["positions_compared"] and r["differences"] == []
    assert e.sync.caps["LME"] == VenueCaps(False, True)


def test_positions_are_not_compared_while_an_order_is_in_flight(strategy):
    e, sender, audit, clock = _engine(strategy, caps={"SHFE": VenueCaps(False, True), "LME": VenueCaps(False, True)})
    for v in ("SHFE", "LME", "FX"):
        e.on_event(SessionUp(v, clock.now_ns()))
    e.on_event(BookSnapshot("FX", "USD/CNH", ((D("7.1999"), D(100)),), ((D("7.2001"), D(100)),), 1, None,
                            clock.now_ns()))
    e.on_event(BookSnapshot("LME", "CA", ((D(9500), D(100)),), ((D(9501), D(100)),), 1, None, clock.now_ns()))
    e.on_event(BookSnapshot("SHFE", "CU", ((D(77700), D(50)),), ((D(77710), D(50)),), 1, None, clock.now_ns()))
    assert len(sender.sent) == 2                               # a ticket's orders are out
    an = sender.positions[0]
    e.on_event(PositionsAck("SHFE", an.req_id, "2", "0", 0, "ACC1", None, clock.now_ns()))
    assert "SHFE" not in e.sync.results                         # not compared: asked again shortly
    clock.advance(400 * 1_000_000)
    e.on_timer(clock.now_ns())
    assert len(sender.positions) >= 3 and sender.positions[-1].venue == "SHFE"


# -- the periodic round, and differences that reduce rather than halt -----------------------------------
MS = 1_000_000


def _with(tmp_path, reconcile: str):
    p = tmp_path / "reconcile.toml"
    p.write_text(STRATEGY + "\n[reconcile]\n" + reconcile)
    return load_strategy(p)


def _answer(e, sender, clock):
    """The venue agrees: no working orders, no positions."""
    af, an = sender.mass[-1], sender.positions[-1]
    e.on_event(_status(af.venue, "", "", Side.BUY, OrdStatus.REJECTED, af.req_id, 0, True, clock))
    e.on_event(PositionsAck(an.venue, an.req_id, "2", "0", 0, "ACC1", None, clock.now_ns()))


def _tick(e, clock, ms, step_ms=100):
    for _ in range(ms // step_ms):
        clock.advance(step_ms * MS)
        e.on_timer(clock.now_ns())


def test_every_interval_ms_the_engine_reconciles_again_with_each_venue_that_is_up(tmp_path):
    e, sender, audit, clock = _engine(_with(tmp_path, "interval_ms = 5000\n"), caps={"SHFE": VenueCaps(True, True)})
    e.on_event(SessionUp("SHFE", clock.now_ns()))
    _answer(e, sender, clock)
    assert e.sync.results["SHFE"]["reason"] == "logon" and len(sender.mass) == 1
    _tick(e, clock, 4900)
    assert len(sender.mass) == len(sender.positions) == 1          # not before its time
    _tick(e, clock, 200)
    assert len(sender.mass) == len(sender.positions) == 2 and sender.mass[-1].venue == "SHFE"
    _answer(e, sender, clock)
    assert e.sync.results["SHFE"]["reason"] == "periodic" and e.sync.results["SHFE"]["differences"] == []
    _tick(e, clock, 5000)
    assert len(sender.mass) == 3                                   # and again, one round per period
    started = [kw["reason"] for k, kw in audit.events if k == "reconcile_started"]
    assert started == ["logon", "periodic", "periodic"]


def test_with_interval_ms_0_the_engine_reconciles_only_at_logon(tmp_path):
    e, sender, audit, clock = _engine(_with(tmp_path, "interval_ms = 0\n"), caps={"SHFE": VenueCaps(True, True)})
    e.on_event(SessionUp("SHFE", clock.now_ns()))
    _answer(e, sender, clock)
    _tick(e, clock, 120_000, step_ms=1000)
    assert len(sender.mass) == len(sender.positions) == 1


def test_with_on_difference_reduce_a_difference_puts_the_pair_in_reducing_until_resumed(tmp_path):
    e, sender, audit, clock = _engine(_with(tmp_path, 'on_difference = "reduce"\n'))
    for v in ("SHFE", "LME", "FX"):
        e.on_event(SessionUp(v, clock.now_ns()))
    an = next(q for q in sender.positions if q.venue == "SHFE")
    af = next(q for q in sender.mass if q.venue == "SHFE")
    e.on_event(_status("SHFE", "", "", Side.BUY, OrdStatus.REJECTED, af.req_id, 0, True, clock))
    e.on_event(PositionsAck("SHFE", an.req_id, "0", "0", 1, "ACC1", None, clock.now_ns()))
    e.on_event(PositionReport("SHFE", an.req_id, "ACC1", "CU", None, 1, (("SOD", D(3), D(0)),), clock.now_ns()))
    (d,) = e.sync.results["SHFE"]["differences"]
    assert (d["engine"], d["venue_view"]) == ("0", "3")
    pr = e.pairs["P"]
    assert e.pair_state(pr) is TradingState.REDUCING                # not HALTED
    (alert,) = [kw for k, kw in audit.events if k == "alert" and kw.get("alert") == "venue_difference"]
    assert alert["action"].startswith("P REDUCING")
    # reducing: the basis crosses, and no opening ticket adds to what the pair holds
    e.on_event(BookSnapshot("FX", "USD/CNH", ((D("7.1999"), D(100)),), ((D("7.2001"), D(100)),), 1, None,
                            clock.now_ns()))
    e.on_event(BookSnapshot("LME", "CA", ((D(9500), D(100)),), ((D(9501), D(100)),), 1, None, clock.now_ns()))
    e.on_event(BookSnapshot("SHFE", "CU", ((D(77700), D(50)),), ((D(77710), D(50)),), 1, None, clock.now_ns()))
    assert sender.sent == []
    e.cmd_resume("P", "alice")
    assert e.pair_state(pr) is TradingState.ACTIVE


def test_with_on_difference_reduce_a_fill_of_an_order_the_engine_did_not_send_reduces_the_pair(tmp_path):
    e, sender, audit, clock = _engine(_with(tmp_path, 'on_difference = "reduce"\n'))
    e.on_event(ExecReport(venue="LME", cl_ord_id="MANUAL-1", orig_cl_ord_id=None, order_id="V9", exec_id="VX1",
                          exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED, side=Side.SELL, symbol="CA",
                          order_qty=D(1), cum_qty=D(1), leaves_qty=D(0), last_qty=D(1), last_px=D(9500),
                          avg_px=D(9500), text=None, poss_dup=False, venue_ns=None, recv_ns=clock.now_ns(),
                          account="ACC1"))
    assert e.state.ledger.foreign[("ACC1", "LME_CA")] == -1
    assert e.pair_state(e.pairs["P"]) is TradingState.REDUCING
