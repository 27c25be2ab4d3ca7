"""The metrics collector: facts rendered as Prometheus families (names, labels, values), histograms
and counters cumulative across scrapes, message counts from sequence numbers across a reset; the
engine snapshot it reads; and the README, dashboard and alert rules naming only metrics it has."""

from __future__ import annotations

import json
import re
from collections import deque
from decimal import Decimal as D
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.execution.test_engine import World, strategy  # noqa: F401  (fixture)
from xmc_fix.metrics.collector import CATALOGUE, EngineCollector
from xmc_fix.metrics.snapshot import Cursors, EngineFacts, PairFacts, SessionFacts, TailCursor, take

ROOT = Path(__file__).resolve().parents[3]
SESSION = "FIX.4.4:XMC->SHFE"


def _facts(**over) -> EngineFacts:
    pair = PairFacts("P", "HALTED", "shadow", "t", D(-25), D("0.36"), D(-50),
                     (("inner", "SHFE_CU", D(-5)), ("outer", "LME_CA", D(1))), 1, {"LEGGED": 1}, 3)
    fields = dict(now_ns=0, global_state="ACTIVE", pairs=(pair,), book_ages=(("SHFE", "CU", 0.25, 1.5),),
                  positions=(("ACC", "SHFE_CU", "SHFE", D(-5)),), foreign=(("ACC", "SHFE_CU", D(2)),),
                  tickets_started=7, finished=(("P", "COMPLETED"), ("P", "COMPLETED"), ("P", "UNWOUND")),
                  alerts={"session_down": 2}, decisions_ns=(300_000, 800_000, 2_000_000),
                  acks_ns=(("SHFE", 3_000_000),), md_updates=1000, orders={"SHFE": 4}, fills={"SHFE": 3},
                  rejects={"SHFE": 1}, legging_incidents=1, took_ns=150_000)
    return EngineFacts(**{**fields, **over})


class FakeSource:
    def __init__(self) -> None:
        self.info = {"run_id": "X-1", "namespace": "X", "shadow": False, "started_ns": 1_700_000_000_000_000_000,
                     "store_marks": {SESSION: {"next_out": 10, "next_in": 100}}}
        self.facts = [_facts()]
        self.seq = [(15, 180)]
        self.asked = []

    def engine(self, cursors):
        self.asked.append(cursors)
        return self.facts.pop(0) if len(self.facts) > 1 else self.facts[0]

    def sessions(self):
        out, inn = self.seq.pop(0) if len(self.seq) > 1 else self.seq[0]
        return [SessionFacts("SHFE", SESSION, "order", True, out, inn, 2, 1)]

    def audit_backlog(self):
        return 12


