"""What the status and watch documents say (the fields `xmc status`, `xmc watch` and the web view
read: the rule's signal among them), and what a resume reply says about the pairs it leaves held."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.execution.test_engine import STRATEGY, World
from tests.unit.execution.test_release import TwoPairs, _strategy
from xmc_fix.config import load_strategy
from xmc_fix.control.screens import print_status
from xmc_fix.domain.enums import BookAction, BookSide
from xmc_fix.domain.events import BookEntry


@pytest.fixture
def w(tmp_path):
    p = tmp_path / "screens.toml"
    p.write_text(STRATEGY)
    w = World(load_strategy(p))
    w.calm_market()
    return w


def test_watch_lists_every_venue_session_the_fx_source_and_the_age_limits(w):
    w.sender.down.add("LME")
    from xmc_fix.domain.events import SessionDown
    w.engine.on_event(SessionDown("LME", w.now(), "reset"))
    doc = w.engine.cmd_watch()
    assert doc["sessions"] == [{"venue": "FX", "up": True}, {"venue": "LME", "up": False},
                               {"venue": "SHFE", "up": True}]
    p = doc["pairs"]["P"]
    assert p["max_quote_age_ms"] == 500 and p["last_denial"] is None
    assert (p["fx"]["source"], p["fx"]["venue"], p["fx"]["max_age_ms"]) == ("USDCNH", "FX", 5000)
    assert doc["global"]["holds"] == []


def test_open_tickets_show_direction_time_legs_and_orders(w):
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    (t,) = w.engine.cmd_watch()["open_tickets"]
    assert (t["direction"], t["created_ns"]) == ("SELL_BASIS", w.ticket().created_ns)
    legs = {leg["role"]: leg for leg in t["legs"]}
    assert (legs["INNER"]["venue"], legs["INNER"]["side"], legs["INNER"]["filled_lots"], legs["INNER"]["target_lots"]) \
        == ("SHFE", "SELL", "5", "5")
    (o,) = legs["INNER"]["orders"]
    assert (o["cl_ord_id"], o["role"], o["status"], o["cum_qty"], o["price"], o["uncertain"]) == (
        inner.cl_ord_id, "ENTRY", "FILLED", "5", str(inner.price), False)
    assert D(o["avg_px"]) == inner.price
    (lo,) = legs["OUTER"]["orders"]
    assert lo["status"] == "PENDING_NEW" and lo["avg_px"] is None


def test_global_holds_are_listed_in_status_and_watch(w):
    w.engine.cmd_halt(None, "ops", "fire drill")
    for doc in (w.engine.cmd_status(), w.engine.cmd_watch()):
        (h,) = doc["global"]["holds"]
        assert (h["level"], h["sticky"]) == ("HALTED", True) and h["reason"].endswith("fire drill")


def test_a_global_resume_says_which_pairs_stay_halted_and_why(w, capsys):
    w.engine.cmd_flatten("P", "alice")
    w.engine.cmd_halt(None, "bob")
    res = w.engine.cmd_resume(None, "carol")
    assert res["global"]["state"] == "ACTIVE"
    (held,) = res["still_held"]
    assert (held["pair"], held["state"], held["resume"]) == ("P", "HALTED", "xmc resume --pair P")
    assert any("flatten by alice" in h["reason"] for h in held["holds"])
    print_status({**res, "run_id": "X-1"})
    out = capsys.readouterr().out
    assert out.startswith("engine X-1") and "P stays HALTED: pair HALTED (sticky): flatten by alice" in out
    assert w.engine.cmd_resume("P", "carol")["still_held"] == []


def _revert_shfe(w):
    """SHFE back to 77290/77300: buy basis = 77300 - 9500 x 7.2 x 1.13 = 8 (<= exit_above 100)."""
    w.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77700"), D(0)),
             BookEntry(BookAction.DELETE, BookSide.ASK, D("77710"), D(0)),
             BookEntry(BookAction.NEW, BookSide.BID, D("77290"), D(50)),
             BookEntry(BookAction.NEW, BookSide.ASK, D("77300"), D(50)))


def test_watch_shows_the_rules_signal_an_entry_then_the_exit_of_the_position_held(w):
    assert w.engine.cmd_watch()["pairs"]["P"]["signal"] is None        # calm: basis about 0
    w.cross_above()
    assert w.engine.cmd_watch()["pairs"]["P"]["signal"] == "sell basis (open: entry_above 300 crossed)"
    inner, outer = w.sender.sent
    w.fill(inner)
    w.fill(outer)                                                       # short basis, 25 t

    _revert_shfe(w)

    assert w.engine.cmd_watch()["pairs"]["P"]["signal"] == "buy basis (close: exit_above 100 crossed)"


def test_watch_shows_a_shadow_pairs_signal_on_its_paper_position(tmp_path):
    w = TwoPairs(_strategy(tmp_path))
    w.engine.cmd_set_mode("Q", "shadow", "tester")
    w.cross("INE")                                   # a shadow ticket: paper short 5 lots, nothing held
    w.engine.cmd_halt("Q", "tester")                 # ... and no shadow close when the basis comes back
    w.revert("INE")
    q = w.engine.pairs["Q"]
    assert q.paper.inner_lots == D(-5) and q.inner_lots == 0

    # the engine's rule on the paper position: back inside, the paper short is bought back
    assert w.engine.cmd_watch()["pairs"]["Q"]["signal"] == "buy basis (close: exit_above 100 crossed)"
