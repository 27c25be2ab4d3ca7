"""Incoming market data stored in bulk (``fix_message_batches``), through the real AuditWriter: the
same messages, bytes, times and key tags as one ``fix_messages`` row each would have held, one chain
entry per batch, and every reader that needs market data as messages (coverage, recovery, reports,
trace) finding it there."""

from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text

from xmc_fix.audit import models
from xmc_fix.audit.completeness import audit_completeness
from xmc_fix.audit.mdbatch import all_messages, batch_rows, highest_in, md_type, parse_ranges, ranges, unpack
from xmc_fix.audit.rows import message_row
from xmc_fix.audit.verify import verify
from xmc_fix.audit.writer import AuditWriter
from xmc_fix.cli import cli
from xmc_fix.reports.api import open_run
from tests.unit.audit.audit_stubs import MS, SESSION, T0, incoming

LME = "FIX.4.4:XMC->LME"
VENUES = {SESSION: "SHFE", LME: "LME"}


def refresh(seq: int, px: str = "77300", symbol: str = "CU", *extra: tuple[str, str]) -> str:
    return incoming("X", ("262", "M1"), ("268", "2"), ("279", "1"), ("269", "0"), ("55", symbol), ("270", px),
                    ("271", "4"), ("279", "1"), ("269", "1"), ("55", symbol), ("270", "77310"), ("271", "6"),
                    *extra, seq=seq)


def snapshot(seq: int) -> str:
    return incoming("W", ("55", "CU"), ("262", "M1"), ("268", "1"), ("269", "0"), ("270", "77300"), ("271", "3"),
                    seq=seq)


def write(url: str, messages: list[tuple[str, str, str, int]], run_id: str = "R1", flush_after: tuple = ()):
    """``messages``: (session, direction, raw, ts_ns), written through the writer in that order."""
    w = AuditWriter(url, run_id, venues_by_session=VENUES, linger_s=5.0).start()
    w.record("runs", {"run_id": run_id, "role": "engine", "started_ns": T0, "host": "box", "pid": 1,
                      "namespace": "X", "command": "test", "config": json.dumps({})})
    for i, m in enumerate(messages):
        w.message(*m)
        if i in flush_after:
            assert w.flush()
    w.record("runs", {"run_id": run_id, "role": "engine", "started_ns": T0, "ended_ns": T0 + 10_000 * MS,
                      "summary": "{}"})
    w.close()
    return w.stats


def rows(url: str, statement: str, **params) -> list:
    eng = create_engine(url)
    with eng.connect() as conn:
        out = conn.execute(text(statement), params).all()
    eng.dispose()
    return out


def messages_of(url: str, run_id: str = "R1", **where) -> list[dict]:
    eng = create_engine(url)
    with eng.connect() as conn:
        out = all_messages(conn, run_id, **where)
    eng.dispose()
    return out


MIXED = [(SESSION, "in", incoming("A", ("98", "0"), ("108", "10"), seq=1), T0 + 1 * MS),
         (SESSION, "in", snapshot(2), T0 + 2 * MS),
         (SESSION, "in", refresh(3), T0 + 3 * MS),
         (LME, "in", refresh(7, "9500", "CA"), T0 + 3 * MS + 500),
         (SESSION, "in", refresh(4, "77290"), T0 + 4 * MS),
         (SESSION, "in", incoming("8", ("37", "O1"), ("11", "C1"), ("17", "E1"), ("150", "0"), ("39", "0"),
                                  ("55", "CU"), seq=5), T0 + 5 * MS),
         (SESSION, "out", incoming("X", ("262", "M1"), seq=9), T0 + 5 * MS + 1),   # our own X out: one row
         (SESSION, "in", refresh(6, "77280"), T0 + 6 * MS)]


# -- the rows ----------------------------------------------------------------------------------------
@given(st.lists(st.integers(1, 60), max_size=40))
def test_ranges_give_back_the_numbers_in_their_order(nums):
    assert parse_ranges(ranges(nums)) == nums


def test_only_refreshes_and_snapshots_are_market_data():
    assert [md_type(m) for m in (refresh(3), snapshot(2), incoming("8", seq=4), incoming("XY", seq=5),
                                 incoming("Y", ("262", "M1"), seq=6), "8=FIX.4.4\x019=5\x0135=X")] == \
        ["X", "W", None, None, None, None]


def test_a_batch_keeps_each_message_byte_for_byte_with_its_time_and_starts_again_where_numbers_go_down():
    msgs = [(T0 + 1, refresh(10)), (T0 + 2, refresh(11)), (T0 + 3, refresh(2)), (T0 + 4, refresh(3))]

    out = batch_rows("R1", SESSION, "SHFE", "X", msgs)

    assert [(r["seqs"], r["count"], r["first_ts_ns"], r["last_ts_ns"]) for r in out] == [
        ("10-11", 2, T0 + 1, T0 + 2), ("2-3", 2, T0 + 3, T0 + 4)]
    assert [m for r in out for m in unpack(r["raw"])] == [(ts, raw.encode()) for ts, raw in msgs]