def _scrape(collector) -> dict:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    text = generate_latest(reg).decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _v(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_scrape_renders_every_fact_with_its_labels():
    s = _scrape(EngineCollector(FakeSource()))
    assert _v(s, "xmc_engine_info", run_id="X-1", namespace="X", shadow="false") == 1
    key = dict(venue="SHFE", session=SESSION, role="order")
    assert _v(s, "xmc_session_up", **key) == 1
    assert (_v(s, "xmc_session_next_sender_seq_num", **key), _v(s, "xmc_session_next_target_seq_num", **key)) == \
        (15, 180)
    # numbered since the start: 15 - 10 out, 180 - 100 in
    assert _v(s, "xmc_session_messages_total", direction="out", **key) == 5
    assert _v(s, "xmc_session_messages_total", direction="in", **key) == 80
    assert _v(s, "xmc_session_test_requests_sent_total", **key) == 2
    assert _v(s, "xmc_session_heartbeat_timeouts_total", **key) == 1
    assert _v(s, "xmc_market_data_age_seconds", venue="SHFE", symbol="CU") == 0.25
    assert _v(s, "xmc_market_data_venue_age_seconds", venue="SHFE", symbol="CU") == 1.5
    assert _v(s, "xmc_decision_latency_seconds_bucket", le="0.0005") == 1
    assert _v(s, "xmc_decision_latency_seconds_bucket", le="0.001") == 2
    assert _v(s, "xmc_decision_latency_seconds_count") == 3
    assert _v(s, "xmc_decision_latency_seconds_sum") == pytest.approx(0.0031)
    assert _v(s, "xmc_order_ack_latency_seconds_bucket", venue="SHFE", le="0.0025") == 0
    assert _v(s, "xmc_order_ack_latency_seconds_bucket", venue="SHFE", le="0.005") == 1
    assert _v(s, "xmc_tickets_finished_total", pair="P", state="COMPLETED") == 2
    assert _v(s, "xmc_tickets_finished_total", pair="P", state="FAILED") == 0
    assert _v(s, "xmc_tickets_open", pair="P", state="LEGGED") == 1 and _v(s, "xmc_tickets_legged", pair="P") == 1
    assert _v(s, "xmc_pair_trading_state", pair="P", state="HALTED") == 1
    assert _v(s, "xmc_pair_trading_state", pair="P", state="ACTIVE") == 0
    assert _v(s, "xmc_global_trading_state", state="ACTIVE") == 1
    assert _v(s, "xmc_pair_mode", pair="P", mode="shadow") == 1 and _v(s, "xmc_shadow_tickets_total", pair="P") == 3
    assert _v(s, "xmc_pair_position_tonnes", pair="P") == -25
    assert _v(s, "xmc_pair_residual_tonnes", pair="P") == pytest.approx(0.36)
    assert _v(s, "xmc_pair_paper_position_tonnes", pair="P") == -50
    assert _v(s, "xmc_pair_leg_position_lots", pair="P", leg="outer", instrument="LME_CA") == 1
    assert _v(s, "xmc_position_lots", account="ACC", instrument="SHFE_CU", venue="SHFE") == -5
    assert _v(s, "xmc_foreign_position_lots", account="ACC", instrument="SHFE_CU") == 2
    assert _v(s, "xmc_alerts_total", kind="session_down") == 2
    assert _v(s, "xmc_audit_backlog_records") == 12
    assert _v(s, "xmc_tickets_started_total") == 7 and _v(s, "xmc_orders_sent_total", venue="SHFE") == 4


def test_quantities_are_named_by_the_base_unit_of_their_dimension():
    src = FakeSource()
    oil = PairFacts("OIL", "ACTIVE", "live", "m3", D(159), D(0), None, (), 0, {}, 0)
    src.facts = [_facts(pairs=(oil,))]
    s = _scrape(EngineCollector(src))
    assert _v(s, "xmc_pair_position_barrels", pair="OIL") == pytest.approx(1000, rel=1e-3)   # 159 m3
    assert not any(name == "xmc_pair_paper_position_barrels" for name, _ in s)          # live: no paper


def test_histograms_and_counters_accumulate_across_scrapes_and_a_sequence_reset():
    src = FakeSource()
    src.facts = [_facts(), _facts(decisions_ns=(400_000,), finished=(("P", "COMPLETED"),), acks_ns=())]
    src.seq = [(15, 180), (3, 7)]               # a new session day: numbering began again at 1
    c = EngineCollector(src)
    _scrape(c)
    s = _scrape(c)
    assert _v(s, "xmc_decision_latency_seconds_count") == 4
    assert _v(s, "xmc_decision_latency_seconds_bucket", le="0.0005") == 2
    assert _v(s, "xmc_tickets_finished_total", pair="P", state="COMPLETED") == 3
    assert _v(s, "xmc_order_ack_latency_seconds_count", venue="SHFE") == 1
    key = dict(venue="SHFE", session=SESSION, role="order")
    assert _v(s, "xmc_session_messages_total", direction="out", **key) == 5 + 2
    assert _v(s, "xmc_session_messages_total", direction="in", **key) == 80 + 6
    assert src.asked[0] is src.asked[1]         # the same cursors: each sample counted once


def test_after_close_a_scrape_reads_nothing():
    src = FakeSource()
    c = EngineCollector(src)
    c.close()
    assert _scrape(c) == {} and src.asked == []


def test_the_tail_cursor_returns_each_sample_once_even_when_the_deque_rolls():
    d = deque(maxlen=10)
    cur = TailCursor()
    d.extend(range(4))
    assert cur.new(d) == [0, 1, 2, 3]
    assert cur.new(d) == []
    d.extend(range(4, 9))
    assert cur.new(d) == [4, 5, 6, 7, 8]
    d.extend(range(9, 15))                      # rolls: 5 .. 14 kept
    assert cur.new(d) == [9, 10, 11, 12, 13, 14]
    d.extend(range(15, 40))                     # more than maxlen since the last look: what is left
    assert cur.new(d) == list(range(30, 40))


def test_the_engine_snapshot_reads_tickets_acknowledgements_and_decisions_once(strategy):  # noqa: F811
    w = World(strategy)
    w.calm_market()
    cursors = Cursors(started_ns=0)
    w.cross_above()
    inner, outer = w.sender.sent
    w.fill(inner)
    w.fill(outer)
    f = take(w.engine, cursors)
    assert f.finished == (("P", "COMPLETED"),) and f.tickets_started == 1 and len(f.decisions_ns) == 1
    assert sorted(v for v, _ in f.acks_ns) == ["LME", "SHFE"]
    (p,) = f.pairs
    assert (p.pair, p.state, p.mode, p.position, p.residual) == ("P", "ACTIVE", "live", D(-25), D(0))
    assert ("ACC1", "SHFE_CU", "SHFE", D(-5)) in f.positions
    assert {(v, s) for v, s, _, _ in f.book_ages} == {("SHFE", "CU"), ("LME", "CA"), ("FX", "USD/CNH")}
    again = take(w.engine, cursors)
    assert again.finished == () and again.acks_ns == () and again.decisions_ns == ()


class ReaderOnly:
    """An engine as a reader may see it: its read-only view, its clock and its alerter, no state."""

    def __init__(self, engine) -> None:
        self.view, self.clock, self.alerts = engine.view, engine.clock, engine.alerts


def test_the_engine_snapshot_reads_through_the_read_only_view(strategy):  # noqa: F811
    w = World(strategy)
    w.calm_market()
    w.complete_a_ticket()

    f = take(ReaderOnly(w.engine), Cursors(started_ns=0))

    assert f.finished == (("P", "COMPLETED"),) and len(f.decisions_ns) == 1 and len(f.acks_ns) == 2
    assert ("ACC1", "SHFE_CU", "SHFE", D(-5)) in f.positions and f.orders == {"SHFE": 1, "LME": 1}


def _names_in(text: str) -> set[str]:
    return set(re.findall(r"\bxmc_[a-z_]+", text))


def _base(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in CATALOGUE:
            return name[: -len(suffix)]
    return name


def test_the_readme_lists_every_metric_and_the_monitoring_files_use_only_real_ones():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert set(CATALOGUE) <= _names_in(section), set(CATALOGUE) - _names_in(section)
    monitoring = ROOT / "sessions" / "monitoring"
    rules = (monitoring / "alert-rules.yml").read_text()
    dashboard = json.loads((monitoring / "grafana-dashboard.json").read_text())
    used = _names_in(rules) | _names_in(json.dumps(dashboard))
    assert used and {_base(n) for n in used} <= set(CATALOGUE), {_base(n) for n in used} - set(CATALOGUE)
    for alert in ("LeggedExposure", "SessionDown", "StaleMarketData", "AuditBacklog"):
        assert f"alert: {alert}" in rules
