"""Venue clock offset and one-way latency from FIX timestamps (NTP on-wire), on the hand-built run
of conftest.py: SHFE's clock is 1 ms ahead of ours, LME's is ours."""

from __future__ import annotations

import pytest

from xmc_fix.reports.figures import figures, load_run
from xmc_fix.fixwire import parse_utc_ns as fix_time_ns
from xmc_fix.fixwire import text_value as tag
from xmc_fix.reports.venueclock import clock_estimates, clock_samples


@pytest.fixture
def wire(cost_db):
    return load_run(cost_db).wire


def test_fix_timestamps_parse_to_epoch_ns_at_any_precision():
    assert fix_time_ns("20240102-03:04:05") == 1_704_164_645_000_000_000
    assert fix_time_ns("20240102-03:04:05.123") == 1_704_164_645_123_000_000
    assert fix_time_ns("20240102-03:04:05.123456789") == 1_704_164_645_123_456_789
    assert fix_time_ns("yesterday") is None and fix_time_ns(None) is None


def test_tag_values_are_read_from_raw_bytes():
    raw = b"8=FIX.4.4\x0135=0\x01112=TR1\x0110=000\x01"
    assert (tag(raw, 8), tag(raw, 112), tag(raw, 12), tag(raw, 11)) == ("FIX.4.4", "TR1", None, None)


def test_an_order_round_trip_gives_ntp_delay_and_offset(wire):
    s = clock_samples(wire)
    a1 = s[(s["kind"] == "order") & (s["ref"] == "A1")].iloc[0]

    # t0 = 0, t1 = +1100 (venue), t2 = +1150 (venue), t3 = +300 (ours), in us:
    # delay = (300 - 0) - (1150 - 1100) = 250; offset = ((1100 - 0) + (1150 - 300)) / 2 = 975
    assert (a1["venue"], a1["delay_us"], a1["offset_us"]) == ("SHFE", 250.0, 975.0)


def test_a_test_request_answered_by_a_heartbeat_is_a_sample(wire):
    s = clock_samples(wire)
    tr = s[s["kind"] == "test_request"].iloc[0]

    # t0 = 0, t1 = t2 = +1100 (venue), t3 = +200: delay 200, offset ((1100) + (1100 - 200)) / 2 = 1000
    assert (tr["venue"], tr["ref"], tr["delay_us"], tr["offset_us"]) == ("SHFE", "TR1", 200.0, 1000.0)


def test_the_venue_offset_is_that_of_the_least_delayed_sample(wire):
    est = clock_estimates(wire).set_index("venue")
    shfe, lme = est.loc["SHFE"], est.loc["LME"]

    assert (shfe["samples"], shfe["offset_us"], shfe["offset_error_us"], shfe["delay_min_us"]) == (2, 1000.0, 100.0, 200.0)
    assert shfe["offset_p50_us"] == 987.5                # median of 975 and 1000
    # one way out: t1 - t0 - offset = 1100 - 1000 = 100 for both samples
    assert shfe["one_way_out_p50_us"] == 100.0
    # one way in: t3 - t2 + offset: order 300 - 1150 + 1000 = 150, heartbeat 200 - 1100 + 1000 = 100
    assert shfe["one_way_in_p50_us"] == 125.0
    # LME: stamped t0+200, received t0+400: delay 400, offset ((200) + (200 - 400)) / 2 = 0
    assert (lme["samples"], lme["offset_us"], lme["delay_min_us"], lme["one_way_out_p50_us"]) == (1, 0.0, 400.0, 200.0)


def test_every_inbound_message_gives_a_one_way_latency_once_corrected(wire):
    shfe = clock_estimates(wire).set_index("venue").loc["SHFE"]

    # receipt - SendingTime: Logon -800, report 300 - 1150 = -850, heartbeat -900, market data -700;
    # + offset 1000: 200, 150, 100, 300 -> median 175; uncorrected median (-850 - 800) / 2 = -825
    assert (shfe["inbound_messages"], shfe["inbound_one_way_p50_us"], shfe["inbound_apparent_p50_us"]) == \
           (4, 175.0, -825.0)


def test_the_report_carries_the_clock_per_venue(cost_db):
    clock = figures(load_run(cost_db))["clock"]

    assert clock["venues"]["SHFE"]["offset_us"] == 1000.0 and "NTP" in clock["method"]
