"""Never trade on an old book: quote age is now minus our receipt, and, by the venue's clock, now
minus the venue's SendingTime (corrected by the venue's clock offset, learnt from the fastest data);
an update that arrives already older than the pair's limit is applied but not traded on, and the
evaluation is shed, with the reason recorded and an alert."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.execution.test_engine import STRATEGY, _world_with
from xmc_fix.domain.enums import BookAction, BookSide
from xmc_fix.domain.events import BookEntry, BookSnapshot, BookUpdate
from xmc_fix.marketdata.freshness import DelayFloor

MS = 1_000_000
OFFSET = 3_000 * MS          # the venue's clock runs 3 s behind ours


def _venue_stamped_world(tmp_path):
    w = _world_with(STRATEGY, tmp_path)
    # every venue's data so far came fast: receipt - SendingTime = the offset + 1 ms
    for venue, sym, bid, ask in (("FX", "USD/CNH", "7.1999", "7.2001"), ("LME", "CA", "9500", "9501"),
                                 ("SHFE", "CU", "77290", "77300")):
        w.engine.on_event(BookSnapshot(venue, sym, ((D(bid), D(100)),), ((D(ask), D(100)),), 1,
                                       w.now() - OFFSET - MS, w.now()))
    return w


def _cross(w, sent_ns):
    w.engine.on_event(BookUpdate("SHFE", "CU", (BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
                                                BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
                                                BookEntry(BookAction.NEW, BookSide.BID, D("77700"), D(50)),
                                                BookEntry(BookAction.NEW, BookSide.ASK, D("77710"), D(50))),
                                 2, sent_ns, w.now()))


def test_a_crossing_the_venue_sent_long_ago_is_not_traded_and_the_reason_is_recorded(tmp_path):
    w = _venue_stamped_world(tmp_path)
    _cross(w, w.now() - OFFSET - 5_000 * MS)     # received now, but the venue sent it 5 s ago (limit 500 ms)
    assert w.sender.sent == []
    (d,) = [kw for k, kw in w.audit.events if k == "denial"]
    assert d["reason"] == "STALE_QUOTE" and "by the venue's clock" in d["detail"] and d["shed"]
    assert any(kw.get("alert") == "md_backlog" for k, kw in w.audit.events if k == "alert")
    assert w.engine.stats.shed == 1


def test_a_crossing_sent_just_now_is_traded_whatever_the_clock_offset(tmp_path):
    w = _venue_stamped_world(tmp_path)
    _cross(w, w.now() - OFFSET - 2 * MS)         # as fast as data comes: fresh
    assert len(w.sender.sent) == 2


def test_a_backlog_behind_a_slow_evaluation_is_not_traded(tmp_path):
    w = _venue_stamped_world(tmp_path)
    sent = w.now() - OFFSET - MS
    w.clock.advance(2_000 * MS)                  # we get to it 2 s after it arrived: it waited behind others
    w.engine.on_event(BookUpdate("SHFE", "CU", (BookEntry(BookAction.DELETE, BookSide.BID, D("77290"), D(0)),
                                                BookEntry(BookAction.DELETE, BookSide.ASK, D("77300"), D(0)),
                                                BookEntry(BookAction.NEW, BookSide.BID, D("77700"), D(50)),
                                                BookEntry(BookAction.NEW, BookSide.ASK, D("77710"), D(50))),
                                 2, sent, w.now() - 2_000 * MS))
    assert w.sender.sent == []
    assert [kw["reason"] for k, kw in w.audit.events if k == "denial"] == ["STALE_QUOTE"]


def test_the_delay_floor_is_the_fastest_path_and_forgets_it_after_five_minutes():
    f = DelayFloor()
    f.sample("LME", 1_000 * MS, 990 * MS)
    f.sample("LME", 1_010 * MS, 1_005 * MS)
    assert f.floor("LME") == 5 * MS and f.age_ns("LME", 1_005 * MS, 1_020 * MS) == 10 * MS
    f.sample("LME", 40_000 * MS, 39_900 * MS)            # new windows: the old floor still counts
    f.sample("LME", 280_000 * MS, 279_900 * MS)
    assert f.floor("LME") == 5 * MS
    f.sample("LME", 320_000 * MS, 319_900 * MS)          # five minutes on: only what it has seen since
    assert f.floor("LME") == 100 * MS
    f.sample("LME", 3_600_000 * MS, 3_599_950 * MS)      # after an hour of silence: what comes now
    assert f.floor("LME") == 50 * MS
    assert f.age_ns("COMEX", 1, 2) is None


def test_a_backlog_that_persists_for_minutes_stays_late_by_the_venues_clock():
    """Data arriving three seconds after the venue sent it, every 100 ms for four minutes, after a
    minute of it arriving in 2 ms: its age stays three seconds for all four minutes."""
    f = DelayFloor()
    t = 0
    while t < 60_000 * MS:
        f.sample("LME", t + 2 * MS, t)
        t += 100 * MS
    ages = []
    while t < 300_000 * MS:
        sent = t - 3_000 * MS
        f.sample("LME", t, sent)
        ages.append(f.age_ns("LME", sent, t))
        t += 100 * MS
    assert min(ages) == 2_998 * MS and max(ages) == 2_998 * MS


def test_a_venue_clock_stepping_forward_moves_the_floor_at_once():
    f = DelayFloor()
    f.sample("LME", 1_000 * MS, 990 * MS)                # 10 ms
    f.sample("LME", 2_000 * MS, 2_500 * MS)              # its clock now 500 ms ahead of ours
    assert f.floor("LME") == -500 * MS and f.age_ns("LME", 2_500 * MS, 2_000 * MS) == 0
