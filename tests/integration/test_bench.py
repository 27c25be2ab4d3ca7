"""The benchmark machinery on a token load: every figure is present and sane. Speed itself is
never asserted (a noisy machine would break that); `xmc bench` reports it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_bench_produces_every_figure(tmp_path):
    out, html = tmp_path / "bench.json", tmp_path / "bench.html"
    res = subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "x.log"), "bench", "--tiny",
                          "--json", str(out), "--html", str(html)], capture_output=True, text=True, timeout=600,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    b = json.loads(out.read_text())
    # the floor
    assert b["floor"]["rtt_us"]["n"] > 0 and 0 < b["floor"]["rtt_us"]["p50"] <= b["floor"]["rtt_us"]["p99"]
    assert b["floor"]["ingest_per_s"] > 0
    # decision latency and its stages, with the audit writer on and off, one and ten pairs
    for key in ("decision_latency_us", "decision_latency_audit_off_us"):
        d = b[key]
        assert d["n"] >= 15, key                       # 20 ticks, a few may be lost to timing
        assert 0 < d["p50"] <= d["p99"] <= d["p999"] <= d["max"]
    assert set(b["decision_stages_us_p50"]) == {"receive_to_evaluate", "evaluate_to_decision",
                                                "decision_to_first_sent", "first_to_second_sent"}
    assert all(v >= 0 for v in b["decision_stages_us_p50"].values())
    t = b["tick_to_trade_us"]
    assert t["n"] >= 15 and t["timeouts"] <= 5 and 0 < t["p50"] <= t["p99"]
    ten = b["scale"]["ten_pairs"]
    assert ten["decision_us"]["n"] >= 15 and ten["tick_to_trade_us"]["n"] >= 15
    # throughput and load: what was sent was processed
    thr = b["throughput"]
    assert thr["sent"] > 0 and 0 < thr["engine_processed"] <= thr["sent"] + 10
    assert thr["engine_per_s_sustained"] > 0
    load = b["load"]
    assert load["sent"] > 0 and load["processed"] >= 0.9 * load["sent"]
    assert b["audit_writer"]["rows"] > 0
    # every target is reported with its value, met or not
    assert len(b["targets"]) == 6 and all(isinstance(x["met"], bool) and x["value"] is not None for x in b["targets"])
    # the table names each figure beside the floor, and the page carries the histograms
    for label in ("floor round trip", "decision latency p99", "tick-to-trade p50", "engine md throughput", "targets:"):
        assert label in res.stdout
    page = html.read_text()
    assert "<img" in page and "data:image/png;base64," in page
