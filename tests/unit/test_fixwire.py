"""The FIX wire format: reading tags out of text and bytes, framing, CheckSum, and UTCTimestamps at
every precision, against QuickFIX's own reading of the same messages where it has one."""

from __future__ import annotations

import calendar

import pytest
import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from xmc_fix import fixwire as fw

SOH = "\x01"
NOW = calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000_000 + 123_456_789   # 20240102-03:04:05.123456789
HEARTBEAT = "8=FIX.4.4\x019=5\x0135=0\x01112=TR1\x0110=000\x01"


# -- wire helpers --------------------------------------------------------------------------------
def test_split_keeps_every_field_in_order_and_fields_keeps_the_last():
    raw = "8=FIX.4.4\x0135=V\x01269=0\x01269=1\x0158=a=b\x01"

    assert fw.split(raw) == [("8", "FIX.4.4"), ("35", "V"), ("269", "0"), ("269", "1"), ("58", "a=b")]
    assert fw.fields(raw) == {"8": "FIX.4.4", "35": "V", "269": "1", "58": "a=b"}


# -- timestamps ----------------------------------------------------------------------------------
@pytest.mark.parametrize("digits, text, back", [
    (9, "20240102-03:04:05.123456789", NOW),
    (6, "20240102-03:04:05.123456", NOW - 789),
    (3, "20240102-03:04:05.123", NOW - 456_789),
    (0, "20240102-03:04:05", NOW - 123_456_789),
])
def test_format_utc_truncates_to_the_digits_asked_and_parses_back(digits, text, back):
    assert fw.format_utc(NOW, digits) == text
    assert fw.parse_utc_ns(text) == back


def test_format_utc_defaults_to_microseconds():
    assert fw.format_utc(NOW) == "20240102-03:04:05.123456"


def test_format_utc_is_right_when_seconds_alternate():
    later = NOW + 61_000_000_000

    assert [fw.format_utc(t, 3) for t in (NOW, later, NOW)] == \
           ["20240102-03:04:05.123", "20240102-03:05:06.123", "20240102-03:04:05.123"]


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))  # up to 2100
def test_nanosecond_timestamps_survive_a_round_trip(ns):
    assert fw.parse_utc_ns(fw.format_utc(ns, 9)) == ns


@pytest.mark.parametrize("value", [None, "", "20240102", "20240102-03:04", "2024AB02-03:04:05",
                                   "20240102-03:04:0x", "20240102-03:04:05.12x", "20241302-03:04:05"])
def test_absent_or_malformed_timestamps_parse_to_none(value):
    assert fw.parse_utc_ns(value) is None


@pytest.mark.parametrize("value", ["20240102-03:04:05.12x", "20240102-03:04:05,123", "20240102-03:04:05.",
                                   "20240102-03:04:05.123 "])
def test_a_malformed_fraction_is_none_in_a_second_already_seen_too(value):
    """The second of a recent timestamp is remembered; the fraction is still read and checked."""
    assert fw.parse_utc_ns("20240102-03:04:05.1") == NOW - 23_456_789
    assert fw.parse_utc_ns(value) is None
    assert fw.parse_utc_ns("20240102-03:04:05") == NOW - 123_456_789


@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), min_size=2, max_size=40),
       st.integers(min_value=0, max_value=9))
def test_timestamps_of_seconds_seen_before_parse_as_the_first_time(times, digits):
    """Many seconds, each parsed several times, with the remembered seconds forgotten now and then
    (as when the cache fills)."""
    for n, t in enumerate(times + times[::-1] + times):
        if n % 7 == 3:
            fw._second_cache.clear()
        assert fw.parse_utc_ns(fw.format_utc(t, digits)) == t - t % 10 ** (9 - digits)



def test_split_skips_pieces_without_a_tag_unless_asked_for_every_piece():
    raw = "8=FIX.4.2\x01junk\x01\x0135=0\x01"

    assert fw.split(raw) == [("8", "FIX.4.2"), ("35", "0")]
    assert fw.split(raw, literal=True) == [("8", "FIX.4.2"), ("junk", ""), ("", ""), ("35", "0")]


@pytest.mark.parametrize("raw", [HEARTBEAT, HEARTBEAT.encode()])
def test_value_of_reads_text_and_bytes_alike_first_field_included(raw):
    kind = type(raw)

    def as_kind(x: str):
        return x if kind is str else x.encode()

    assert fw.value_of(raw, 8) == as_kind("FIX.4.4")
    assert fw.value_of(raw, 112) == as_kind("TR1") and fw.value_of(raw, b"112") == as_kind("TR1")
    assert fw.value_of(raw, 12) is None and fw.value_of(raw, 11) is None   # 112 is not 12, 110 not 11
    assert fw.text_value(raw, 35) == "0" and fw.text_value(None, 35) is None


def test_value_of_a_last_field_without_separator():
    assert fw.value_of("35=0\x0158=end", 58) == "end"


def test_msg_type_and_begin_string():
    assert (fw.msg_type_of(HEARTBEAT), fw.msg_type_of("8=FIX.4.4\x01"), fw.msg_type_of("8=F\x0135=X")) == ("0", "", "X")
    assert (fw.begin_string_of(HEARTBEAT), fw.begin_string_of("35=0\x01", "FIX.4.2")) == ("FIX.4.4", "FIX.4.2")


def test_readable_shows_the_separator_and_cuts():
    assert fw.readable(HEARTBEAT, 14) == "8=FIX.4.4|9=5|"
    assert fw.readable(HEARTBEAT.encode()) == HEARTBEAT.replace(SOH, "|")


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_a_framed_message_has_the_length_and_checksum_quickfix_computes(text):
    body = f"112={text.replace('=', '-') or 'x'}{SOH}"

    framed = fw.frame("FIX.4.4", "1", body, with_checksum=True)

    assert fix.Message(framed, True).toString() == framed   # validated: BodyLength and CheckSum right


def test_checksum_keeps_the_type_it_is_given():
    assert fw.checksum("8=FIX.4.4\x01") == "%03d" % (sum(b"8=FIX.4.4\x01") % 256)
    assert fw.checksum(b"8=FIX.4.4\x01") == fw.checksum("8=FIX.4.4\x01").encode()


def test_the_hot_path_frame_leaves_the_checksum_to_quickfix():
    assert fw.frame("FIX.4.2", "D", "11=A\x01") == "8=FIX.4.2\x019=10\x0135=D\x0111=A\x0110=000\x01"


def test_timestamps_parse_from_bytes_and_count_their_digits():
    assert fw.parse_utc_ns(b"20240102-03:04:05.123") == NOW - 456_789
    assert fw.parse_utc_ns(b"\xff" * 20) is None and fw.parse_utc_ns(float("nan")) is None
    assert [fw.fraction_digits(v) for v in ("20240102-03:04:05", "20240102-03:04:05.123", b"20240102-03:04:05.1")] \
        == [0, 3, 1]


@pytest.mark.parametrize("value", ["20240102 03:04:05", "20240102-03-04-05", "20240102-03:04:05,123",
                                   "20240102-03:04:05.", "20240102-03:04:05Z"])
def test_timestamps_with_wrong_separators_parse_to_none(value):
    assert fw.parse_utc_ns(value) is None
