"""--from/--to/--pair: parsing, and one rule for every figure (tickets by decision time, their orders,
fills and transitions with them; messages and events by their own time and venue). On the
hand-built run of conftest.py."""

from __future__ import annotations

import pytest

from xmc_fix.errors import ConfigError
from xmc_fix.reports.figures import figures, load_run
from xmc_fix.reports.window import ReportFilter, parse_time

T0 = 1_704_164_645_000_000_000   # 2024-01-02T03:04:05Z, conftest's T0
S = 1_000_000_000


@pytest.mark.parametrize("text, ns", [
    ("1704164645000000000", T0),
    ("2024-01-02T03:04:05Z", T0),
    ("2024-01-02T03:04:05", T0),
    ("2024-01-02 03:04:05.5Z", T0 + S // 2),
    ("2024-01-02T03:04:05.000000001Z", T0 + 1),
    ("2024-01-02T04:04:05+01:00", T0),
    ("2024-01-02", T0 - (3 * 3600 + 4 * 60 + 5) * S),
])
def test_times_are_iso_8601_utc_or_epoch_ns(text, ns):
    assert parse_time(text) == ns


@pytest.mark.parametrize("text", ["yesterday", "2024-13-02T00:00:00Z", "02/01/2024", "-5"])
def test_a_bad_time_names_the_option(text):
    with pytest.raises(ConfigError, match="--to"):
        parse_time(text, "--to")


def test_an_empty_window_is_refused():
    with pytest.raises(ConfigError, match="--to is not after --from"):
        ReportFilter.parse("2024-01-02T03:04:06Z", "2024-01-02T03:04:05Z")


def test_a_window_keeps_the_tickets_decided_in_it_with_all_their_orders(cost_db):
    # TA decided T0+1s, TC T0+1.2s, TB T0+1.5s, TD T0+4s: [T0+1.1s, T0+4s) holds TC and TB only
    d = load_run(cost_db, filt=ReportFilter(T0 + 1100 * 10**6, T0 + 4 * S))

    assert sorted(d.tickets["ticket_id"]) == ["TB", "TC"]
    # TB's unwind order was sent 5 ms after its decision and still belongs to it
    assert sorted(d.orders["cl_ord_id"]) == ["B1", "B2", "B3", "C1", "C2"]
    assert sorted(d.fills["exec_id"]) == ["EB2", "EB3"]
    assert set(d.transitions["ticket_id"]) == {"TB"}


def test_a_window_counts_messages_and_signals_by_their_own_time(cost_db):
    f = figures(load_run(cost_db, filt=ReportFilter(T0 + 2 * S, None)))

    # from T0+2s: SHFE TestRequest out; heartbeat and market data in (SHFE), market data in (LME)
    assert (f["messages"]["in"], f["messages"]["out"]) == (3, 1)
    # CU_SHFE_LME: 6 signals by the last sample, 3 before the window: 3 in it; TD completed: 1 / 3
    lme = f["capture"]["by_pair"]["CU_SHFE_LME"]
    assert (lme["signals"], lme["denials"], lme["completed"], lme["rate"]) == (3, 1, 1, 0.333333)
    assert f["tickets"] == 1 and f["filter"]["from_ns"] == T0 + 2 * S


def test_a_pair_keeps_its_tickets_and_the_messages_of_its_venues(cost_db):
    d = load_run(cost_db, filt=ReportFilter(pair="CU_SHFE_COMEX"))
    f = figures(d)

    assert list(d.tickets["ticket_id"]) == ["TC"] and sorted(d.orders["cl_ord_id"]) == ["C1", "C2"]
    # SHFE and COMEX messages, less those about the other pair's order A1: out Logon, TestRequest;
    # in Logon, Heartbeat, market data
    assert (f["messages"]["in"], f["messages"]["out"]) == (3, 2)
    assert f["messages"]["by_session"].keys() == {"FIX.4.4:XMC->SHFE"}
    # events: the COMEX pair's basis sample and both session_up (SHFE, COMEX venues); not LME's
    assert f["events"] == {"basis": 1, "session_up": 2}
    assert f["capture"]["by_pair"] == {"CU_SHFE_COMEX": {"signals": 2, "denials": 0, "tickets": 1, "completed": 0,
                                                         "rate": 0.0}}
    assert f["legs"].keys() == {"SHFE", "COMEX"} and f["pairs"].keys() == {"CU_SHFE_COMEX"}


def test_a_pair_drops_repair_events_of_other_pairs(cost_db):
    d = load_run(cost_db, filt=ReportFilter(pair="CU_SHFE_COMEX"))

    assert "repair_step" not in set(d.events["kind"])
    assert "repair_step" in set(load_run(cost_db, filt=ReportFilter(pair="CU_SHFE_LME")).events["kind"])


def test_no_filter_reports_the_whole_run(cost_db):
    f = figures(load_run(cost_db))

    assert f["tickets"] == 4 and f["filter"] == {"from": None, "to": None, "from_ns": None, "to_ns": None,
                                                 "pair": None}
    assert (f["messages"]["in"], f["messages"]["out"]) == (7, 6)
