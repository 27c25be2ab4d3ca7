"""The metrics endpoint of a real demo (`xmc demo --metrics-port`: the simulator and the engine over
QuickFIX sessions), scraped over HTTP like Prometheus does: every metric the README lists is there
with plausible values (sessions up, fresh market data, tickets counted, latency histograms filled,
an operator's halt counted as alerts, a shadow pair's paper position), and counters only grow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import ROOT, SESSIONS, wait_until
from xmc_fix.demo import free_ports
from xmc_fix.metrics.collector import CATALOGUE
from xmc_fix.procutil import stop_child
from xmc_fix.venues.settings import load_session_file

pytestmark = pytest.mark.integration

PAIR, SHADOW = "CU_SHFE_LME", "CU_SHFE_COMEX"
#: the families a strategy of metals pairs shows (other dimensions' names stay absent)
EXPECTED = {n for n in CATALOGUE if not n.endswith(("_barrels", "_units"))}
#: the engine's sessions, order sessions and drop copies
N_SESSIONS = len(load_session_file(str(SESSIONS / "venues.cfg"), "initiator").sessions)


def _xmc(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", os.devnull, *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def _scrape(url: str) -> dict:
    """{(sample name, sorted labels): value}, and the family names, from one scrape."""
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    samples, families = {}, set()
    for fam in text_string_to_metric_families(text):
        families.add(fam.name + ("_total" if fam.type == "counter" else ""))
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return {"samples": samples, "families": families}


def _values(scrape: dict, name: str, **labels) -> dict:
    return {k[1]: v for k, v in scrape["samples"].items()
            if k[0] == name and all(dict(k[1]).get(a) == b for a, b in labels.items())}


def _one(scrape: dict, name: str, **labels) -> float:
    (v,) = _values(scrape, name, **labels).values()
    return v


@pytest.fixture
def work():
    d = Path(tempfile.mkdtemp(prefix="xmcm"))   # Unix socket paths must stay short
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_a_running_demo_exposes_every_listed_metric_with_plausible_values(work):
    (port,) = free_ports(1)
    sock = work / "c.sock"
    url = f"http://127.0.0.1:{port}/metrics"
    log = open(work / "demo.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "xmc_fix", "--log-file", str(work / "xmc.log"), "demo",
                             "--duration", "300", "--db", f"sqlite:///{work / 'demo.db'}", "--control", str(sock),
                             "--work-dir", str(work / "demo"), "--metrics-port", str(port)],
                            stdout=log, stderr=log, cwd=ROOT)
    try:
        def scrape_when(pred):
            def ok():
                if proc.poll() is not None:
                    raise AssertionError(f"xmc demo exited {proc.returncode}: see {work / 'demo.log'}")
                try:
                    return pred(_scrape(url))
                except OSError:
                    return False
            return ok

        finished = lambda s: sum(_values(s, "xmc_tickets_finished_total").values())  # noqa: E731
        assert wait_until(scrape_when(lambda s: sum(_values(s, "xmc_session_up").values()) == N_SESSIONS
                                      and finished(s) >= 2), timeout=90), "no tickets finished"
        # an operator's halt and resume: alerts, and a state the gauges follow
        assert _xmc("halt", "--socket", str(sock), "--pair", PAIR, "--reason", "metrics test").returncode == 0
        assert wait_until(scrape_when(lambda s: _one(s, "xmc_pair_trading_state", pair=PAIR, state="HALTED") == 1))
        assert _xmc("resume", "--socket", str(sock), "--pair", PAIR).returncode == 0
        # a pair in shadow shows its paper position (refused while one of its tickets is open: try again)
        assert wait_until(lambda: _xmc("set-mode", "--socket", str(sock), "--pair", SHADOW, "shadow").returncode == 0,
                          timeout=30)
        first = _scrape(url)
        time.sleep(2)
        s = _scrape(url)
    finally:
        stop_child(proc, timeout=60)

    missing = EXPECTED - s["families"]
    assert not missing, f"listed metrics missing from the endpoint: {sorted(missing)}"
    (info,) = _values(s, "xmc_engine_info")
    assert dict(info)["namespace"] == "X" and dict(info)["run_id"].startswith("X-")
    assert 0 < _one(s, "xmc_engine_snapshot_duration_seconds") < 1
    # sessions: all up, numbering well under way, messages counted both ways
    assert set(_values(s, "xmc_session_up").values()) == {1.0}
    assert len(_values(s, "xmc_session_up", role="drop_copy")) == 3
    for key, nxt in _values(s, "xmc_session_next_target_seq_num", role="order").items():
        assert nxt > 10, key
        assert _one(s, "xmc_session_messages_total", direction="in", **dict(key)) > 10
        assert _one(s, "xmc_session_messages_total", direction="out", **dict(key)) >= 1
    assert _one(s, "xmc_session_heartbeat_timeouts_total", venue="SHFE", role="order") == 0
    # market data fresh (the simulator quotes every 100 ms), four books
    ages = _values(s, "xmc_market_data_age_seconds")
    assert len(ages) == 4 and all(0 <= a < 5 for a in ages.values()), ages
    late = _values(s, "xmc_market_data_venue_age_seconds")     # by the venues' clocks: no backlog here
    assert set(late) == set(ages) and all(0 <= a < 5 for a in late.values()), late
    assert _one(s, "xmc_market_data_updates_total") > 100
    assert _one(s, "xmc_evaluations_shed_total") == 0
    # tickets counted, their decisions and acknowledgements in the histograms
    done = sum(_values(s, "xmc_tickets_finished_total").values())
    assert done >= 2 and _one(s, "xmc_tickets_started_total") >= done
    assert _one(s, "xmc_decision_latency_seconds_count") >= 2
    assert 0 < _one(s, "xmc_decision_latency_seconds_sum") / _one(s, "xmc_decision_latency_seconds_count") < 1
    shfe_acks = _one(s, "xmc_order_ack_latency_seconds_count", venue="SHFE")
    assert shfe_acks >= 2 and _one(s, "xmc_order_ack_latency_seconds_bucket", venue="SHFE", le="+Inf") == shfe_acks
    assert _one(s, "xmc_orders_sent_total", venue="SHFE") >= shfe_acks
    assert set(_values(s, "xmc_tickets_legged").values()) <= {0.0, 1.0}
    # states, modes, positions
    assert _one(s, "xmc_pair_trading_state", pair=PAIR, state="ACTIVE") == 1
    assert _one(s, "xmc_global_trading_state", state="ACTIVE") == 1
    assert _one(s, "xmc_pair_mode", pair=SHADOW, mode="shadow") == 1 and _one(s, "xmc_pair_mode", pair=PAIR,
                                                                               mode="live") == 1
    assert _values(s, "xmc_pair_paper_position_tonnes", pair=SHADOW)
    assert abs(_one(s, "xmc_pair_residual_tonnes", pair=PAIR)) <= 25
    assert len(_values(s, "xmc_position_lots", account="XMC01")) == 3
    assert _one(s, "xmc_alerts_total", kind="operator") >= 2                       # the halt and the resume
    assert 0 <= _one(s, "xmc_audit_backlog_records") < 10_000
    assert _one(s, "process_resident_memory_bytes") > 0
    # counters and histograms only grow between scrapes
    for key, v in first["samples"].items():
        if key[0].endswith(("_total", "_count", "_bucket")) and key in s["samples"]:
            assert s["samples"][key] >= v, key
