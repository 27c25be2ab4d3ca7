"""Gray release per pair: a pair in shadow decides on a paper position and records shadow tickets while
another pair trades live; the live size cap; changes refused while a ticket is open, audited,
journaled and restored after a restart (unless the strategy file changed since)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from tests.unit.execution.test_engine import STRATEGY, World
from xmc_fix.config import load_strategy
from xmc_fix.domain.enums import BookAction, BookSide, Direction, Side, TicketIntent
from xmc_fix.domain.events import BookEntry, SessionUp
from xmc_fix.domain.tickets import TicketState
from xmc_fix.errors import ConfigError, RefusedCommand
from xmc_fix.execution.engine import Engine
from xmc_fix.execution.journal import Journal, replay

# P trades SHFE against LME as in test_engine; Q trades an INE contract against the same LME contract,
# so either pair can be made to cross on its own inner book
TWO_PAIRS = STRATEGY + """
[instruments.INE_CU]
venue = "INE"
symbol = "CU"
currency = "CNY"
contract_size = 5
unit = "t"
tick = 10

[pairs.Q]
inner = "INE_CU"
outer = "LME_CA"
fx = "USDCNH"
tax_factor = 1.13
ticket_qty = 25
max_position = 50
entry_above = 300
exit_above = 100
entry_below = -300
exit_below = -100
inner_slippage_ticks = 1
outer_slippage_ticks = 2
max_quote_age_ms = 500
"""


def _strategy(tmp_path, text=TWO_PAIRS, name="strategy.toml"):
    p = tmp_path / name
    p.write_text(text)
    return load_strategy(p)


class TwoPairs(World):
    def __init__(self, strategy, journal=None) -> None:
        super().__init__(strategy)
        if journal is not None:
            self.engine.journal = journal
        self.engine.on_event(SessionUp("INE", self.now()))
        self.calm_market()
        self.book("INE", "CU", "77290", "77300")

    def cross(self, venue):
        """The venue's copper jumps to 77700/77710: the pair's sell basis is about 400 (> 300)."""
        self.update(venue, "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
                    BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
                    BookEntry(BookAction.NEW, BookSide.BID, D("77700"), D(50)),
                    BookEntry(BookAction.NEW, BookSide.ASK, D("77710"), D(50)))

    def revert(self, venue):
        """Back to 77290/77300: the buy basis is about 8 (<= exit_above 100)."""
        self.update(venue, "CU", BookEntry(BookAction.DELETE, BookSide.BID, D("77700"), D(0)),
                    BookEntry(BookAction.DELETE, BookSide.ASK, D("77710"), D(0)),
                    BookEntry(BookAction.NEW, BookSide.BID, D("77290"), D(50)),
                    BookEntry(BookAction.NEW, BookSide.ASK, D("77300"), D(50)))

    def shadow_tickets(self):
        return [kw for k, kw in self.audit.events if k == "shadow_ticket"]


# -- configuration ---------------------------------------------------------------------------------
def test_an_unknown_mode_is_a_config_error_naming_file_key_and_remedy(tmp_path):
    with pytest.raises(ConfigError) as e:
        _strategy(tmp_path, TWO_PAIRS.replace('[pairs.Q]\n', '[pairs.Q]\nmode = "paper"\n'))
    line = e.value.line()
    assert str(tmp_path / "strategy.toml") in line and "pairs.Q.mode" in line
    assert "'paper'" in line and "use one of live, shadow" in line


def test_a_live_size_cap_no_lots_match_is_a_config_error_with_the_smallest_size(tmp_path):
    # 10 t: 2 SHFE lots, but an LME lot is 25 t (tolerance 0)
    with pytest.raises(ConfigError) as e:
        _strategy(tmp_path, TWO_PAIRS.replace("[pairs.P.repair]", "live_max_qty = 10\n\n[pairs.P.repair]"))
    line = e.value.line()
    assert "pairs.P.live_max_qty" in line and "smallest size that does is 25 t" in line and "raise it" in line


def test_mode_and_cap_from_the_strategy_file(tmp_path):
    text = TWO_PAIRS.replace("ticket_qty = 25\nmax_position = 50\nentry_above = 300\nexit_above = 100\n"
                             "entry_below = -300\nexit_below = -100\ninner_slippage_ticks = 1\n"
                             "outer_slippage_ticks = 2\nmax_quote_age_ms = 500\n\n[pairs.P.repair]",
                             "ticket_qty = 50\nmax_position = 100\nentry_above = 300\nexit_above = 100\n"
                             "entry_below = -300\nexit_below = -100\ninner_slippage_ticks = 1\n"
                             "outer_slippage_ticks = 2\nmax_quote_age_ms = 500\nlive_max_qty = 25\n\n[pairs.P.repair]")
    text = text.replace("[pairs.Q]\n", '[pairs.Q]\nmode = "shadow"\n')
    s = _strategy(tmp_path, text)
    assert s.pairs["P"].live_max_qty == D(25) and s.pairs["Q"].mode == "shadow"
    w = TwoPairs(s)
    p, q = w.engine.pairs["P"], w.engine.pairs["Q"]
    assert (p.mode, p.ticket_qty, p.entry.inner_lots, p.entry.outer_lots) == ("live", D(25), D(5), D(1))
    assert q.mode == "shadow" and q.paper is not None


# -- shadow for one pair while the other trades live -------------------------------------------------
def test_a_shadow_pair_sends_nothing_and_records_shadow_tickets_while_the_other_trades(tmp_path):
    w = TwoPairs(_strategy(tmp_path))
    w.engine.cmd_set_mode("Q", "shadow", "tester (uid 1, pid 2)")
    w.cross("SHFE")
    w.cross("INE")
    assert {c.venue for c in w.sender.sent} == {"SHFE", "LME"} and len(w.sender.sent) == 2   # P's two legs only
    assert [t.pair for t in w.engine.tickets.values()] == ["P"]
    (shadow,) = w.shadow_tickets()
    assert shadow["pair"] == "Q" and shadow["direction"] == "SELL_BASIS" and shadow["intent"] == "OPEN"
    assert D(shadow["basis"]) > 300 and shadow["lots"] == {"INNER": "5", "OUTER": "1"}
    # its orders are recorded as xmc run --shadow records them, never sent
    orders = [kw for k, kw in w.audit.events if k == "shadow_order"]
    assert [(o["venue"], o["side"], o["qty"]) for o in orders] == [("INE", "SELL", "5"), ("LME", "BUY", "1")]
    assert all(o["ticket_id"] == shadow["ticket_id"] for o in orders) and shadow["orders"] == \
        [o["cl_ord_id"] for o in orders]
    q = w.engine.pairs["Q"]
    # filled on paper: the pair's paper position moves, the ledger does not
    assert q.paper.position_units == D(-25) and q.paper.inner_lots == D(-5) and q.paper.outer_lots == D(1)
    assert q.inner_lots == 0 and q.outer_lots == 0
    assert w.engine.state.ledger.position("INE_CU") == 0
    assert w.engine.cmd_status()["pairs"]["Q"]["mode"] == "shadow"


def test_a_shadow_pair_exits_on_its_paper_position(tmp_path):
    w = TwoPairs(_strategy(tmp_path))
    w.engine.cmd_set_mode("Q", "shadow", "tester")
    w.cross("INE")
    w.revert("INE")
    opened, closed = w.shadow_tickets()
    assert (opened["intent"], closed["intent"]) == ("OPEN", "CLOSE")
    assert closed["direction"] == Direction.BUY_BASIS.value and closed["paper_position"] == "0"
    q = w.engine.pairs["Q"]
    assert q.paper.position_units == 0 and not q.paper.holdings and q.shadow_tickets == 2
    assert w.sender.sent == []


def test_back_to_live_the_pair_trades_from_its_real_position(tmp_path):
    w = TwoPairs(_strategy(tmp_path))
    w.engine.cmd_set_mode("Q", "shadow", "tester")
    w.cross("INE")
    assert w.engine.pairs["Q"].paper.position_units == D(-25)
    w.engine.cmd_set_mode("Q", "live", "tester")
    assert w.engine.pairs["Q"].paper is None
    w.update("LME", "CA", BookEntry(BookAction.NEW, BookSide.BID, D("9499.5"), D(10)))   # any change: re-evaluate
    inner, outer = w.sender.sent       # the real position is flat: it opens, for real
    assert (inner.venue, inner.side, inner.qty) == ("INE", Side.SELL, D(5))
    assert w.ticket().pair == "Q" and w.ticket().intent is TicketIntent.OPEN


# -- refusals ------------------------------------------------------------------------------------------
def test_a_change_is_refused_while_a_ticket_of_the_pair_is_open(tmp_path):
    w = TwoPairs(_strategy(tmp_path))
    w.cross("SHFE")
    inner, outer = w.sender.sent
    with pytest.raises(RefusedCommand) as e:
        w.engine.cmd_set_mode("P", "shadow", "tester")
    assert "P" in str(e.value) and w.ticket().ticket_id in str(e.value) and "WORKING" in str(e.value)
    with pytest.raises(RefusedCommand):
        w.engine.cmd_set_size("P", "50", "tester")
    assert w.engine.pairs["P"].mode == "live" and w.engine.pairs["P"].live_max_qty is None
    # the other pair is not concerned
    assert w.engine.cmd_set_mode("Q", "shadow", "tester")["changed"] is True
    w.fill(inner)
    w.fill(outer)
    assert w.ticket().state is TicketState.COMPLETED
    res = w.engine.cmd_set_mode("P", "shadow", "tester")
    assert res["changed"] and res["mode"] == "shadow"
    # the paper position starts where the pair really stands
    assert w.engine.pairs["P"].paper.position_units == D(-25)


def test_a_size_no_lots_match_is_refused_with_the_smallest_size(tmp_path):
    w = TwoPairs(_strategy(tmp_path))
    with pytest.raises(RefusedCommand) as e:
        w.engine.cmd_set_size("P", "10", "tester")
    assert "smallest size that does is 25 t" in str(e.value)
    for bad in ("-5", "0", "lots", None):
        with pytest.raises(RefusedCommand):
            w.engine.cmd_set_size("P", bad, "tester")
    with pytest.raises(RefusedCommand):
        w.engine.cmd_set_mode("P", "paper", "tester")
    with pytest.raises(RefusedCommand):
        w.engine.cmd_set_mode(None, "shadow", "tester")
    with pytest.raises(KeyError):
        w.engine.cmd_set_mode("NOPE", "shadow", "tester")


def test_the_live_size_cap_sizes_live_tickets(tmp_path):
    text = TWO_PAIRS.replace("ticket_qty = 25\nmax_position = 50\nentry_above = 300",
                             "ticket_qty = 50\nmax_position = 100\nentry_above = 300", 1)
    w = TwoPairs(_strategy(tmp_path, text))
    assert w.engine.pairs["P"].entry.inner_lots == D(10)
    res = w.engine.cmd_set_size("P", "25", "tester")
    assert res["ticket_qty"] == "25" and res["lots"] == ["5", "1"]
    w.cross("SHFE")
    inner, outer = w.sender.sent
    assert (inner.qty, outer.qty) == (D(5), D(1))
    w.fill(inner)
    w.fill(outer)
    assert w.engine.cmd_set_size("P", "none", "tester")["ticket_qty"] == "50"


# -- audit, journal, restart ------------------------------------------------------------------------
def test_changes_are_audited_alerted_and_journaled(tmp_path):
    path = tmp_path / "j.jsonl"
    w = TwoPairs(_strategy(tmp_path), journal=Journal(path))
    w.engine.cmd_set_mode("Q", "shadow", "alice (uid 1000, pid 42)")
    w.engine.cmd_set_mode("Q", "shadow", "alice (uid 1000, pid 42)")     # unchanged: nothing more
    (change,) = [kw for k, kw in w.audit.events if k == "release_change"]
    assert change["who"] == "alice (uid 1000, pid 42)" and change["pair"] == "Q"
    assert change["old"] == {"mode": "live", "live_max_qty": None} and change["new"] == {"mode": "shadow",
                                                                                       "live_max_qty": None}
    assert [kw["alert"] for k, kw in w.audit.events if k == "alert"].count("release") == 1
    (rec,) = [json.loads(line) for line in path.read_text().splitlines() if '"k":"release"' in line]
    assert rec["pair"] == "Q" and rec["mode"] == "shadow" and rec["who"].startswith("alice")
    assert rec["file"] == {"mode": "live", "live_max_qty": None}


def _restarted(strategy, path):
    """A new engine restored from the journal at ``path``, as a restart does (then compacted)."""
    w = TwoPairs.__new__(TwoPairs)
    World.__init__(w, strategy)
    restored = w.engine.restore(replay(path))
    journal = Journal(path)
    journal.compact(w.engine.journal_state())
    w.engine.journal = journal
    return w, restored


def test_mode_and_cap_survive_a_restart_and_a_compaction(tmp_path):
    text = TWO_PAIRS.replace("ticket_qty = 25\nmax_position = 50\nentry_above = 300",
                             "ticket_qty = 50\nmax_position = 100\nentry_above = 300", 1)
    s = _strategy(tmp_path, text)
    path = tmp_path / "j.jsonl"
    w = TwoPairs(s, journal=Journal(path))
    w.engine.cmd_set_mode("Q", "shadow", "tester")
    w.engine.cmd_set_size("P", "25", "tester")
    w.cross("INE")                                           # a shadow ticket: its paper position is not kept
    w2, restored = _restarted(s, path)
    assert restored["releases"] == {"P": {"mode": "live", "live_max_qty": "25"},
                                    "Q": {"mode": "shadow", "live_max_qty": None}}
    p, q = w2.engine.pairs["P"], w2.engine.pairs["Q"]
    assert (p.live_max_qty, p.entry.inner_lots) == (D(25), D(5)) and q.mode == "shadow"
    assert q.paper.position_units == 0                        # paper starts again from what the pair holds
    # the compacted journal says the same
    w3, _ = _restarted(s, path)
    assert w3.engine.pairs["Q"].mode == "shadow" and w3.engine.pairs["P"].live_max_qty == D(25)
    # back to the file's values: nothing left to keep
    w3.engine.cmd_set_mode("Q", "live", "tester")
    w3.engine.cmd_set_size("P", "none", "tester")
    w4, restored = _restarted(s, path)
    assert "releases" not in restored and w4.engine.pairs["Q"].mode == "live"
    assert w4.engine.pairs["P"].live_max_qty is None


def test_a_strategy_file_changed_since_the_command_wins(tmp_path):
    s = _strategy(tmp_path)
    path = tmp_path / "j.jsonl"
    w = TwoPairs(s, journal=Journal(path))
    w.engine.cmd_set_mode("Q", "shadow", "tester")
    edited = _strategy(tmp_path, TWO_PAIRS.replace("[pairs.Q]\n", '[pairs.Q]\nmode = "live"\nlive_max_qty = 25\n'),
                       "edited.toml")
    w2, restored = _restarted(edited, path)
    assert w2.engine.pairs["Q"].mode == "live"
    assert restored["releases_superseded"]["Q"]["journal"] == {"mode": "shadow", "live_max_qty": None}


def test_a_shadow_pair_restored_holding_a_position_starts_its_paper_there(tmp_path):
    s = _strategy(tmp_path)
    path = tmp_path / "j.jsonl"
    w = TwoPairs(s, journal=Journal(path))
    w.cross("SHFE")
    for cmd in list(w.sender.sent):
        w.fill(cmd)
    w.engine.cmd_set_mode("P", "shadow", "tester")
    w2, _ = _restarted(s, path)
    p = w2.engine.pairs["P"]
    assert p.position_units == D(-25) and p.paper.position_units == D(-25) and len(p.paper.holdings) == 1
