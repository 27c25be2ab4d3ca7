"""The progress table's index of open tickets and counts of finished ones agree with a scan of
every ticket, whatever order tickets start, finish, reopen and are forgotten in."""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import pytest

from xmc_fix.domain.tickets import TicketState
from xmc_fix.execution.tables import ProgressTable

OPEN = [s for s in TicketState if not s.is_terminal]
FINAL = [s for s in TicketState if s.is_terminal]


def _scan(table: ProgressTable) -> tuple[set, Counter]:
    return ({tid for tid, p in table.items() if not p.ticket.state.is_terminal},
            Counter(p.ticket.state for p in table.values()))


def _read(table: ProgressTable) -> tuple[set, Counter]:
    open_ = table.settle()
    counts = Counter(table.finished)
    counts.update(p.ticket.state for p in open_.values())
    return set(open_), +counts


@pytest.mark.parametrize("seed", range(20))
def test_the_index_and_the_counts_match_a_full_scan(seed):
    rnd = random.Random(seed)
    table = ProgressTable()
    n = 0
    for _ in range(400):
        op = rnd.random()
        if op < 0.25 or not table:                        # a new ticket
            n += 1
            table[f"T{n}"] = SimpleNamespace(ticket=SimpleNamespace(state=rnd.choice(OPEN), pair="P", ended_ns=n))
        elif op < 0.55:                                   # an open ticket moves on, maybe to its end
            tid = rnd.choice(list(table))
            t = table[tid].ticket
            if not t.state.is_terminal:
                t.state = rnd.choice(OPEN + FINAL)
        elif op < 0.65:                                   # a late fill reopens a finished one
            tid = rnd.choice(list(table))
            t = table[tid].ticket
            if t.state.is_terminal:
                was, t.state = t.state, TicketState.LEGGED
                table.reopened(tid, was)
        elif op < 0.75:                                   # forgotten (release_finished)
            tid = rnd.choice(list(table))
            if table[tid].ticket.state.is_terminal:
                del table[tid]
        elif op < 0.8:
            tid = rnd.choice(list(table))
            if table[tid].ticket.state.is_terminal:
                table.pop(tid)
        if rnd.random() < 0.3:                            # someone reads in between
            assert _read(table) == _scan(table)
    assert _read(table) == _scan(table)
    # every ticket that is finished now was logged as it left the index, with its final state
    logged = {tid: state for tid, _, state, _ in table.settled}
    for tid, p in table.items():
        if p.ticket.state.is_terminal:
            assert logged[tid] == p.ticket.state.value


def test_it_refuses_bulk_updates_that_would_bypass_the_index():
    table = ProgressTable()
    with pytest.raises(TypeError):
        table.update({"T1": SimpleNamespace(ticket=SimpleNamespace(state=TicketState.WORKING))})


@pytest.mark.parametrize("seed", range(20))
def test_expired_gives_the_tickets_a_scan_would_forget_and_no_other(seed):
    """What release_finished forgets, read from the heap of end times, is what a scan of every
    ticket finds finished before the cut: a reopened ticket is not given while open, and when it
    finishes again it is given by its new end time, once."""
    rnd = random.Random(seed)
    table = ProgressTable()
    clock = n = 0
    for _ in range(600):
        clock += rnd.randint(1, 5)
        op = rnd.random()
        if op < 0.3 or not table:                         # a new ticket
            n += 1
            table[f"T{n}"] = SimpleNamespace(ticket=SimpleNamespace(state=rnd.choice(OPEN), pair="P", ended_ns=None))
        elif op < 0.7:                                    # an open ticket moves on, maybe to its end
            t = table[rnd.choice(list(table))].ticket
            if not t.state.is_terminal:
                t.state = rnd.choice(OPEN + FINAL)
                if t.state.is_terminal:
                    t.ended_ns = clock
        elif op < 0.8:                                    # a late fill reopens a finished one
            tid = rnd.choice(list(table))
            t = table[tid].ticket
            if t.state.is_terminal:
                was, t.state = t.state, TicketState.LEGGED
                table.reopened(tid, was)
        if rnd.random() < 0.3:                            # the timer: forget what ended before the cut
            cut = clock - rnd.randint(0, 40)
            table.settle()
            expected = {tid for tid, p in table.items()
                        if p.ticket.state.is_terminal and p.ticket.ended_ns is not None and p.ticket.ended_ns < cut}
            got = table.expired(cut)
            assert [e for e, _ in got] == sorted(e for e, _ in got)
            assert {tid for _, tid in got} == expected and len(got) == len(expected)
            for _, tid in got:
                del table[tid]
    table.expired(clock + 1)
    assert table.ended == []   # the entries of tickets reopened or forgotten do not stay behind
