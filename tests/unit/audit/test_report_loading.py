"""The report reads the audit database through SQLAlchemy: the same run gives the same figures from
SQLite and from PostgreSQL (exact decimals, nanosecond integers, booleans)."""

from __future__ import annotations

from xmc_fix.reports.figures import figures, load_run
from tests.unit.audit.audit_stubs import write_run


def test_a_run_loads_and_its_figures_are_computed(audit_url, tmp_path):
    stub = write_run(audit_url, spill_dir=tmp_path)

    data = load_run(audit_url, "latest")
    figs = figures(data)

    assert data.run["run_id"] == stub.run_id
    assert data.tickets["md_recv_ns"].dtype.name == "Int64"          # epoch ns stay exact integers
    assert round(float(data.tickets["basis"].iloc[0]), 9) == 262.512345679   # exact decimal, as a float
    assert (figs["tickets"], figs["tickets_completed"]) == (1, 1)
    assert figs["messages"]["in"] == 4 and figs["messages"]["out"] == 4
    assert figs["legs"]["SHFE"]["fills"] == 1 and figs["legs"]["SHFE"]["filled_lots"] == 5.0
    assert figs["latency_us"]["decision_to_send"]["p50"] == 310.0
