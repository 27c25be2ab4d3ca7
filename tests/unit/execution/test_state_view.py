"""The engine's state as readers see it (:class:`StateView`): live, and nothing it hands out changes
what the engine holds - no attribute set, no collection changed, no trading state applied. The
objects inside its collections (pairs, tickets, orders, books) are the engine's own, as documented."""

from __future__ import annotations

from collections import deque
from decimal import Decimal as D

import pytest

from tests.unit.execution.test_engine import World, strategy  # noqa: F401  (fixture)
from xmc_fix.domain.enums import TradingState
from xmc_fix.execution.state import SamplesView, StateView
from xmc_fix.metrics.snapshot import TailCursor

MAPPINGS = ("pairs", "books", "tickets", "progress", "orders", "positions", "by_account", "foreign", "realised")


@pytest.fixture
def w(strategy):  # noqa: F811
    w = World(strategy)
    w.calm_market()
    w.complete_a_ticket()
    return w


@pytest.fixture
def view(w) -> StateView:
    return w.engine.view


def test_the_view_shows_what_the_engine_holds_and_follows_it(w, view):
    st = w.engine.state
    (tid,) = view.tickets
    assert view.tickets[tid] is st.tickets[tid] and set(view.orders) == set(st.orders)
    assert dict(view.by_account) == dict(st.ledger.by_account) and view.by_account[("ACC1", "SHFE_CU")] == D(-5)
    assert dict(view.positions) == dict(st.ledger.positions)
    assert view.venues_up == {"SHFE", "LME", "FX"} and view.stats.tickets == 1

    w.engine.cmd_halt(None, "test")

    assert view.trading.state is TradingState.HALTED and view.pair_state(view.pairs["P"]) is TradingState.HALTED
    assert [h.reason for h in view.trading.holds.values()] == ["halted by test"]


@pytest.mark.parametrize("name", [*MAPPINGS, "trading", "stats", "strategy", "stopping", "venues_up", "_s", "other"])
def test_no_attribute_of_the_view_can_be_set_or_deleted(view, name):
    with pytest.raises(AttributeError):
        setattr(view, name, {})
    with pytest.raises(AttributeError):
        delattr(view, name)


@pytest.mark.parametrize("name", MAPPINGS)
def test_the_mappings_the_view_hands_out_cannot_be_changed(w, view, name):
    mapping = getattr(view, name)
    key = next(iter(mapping), ("ACC1", "SHFE_CU"))     # no foreign lots here: any key
    before = dict(mapping)

    with pytest.raises(TypeError):
        mapping[key] = None
    with pytest.raises(TypeError):
        del mapping[key]
    assert not hasattr(mapping, "pop") and not hasattr(mapping, "clear") and not hasattr(mapping, "update")
    assert dict(getattr(view, name)) == before


def test_sets_lists_and_counts_are_copies_or_frozen(w, view):
    assert isinstance(view.venues_up, frozenset)
    pairs = view.scope(None)
    assert isinstance(pairs, tuple) and pairs == tuple(w.engine.state.pairs.values())
    counts = view.tickets_by_state()
    counts["COMPLETED"] = 99
    assert view.tickets_by_state() == {"COMPLETED": 1}


def test_the_global_trading_state_reads_without_apply_or_changing_its_holds(w, view):
    w.engine.cmd_halt(None, "test")
    trading = view.trading

    assert not hasattr(trading, "apply") and not hasattr(trading, "state_without")
    with pytest.raises(AttributeError):
        trading.state = TradingState.ACTIVE
    with pytest.raises(TypeError):
        trading.holds["k"] = None
    assert w.engine.state.trading.state is TradingState.HALTED and len(w.engine.state.trading.holds) == 1


def test_the_counters_read_without_being_changeable(w, view):
    stats = view.stats
    with pytest.raises(AttributeError):
        stats.tickets = 0
    for name in ("orders", "fills", "rejects"):
        with pytest.raises(TypeError):
            getattr(stats, name)["SHFE"] = 0
    samples = stats.decision_to_send_ns
    assert list(samples) == list(w.engine.state.stats.decision_to_send_ns) and len(samples) == 1
    assert not hasattr(samples, "append") and not hasattr(samples, "clear")
    with pytest.raises(TypeError):
        samples[0] = 0
    assert (stats.orders["SHFE"], stats.fills["SHFE"]) == (1, 1)


def test_the_strategy_tables_are_read_only_and_the_engines_strategy_untouched(w, view):
    for name in ("instruments", "fx", "pairs", "calendars"):
        with pytest.raises(TypeError):
            getattr(view.strategy, name)["X"] = None
    with pytest.raises(AttributeError):
        view.strategy.path = "elsewhere"
    assert view.strategy.instruments["SHFE_CU"] is w.engine.strategy.instruments["SHFE_CU"]
    assert type(w.engine.strategy.instruments) is dict


def test_pairs_are_the_engines_live_objects_as_documented(w, view):
    # not copied: a reader sees a pair's state as it is, and must only read it
    assert view.pairs["P"] is w.engine.state.pairs["P"]
    assert view.scope("P")[0] is w.engine.state.pairs["P"]


def test_a_samples_view_follows_its_deque_and_a_scrape_cursor_reads_it_like_the_deque():
    d = deque(range(5), maxlen=10)
    s = SamplesView(d)
    cursor = TailCursor()
    assert cursor.new(s) == [0, 1, 2, 3, 4]
    d.extend(range(5, 13))                 # rolls: 3 .. 12 kept
    assert len(s) == 10 and s[0] == 3 and s[-1] == 12
    assert cursor.new(s) == list(range(5, 13))
