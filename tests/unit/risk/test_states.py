"""Trading states as holds: every trigger from every kind of starting point."""

from __future__ import annotations

import itertools

import pytest

from xmc_fix.domain.enums import TradingState
from xmc_fix.errors import IllegalTransition
from xmc_fix.risk.states import HOLD_EFFECTS, ScopeState, StateTrigger, effective

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
T = StateTrigger

# starting holds: none, a sticky reduce, a sticky halt, an automatic halt (key "session"), both halts
STARTS = {
    "none": [],
    "sticky-reduce": [(T.REDUCE, None)],
    "sticky-halt": [(T.HALT, None)],
    "auto-halt": [(T.AUTO_HALT, "session")],
    "auto-reduce": [(T.AUTO_REDUCE, "spike")],
    "sticky+auto-halt": [(T.HALT, None), (T.AUTO_HALT, "session")],
}
# the trigger applied, and its key where it takes one
ACTIONS = [(T.HALT, None), (T.REDUCE, None), (T.RESUME, None), (T.AUTO_HALT, "session"),
           (T.AUTO_REDUCE, "other"), (T.CLEAR, "session"), (T.CLEAR, "unknown")]

EXPECTED = {
    # start:              HALT REDUCE RESUME AUTO_HALT AUTO_REDUCE CLEAR(session) CLEAR(unknown)
    "none":              (H,   R,     A,     H,        R,          A,             A),
    "sticky-reduce":     (H,   R,     A,     H,        R,          R,             R),
    "sticky-halt":       (H,   H,     A,     H,        H,          H,             H),
    "auto-halt":         (H,   H,     H,     H,        H,          A,             H),
    "auto-reduce":       (H,   R,     R,     H,        R,          R,             R),
    "sticky+auto-halt":  (H,   H,     H,     H,        H,          H,             H),
}


def _scope(start: str) -> ScopeState:
    s = ScopeState("P")
    for i, (trigger, key) in enumerate(STARTS[start]):
        s.apply(trigger, i, f"start {trigger.value}", key=key)
    return s


@pytest.mark.parametrize("start, action", list(itertools.product(STARTS, range(len(ACTIONS)))),
                         ids=lambda x: str(x))
def test_every_trigger_from_every_start(start, action):
    s = _scope(start)
    before = s.state
    trigger, key = ACTIONS[action]
    change = s.apply(trigger, 100, "now", key=key)
    assert s.state is EXPECTED[start][action]
    assert (change is not None) == (s.state is not before)
    if change is not None:
        assert (change.from_state, change.to_state) == (before, s.state) and change.trigger is trigger


def test_resume_keeps_a_condition_that_still_holds():
    s = ScopeState("P")
    s.apply(T.HALT, 1, "operator")
    s.apply(T.AUTO_HALT, 2, "LME session down", key="session:LME")
    s.apply(T.RESUME, 3, "resumed")
    assert s.state is H and s.reason == "LME session down"
    s.apply(T.CLEAR, 4, "up", key="session:LME")
    assert s.state is A and s.reason == ""


def test_the_same_condition_twice_is_one_hold():
    s = ScopeState("P")
    assert s.apply(T.AUTO_HALT, 1, "stale", key="stale") is not None
    assert s.apply(T.AUTO_HALT, 2, "stale again", key="stale") is None
    assert len(s.holds) == 1


def test_automatic_holds_need_a_key():
    with pytest.raises(IllegalTransition):
        ScopeState("P").apply(T.AUTO_HALT, 1, "no key")
    with pytest.raises(IllegalTransition):
        ScopeState("P").apply(T.CLEAR, 1, "no key")


def test_every_trigger_has_an_effect_row():
    assert set(HOLD_EFFECTS) == set(StateTrigger)


@pytest.mark.parametrize("states, expected", [((A, A), A), ((A, R), R), ((R, A), R), ((H, A), H), ((A, H), H),
                                              ((R, H), H)])
def test_the_most_restrictive_scope_wins(states, expected):
    assert effective(*states) is expected
