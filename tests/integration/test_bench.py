"""The benchmark machinery on a token load: every figure is present and sane, for xmc_fix and for
the plain QuickFIX-Python script beside it. Speed itself is never asserted (a noisy machine would
break that); `xmc bench` reports it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def ordered(d: dict, n: int = 15) -> bool:
    """A latency summary of at least ``n`` samples whose percentiles are in order."""
    return d["n"] >= n and 0 < d["p50"] <= d["p99"] <= d["p999"] <= d["max"]


def ingest_sane(thr: dict) -> bool:
    return thr["sent"] > 0 and 0 < thr["processed"] <= thr["sent"] + 10 and thr["per_s_sustained"] > 0 \
        and 0 <= thr["processed_at_done"] <= thr["processed"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out, html, md = tmp / "bench.json", tmp / "bench.html", tmp / "bench.md"
    res = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp / "x.log"), "bench", "--tiny",
                          "--json", str(out), "--html", str(html), "--markdown", str(md)], capture_output=True,
                         text=True, timeout=900, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(out.read_text()), res.stdout, html.read_text(), md.read_text()


def test_the_floor_and_xmc_fixs_latency_figures(bench):
    b = bench[0]
    assert b["floor"]["rtt_us"]["n"] > 0 and 0 < b["floor"]["rtt_us"]["p50"] <= b["floor"]["rtt_us"]["p99"]
    assert b["floor"]["ingest_per_s"] > 0
    # decision latency and its stages, with the audit writer on and off, one and ten pairs
    for key in ("decision_latency_us", "decision_latency_audit_off_us"):
        assert ordered(b[key]), key                   # 20 ticks, a few may be lost to timing
    # observed: 60 ticks in windows of 50 ms, the observers running in one of two (the first 12.5 ms
    # of each counted in neither)
    obs = b["observed"]
    assert obs["windows"] >= 3 and obs["decisions"] >= 45
    on, off = b["decision_latency_observed_us"], b["decision_latency_observed_off_us"]
    assert ordered(on, 3) and ordered(off, 3) and on["n"] + off["n"] <= obs["decisions"]
    assert b["observed_scrapes"] >= 1                 # the metrics endpoint answered during the run
    assert set(b["decision_stages_us_p50"]) == {"receive_to_evaluate", "evaluate_to_decision",
                                                "decision_to_first_sent", "first_to_second_sent"}
    assert all(v >= 0 for v in b["decision_stages_us_p50"].values())
    t = b["tick_to_trade_us"]
    assert t["n"] >= 15 and t["timeouts"] <= 5 and 0 < t["p50"] <= t["p99"]
    ten = b["scale"]["ten_pairs"]
    assert ordered(ten["decision_us"]) and ten["tick_to_trade_us"]["n"] >= 15


def test_the_plain_script_is_measured_on_the_same_ticks(bench):
    p = bench[0]["plain"]
    assert ordered(p["decision_latency_us"]) and ordered(p["ten_pairs"]["decision_us"])
    for t in (p["tick_to_trade_us"], p["ten_pairs"]["tick_to_trade_us"]):
        assert t["n"] >= 15 and t["timeouts"] <= 5 and 0 < t["p50"] <= t["p99"]
    assert ingest_sane(p["throughput"])
    assert ingest_sane(p["load"]) and p["load"]["processed"] >= 0.9 * p["load"]["sent"]


def test_throughput_and_load_what_was_sent_was_processed(bench):
    b = bench[0]
    assert ingest_sane(b["throughput"]) and ingest_sane(b["throughput_audit_off"])
    load = b["load"]
    assert ingest_sane(load) and load["processed"] >= 0.9 * load["sent"]
    for lag in (load["lag"], b["plain"]["load"]["lag"]):
        assert lag["first_third_p50_us"] > 0 and lag["last_third_p50_us"] > 0 and lag["growth"] > 0
    assert b["audit_writer"]["rows"] > 0


def test_the_age_of_the_book_at_each_decision_under_load(bench):
    b = bench[0]
    age, plain = b["load"]["book_age"], b["plain"]["load"]["book_age"]
    for a in (age, plain):
        assert 1 <= a["decisions"] <= a["crossings_offered"]
        assert 0 < a["by_venue_ms"]["p50"] <= a["by_venue_ms"]["max"]       # the decision follows the tick
        assert 0 <= a["over_limit"] <= a["decisions"]
    assert age["by_venue_ms"]["n"] == age["decisions"]      # every decision's tick found by its marker
    assert age["by_receipt_ms"]["n"] == age["decisions"] and age["by_receipt_ms"]["max"] >= 0
    assert age["limit_ms"] > 0


def test_the_journals_cost_in_each_mode(bench):
    j = bench[0]["journal"]
    assert j["kind"] == "intent" and j["line_bytes"] > 200 and j["lines"] > 0    # a real ticket's intent line
    for mode in ("intent", "batch", "none"):
        assert ordered(j[mode]["write_us"]), mode
    assert ordered(j["batch"]["timer_fsync_us"])
    assert ordered(j["decision_us"]["intent"]) and ordered(j["decision_us"]["batch"])


def test_every_target_is_reported_with_figure_reference_ratio_and_verdict(bench):
    b, stdout, page, markdown = bench
    assert len(b["targets"]) == 10
    for x in b["targets"]:
        assert isinstance(x["met"], bool) and x["figure"] is not None and x["reference"] is not None, x
        assert x["ratio"] is not None and x["ratio"] >= 0, x
    # the table names each figure beside the plain script and the floor, and the page has both peers' histograms
    for label in ("floor round trip", "decision latency p99", "tick-to-trade p50", "engine md throughput", "plain",
                  "book age at decision, by venue SendingTime", "journal", "targets:", "never stale"):
        assert label in stdout
    assert "<img" in page and "data:image/png;base64," in page and "plain script" in page
    # the README's tables: one row per target with its verdict, then the figures beside the plain script
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert sum(1 for r in rows if r.endswith("| met |") or r.endswith("| **not met** |")) == len(b["targets"])
    assert "| figure | xmc_fix | plain script | ratio | floor | ratio |" in markdown


def test_the_profile_of_the_flood_splits_both_peers_time_by_callback(tmp_path):
    """``xmc bench --profile``: py-spy samples xmc_fix and the plain script in one flood each; the
    audit's Log shows as onIncoming in xmc_fix only, and every figure comes with its stacks."""
    out = tmp_path / "profile"
    res = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "x.log"), "bench",
                          "--profile", str(out), "--profile-seconds", "1"], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    prof = json.loads((out / "profile.json").read_text())
    x, p = prof["xmc_fix"], prof["plain"]
    for r in (x, p):
        assert r["messages"] > 1000 and r["samples"] > 0
        assert r["us_per_message"]["fromApp"] > 0
        assert r["us_per_message_total"] == pytest.approx(sum(r["us_per_message"].values()), rel=0.01)
    assert x["us_per_message"].get("onIncoming", 0) > 0 and "onIncoming" not in p["us_per_message"]
    assert "decode_incremental" in x["from_app"]
    assert (out / "profile.png").read_bytes()[:4] == b"\x89PNG"
    assert "fromApp" in (out / "xmc_fix.txt").read_text() and "fromApp" in (out / "plain.txt").read_text()
    assert "| fromApp |" in res.stdout and "xmc_fix (audit on)" in res.stdout
