"""Reports of a real engine + simulator session: every format renders, and the latency, slippage
and clock figures are present and consistent with the orders stored (never judged on speed)."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest
from sqlalchemy import create_engine, text

from xmc_fix.reports import costs
from xmc_fix.reports.figures import figures, load_run, render_csv, render_json, render_table
from xmc_fix.reports.html import render_html
from xmc_fix.reports.venueclock import clock_samples

pytestmark = pytest.mark.integration


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.cells = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.cells.append(data.strip())


def _scalar(db, sql, **params):
    eng = create_engine(db)
    with eng.connect() as conn:
        v = conn.execute(text(sql), params).scalar()
    eng.dispose()
    return v


def test_every_report_format_of_a_real_session(sim, engine_factory, tmp_path):
    eng = engine_factory()
    eng.run(10)
    sim.proc.stop()
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    data = load_run(db, eng.run_id)
    figs = figures(data)
    assert figs["tickets"] >= 1 and figs["conversions"]["source"] == "strategy"

    # latencies are never negative, per order and per ticket
    ol, tl = costs.order_latency(data), costs.ticket_latency(data)
    for col in ("decision_to_send_us", "send_to_ack_us", "send_to_first_fill_us", "send_to_last_fill_us"):
        assert (ol[col].dropna() >= 0).all(), col
    for col in ("decision_to_send_us", "send_to_ack_us", "send_to_last_fill_us", "decision_to_end_us"):
        assert (tl[col].dropna() >= 0).all(), col

    # counts match the orders table
    acked = _scalar(db, "select count(*) from orders where run_id=:r and sent_ns is not null and ack_ns is not null",
                    r=eng.run_id)
    assert figs["order_response_us"]["n"] == acked > 0
    assert sum(v["send_to_ack"]["n"] for v in figs["latency_by_venue_us"].values()) == acked
    filled_entries = _scalar(db, "select count(*) from orders where run_id=:r and role='ENTRY' and cast(cum_qty as real) > 0",
                             r=eng.run_id)
    assert figs["slippage"]["orders"] == filled_entries > 0
    assert figs["slippage"]["vs_decision"]["total_ccy"] is not None and figs["slippage"]["currency"] == "CNY"
    assert figs["shortfall"]["tickets"] == len(tl) and figs["shortfall"]["fees_ccy"] == 0.0
    assert figs["capture"]["signals"] >= figs["capture"]["completed"] >= 1

    # clock: one sample per order the venue answered; our clock and the simulator's are the same
    # machine's, so every estimate lies within its own error bound (plus 2 us of timestamp truncation)
    sent_d = _scalar(db, "select count(distinct cl_ord_id) from fix_messages where run_id=:r and direction='out' "
                         "and msg_type='D'", r=eng.run_id)
    s = clock_samples(data.wire)
    assert 0 < len(s[s["kind"] == "order"]) <= sent_d
    assert (s["delay_us"] >= -2).all()
    assert ((s["offset_us"].abs() - s["delay_us"] / 2) <= 2).all()
    for venue, c in figs["clock"]["venues"].items():
        if c["samples"]:
            assert abs(c["offset_us"]) <= c["offset_error_us"] + 2, (venue, c)

    assert figs["coverage"]["rate"] == 1.0

    # every rendering
    assert json.loads(render_json(figs))["run_id"] == eng.run_id
    rows = dict(list(csv.reader(io.StringIO(render_csv(figs))))[1:])
    assert rows["order_response_us.n"] == str(acked)
    table = render_table(figs)
    assert "latency by venue (us)" in table and "acceptance" in table
    page = _Images()
    page.feed(render_html(figs, data))
    assert len(page.images) == 4 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert {"order response < 200 ms", "audit coverage 100 %"} <= set(page.cells)
