"""A price-level book: snapshots, incremental NEW/CHANGE/DELETE, RptSeq continuity, and what it reports."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmc_fix.domain.enums import BookAction, BookSide
from xmc_fix.domain.events import BookEntry, BookSnapshot, BookUpdate
from xmc_fix.marketdata.book import Book
from xmc_fix.venues import translate

BID, ASK = BookSide.BID, BookSide.ASK
NEW, CHANGE, DELETE = BookAction.NEW, BookAction.CHANGE, BookAction.DELETE


# -- stub factories ----------------------------------------------------------------------------
def make_book(**overrides) -> Book:
    fields = dict(venue="SHFE", symbol="CU")
    return Book(**{**fields, **overrides})


def make_snapshot(**overrides) -> BookSnapshot:
    """Two bids and two asks around 80000, at RptSeq 10."""
    fields = dict(venue="SHFE", symbol="CU",
                  bids=((D(80000), D(5)), (D(79990), D(8))),
                  asks=((D(80010), D(3)), (D(80020), D(7))),
                  rpt_seq=10, venue_ns=900, recv_ns=1_000)
    return BookSnapshot(**{**fields, **overrides})


def entry(action: BookAction, side: BookSide, price, size=0) -> BookEntry:
    return BookEntry(action, side, D(str(price)), D(str(size)))


def make_update(*entries: BookEntry, **overrides) -> BookUpdate:
    fields = dict(venue="SHFE", symbol="CU", entries=entries, rpt_seq=11, venue_ns=1_900, recv_ns=2_000)
    return BookUpdate(**{**fields, **overrides})


def snapshot_book(**overrides) -> Book:
    book = make_book()
    book.apply_snapshot(make_snapshot(**overrides))
    return book


# -- snapshots ----------------------------------------------------------------------------------
def test_new_book_is_invalid_and_empty():
    book = make_book()

    assert not book.valid
    assert not book.gap
    assert book.bids == [] and book.asks == []
    assert book.top() == (None, None)
    assert book.mid() is None


def test_snapshot_makes_a_valid_book_with_levels_best_first():
    book = snapshot_book()

    assert book.valid
    assert book.bids == [(D(80000), D(5)), (D(79990), D(8))]
    assert book.asks == [(D(80010), D(3)), (D(80020), D(7))]
    assert (book.rpt_seq, book.venue_ns, book.recv_ns) == (10, 900, 1_000)


def test_snapshot_levels_are_sorted_whatever_order_they_came_in():
    book = snapshot_book(bids=((D(79990), D(8)), (D(80000), D(5)), (D(79980), D(1))),
                         asks=((D(80020), D(7)), (D(80010), D(3)), (D(80030), D(1))))

    assert [px for px, _ in book.bids] == [D(80000), D(79990), D(79980)]
    assert [px for px, _ in book.asks] == [D(80010), D(80020), D(80030)]


def test_snapshot_drops_empty_levels():
    book = snapshot_book(bids=((D(80000), D(0)), (D(79990), D(8))))

    assert book.bids == [(D(79990), D(8))]


def test_snapshot_replaces_the_whole_book():
    book = snapshot_book()

    book.apply_snapshot(make_snapshot(bids=((D(70000), D(1)),), asks=(), rpt_seq=50))

    assert book.bids == [(D(70000), D(1))]
    assert book.asks == []
    assert book.rpt_seq == 50


# -- incremental updates ----------------------------------------------------------------------------
def test_new_adds_a_level_in_price_order():
    book = snapshot_book()

    assert book.apply(make_update(entry(NEW, BID, 79995, 2), entry(NEW, ASK, 80005, 4)))

    assert book.bids == [(D(80000), D(5)), (D(79995), D(2)), (D(79990), D(8))]
    assert book.asks == [(D(80005), D(4)), (D(80010), D(3)), (D(80020), D(7))]


def test_change_sets_a_levels_size():
    book = snapshot_book()

    book.apply(make_update(entry(CHANGE, BID, 80000, 12)))

    assert book.best_bid() == (D(80000), D(12))


def test_delete_removes_a_level():
    book = snapshot_book()

    book.apply(make_update(entry(DELETE, ASK, 80010)))

    assert book.asks == [(D(80020), D(7))]
    assert book.best_ask() == (D(80020), D(7))


def test_delete_of_an_absent_level_is_harmless():
    book = snapshot_book()

    assert book.apply(make_update(entry(DELETE, ASK, 12345)))

    assert book.asks == [(D(80010), D(3)), (D(80020), D(7))]


def test_change_to_zero_size_removes_the_level():
    book = snapshot_book()

    book.apply(make_update(entry(CHANGE, BID, 80000, 0)))

    assert book.best_bid() == (D(79990), D(8))


def test_same_price_written_differently_is_the_same_level():
    book = snapshot_book()

    book.apply(make_update(entry(CHANGE, BID, "80000.0", 9)))

    assert book.bids == [(D(80000), D(9)), (D(79990), D(8))]


def test_update_records_its_times_and_rpt_seq():
    book = snapshot_book()

    book.apply(make_update(entry(CHANGE, BID, 80000, 6), rpt_seq=11, venue_ns=1_900, recv_ns=2_000))

    assert (book.rpt_seq, book.venue_ns, book.recv_ns) == (11, 1_900, 2_000)


def test_entries_of_one_update_apply_in_order():
    book = snapshot_book()

    book.apply(make_update(entry(DELETE, BID, 80000), entry(NEW, BID, 80000, 1), entry(CHANGE, BID, 80000, 2)))

    assert book.best_bid() == (D(80000), D(2))


def test_levels_reflect_every_update_not_a_stale_sort():
    book = snapshot_book()
    assert book.best_ask() == (D(80010), D(3))

    book.apply(make_update(entry(NEW, ASK, 80000, 1), rpt_seq=11))
    assert book.best_ask() == (D(80000), D(1))

    book.apply(make_update(entry(DELETE, ASK, 80000), rpt_seq=12))
    assert book.best_ask() == (D(80010), D(3))


def test_consecutive_rpt_seqs_keep_the_book_valid():
    book = snapshot_book()

    results = [book.apply(make_update(entry(CHANGE, BID, 80000, n), rpt_seq=10 + n)) for n in range(1, 6)]

    assert results == [True] * 5
    assert book.valid and not book.gap
    assert book.rpt_seq == 15


def test_update_without_rpt_seq_is_applied_without_a_check():
    book = snapshot_book()

    assert book.apply(make_update(entry(CHANGE, BID, 80000, 9), rpt_seq=None))

    assert book.best_bid() == (D(80000), D(9))
    assert book.rpt_seq == 10


# -- RptSeq continuity --------------------------------------------------------------------------------
def test_rpt_seq_gap_marks_the_book_invalid_and_sets_gap():
    book = snapshot_book()

    ok = book.apply(make_update(entry(CHANGE, BID, 80000, 9), rpt_seq=12))

    assert not ok
    assert not book.valid
    assert book.gap
    assert book.best_bid() == (D(80000), D(5))  # the update after the gap was not applied


def test_book_stays_invalid_after_a_gap_until_a_snapshot():
    book = snapshot_book()
    book.apply(make_update(rpt_seq=12))

    assert not book.apply(make_update(entry(CHANGE, BID, 80000, 9), rpt_seq=13))
    assert not book.valid

    book.apply_snapshot(make_snapshot(rpt_seq=20))
    assert book.valid and not book.gap
    assert book.apply(make_update(entry(CHANGE, BID, 80000, 9), rpt_seq=21))
    assert book.best_bid() == (D(80000), D(9))


@pytest.mark.parametrize("old_seq", [10, 9, 1])
def test_repeat_of_an_old_rpt_seq_is_ignored(old_seq):
    book = snapshot_book()
    book.apply(make_update(entry(CHANGE, BID, 80000, 6), rpt_seq=11, recv_ns=2_000))

    ok = book.apply(make_update(entry(CHANGE, BID, 80000, 99), rpt_seq=old_seq, recv_ns=3_000))

    assert ok
    assert book.valid and not book.gap
    assert book.best_bid() == (D(80000), D(6))
    assert (book.rpt_seq, book.recv_ns) == (11, 2_000)


def test_repeat_of_the_last_rpt_seq_is_ignored():
    book = snapshot_book()
    book.apply(make_update(entry(CHANGE, BID, 80000, 6), rpt_seq=11))
    updates = book.updates

    book.apply(make_update(entry(CHANGE, BID, 80000, 6), rpt_seq=11))

    assert book.updates == updates


def test_incrementals_before_the_first_snapshot_do_not_make_a_valid_book():
    book = make_book()

    results = [book.apply(make_update(entry(NEW, BID, 80000, 5), entry(NEW, ASK, 80010, 3), rpt_seq=s))
               for s in (5, 6, 7)]

    assert results == [False, False, False]
    assert not book.valid
    assert book.bids == [] and book.asks == []
    assert book.mid() is None


def test_snapshot_after_early_incrementals_makes_the_book_valid():
    book = make_book()
    book.apply(make_update(entry(NEW, BID, 1, 1), rpt_seq=5))

    book.apply_snapshot(make_snapshot(rpt_seq=10))

    assert book.valid
    assert book.bids == [(D(80000), D(5)), (D(79990), D(8))]
    assert book.apply(make_update(entry(CHANGE, BID, 80000, 9), rpt_seq=11))


def test_snapshot_older_than_the_incrementals_seen_is_caught_by_the_next_gap():
    book = make_book()
    book.apply(make_update(rpt_seq=11))
    book.apply(make_update(rpt_seq=12))
    book.apply_snapshot(make_snapshot(rpt_seq=10))

    # 11 and 12 were dropped before the snapshot, so 13 does not follow 10
    assert not book.apply(make_update(entry(CHANGE, BID, 80000, 9), rpt_seq=13))
    assert book.gap and not book.valid


def test_invalidate_makes_the_book_invalid_without_a_gap():
    book = snapshot_book()

    book.invalidate()

    assert not book.valid
    assert not book.gap


# -- what it reports ---------------------------------------------------------------------------------
def test_mid_is_halfway_between_best_bid_and_ask():
    # (80000 + 80010) / 2 = 80005
    assert snapshot_book().mid() == D(80005)


def test_mid_keeps_the_half_tick():
    # (7.1990 + 7.2005) / 2 = 7.19975
    book = snapshot_book(bids=((D("7.1990"), D(1)),), asks=((D("7.2005"), D(1)),))

    assert book.mid() == D("7.19975")


@pytest.mark.parametrize("bids, asks", [((), ((D(80010), D(3)),)), (((D(80000), D(5)),), ())])
def test_mid_is_none_with_a_side_empty(bids, asks):
    assert snapshot_book(bids=bids, asks=asks).mid() is None


def test_top_is_best_bid_and_best_ask_with_sizes():
    assert snapshot_book().top() == ((D(80000), D(5)), (D(80010), D(3)))


def test_top_shows_none_for_an_empty_side():
    assert snapshot_book(asks=()).top() == ((D(80000), D(5)), None)


def test_age_is_time_since_our_last_receive():
    book = snapshot_book(recv_ns=1_000)
    assert book.age_ns(1_500) == 500

    book.apply(make_update(entry(CHANGE, BID, 80000, 6), recv_ns=2_000))
    assert book.age_ns(2_750) == 750


def test_updates_counts_snapshots_and_applied_incrementals_only():
    book = snapshot_book()
    book.apply(make_update(rpt_seq=11))
    book.apply(make_update(rpt_seq=11))   # repeat
    book.apply(make_update(rpt_seq=13))   # gap

    assert book.updates == 2


# -- against a plain model -------------------------------------------------------------------------
PRICES = st.integers(min_value=79_990, max_value=80_010).map(D)
ENTRIES = st.builds(BookEntry, st.sampled_from(BookAction), st.sampled_from(BookSide), PRICES,
                    st.integers(min_value=0, max_value=20).map(D))


@given(st.lists(st.lists(ENTRIES, max_size=5), max_size=30))
def test_book_agrees_with_a_plain_dict_model_and_stays_sorted(updates):
    book = snapshot_book()
    model = {BID: dict(make_snapshot().bids), ASK: dict(make_snapshot().asks)}

    for seq, entries in enumerate(updates, start=11):
        assert book.apply(make_update(*entries, rpt_seq=seq))
        for e in entries:
            if e.action is DELETE or e.size == 0:
                model[e.side].pop(e.price, None)
            else:
                model[e.side][e.price] = e.size

    assert book.bids == sorted(model[BID].items(), reverse=True)
    assert book.asks == sorted(model[ASK].items())
    assert all(size > 0 for _, size in book.bids + book.asks)


# -- RptSeq per entry or per message ----------------------------------------------------------------
def refresh(*entries: tuple[str, int | None], symbol: str = "CU") -> str:
    """An incremental refresh of ``symbol``: one bid change per (price, RptSeq) entry."""
    body = "262=M1\x01268=%d\x01" % len(entries) + "".join(
        f"279=1\x01269=0\x0155={symbol}\x01270={px}\x01271=1\x01" + (f"83={seq}\x01" if seq is not None else "")
        for px, seq in entries)
    return f"8=FIX.4.4\x019={len(body)}\x0135=X\x01{body}10=000\x01"


def apply_refresh(book: Book, raw: str) -> bool:
    [upd] = translate.decode_incremental("SHFE", raw, 0)
    return book.apply(upd)


def test_a_venue_numbering_every_entry_keeps_the_book_valid_across_multi_entry_refreshes():
    book = snapshot_book()

    assert apply_refresh(book, refresh((80000, 11), (79990, 12), (79980, 13)))
    assert apply_refresh(book, refresh((80000, 14), (79990, 15)))

    assert book.valid and not book.gap and book.rpt_seq == 15


def test_a_venue_numbering_every_message_keeps_the_book_valid():
    book = snapshot_book()

    assert apply_refresh(book, refresh((80000, 11), (79990, 11), (79980, 11)))
    assert apply_refresh(book, refresh((80000, 12), (79990, 12)))

    assert book.valid and not book.gap and book.rpt_seq == 12


@pytest.mark.parametrize("first, lost, then", [
    ([11, 12, 13], [14], [15, 16]),     # numbered per entry: one refresh lost
    ([11, 11, 11], [12, 12], [13, 13]),  # numbered per message
    ([11, 12], [13, 14], [15]),          # per entry, a one-entry refresh after the loss
])
def test_a_lost_refresh_is_a_gap_whichever_way_the_venue_numbers(first, lost, then):
    book = snapshot_book()
    assert apply_refresh(book, refresh(*((80000 - 10 * i, s) for i, s in enumerate(first))))

    ok = apply_refresh(book, refresh(*((80000 - 10 * i, s) for i, s in enumerate(then))))

    assert not ok and book.gap and not book.valid


@pytest.mark.parametrize("repeat", [[12, 13], [11, 12, 13], [11]])
def test_a_repeated_refresh_numbered_per_entry_changes_nothing(repeat):
    book = snapshot_book()
    assert apply_refresh(book, refresh((80000, 11), (79990, 12), (79980, 13)))
    updates = book.updates

    assert apply_refresh(book, refresh(*((70000, s) for s in repeat)))

    assert book.updates == updates and book.valid and book.rpt_seq == 13


def test_a_refresh_overlapping_what_was_applied_and_going_beyond_is_a_gap():
    book = snapshot_book()
    assert apply_refresh(book, refresh((80000, 11), (79990, 12)))

    assert not apply_refresh(book, refresh((80000, 12), (79990, 13)))
    assert book.gap


_steps = st.lists(st.tuples(st.sampled_from([NEW, CHANGE, DELETE]), st.sampled_from([BID, ASK]),
                            st.integers(79_980, 80_030).map(lambda p: p - p % 10), st.integers(0, 9),
                            st.sampled_from(["best", "mid", "levels", "nothing"])), max_size=60)


@given(_steps)
def test_what_the_book_reports_is_what_its_levels_say_whatever_was_read_in_between(steps):
    """The best levels, the mid and the sorted levels are kept between updates and dropped only for
    the side that changed: whatever was read before an update, what is read after is what the
    levels applied so far give."""
    book = snapshot_book()
    levels = {BID: {D(80000): D(5), D(79990): D(8)}, ASK: {D(80010): D(3), D(80020): D(7)}}
    for n, (action, side, price, size, read) in enumerate(steps):
        assert book.apply(make_update(entry(action, side, price, size), rpt_seq=11 + n))
        if action is DELETE or size == 0:
            levels[side].pop(D(price), None)
        else:
            levels[side][D(price)] = D(size)
        bids = sorted(levels[BID].items(), reverse=True)
        asks = sorted(levels[ASK].items())
        if read == "best":
            assert (book.best_bid(), book.best_ask()) == (bids[0] if bids else None, asks[0] if asks else None)
        elif read == "mid":
            assert book.mid() == ((bids[0][0] + asks[0][0]) / 2 if bids and asks else None)
        elif read == "levels":
            assert (book.bids, book.asks) == (bids, asks)
    assert (book.bids, book.asks) == (bids if steps else book.bids, asks if steps else book.asks)
    assert book.top() == (book.bids[0] if book.bids else None, book.asks[0] if book.asks else None)
    assert book.mid() == ((book.bids[0][0] + book.asks[0][0]) / 2 if book.bids and book.asks else None)