def test_a_secret_in_market_data_is_masked_as_in_any_stored_message():
    (row,) = batch_rows("R1", SESSION, "SHFE", "X", [(T0, refresh(3, "77300", "CU", ("554", "hunter2")))])

    assert b"hunter2" not in row["raw"] and b"\x01554=***" in row["raw"]


# -- the writer ----------------------------------------------------------------------------------------
def test_incoming_market_data_is_stored_in_batches_with_one_chain_entry_each_and_reads_back_as_messages(audit_url):
    stats = write(audit_url, MIXED)

    assert rows(audit_url, "select count(*) from fix_messages where direction = 'in' and msg_type in ('X', 'W')") \
        == [(0,)]
    batches = rows(audit_url, "select id, session, msg_type, count, seqs from fix_message_batches order by id")
    assert sorted(b[1:] for b in batches) == [(LME, "X", 1, "7"), (SESSION, "W", 1, "2"), (SESSION, "X", 3, "3-4,6")]
    entries = rows(audit_url, "select row_key from audit_chain where table_name = 'fix_message_batches'")
    assert sorted(int(k) for (k,) in entries) == sorted(b[0] for b in batches)
    assert (stats.rows["fix_message_batches"], stats.batched_messages) == (3, 5)
    assert verify(audit_url).ok

    # every message as the fix_messages row it would have been, in the order it was recorded
    got = messages_of(audit_url)
    want = [message_row("R1", s, VENUES[s], d, raw, ts) for s, d, raw, ts in MIXED]
    cols = [c for c in want[0] if c not in ("id",)]
    assert [[g[c] for c in cols] for g in got] == [[w[c] for c in cols] for w in want]
    assert [g["batch_id"] is None for g in got] == [not (d == "in" and "\x0135=X\x01" in r or "\x0135=W\x01" in r)
                                                   for _, d, r, _ in MIXED]


def test_a_batch_written_in_several_writes_is_several_batches_in_one_order(audit_url):
    write(audit_url, [(SESSION, "in", refresh(n), T0 + n * MS) for n in range(2, 8)], flush_after=(1, 3))

    assert [s for (s,) in rows(audit_url, "select seqs from fix_message_batches order by id")] == ["2-3", "4-5", "6-7"]
    assert [m["seq_num"] for m in messages_of(audit_url, direction="in")] == [2, 3, 4, 5, 6, 7]


# -- the readers ---------------------------------------------------------------------------------------
def test_coverage_counts_the_numbers_of_batched_market_data_and_names_one_that_never_arrived(audit_url):
    lost = [m for m in MIXED if "\x0134=4\x01" not in m[2] or m[0] != SESSION]   # SHFE refresh 4 never recorded
    write(audit_url, lost)

    c = audit_completeness(audit_url, "R1")

    shfe_in = c["sessions"][SESSION]["in"]
    assert (shfe_in["first_seq"], shfe_in["last_seq"], shfe_in["messages"]) == (1, 6, 5)
    assert shfe_in["first_missing"] == [4] and c["complete"] is False


def test_the_highest_incoming_number_a_crash_recovery_starts_from_includes_batched_market_data(audit_url):
    write(audit_url, MIXED)

    eng = create_engine(audit_url)
    with eng.connect() as conn:
        assert highest_in(conn, "R1") == {SESSION: (6, T0 + 6 * MS), LME: (7, T0 + 3 * MS + 500)}
        from xmc_fix.audit.recovery import _stored
        _, max_in, last = _stored(conn, "R1")
    eng.dispose()
    assert max_in[SESSION] == (6, T0 + 6 * MS) and max_in[LME] == (7, T0 + 3 * MS + 500)
    assert last == T0 + 6 * MS


def test_the_report_counts_batched_market_data_and_gives_its_bytes_when_asked(audit_url):
    write(audit_url, MIXED)

    run = open_run(audit_url, "R1")
    counts = run.data.messages
    x_in = counts[(counts["session"] == SESSION) & (counts["direction"] == "in") & (counts["msg_type"] == "X")]
    assert int(x_in["n"].sum()) == 3
    m = run.messages(raw=True)
    batched = m[m["batch_id"].notna()]
    assert len(batched) == 5 and all(isinstance(r, bytes) and r.startswith(b"8=FIX.4.4") for r in batched["raw"])
    assert sorted(int(s) for s in batched["seq_num"]) == [2, 3, 4, 6, 7]


def test_a_batch_whose_bytes_no_longer_frame_is_one_line_naming_it_not_a_traceback(audit_url):
    write(audit_url, MIXED)
    bid, raw = rows(audit_url, "select id, raw from fix_message_batches where msg_type = 'X' order by id")[0]
    eng = create_engine(audit_url)
    with eng.begin() as conn:   # cut the last message short: the frame says more bytes than there are
        conn.execute(text("update fix_message_batches set raw = :r where id = :i"), {"r": bytes(raw)[:-5], "i": bid})
    eng.dispose()

    res = CliRunner().invoke(cli, ["report", "--db", audit_url, "--run", "R1"])

    assert res.exit_code == 1, (res.output, res.exception)
    line = res.output.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert line.startswith("xmc: error: fix_message_batches row ") and f"row {bid}:" in line, line
    assert "xmc audit verify" in line, line
