"""The Serializer: one engine entry point for many threads, never blocking, never losing work."""

from __future__ import annotations

import threading
import time

from xmc_fix.execution.serial import Serializer


def test_work_posted_from_many_threads_runs_one_at_a_time_and_none_is_lost():
    serial = Serializer()
    inside = 0
    overlaps = 0
    done: list[int] = []

    def work(n):
        nonlocal inside, overlaps
        inside += 1
        if inside > 1:
            overlaps += 1
        done.append(n)  # list.append is atomic; the check above is what we are testing
        for _ in range(50):
            pass
        inside -= 1

    def producer(base):
        for i in range(2000):
            serial.post(work, base + i)

    threads = [threading.Thread(target=producer, args=(k * 10_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0
    assert sorted(done) == sorted(k * 10_000 + i for k in range(4) for i in range(2000))


def test_work_from_one_thread_runs_in_posting_order():
    serial = Serializer()
    seen = []
    for i in range(100):
        serial.post(seen.append, i)
    assert seen == list(range(100))


def test_an_exception_is_reported_and_the_next_work_still_runs():
    errors = []
    serial = Serializer(on_error=lambda fn, args, e: errors.append(type(e).__name__))
    seen = []
    serial.post(lambda: 1 / 0)
    serial.post(seen.append, "after")
    assert errors == ["ZeroDivisionError"] and seen == ["after"]


def test_work_posted_while_running_runs_after_the_current_work_not_inside_it():
    serial = Serializer()
    order = []

    def outer():
        order.append("outer-start")
        serial.post(order.append, "inner")
        order.append("outer-end")

    serial.post(outer)
    assert order == ["outer-start", "outer-end", "inner"]


def test_call_returns_the_result_from_another_thread():
    serial = Serializer()
    box = []
    t = threading.Thread(target=lambda: box.append(serial.call(lambda: 6 * 7)))
    t.start()
    t.join()
    assert box == [42]


def test_post_sync_returns_only_after_its_work_ran_even_when_another_thread_holds_the_engine():
    """A venue's report is applied before QuickFIX counts it received (see serial.py)."""
    serial = Serializer()
    holding = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def long_work():
        holding.set()
        release.wait(5)
        ran.append("long")

    holder = threading.Thread(target=serial.post, args=(long_work,))
    holder.start()
    assert holding.wait(5)
    returned = threading.Event()

    def session_thread():
        assert serial.post_sync(ran.append, "report")
        returned.set()

    t = threading.Thread(target=session_thread)
    t.start()
    assert not returned.wait(0.2)          # still waiting: the holder has not run it yet
    assert ran == []
    release.set()
    t.join(5)
    holder.join(5)
    assert returned.is_set() and ran == ["long", "report"]


def test_post_sync_reports_an_error_of_its_work_and_still_returns():
    errors = []
    serial = Serializer(on_error=lambda fn, args, e: errors.append((fn, args, str(e))))

    def boom(x):
        raise ValueError(x)
    assert serial.post_sync(boom, "bad")
    assert errors == [(boom, ("bad",), "bad")]


def test_post_sync_from_inside_the_engine_queues_instead_of_waiting_for_itself():
    # the shadow sender hands its paper reports back from inside the engine's work: waiting there
    # for the engine would wait for ourselves (it used to hang the engine for good)
    s = Serializer()
    seen = []

    def outer():
        t0 = time.monotonic()
        assert s.post_sync(seen.append, "report") is True
        seen.append(("waited", time.monotonic() - t0 < 1.0))
        assert s.call(lambda: 42) == 42          # a call from inside runs inline

    s.post(outer)
    assert seen == [("waited", True), "report"]     # after the current work, before the engine is let go
    assert not s.inside()
