"""Crossings counted as episodes, the same way in every state: a crossing begins when the
executable basis at the ticket's size crosses a threshold and ends when it no longer does, whether
a ticket may start (idle), may not (a ticket working, the pair halted) or is refused by the gate."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.execution.test_engine import MS, STRATEGY, World
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import BookAction, BookSide
from xmc_fix.domain.events import BookEntry


def world(tmp_path, extra: str = "") -> World:
    p = tmp_path / "capture.toml"
    p.write_text(STRATEGY + extra)
    w = World(load_strategy(p))
    w.calm_market()
    return w


@pytest.fixture
def world_tmp(tmp_path):
    return world(tmp_path)


def shfe(w, bid, ask, prev=("77290", "77300"), size=D(50)):
    w.update("SHFE", "CU", BookEntry(BookAction.DELETE, BookSide.BID, D(prev[0]), D(0)),
             BookEntry(BookAction.DELETE, BookSide.ASK, D(prev[1]), D(0)),
             BookEntry(BookAction.NEW, BookSide.BID, D(bid), size),
             BookEntry(BookAction.NEW, BookSide.ASK, D(ask), size))


def wiggle(w, bid="77700", n=3):
    """Ticks that keep the crossing: the size at the best bid changes."""
    for k in range(n):
        w.update("SHFE", "CU", BookEntry(BookAction.CHANGE, BookSide.BID, D(bid), D(41 + k)))


def test_a_crossing_while_a_ticket_works_is_one_episode_and_a_new_crossing_another(world_tmp):
    w = world_tmp
    w.cross_above()                       # episode 1: a ticket starts
    assert w.pair.signals == 1 and len(w.sender.sent) == 2
    wiggle(w)                             # still crossing while the ticket works
    assert w.pair.signals == 1
    shfe(w, "77400", "77410", prev=("77700", "77710"))   # sell basis 100: not crossing
    shfe(w, "77700", "77710", prev=("77400", "77410"))   # crossing again, the ticket still working
    assert w.pair.signals == 2 and len(w.sender.sent) == 2


def test_a_crossing_while_the_pair_is_halted_is_counted(world_tmp):
    w = world_tmp
    w.engine.cmd_halt("P", "ops")
    w.cross_above()
    wiggle(w)
    assert w.pair.signals == 1 and w.sender.sent == []


def test_a_crossing_refused_on_every_tick_is_one_episode_and_one_denial(world_tmp):
    w = world_tmp
    w.clock.advance(600 * MS)             # LME's quote is too old: every tick is refused
    w.cross_above()
    wiggle(w, n=5)
    assert (w.pair.signals, w.pair.denials) == (1, 1)
    d = w.engine.cmd_watch("P")["pairs"]["P"]["last_denial"]
    assert d["reason"] == "STALE_QUOTE" and d["direction"] == "SELL_BASIS" and d["ts_ns"] == w.now()


def test_an_episode_in_which_a_ticket_completed_is_captured_once(world_tmp):
    w = world_tmp
    w.cross_above()
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    wiggle(w, n=1)                        # the same crossing: a second ticket (position 25 -> 50)
    for cmd in w.sender.sent[2:]:
        w.fill(cmd)
    assert (w.pair.signals, w.pair.captured) == (1, 1)
    w.engine.on_timer(w.now())
    (sample,) = [kw for k, kw in w.audit.events if k == "basis"]
    assert (sample["signals"], sample["captured"]) == (1, 1)
