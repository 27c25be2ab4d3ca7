"""Report figures computed from a small audit database written row by row: tickets, alignment,
message counts, legs per venue, latencies; and the JSON, CSV and table renderings of them."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D

import pytest
from sqlalchemy import insert

from xmc_fix.audit import models
from xmc_fix.audit.writer import make_engine, message_row
from xmc_fix.reports.figures import ReportError, figures, load_run, render_csv, render_json, render_table

SOH = "\x01"
T0 = 1_704_164_645_000_000_000   # 2024-01-02T03:04:05Z
US = 1_000
SHFE, LME = "FIX.4.4:XMC->SHFE", "FIX.4.4:XMC->LME"


# -- stub factories ----------------------------------------------------------------------------
def run_row(**overrides) -> dict:
    fields = dict(run_id="R1", role="engine", started_ns=T0, ended_ns=T0 + 90_500_000_000, namespace="X")
    return {**fields, **overrides}


def ticket_row(ticket_id: str, state: str = "COMPLETED", *, decision_us: int | None = 40, **overrides) -> dict:
    """A ticket decided at T0 + 1 s whose entry orders left ``decision_us`` later."""
    md = T0 + 1_000_000_000
    fields = dict(ticket_id=ticket_id, run_id="R1", pair="CU_SHFE_LME", direction="SELL_BASIS", intent="OPEN",
                  state=state, md_recv_ns=md, created_ns=md + 5 * US,
                  sent_ns=None if decision_us is None else md + decision_us * US, basis=D("262.5"),
                  residual=D(0))
    return {**fields, **overrides}


def order_row(cl_ord_id: str, venue: str = "SHFE", status: str = "FILLED", *, cum_qty="5", sent_us: int = 0,
              ack_us: int | None = 100, **overrides) -> dict:
    sent = T0 + 2_000_000_000 + sent_us * US
    fields = dict(cl_ord_id=cl_ord_id, run_id="R1", ticket_id="T1", leg="INNER" if venue == "SHFE" else "OUTER",
                  role="ENTRY", venue=venue, symbol="CU" if venue == "SHFE" else "CA", side="SELL", qty=D(5),
                  ord_type="LIMIT", price=D(80000), tif="IOC", status=status, cum_qty=D(cum_qty), created_ns=sent,
                  sent_ns=sent, ack_ns=None if ack_us is None else sent + ack_us * US)
    return {**fields, **overrides}


def fill_row(exec_id: str, cl_ord_id: str, venue: str = "SHFE", *, recv_ns: int, **overrides) -> dict:
    fields = dict(run_id="R1", venue=venue, exec_id=exec_id, cl_ord_id=cl_ord_id, qty=D(5), price=D(80000),
                  recv_ns=recv_ns)
    return {**fields, **overrides}


def fix_message(session: str, direction: str, msg_type: str, *, run_id: str = "R1") -> dict:
    raw = f"8=FIX.4.4{SOH}9=5{SOH}35={msg_type}{SOH}34=1{SOH}10=000{SOH}"
    return message_row(run_id, session, session.rsplit(">", 1)[1], direction, raw, T0)


def event_row(kind: str, **overrides) -> dict:
    return {**dict(run_id="R1", ts_ns=T0, kind=kind), **overrides}


def write_db(url: str, **tables: list[dict]) -> None:
    eng = make_engine(url)
    with eng.begin() as conn:
        for name, rows in tables.items():
            if rows:
                conn.execute(insert(models.TABLES[name]), rows)
    eng.dispose()


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def run_db(url) -> str:
    """Run R1: five tickets (two completed, one legged, one unwound, one still working), orders and
    fills on SHFE and LME, FIX traffic, events; plus an older engine run and a later simulator run
    whose rows must not be counted."""
    send_done = T0 + 2_000_000_000
    write_db(
        url,
        runs=[run_row(run_id="R0", started_ns=T0 - 10**12, ended_ns=T0 - 10**11),
              run_row(),
              run_row(run_id="SIM", role="sim", started_ns=T0 + 10**9)],
        tickets=[ticket_row("T1", decision_us=40, basis=D("250")),
                 ticket_row("T2", decision_us=20, basis=D("300")),
                 ticket_row("T3", "LEGGED", decision_us=60, residual=D("5"), basis=D("280")),
                 ticket_row("T4", "UNWOUND", decision_us=80, pair="CU_SHFE_COMEX", basis=D("-310")),
                 ticket_row("T5", "WORKING", decision_us=None, pair="CU_SHFE_COMEX", basis=D("-305")),
                 ticket_row("OLD", run_id="R0", decision_us=9_999)],
        orders=[order_row("S1", "SHFE", ack_us=100),
                order_row("S2", "SHFE", ack_us=300, sent_us=10),
                order_row("S3", "SHFE", "REJECTED", cum_qty="0", ack_us=200, sent_us=20),
                order_row("S4", "SHFE", "FILLED", role="CHASE", ack_us=5_000),
                order_row("L1", "LME", cum_qty="1", ack_us=400),
                order_row("L2", "LME", "CANCELED", cum_qty="0.5", ack_us=None),
                order_row("OLD1", "SHFE", run_id="R0")],
        fills=[fill_row("E1", "S1", recv_ns=send_done + 150 * US),
               fill_row("E2", "S1", recv_ns=send_done + 900 * US),
               fill_row("E3", "S2", recv_ns=send_done + 10 * US + 350 * US),
               fill_row("E4", "L1", "LME", recv_ns=send_done + 500 * US),
               fill_row("E5", "OLD1", run_id="R0", recv_ns=T0)],
        fix_messages=[fix_message(SHFE, "out", "A"), fix_message(SHFE, "out", "D"), fix_message(SHFE, "out", "D"),
                      fix_message(SHFE, "in", "A"), fix_message(SHFE, "in", "8"), fix_message(SHFE, "in", "8"),
                      fix_message(SHFE, "in", "8"), fix_message(LME, "out", "D"), fix_message(LME, "in", "8"),
                      fix_message(LME, "in", "0", run_id="R0")],
        events=[event_row("alert"), event_row("alert"), event_row("halt"), event_row("alert", run_id="R0")],
    )
    return url


@pytest.fixture
def figs(run_db) -> dict:
    return figures(load_run(run_db))


# -- which run -------------------------------------------------------------------------------------
def test_latest_engine_run_is_reported_by_default(run_db):
    assert load_run(run_db).run["run_id"] == "R1"
    assert load_run(run_db, "latest").run["run_id"] == "R1"


def test_a_named_run_is_reported(run_db):
    f = figures(load_run(run_db, "R0"))

    assert (f["run_id"], f["tickets"], f["messages"]["in"], f["events"]) == ("R0", 1, 1, {"alert": 1})


def test_unknown_run_is_an_error(run_db):
    with pytest.raises(ReportError, match="run 'R9' not found"):
        load_run(run_db, "R9")


def test_database_without_an_engine_run_is_an_error(url):
    write_db(url, runs=[run_row(run_id="SIM", role="sim")])

    with pytest.raises(ReportError, match="no engine run"):
        load_run(url)


# -- figures -------------------------------------------------------------------------------------
def test_run_times(figs):
    assert (figs["run_id"], figs["started"], figs["ended"], figs["duration_s"]) == \
           ("R1", "2024-01-02T03:04:05.000000Z", "2024-01-02T03:05:35.500000Z", 90.5)


def test_tickets_are_counted_by_state(figs):
    assert figs["tickets"] == 5
    assert figs["tickets_completed"] == 2
    assert figs["tickets_by_state"] == {"COMPLETED": 2, "LEGGED": 1, "UNWOUND": 1, "WORKING": 1}


def test_alignment_rate_is_aligned_over_settled_tickets(figs):
    # settled: T1 T2 T3 T4 (T5 still works); aligned: T1 T2 (completed) and T4 (unwound)
    assert figs["alignment_rate"] == 0.75


def test_messages_are_counted_in_and_out_per_session(figs):
    assert figs["messages"] == {"in": 5, "out": 4,
                                "by_session": {SHFE: {"in": 4, "out": 3}, LME: {"in": 1, "out": 1}}}


def test_legs_count_orders_fills_and_rejects_per_venue(figs):
    assert figs["legs"] == {"SHFE": {"orders": 4, "fills": 3, "rejects": 1, "filled_lots": 15.0},
                            "LME": {"orders": 2, "fills": 1, "rejects": 0, "filled_lots": 1.5}}


def test_decision_to_send_latency_is_send_minus_market_data_receive_in_microseconds(figs):
    # 40, 20, 60, 80 us; T5 has not sent anything and the other run's ticket is not counted
    assert figs["latency_us"]["decision_to_send"] == {"n": 4, "p50": 50.0, "p99": 79.4, "max": 80.0}


def test_send_to_ack_latency_covers_entry_orders_only(figs):
    # S1 100, S2 300, S3 200, L1 400 us; S4 is a chase order, L2 was never acknowledged
    assert figs["latency_us"]["send_to_ack"] == {"n": 4, "p50": 250.0, "p99": 397.0, "max": 400.0}


def test_send_to_first_fill_latency_takes_each_orders_earliest_fill(figs):
    # S1 150 (not 900), S2 350, L1 500 us
    assert figs["latency_us"]["send_to_first_fill"] == {"n": 3, "p50": 350.0, "p99": 497.0, "max": 500.0}


def test_pairs_summarise_their_tickets(figs):
    assert figs["pairs"] == {
        "CU_SHFE_COMEX": {"tickets": 2, "completed": 0, "legged": 0, "residual_units": 0.0,
                          "basis_at_decision": {"min": -310.0, "max": -305.0}},
        "CU_SHFE_LME": {"tickets": 3, "completed": 2, "legged": 1, "residual_units": 5.0,
                        "basis_at_decision": {"min": 250.0, "max": 300.0}},
    }


def test_events_are_counted_by_kind(figs):
    assert figs["events"] == {"alert": 2, "halt": 1}


def test_run_with_nothing_recorded_has_empty_figures(url):
    write_db(url, runs=[run_row(ended_ns=None)])

    f = figures(load_run(url))

    assert (f["tickets"], f["tickets_completed"], f["alignment_rate"], f["ended"], f["duration_s"]) == \
           (0, 0, None, None, None)
    assert f["messages"] == {"in": 0, "out": 0, "by_session": {}}
    assert (f["legs"], f["pairs"], f["events"], f["tickets_by_state"]) == ({}, {}, {}, {})
    assert f["latency_us"] == {"decision_to_send": {"n": 0, "p50": None, "p99": None, "max": None}}


def test_tickets_that_never_sent_have_no_decision_latency(url):
    write_db(url, runs=[run_row()], tickets=[ticket_row("T1", "MISSED", decision_us=None),
                                              ticket_row("T2", "MISSED", decision_us=None)])

    f = figures(load_run(url))

    assert f["latency_us"]["decision_to_send"]["n"] == 0
    assert f["alignment_rate"] == 1.0


# -- renderings ------------------------------------------------------------------------------------
def test_json_rendering_is_the_figures(figs):
    assert json.loads(render_json(figs)) == figs


def test_json_rendering_writes_decimals_as_numbers():
    assert json.loads(render_json({"x": D("1.5")})) == {"x": 1.5}


def test_csv_rendering_has_one_row_per_figure_under_its_dotted_name(figs):
    rows = list(csv.reader(io.StringIO(render_csv(figs))))

    assert rows[0] == ["figure", "value"]
    values = dict(rows[1:])
    assert len(values) == len(rows) - 1
    assert values["tickets"] == "5"
    assert values["alignment_rate"] == "0.75"
    assert values["ended"] == "2024-01-02T03:05:35.500000Z"
    assert values["latency_us.decision_to_send.p50"] == "50.0"
    assert values["legs.SHFE.rejects"] == "1"
    assert values[f"messages.by_session.{SHFE}.in"] == "4"
    assert values["pairs.CU_SHFE_LME.basis_at_decision.max"] == "300.0"


def test_csv_rendering_leaves_missing_figures_empty(url):
    write_db(url, runs=[run_row(ended_ns=None)])

    values = dict(list(csv.reader(io.StringIO(render_csv(figures(load_run(url))))))[1:])

    assert values["alignment_rate"] == "" and values["latency_us.decision_to_send.p50"] == ""


def test_table_rendering_shows_the_headline_figures(figs):
    text = render_table(figs)

    assert "run R1  2024-01-02T03:04:05.000000Z .. 2024-01-02T03:05:35.500000Z  (90.5 s)" in text
    [tickets] = [line for line in text.splitlines() if line.startswith("tickets ")]
    assert tickets.startswith("tickets            5   ")
    assert all(part in tickets for part in ("completed 2", "legged 1", "unwound 1", "working 1"))
    assert "alignment rate     75 %" in text
    assert "FIX messages       in 5  out 4" in text
    assert f"{'decision_to_send':<22}{4:>6}{'50':>10}{'79.4':>10}{'80':>10}" in text
    assert f"{'SHFE':<10}{4:>8}{3:>8}{1:>9}{'15':>10}" in text
    assert f"{'CU_SHFE_LME':<16}{3:>8}{2:>6}{1:>8}{'250':>12}{'300':>12}" in text


def test_table_rendering_of_an_empty_run_uses_dashes(url):
    write_db(url, runs=[run_row(ended_ns=None)])

    text = render_table(figures(load_run(url)))

    assert "(running)" in text and "alignment rate     - %" in text
    assert f"{'decision_to_send':<22}{0:>6}{'-':>10}{'-':>10}{'-':>10}" in text
