"""Every order passes the gate and the verdict says which checks it ran: a sequential ticket's
second leg (aligned on its lot grid, never over-hedged), MARKET orders checked at the price they
would reach, and verdicts listing the checks made with their results."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.execution.test_engine import STRATEGY, World
from tests.unit.venues.test_translate import make_instrument
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import BookAction, BookSide, Side
from xmc_fix.domain.events import BookEntry
from xmc_fix.domain.tickets import TicketState

SEQUENTIAL = 'max_quote_age_ms = 500\nsubmission = "sequential"\nsequential_first = "outer"'


def world(tmp_path, *replacements, extra: str = "") -> World:
    text = STRATEGY
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    p = tmp_path / "checks.toml"
    p.write_text(text + extra)
    w = World(load_strategy(p))
    w.calm_market()
    return w


def events(w, kind):
    return [kw for k, kw in w.audit.events if k == kind]


# -- the second leg of a sequential ticket --------------------------------------------------------------
def test_the_second_leg_is_aligned_on_its_lot_step_never_over_hedged(tmp_path):
    w = world(tmp_path, ("position_effect = true", "position_effect = true\nlot_step = 2"),
              ("ticket_qty = 25\nmax_position = 50", "ticket_qty = 50\nmax_position = 100\nresidual_tolerance = 5"),
              ("max_quote_age_ms = 500", SEQUENTIAL))
    w.cross_above()
    (first,) = w.sender.sent
    assert (first.venue, first.qty) == ("LME", D(2))
    w.fill(first, qty=D(1))                  # 25 t of LME: 5 SHFE lots would match, off its grid of 2
    second = w.sender.sent[-1]
    assert (second.venue, second.side, second.qty) == ("SHFE", Side.SELL, D(4))   # 20 t: within 5 t, not 30 t


def test_the_second_leg_is_rounded_down_not_half_even_past_the_tolerance(tmp_path):
    w = world(tmp_path, ("contract_size = 25\n", "contract_size = 2.5\n"),
              ("max_quote_age_ms = 500", SEQUENTIAL))
    w.cross_above()
    (first,) = w.sender.sent
    assert first.qty == D(10)
    w.fill(first, qty=D(7))                  # 17.5 t: 3.5 SHFE lots; 4 would over-hedge by 2.5 t
    assert w.sender.sent[-1].qty == D(3)


def test_hedge_lots_keep_to_the_grid_the_tolerance_and_the_plan():
    from xmc_fix.execution.lifecycle import hedge_lots
    shfe = make_instrument(lot_step=D(2), min_qty=D(2))
    assert hedge_lots(D(25), shfe, "t", D(5), D(10)) == D(4)     # 20 or 30: both 5 t off, the smaller
    assert hedge_lots(D(29), shfe, "t", D(5), D(10)) == D(6)     # 30 is 1 t off, 20 is 9 t off
    assert hedge_lots(D(60), shfe, "t", D(5), D(10)) == D(10)    # never more than planned
    assert hedge_lots(D(9), shfe, "t", D(0), D(10)) == D(0)      # below the minimum quantity: nothing


def test_the_second_leg_passes_the_gate_a_halt_between_the_legs_stops_it(tmp_path):
    w = world(tmp_path, ("max_quote_age_ms = 500", SEQUENTIAL))
    w.cross_above()
    (first,) = w.sender.sent
    w.engine.cmd_halt("P", "ops", "news")
    w.fill(first)
    assert len(w.sender.sent) == 1
    (d,) = [d for d in events(w, "denial") if d.get("order_kind") == "second leg"]
    assert d["reason"] == "PAIR_HALTED" and d["checks"]["state P"] == "PAIR_HALTED"
    assert w.ticket().state in (TicketState.LEGGED, TicketState.REPAIRING)


def test_a_sent_second_leg_has_its_own_verdict(tmp_path):
    w = world(tmp_path, ("max_quote_age_ms = 500", SEQUENTIAL))
    w.cross_above()
    w.fill(w.sender.sent[0])
    (v,) = [v for v in events(w, "verdict") if v["order_kind"] == "second leg"]
    assert v["orders"] == [w.sender.sent[-1].cl_ord_id] and v["checks"]["order_qty SHFE_CU"] == "ok"


# -- MARKET orders -------------------------------------------------------------------------------------
MARKET = ("max_quote_age_ms = 500", 'max_quote_age_ms = 500\norder_type = "MARKET"')


def test_a_market_order_is_held_to_the_notional_at_the_price_its_size_reaches(tmp_path):
    # 5 SHFE lots at 77700 x 5 t = 1,942,500 CNY
    w = world(tmp_path, MARKET, extra="\n[risk.instruments.SHFE_CU]\nmax_order_notional = 1900000\n")
    w.cross_above()
    assert w.sender.sent == []
    (d,) = events(w, "denial")
    assert d["reason"] == "MAX_ORDER_NOTIONAL" and "1942500" in d["detail"]


def test_a_market_order_whose_size_reaches_deep_into_the_book_is_held_to_the_collar(tmp_path):
    w = world(tmp_path, MARKET, extra="\n[risk.instruments.SHFE_CU]\ncollar_pct = 0.1\n")
    w.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
             BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
             BookEntry(BookAction.NEW, BookSide.BID, D("77700"), D(1)),      # one lot at the touch...
             BookEntry(BookAction.NEW, BookSide.BID, D("77600"), D(50)),     # ...the rest 0.13 % below
             BookEntry(BookAction.NEW, BookSide.ASK, D("77710"), D(50)))
    assert w.sender.sent == []
    assert [d["reason"] for d in events(w, "denial")] == ["PRICE_COLLAR"]


def test_a_market_order_within_its_limits_goes_out_without_a_price(tmp_path):
    w = world(tmp_path, MARKET, extra="\n[risk.instruments.SHFE_CU]\nmax_order_notional = 2000000\n")
    w.cross_above()
    inner, outer = w.sender.sent
    assert inner.price is None and inner.ord_type.value == "MARKET"


# -- verdicts ------------------------------------------------------------------------------------------
def test_a_verdict_lists_the_checks_the_gate_ran_and_their_results(tmp_path):
    w = world(tmp_path, extra="\n[risk.instruments.SHFE_CU]\ncollar_pct = 2\n")
    w.cross_above()
    (v,) = events(w, "verdict")
    checks = v["checks"]
    assert set(checks.values()) == {"ok"}
    assert {"state P", "session SHFE", "session LME", "quote_age LME", "fx_age P", "pair_position P",
            "order_qty SHFE_CU", "collar SHFE_CU", "slippage LME_CA", "message_rate LME"} <= set(checks)
    assert "collar LME_CA" not in checks and "margin SHFE" not in checks   # not configured: not run
    assert "notional SHFE_CU" not in checks


def test_a_repair_verdict_lists_its_checks(tmp_path):
    w = world(tmp_path)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.reject(outer)
    (v,) = [v for v in events(w, "verdict") if v["order_kind"] == "CHASE"]
    assert v["checks"]["slippage LME_CA"] == "ok" and v["checks"]["state P"] == "ok"
