"""Comparing what the acceptor sent with what a script expects: field by field, in order, values
literal except the fields.fmt ones, which only have to match their expression."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmc_fix.conformance.compare import DEFAULT_FIELDS_FMT, FieldPatterns, compare, split_fields
from xmc_fix.conformance.deffile import DefFileError

AT = Path(__file__).resolve().parents[2] / "conformance" / "quickfix-at"
P = FieldPatterns.default()
LOGON_EXPECTED = "8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=30|10=0|"
LOGON_RECEIVED = "8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=20240305-14:07:09.123|56=TW42|98=0|108=30|10=071|"


def f(text: str) -> str:
    return text.replace("|", "\x01")


def mismatch(expected: str, received: str) -> str | None:
    m = compare(f(expected), f(received), P)
    return None if m is None else m.reason


def test_built_in_patterns_are_the_shipped_fields_fmt():
    assert (AT / "fields.fmt").read_text() == DEFAULT_FIELDS_FMT
    assert P.tags() == [10, 42, 52, 60, 122]


def test_a_conforming_logon_matches_with_placeholder_timestamp_and_checksum():
    assert mismatch(LOGON_EXPECTED, LOGON_RECEIVED) is None


@pytest.mark.parametrize("sending_time", ["20240305-14:07:09", "20240305-14:07:09.123", "20240305-14:07:09.123456"])
def test_sending_time_of_any_precision_matches_as_quickfix_searches_not_fullmatches(sending_time):
    assert mismatch("8=FIX.4.4|52=00000000-00:00:00|", f"8=FIX.4.4|52={sending_time}|") is None


def test_orig_sending_time_with_milliseconds_matches_the_seconds_pattern():
    assert mismatch("8=FIX.4.2|122=00000000-00:00:00.000|", "8=FIX.4.2|122=20240305-14:07:09.000|") is None


@pytest.mark.parametrize("tag, bad", [(52, "yesterday"), (10, "7"), (60, "2024-03-05"), (42, "x")])
def test_a_regex_field_that_does_not_match_fails_naming_the_field(tag, bad):
    reason = mismatch(f"8=FIX.4.2|{tag}=whatever|", f"8=FIX.4.2|{tag}={bad}|")
    assert reason is not None and f"field {tag}" in reason and "does not match" in reason


def test_the_expected_checksum_value_itself_is_never_compared():
    assert mismatch("8=FIX.4.2|10=245|", "8=FIX.4.2|10=071|") is None


def test_body_length_is_compared_literally():
    reason = mismatch(LOGON_EXPECTED, LOGON_RECEIVED.replace("9=63", "9=59"))
    assert reason == "field 9: expected '63' but was '59'"


def test_a_different_value_names_the_field_and_both_values():
    assert mismatch(LOGON_EXPECTED, LOGON_RECEIVED.replace("34=1", "34=2")) == "field 34: expected '1' but was '2'"


def test_fields_in_another_order_fail():
    reason = mismatch("8=FIX.4.2|11=id|21=3|", "8=FIX.4.2|21=3|11=id|")
    assert reason == "field 2: expected tag 11 but found tag 21"


def test_an_extra_field_fails_and_is_shown():
    assert mismatch("8=FIX.4.2|35=0|", "8=FIX.4.2|35=0|112=TEST|") == (
        "received 3 fields, expected 2: unexpected 112=TEST|")


def test_a_missing_field_fails_and_is_shown():
    assert mismatch("8=FIX.4.2|35=0|112=TEST|", "8=FIX.4.2|35=0|") == (
        "received 2 fields, expected 3: missing 112=TEST|")


def test_values_containing_equals_signs_compare_whole():
    assert mismatch("8=FIX.4.2|58=a=b|", "8=FIX.4.2|58=a=c|") == "field 58: expected 'a=b' but was 'a=c'"


def test_split_fields_ignores_the_final_soh():
    assert split_fields(f("8=FIX.4.2|35=0|")) == [("8", "FIX.4.2"), ("35", "0")]


def test_custom_patterns_replace_the_defaults():
    pats = FieldPatterns.parse("52=^\\d{8}-\\d{2}:\\d{2}:\\d{2}\\.\\d{6}$\n# microseconds only\n")
    assert compare(f("52=x|"), f("52=20240305-14:07:09.123456|"), pats) is None
    assert compare(f("52=x|"), f("52=20240305-14:07:09.123|"), pats) is not None
    assert compare(f("10=000|"), f("10=071|"), pats) is not None  # 10 no longer a pattern field


@pytest.mark.parametrize("text, words", [("52\n", "expected TAG=REGEX"), ("x=1\n", "expected TAG=REGEX"),
                                         ("52=(\n", "bad regular expression")])
def test_a_malformed_fields_fmt_names_the_line(text, words):
    with pytest.raises(DefFileError) as e:
        FieldPatterns.parse(text, "my.fmt")
    assert str(e.value).startswith("my.fmt:1: ") and words in str(e.value)


def test_a_body_length_pattern_frees_a_gateway_with_another_timestamp_precision():
    pats = FieldPatterns.parse(DEFAULT_FIELDS_FMT + "9=^\\d+$\n")
    micro = LOGON_RECEIVED.replace("9=63", "9=66").replace(".123", ".123456")
    assert mismatch(LOGON_EXPECTED, micro) == "field 9: expected '63' but was '66'"
    assert compare(f(LOGON_EXPECTED), f(micro), pats) is None
