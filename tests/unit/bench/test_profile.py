"""``xmc bench --profile``'s reading of py-spy's collapsed stacks (``record --gil --threads --format
raw``), on lines in the shape py-spy 0.4 writes them."""

from __future__ import annotations

import pytest

from xmc_fix.bench.profile import SWIG, parse_line, render, summarize

# a session thread (QuickFIX's, named Dummy-N by Python), an empty stack on it, the engine's timer
# thread, and an unnamed thread (the plain script's session thread) with a class-less frame
RAW = """\
thread (31620): Dummy-1;EngineApplication.fromApp (xmc_fix/venues/adapter.py:323);decode_incremental (xmc_fix/venues/translate.py:276) 30
thread (31620): Dummy-1;EngineApplication.fromApp (xmc_fix/venues/adapter.py:331);EngineApplication._on_event (xmc_fix/venues/adapter.py:340);Book.apply (xmc_fix/marketdata/book.py:88) 20
thread (31620): Dummy-1;AuditLog.onIncoming (xmc_fix/audit/logbridge.py:49) 5
thread (31620): Dummy-1 25
thread (31621): xmc-timer;Thread._bootstrap (threading.py:1002);EngineApp._timer_loop (xmc_fix/app.py:268) 10
not a stack line
"""


def test_a_line_is_thread_name_and_frames_outermost_first():
    assert parse_line("thread (31834);Measured.fromApp (xmc_fix/bench/plain.py:215);"
                      "PairTrader.check (xmc_fix/bench/plain.py:142) 43") == (
        "31834", "thread 31834", [("fromApp", "xmc_fix/bench/plain.py"), ("check", "xmc_fix/bench/plain.py")], 43)
    assert parse_line("thread (31620): Dummy-1 1344") == ("31620", "Dummy-1", [], 1344)
    assert parse_line("garbage") is None and parse_line("thread (1): x;f (a.py:1) many") is None


def test_samples_are_counted_per_callback_swig_layer_and_thread_per_message():
    s = summarize(RAW, rate=100, messages=1000)     # one sample = 10 ms; per message: 10 us a sample
    assert s["samples"] == 90
    assert s["us_per_message"] == {"fromApp": 500.0, SWIG: 250.0, "thread xmc-timer": 100.0, "onIncoming": 50.0}
    assert s["us_per_message_total"] == 900.0
    assert s["from_app"] == {"decode_incremental": 0.6, "_on_event": 0.4}
    assert s["top_own"]["decode_incremental (translate.py)"] == pytest.approx(30 / 90, abs=1e-3)


def test_an_empty_stack_is_the_swig_layer_only_on_a_session_thread():
    s = summarize("thread (7): worker 9\nthread (8): Dummy-2;Measured.fromApp (plain.py:1) 1\n", rate=10,
                  messages=10)
    assert s["us_per_message"] == {"thread worker": 90000.0, "fromApp": 10000.0}


def test_the_table_puts_both_peers_side_by_side():
    x = summarize(RAW, rate=100, messages=1000)
    p = summarize("thread (9);Measured.fromApp (plain.py:215) 20\nthread (9) 10\n", rate=100, messages=1000)
    text = render({"xmc_fix": x, "plain": p})
    assert "| fromApp | 500.0 us | 200.0 us |" in text
    assert f"| {SWIG} | 250.0 us | 100.0 us |" in text
    assert "| onIncoming | 50.0 us | - |" in text
    assert "| **all** | **900.0 us** | **300.0 us** |" in text
