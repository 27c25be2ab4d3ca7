"""``xmc audit trace``: a ticket's decision chain as one timeline of stored rows, oldest first, with
the time between steps; the market data is the last received from each leg's venue before the
deciding callback; table and JSON output; the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xmc_fix.audit.trace import describe_message, fmt_ns, render_table, trace
from xmc_fix.cli import cli
from xmc_fix.errors import ConfigError
from tests.unit.audit.audit_stubs import MS, T0, fix_text, incoming, write_run


@pytest.fixture
def run(audit_url, tmp_path):
    return write_run(audit_url, spill_dir=tmp_path)


def test_the_timeline_runs_from_market_data_to_the_last_transition(audit_url, run):
    tr = trace(audit_url, run.ticket_id)

    steps = [(s["step"], s["what"].split(" ")[0]) for s in tr["steps"]]
    assert steps == [("market data", "inner"), ("decision", "market-data"), ("risk", "verdict"),
                     ("decision", "basis"), ("fix out", "SHFE"), ("order", "INNER"), ("order", "OUTER"),
                     ("ticket", "PENDING"), ("fix in", "SHFE"), ("fill", "SHFE"), ("event", "repair_step"),
                     ("ticket", "WORKING")]
    times = [s["ts_ns"] for s in tr["steps"]]
    assert times == sorted(times)
    assert [s["dt_prev_ns"] for s in tr["steps"][1:]] == [b - a for a, b in zip(times, times[1:])]


def test_the_market_data_is_the_last_received_before_the_deciding_callback(audit_url, run):
    tr = trace(audit_url, run.ticket_id)

    md = tr["steps"][0]
    assert md["ref"]["table"] == "fix_message_batches" and md["ts_ns"] == T0 + 6 * MS   # stored in bulk
    assert md["since_md_ns"] == -50_000
    assert "MarketDataIncrementalRefresh CU" in md["detail"] and "best bid 77300 x 40" in md["detail"]


def test_the_decision_shows_basis_books_and_fx_from_the_ticket(audit_url, run):
    decision = next(s for s in trace(audit_url, run.ticket_id)["steps"] if s["what"].startswith("basis"))

    assert decision["what"] == "basis 262.512346 vs 250"
    assert "inner 77300 x 32 / 77310 x 15" in decision["detail"] and "at FX 7.2" in decision["detail"]


def test_every_step_names_the_row_it_comes_from(audit_url, run):
    tr = trace(audit_url, run.ticket_id)

    refs = [s["ref"] for s in tr["steps"] if s["what"] != "market-data callback entered"]
    assert all(r and r["table"] for r in refs)


def test_json_keeps_exact_decimals(audit_url, run):
    tr = json.loads(CliRunner().invoke(cli, ["--log-file", "/dev/null", "audit", "trace", run.ticket_id, "--db",
                                             audit_url, "--format", "json"]).output)

    assert tr["ticket"]["basis"] in ("262.5123456789012345", "262.512345678901")   # PostgreSQL keeps 12 places
    assert tr["ticket"]["ticket_id"] == run.ticket_id and len(tr["steps"]) == 12


def test_the_table_has_one_line_per_step(audit_url, run):
    res = CliRunner().invoke(cli, ["--log-file", "/dev/null", "audit", "trace", run.ticket_id, "--db", audit_url])

    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].startswith(f"ticket {run.ticket_id}  pair CU_SHFE_LME  SELL_BASIS OPEN  state COMPLETED")
    assert sum(1 for l in lines if l[:2].isdigit() and l[2] == ":") == 12
    assert "12 steps from" in lines[-1]


def test_an_unknown_ticket_is_a_usage_error(audit_url, run):
    with pytest.raises(ConfigError, match="ticket 'NOPE' not found"):
        trace(audit_url, "NOPE")
    res = CliRunner().invoke(cli, ["--log-file", "/dev/null", "audit", "trace", "NOPE", "--db", audit_url])
    assert res.exit_code == 2 and "ticket 'NOPE' not found" in res.output


@pytest.mark.parametrize("raw, expected", [
    (incoming("8", ("11", "A1"), ("17", "E9"), ("150", "F"), ("39", "1"), ("32", "2"), ("31", "80010"), ("14", "2"),
              ("151", "3"), seq=9), "ExecutionReport ExecType Trade, OrdStatus PartiallyFilled, LastQty 2, LastPx 80010, "
                                    "CumQty 2, Leaves 3, ExecID E9"),
    (incoming("8", ("11", "A1"), ("150", "0"), ("39", "0"), ("43", "Y"), seq=9),
     "ExecutionReport ExecType New, OrdStatus New, (possible duplicate)"),
    (fix_text("F", ("11", "A2"), ("41", "A1"), ("55", "CU"), ("54", "1")),
     "OrderCancelRequest ClOrdID A2 (orig A1) BUY CU"),
    (incoming("W", ("55", "CU"), ("268", "3"), ("269", "0"), ("270", "10"), ("271", "1"), ("269", "0"), ("270", "11"),
              ("271", "2"), ("269", "1"), ("270", "12"), ("271", "3"), seq=2),
     "MarketDataSnapshot CU 3 entries, top bid 11 x 2 / ask 12 x 3"),
])
def test_messages_are_described_for_people(raw, expected):
    msg_type = next(f.split("=")[1] for f in raw.split("\x01") if f.startswith("35="))
    assert describe_message(msg_type, raw.encode()) == expected


@pytest.mark.parametrize("ns, text", [(None, "-"), (0, "+0 ns"), (999, "+999 ns"), (1_500, "+1.5 us"),
                                      (-50_000, "-50.0 us"), (2_345_678, "+2.346 ms"), (3_000_000_000, "+3.000 s")])
def test_durations_are_readable(ns, text):
    assert fmt_ns(ns, signed=True) == text


def test_render_table_without_steps_does_not_fail():
    tr = {"ticket": {k: None for k in ("ticket_id", "pair", "direction", "intent", "state", "run_id", "basis",
                                       "threshold", "planned_residual", "unit", "inner_filled_lots",
                                       "inner_target_lots", "outer_filled_lots", "outer_target_lots", "residual")},
          "steps": []}
    assert "time (UTC)" in render_table(tr)
