"""How the benchmark turns samples into figures and targets: the age of the book at a decision
is found through the tick's marker, the targets hold xmc_fix to the plain script's figures."""

from __future__ import annotations

from xmc_fix.bench.run import _book_age, _ingest, _lag_growth, _marker, targets
from xmc_fix.bench.tickserver import MARK0

MS = 1_000_000


def decision(created_ns: int, inner_book, inner_age_ms=0.0, outer_age_ms=0.5) -> dict:
    return {"pair": "P1", "intent": "OPEN", "created_ns": created_ns, "md_recv_ns": created_ns,
            "decision": {"inner_book": inner_book, "outer_book": [["999.5", "1000"], ["1000.5", "1000"]],
                         "inner_age_ms": inner_age_ms, "outer_age_ms": outer_age_ms}}


def test_the_marker_is_the_size_of_the_level_the_tick_moved_to_the_top():
    assert _marker([["1200", str(MARK0 + 3)], ["1200.5", "1000"]]) == MARK0 + 3       # an entry: best bid
    assert _marker([["999.5", "1004"], ["1000.5", f"{MARK0 + 4}.0"]]) == MARK0 + 4    # a revert: best ask
    assert _marker([["999.5", "1004"], None]) is None
    assert _marker(None) is None


def test_book_age_by_the_venue_clock_counts_from_the_marked_ticks_send():
    marks = {MARK0: 1_000 * MS, MARK0 + 1: 2_000 * MS}
    decisions = [decision(1_000 * MS + 3 * MS, [["1200", str(MARK0)], ["1200.5", "1000"]], outer_age_ms=0.2),
                 decision(2_000 * MS + 2_500 * MS, [["999.5", "1000"], ["1000.5", str(MARK0 + 1)]], outer_age_ms=4.0)]

    age = _book_age(decisions, marks, limit_ms=2000, pings=3)

    assert age["by_venue_ms"] == {"n": 2, "p50": 2500.0, "p99": 2500.0, "max": 2500.0}
    assert age["by_receipt_ms"]["max"] == 4.0          # the older leg, as the engine's check sees it
    assert (age["decisions"], age["crossings_offered"], age["over_limit"]) == (2, 3, 1)


def test_lag_growth_compares_the_first_and_last_third_of_the_run():
    lag = [(i, 100_000) for i in range(30)] + [(i, 150_000) for i in range(30, 60)] + \
          [(i, 330_000) for i in range(60, 90)]

    g = _lag_growth(lag)

    assert (g["first_third_p50_us"], g["last_third_p50_us"], g["growth"]) == (100.0, 330.0, 3.3)
    assert _lag_growth(lag[:5])["growth"] is None


def test_ingest_counts_only_what_came_after_the_ticks_started():
    res = {"sent": {"V1": 9_000, "V2": 1_000}, "seconds": 2.0}
    st = {"md_updates": 10_004, "md_at_start": 4, "md_at_done": 9_004, "drained_s": 0.8, "md_lag": []}

    f = _ingest(res, st)

    assert (f["processed"], f["processed_at_done"]) == (10_000, 9_000)
    assert (f["per_s_during"], f["offered_per_s"]) == (4_500, 5_000)
    assert f["per_s_sustained"] == round(10_000 / 2.5)


def summary(p50, p99):
    return {"n": 100, "p50": p50, "p99": p99, "p999": p99, "max": p99}


def test_each_target_names_its_figure_reference_and_ratio():
    load = {"venues": 5, "rate_per_venue": 5000, "per_s_during": 24_900, "offered_per_s": 25_000,
            "lag": {"first_third_p50_us": 100.0, "last_third_p50_us": 105.0},
            "book_age": {"by_venue_ms": {"max": 2.5}, "limit_ms": 2000, "over_limit": 0, "decisions": 40}}
    o = {"decision_latency_us": summary(150.0, 400.0), "tick_to_trade_us": summary(350.0, 900.0),
         "decision_latency_audit_off_us": summary(140.0, 350.0),
         "decision_latency_observed_us": summary(150.0, 460.0),
         "decision_latency_observed_off_us": summary(150.0, 430.0),
         "scale": {"ten_pairs": {"decision_us": summary(160.0, 900.0)}},
         "throughput": {"per_s_sustained": 40_000}, "load": load,
         "plain": {"decision_latency_us": summary(150.0, 380.0), "tick_to_trade_us": summary(330.0, 800.0),
                   "throughput": {"per_s_sustained": 45_000}}}

    t = {row["target"].split(":")[0].split(" within")[0].split(" no worse")[0]: row for row in targets(o)}

    assert [r["met"] for r in targets(o)] == [True, True, False, False, True, True, True, False, True, True]
    assert t["web view and metrics on"]["ratio"] == round(460 / 430, 3)
    assert t["tick-to-trade p50"]["ratio"] == round(350 / 330, 3)
    assert t["decision p99"]["figure"] == 400.0 and t["decision p99"]["reference"] == 380.0
    assert t["never stale"]["reference"] == 2000 and t["never stale"]["decisions"] == 40


def test_the_observed_stage_is_split_by_the_window_each_decision_began_in():
    from xmc_fix.bench.run import _windowed
    ms = 1_000_000
    windows = [(0, True), (100 * ms, False), (200 * ms, True)]
    # (recv, evaluate, decide, first sent, last sent): latency is last - recv
    stages = [(60 * ms, 0, 0, 0, 60 * ms + 300_000),      # on
              (120 * ms, 0, 0, 0, 120 * ms + 200_000),    # off, 20 ms after the pause: inside the guard
              (160 * ms, 0, 0, 0, 160 * ms + 100_000),    # off
              (250 * ms, 0, 0, 0, 250 * ms + 400_000),    # on again
              (-5 * ms, 0, 0, 0, 0)]                      # before the first window: neither
    on, off = _windowed(stages, windows, guard_ns=50 * ms)
    assert on == [300.0, 400.0] and off == [100.0]
    assert _windowed(stages, []) == ([], [])
