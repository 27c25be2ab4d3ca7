"""`xmc demo` and `xmc report` as a user runs them: separate processes, default configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def xmc(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "xmc_fix", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_demo_completes_a_ticket_per_default_pair_and_stores_every_message(tmp_path):
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    res = xmc("--log-file", str(tmp_path / "xmc.log"), "demo", "--db", db, "--duration", "20")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "audit: every FIX message of the run stored" in res.stdout
    assert "venues 4/4 up" in res.stderr  # progress lines while it runs

    rep = xmc("--log-file", str(tmp_path / "xmc.log"), "report", "--db", db, "--format", "json")
    assert rep.returncode == 0, rep.stderr
    figs = json.loads(rep.stdout)
    for key in ("tickets", "tickets_completed", "alignment_rate", "messages", "legs", "latency_us"):
        assert key in figs
    assert set(figs["messages"]) >= {"in", "out"} and figs["messages"]["out"] > 0
    for venue in ("SHFE", "LME", "COMEX"):
        assert set(figs["legs"][venue]) >= {"orders", "fills", "rejects"}
    assert set(figs["latency_us"]["decision_to_send"]) >= {"p50", "p99"}
    for pair in ("CU_SHFE_LME", "CU_SHFE_COMEX"):
        assert figs["pairs"][pair]["completed"] >= 1, figs["pairs"]

    csv = xmc("--log-file", str(tmp_path / "xmc.log"), "report", "--db", db, "--format", "csv")
    assert csv.returncode == 0 and csv.stdout.startswith("figure,value\n")
    assert f"tickets_completed,{figs['tickets_completed']}" in csv.stdout


def test_chaos_demo_repairs_every_legged_ticket(tmp_path):
    db = f"sqlite:///{tmp_path / 'chaos.db'}"
    res = xmc("--log-file", str(tmp_path / "xmc.log"), "demo", "--db", db, "--duration", "60", "--scenario", "chaos",
              "--quiet", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    figs = json.loads(xmc("--log-file", str(tmp_path / "xmc.log"), "report", "--db", db, "--format", "json").stdout)
    assert figs["tickets_repaired"]["legged"] >= 1, "chaos produced no legged ticket"
    assert figs["alignment_rate"] >= 0.999 and figs["repair_success_rate"] >= 0.999, figs["repairs"]
    assert all(v == 0 for v in figs["residual_exposure"].values()), figs["residual_exposure"]
    for r in figs["repairs"]:
        assert r["path"] and r["outcome"] in ("COMPLETED", "UNWOUND"), r
    assert "repaired tickets" in res.stdout   # the report shows how each was repaired
