"""What the status and watch documents say (the fields `xmc status`, `xmc watch` and the web view
read), and what a resume reply says about the pairs it leaves held."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.execution.test_engine import STRATEGY, World
from xmc_fix.config import load_strategy
from xmc_fix.control.screens import print_status


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
