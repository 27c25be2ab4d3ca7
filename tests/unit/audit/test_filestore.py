"""Reading QuickFIX's FileStore: messages by sequence number from .header/.body, the next sequence
numbers, the creation time; a missing or partial store is None, never an exception."""

from __future__ import annotations

import pytest

from xmc_fix.audit.filestore import parse_created, read_store, store_prefix
from xmc_fix.audit.verify import comparable
from xmc_fix.audit.writer import message_row
from tests.unit.audit.audit_stubs import PASSWORD, SESSION, outgoing_messages, write_store


def test_messages_come_back_by_sequence_number_with_the_password_overwritten(tmp_path):
    messages = outgoing_messages("A1")
    write_store(tmp_path, SESSION, messages)

    sf = read_store(tmp_path, SESSION)

    assert sorted(sf.messages) == [1, 2, 3, 4]
    assert sf.messages[3] == messages[3].encode()
    assert PASSWORD.encode() not in sf.messages[1] and b"554=" + b"*" * len(PASSWORD) in sf.messages[1]
    assert (sf.next_sender, sf.next_target) == (5, 5)
    assert sf.created_ns == 1_700_000_000_000_000_000


@pytest.mark.parametrize("key, name", [("FIX.4.4:XMC->SHFE", "FIX.4.4-XMC-SHFE"),
                                       ("FIX.4.4:XMC->SHFE:MD", "FIX.4.4-XMC-SHFE-MD"),
                                       ("FIXT.1.1:A->B", "FIXT.1.1-A-B")])
def test_file_names_follow_quickfix(tmp_path, key, name):
    assert store_prefix(tmp_path, key) == tmp_path / name


def test_a_missing_store_is_none(tmp_path):
    assert read_store(tmp_path, SESSION) is None


def test_an_index_entry_past_the_end_of_the_body_is_ignored(tmp_path):
    write_store(tmp_path, SESSION, outgoing_messages("A1"))
    header = store_prefix(tmp_path, SESSION).with_name("FIX.4.4-XMC-SHFE.header")
    header.write_text(header.read_text() + "5,99999,10 garbage ")

    assert sorted(read_store(tmp_path, SESSION).messages) == [1, 2, 3, 4]


@pytest.mark.parametrize("text, ns", [("20231114-22:13:20", 1_700_000_000_000_000_000),
                                      ("20231114-22:13:20.250", 1_700_000_000_250_000_000),
                                      ("not a time", None)])
def test_creation_times(text, ns):
    assert parse_created(text) == ns



def test_the_scrubbed_logon_compares_equal_to_the_stored_row_and_other_changes_do_not(tmp_path):
    logon = outgoing_messages("A1")[1]
    stored_row = message_row("R1", SESSION, "SHFE", "out", logon, 0)["raw"]   # 554=***, CheckSum as sent
    write_store(tmp_path, SESSION, {1: logon})

    in_store = read_store(tmp_path, SESSION).messages[1]                      # 554=*******, CheckSum restamped

    assert in_store != logon.encode() and b"\x0110=000\x01" not in in_store
    assert comparable(in_store) == comparable(stored_row)
    assert comparable(in_store.replace(b"553=trader", b"553=trudy")) != comparable(stored_row)
    order = outgoing_messages("A1")[3].encode()
    assert comparable(order) == order   # no secret: compared byte for byte, CheckSum included
