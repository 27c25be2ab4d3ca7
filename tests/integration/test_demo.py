"""`xmc demo` and `xmc report` as a user runs them: separate processes, default configuration."""

from __future__ import annotations

import json
import os
import shutil
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
    # busts, corrections, done for day and a silent gateway included, the engine ends holding what the
    # simulator says it holds
    truth = next(r for r in figs["acceptance"] if r["claim"] == "position truth: engine = venue")
    assert truth["met"] is True, truth


def test_a_demo_and_its_report_without_paths_write_into_the_data_folder(data_folder):
    # no --db, --log-file or --out: every default lands in XMC_VAR_DIR (this test's own folder)
    res = xmc("demo", "--duration", "3", "--quiet")
    assert res.returncode == 0, res.stderr[-3000:]
    rep = xmc("report", "--format", "html")
    assert rep.returncode == 0, rep.stderr[-3000:]

    run_id = json.loads(xmc("report", "--format", "json").stdout)["run_id"]
    assert (data_folder / "xmc.db").is_file() and (data_folder / "log" / "xmc.log").is_file()
    assert rep.stdout.strip() == str(data_folder / f"report-{run_id}.html")
    assert any((data_folder / "demo").rglob("*.body")), "the demo's QuickFIX stores are not in the data folder"


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size if p.is_file() else 0)
            for p in [folder, *folder.rglob("*")]}


def test_the_suite_leaves_the_checkouts_var_and_the_callers_data_folder_untouched(tmp_path):
    # a short demo and unit tests that write default paths, run as the suite runs them, with the
    # caller's data folder pointed at a sentinel: each test must use its own folder instead
    sentinel = tmp_path / "sentinel"
    before = _listing(ROOT / "var")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}",
         "tests/integration/test_demo.py::test_a_demo_and_its_report_without_paths_write_into_the_data_folder",
         "tests/unit/reports/test_api.py::test_report_html_without_out_writes_var_report_of_the_run_and_prints_its_path",
         "tests/unit/execution/test_journal.py"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "XMC_VAR_DIR": str(sentinel)})

    assert res.returncode == 0, res.stdout[-3000:]
    assert not sentinel.exists(), sorted(str(p) for p in sentinel.rglob("*"))[:20]
    assert _listing(ROOT / "var") == before


def test_a_second_demo_leaves_the_first_runs_audit_coverage_as_it_was(tmp_path, data_folder):
    log = str(tmp_path / "xmc.log")
    first, other = f"sqlite:///{tmp_path / 'first.db'}", f"sqlite:///{tmp_path / 'other.db'}"
    assert xmc("--log-file", log, "demo", "--db", first, "--duration", "4", "--quiet").returncode == 0

    def coverage():
        rep = xmc("--log-file", log, "report", "--db", first, "--format", "json")
        assert rep.returncode == 0, rep.stderr[-3000:]
        figs = json.loads(rep.stdout)
        return figs["run_id"], figs["coverage"], next(r for r in figs["acceptance"] if r["claim"].startswith("audit"))

    run_id, before, row = coverage()
    assert before["method"] == "filestore" and before["complete"] and before["store_compared"] > 0, before
    assert row["met"] is True, row

    # a second demo into another database, from the same checkout and data folder
    res = xmc("--log-file", log, "demo", "--db", other, "--duration", "4", "--quiet")
    assert res.returncode == 0, res.stderr[-3000:]
    assert coverage() == (run_id, before, row)

    # the first run's store removed: checked against the numbers the run recorded, and it says so
    shutil.rmtree(data_folder / "demo" / run_id / "store-engine")
    _, gone, row = coverage()
    assert gone["complete"] and gone["checked"] == before["checked"] and gone["store_compared"] == 0
    assert all(s["store"].startswith("gone") for s in gone["sessions"].values())
    assert row["met"] is True and "0 outgoing compared" in row["measured"]
