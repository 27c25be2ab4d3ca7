"""The metrics server: rendered in a process of its own over HTTP on 127.0.0.1, from facts the
engine's process reads and hands over; the process metrics describe the engine's process; a taken
port is a configuration error; after stop nothing is read and nothing answers."""

from __future__ import annotations

import os
import socket
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.metrics.test_collector import FakeSource, _facts
from xmc_fix.demo import free_ports
from xmc_fix.errors import ConfigError
from xmc_fix.metrics.server import MetricsServer


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


class CountingSource(FakeSource):
    """Records the thread each read happens on (the engine's process, never the renderer)."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.pids: list[int] = []

    def engine(self, cursors):
        self.threads.append(threading.current_thread().name)
        self.pids.append(os.getpid())
        return super().engine(cursors)


def test_scrapes_are_rendered_by_another_process_from_facts_this_process_reads():
    src = CountingSource()
    src.facts = [_facts(decisions_ns=(300_000,)), _facts(decisions_ns=(800_000,))]
    server = MetricsServer(free_ports(1)[0], src).start()
    try:
        assert server.renderer_pid not in (None, os.getpid())
        first = _get(server.url)
        second = _get(server.url)
    finally:
        server.stop()
    assert src.pids == [os.getpid()] * 2 and src.threads == ["xmc-metrics-facts"] * 2
    assert first[("xmc_engine_info", (("namespace", "X"), ("run_id", "X-1"), ("shadow", "false")))] == 1
    # the renderer keeps the histogram: the second scrape has both decisions
    assert first[("xmc_decision_latency_seconds_count", ())] == 1
    assert second[("xmc_decision_latency_seconds_count", ())] == 2
    # the process metrics are the engine's process (this one), not the renderer's
    assert second[("process_max_fds", ())] > 0 and second[("process_resident_memory_bytes", ())] > 0
    assert second[("process_start_time_seconds", ())] == pytest.approx(_start_time(os.getpid()), abs=1)


def _start_time(pid: int) -> float:
    """A process's start time (Unix seconds), as prometheus_client computes it."""
    with open("/proc/stat") as f:
        boot = next(float(line.split()[1]) for line in f if line.startswith("btime"))
    with open(f"/proc/{pid}/stat") as f:
        ticks = float(f.read().rsplit(")", 1)[1].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def test_a_taken_port_is_a_configuration_error_naming_the_key():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        with pytest.raises(ConfigError) as e:
            MetricsServer(s.getsockname()[1], FakeSource(), key="engine.metrics_port", file="strategy.toml").start()
    finally:
        s.close()
    assert "engine.metrics_port" in str(e.value) and "cannot listen" in str(e.value)


def test_after_stop_no_fact_is_read_and_the_port_is_closed():
    src = CountingSource()
    server = MetricsServer(free_ports(1)[0], src).start()
    url = server.url
    _get(url)
    server.stop()
    assert len(src.pids) == 1
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _get(url)
    server.stop()       # twice is harmless
