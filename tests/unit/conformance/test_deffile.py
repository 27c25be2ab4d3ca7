"""The .def format: which lines mean what, how a message line becomes wire bytes, and which lines
are refused (naming the file and the line)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import simplefix

from xmc_fix.conformance.deffile import (DefFileError, StepKind, checksum, collect, fixify, load, parse,
                                         resolve_time)

AT = Path(__file__).resolve().parents[2] / "conformance" / "quickfix-at"
NOW = datetime(2024, 3, 5, 14, 7, 9, 123456, tzinfo=timezone.utc)
S = "\x01"


def fix(text: str) -> str:
    """Write messages in tests with | for SOH."""
    return text.replace("|", S)


def script(*lines: str, name: str = "case.def"):
    return parse("\n".join(fix(line) for line in lines) + "\n", name)


# -- steps --------------------------------------------------------------------------------------

def test_connect_send_expect_and_disconnect_steps_on_the_default_connection():
    s = script("# a comment", "", "iCONNECT", "I8=FIX.4.2|35=0|", "E8=FIX.4.2|35=0|", "eDISCONNECT", "iDISCONNECT")
    assert [(st.kind, st.conn, st.line) for st in s.steps] == [
        (StepKind.CONNECT, 1, 3), (StepKind.SEND, 1, 4), (StepKind.EXPECT, 1, 5),
        (StepKind.EXPECT_DISCONNECT, 1, 6), (StepKind.DISCONNECT, 1, 7)]


def test_connection_index_prefix_selects_the_connection():
    s = script("i1,CONNECT", "i2,CONNECT", "I2,8=FIX.4.2|35=0|", "E1,8=FIX.4.2|35=0|", "e2,DISCONNECT",
               "i1,DISCONNECT")
    assert [(st.kind, st.conn) for st in s.steps] == [
        (StepKind.CONNECT, 1), (StepKind.CONNECT, 2), (StepKind.SEND, 2), (StepKind.EXPECT, 1),
        (StepKind.EXPECT_DISCONNECT, 2), (StepKind.DISCONNECT, 1)]
    assert s.steps[2].template == fix("8=FIX.4.2|35=0|")


def test_upper_case_connect_as_the_readme_writes_it_is_a_connect():
    s = script("I1,CONNECT", "IDISCONNECT")
    assert [st.kind for st in s.steps] == [StepKind.CONNECT, StepKind.DISCONNECT]


def test_crlf_line_endings_and_indented_comments_are_accepted():
    s = parse("iCONNECT\r\n   # note\r\n" + fix("I8=FIX.4.2|35=0|") + "\r\n", "crlf.def")
    assert [st.kind for st in s.steps] == [StepKind.CONNECT, StepKind.SEND]
    assert s.steps[1].template.endswith(S)


def test_every_shipped_fix42_and_fix44_script_parses():
    paths = collect([AT / "fix42", AT / "fix44"])
    assert len(paths) == 58 + 59
    for p in paths:
        assert load(p).steps


# -- malformed lines ----------------------------------------------------------------------------

@pytest.mark.parametrize("line, words", [
    ("X8=FIX.4.2|35=0|", "unknown step 'X'"),
    ("iCONNCT", "unknown action 'CONNCT'"),
    ("eCONNECT", "test an initiator"),
    ("I8=FIX.4.2^A35=0^A", "no SOH"),
    ("I", "empty message"),
    ("I8=FIX.4.2|52=<TIME+x>|", "bad placeholder '<TIME+x>'"),
    ("I8=FIX.4.2|52=<TIME*3>|", "bad placeholder"),
    ("E8=FIX.4.2|35=0|garbled|", "not TAG=VALUE: 'garbled'"),
    ("E8=FIX.4.2|3x=0|", "not TAG=VALUE"),
])
def test_a_malformed_line_is_refused_with_file_line_and_problem(line, words):
    with pytest.raises(DefFileError) as e:
        script("iCONNECT", line, name="bad.def")
    assert str(e.value).startswith("bad.def:2: ")
    assert words in str(e.value)


def test_garbled_messages_to_send_are_allowed_on_purpose():
    s = script("iCONNECT", "I8=FIX.4.2|9=52|35=0|34=2|4garbled9=TW|10=0|")
    assert s.steps[1].kind is StepKind.SEND


def test_a_script_that_never_connects_is_refused():
    with pytest.raises(DefFileError, match="no iCONNECT"):
        script("I8=FIX.4.2|35=0|")


def test_unreadable_and_missing_paths_are_refused(tmp_path):
    with pytest.raises(DefFileError, match="no such file or directory"):
        collect([tmp_path / "none.def"])
    with pytest.raises(DefFileError, match="holds no .def file"):
        collect([tmp_path])
    with pytest.raises(DefFileError, match="cannot read"):
        load(tmp_path)


def test_collect_walks_directories_in_name_order(tmp_path):
    for name in ("b/2.def", "a/1.def", "a/x.txt", "c.def"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("iCONNECT\n")
    assert [p.relative_to(tmp_path).as_posix() for p in collect([tmp_path / "c.def", tmp_path])] == [
        "c.def", "a/1.def", "b/2.def", "c.def"]


def test_bytes_survive_reading_unchanged(tmp_path):
    p = tmp_path / "latin.def"
    p.write_bytes(b"iCONNECT\nI8=FIX.4.2\x0158=caf\xe9\x01\n")
    assert load(p).steps[1].template == "8=FIX.4.2\x0158=caf\xe9\x01"


# -- placeholders -------------------------------------------------------------------------------

def test_time_placeholders_are_utc_whole_seconds_shifted_by_n():
    assert resolve_time("52=<TIME>|122=<TIME-121>|60=<TIME+121>|", NOW) == (
        "52=20240305-14:07:09|122=20240305-14:05:08|60=20240305-14:09:10|")


def test_time_placeholders_convert_a_local_time_to_utc():
    from datetime import timedelta
    local = NOW.astimezone(timezone(timedelta(hours=8)))
    assert resolve_time("<TIME>", local) == "20240305-14:07:09"


# -- BodyLength and CheckSum --------------------------------------------------------------------

def test_length_and_checksum_are_computed_when_absent_as_any_fix_encoder_would():
    msg = simplefix.FixMessage()
    for tag, value in ((8, "FIX.4.2"), (35, "A"), (34, "1"), (49, "TW42"), (52, "20240305-14:07:09"),
                       (56, "ISLD"), (98, "0"), (108, "30")):
        msg.append_pair(tag, value)
    want = msg.encode().decode()
    assert fixify(fix("8=FIX.4.2|35=A|34=1|49=TW42|52=20240305-14:07:09|56=ISLD|98=0|108=30|")) == want


def test_a_given_body_length_is_kept_and_the_checksum_still_computed():
    out = fixify(fix("8=FIX.4.2|9=30|35=D|34=2|"))
    assert out.startswith(fix("8=FIX.4.2|9=30|35=D|34=2|10="))
    assert out.endswith(fix(f"10={checksum(fix('8=FIX.4.2|9=30|35=D|34=2|'))}|"))


def test_a_given_checksum_is_kept_and_the_length_computed():
    assert fixify(fix("8=FIX.4.4|35=0|34=2|10=256|")) == fix("8=FIX.4.4|9=10|35=0|34=2|10=256|")


def test_a_line_giving_both_is_sent_exactly_as_written():
    text = fix("8=FIX.4.2|9=52|35=0|34=2|4garbled9=TW|10=0|")
    assert fixify(text) == text


def test_a_line_not_starting_with_begin_string_is_sent_as_written():
    text = fix("35=0|8=FIX.4.2|9=29|34=2|10=121|")
    assert fixify(text) == text


def test_a_missing_final_soh_is_supplied_before_the_checksum():
    assert fixify(fix("8=FIX.4.2|35=0")) == fix(f"8=FIX.4.2|9=5|35=0|10={checksum(fix('8=FIX.4.2|9=5|35=0|'))}|")


def test_render_resolves_placeholders_then_adds_length_and_checksum():
    step = script("iCONNECT", "I8=FIX.4.2|35=0|52=<TIME>|").steps[1]
    assert step.render(NOW) == fixify(fix("8=FIX.4.2|35=0|52=20240305-14:07:09|"))
    assert fix("|9=26|") in step.render(NOW)
