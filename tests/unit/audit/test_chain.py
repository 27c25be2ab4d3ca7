"""The hash chain: canonical row hashes that do not depend on how a backend returns a value, links
that commit to the previous entry, and the writer committing every stored row (and every stored
version of a ticket, order or run) on its own thread, in the rows' transaction, sealed at close."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import postgresql, sqlite

from xmc_fix.audit import chain, models
from xmc_fix.audit.writer import AuditWriter
from tests.unit.audit.audit_stubs import SESSION, fix_text, write_run

SQLITE, PG = sqlite.dialect(), postgresql.dialect()


def fill(**overrides) -> dict:
    fields = dict(id=7, run_id="R1", venue="SHFE", exec_id="E1", cl_ord_id="A1", ticket_id="T1", symbol="CU",
                  side="SELL", qty=D(2), price=D("77300.5"), venue_ns=None, recv_ns=200)
    return {**fields, **overrides}


def entries(url: str, run_id: str = "R1") -> list:
    eng = create_engine(url)
    with eng.connect() as conn:
        c = models.audit_chain
        out = conn.execute(select(c).where(c.c.run_id == run_id).order_by(c.c.seq)).mappings().all()
    eng.dispose()
    return [dict(e) for e in out]


# -- canonical row hashes ----------------------------------------------------------------------------
@pytest.mark.parametrize("stored", [D("2"), D("2.000000000000"), "2", "2.0", 2])
def test_a_decimal_hashes_the_same_however_the_backend_returns_it(stored):
    assert chain.row_hash(models.fills, fill(qty=stored), SQLITE) == chain.row_hash(models.fills, fill(), SQLITE)


def test_postgresql_hashes_a_decimal_as_numeric_38_12_stores_it():
    long = D("262.51234567890123456")

    assert chain.row_hash(models.fills, fill(price=long), PG) == \
        chain.row_hash(models.fills, fill(price=D("262.512345678901")), PG)
    assert chain.row_hash(models.fills, fill(price=long), SQLITE) != \
        chain.row_hash(models.fills, fill(price=D("262.512345678901")), SQLITE)


@pytest.mark.parametrize("column, other", [("qty", D(3)), ("exec_id", "E2"), ("recv_ns", 201), ("venue_ns", 5),
                                           ("id", 8), ("run_id", "R2")])
def test_any_column_changes_the_row_hash(column, other):
    assert chain.row_hash(models.fills, fill(**{column: other}), SQLITE) != chain.row_hash(models.fills, fill(), SQLITE)


def test_bytes_booleans_and_column_defaults_are_canonical():
    row = {"id": 1, "run_id": "R1", "session": SESSION, "direction": "in", "admin": False, "ts_ns": 5, "raw": b"8=F\x01"}

    as_given = chain.canonical(models.fix_messages, row, SQLITE)
    as_read_back = chain.canonical(models.fix_messages, {**row, "admin": 0, "poss_dup": False,
                                                         "raw": memoryview(b"8=F\x01")}, SQLITE)

    assert as_given == as_read_back and b'"raw":"383d4601"' in as_given


def test_a_value_of_the_wrong_type_is_hashed_not_refused():
    assert chain.row_hash(models.fills, fill(recv_ns="not a number", price=object()), SQLITE)


def test_the_run_rows_seal_is_not_part_of_its_hash():
    run = {"run_id": "R1", "role": "engine", "started_ns": 1}

    assert chain.row_hash(models.runs, {**run, "chain_length": 9, "chain_head": "ab"}, SQLITE) == \
        chain.row_hash(models.runs, run, SQLITE)


# -- links --------------------------------------------------------------------------------------
def test_entries_link_from_the_runs_genesis_and_the_head_moves_only_when_adopted():
    head = chain.Head.start("R1")

    rows, new = chain.extend(head, [("events", "1", "a" * 64), ("tickets", "T1", "b" * 64)])

    assert [r["seq"] for r in rows] == [1, 2]
    assert rows[0]["prev_hash"] == chain.genesis("R1") and rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[1]["hash"] == chain.link(rows[0]["hash"], 2, "tickets", "T1", "b" * 64)
    assert (new.length, new.hash) == (2, rows[1]["hash"]) and head.length == 0


def test_a_chain_cannot_be_moved_to_another_run():
    assert chain.genesis("R1") != chain.genesis("R2")


# -- the writer ------------------------------------------------------------------------------------
def test_every_row_written_has_one_entry_and_each_upsert_version_its_own(audit_url, tmp_path):
    stub = write_run(audit_url, spill_dir=tmp_path)

    es = entries(audit_url)
    assert [e["seq"] for e in es] == list(range(1, len(es) + 1)) and len(es) == stub.length
    appended = [(e["table_name"], e["row_key"]) for e in es
                if e["table_name"] in ("fix_messages", "fix_message_batches", "events")]
    # 6 FIX messages one by one, the incoming snapshot and refresh in a batch each, 2 events
    assert len(appended) == len(set(appended)) == 6 + 2 + 2
    versions = [e["row_key"] for e in es if e["table_name"] == "tickets"]
    assert versions == [stub.ticket_id] * 2     # one per batch that changed it: written and sent, completed
    runs = [e for e in es if e["table_name"] == "runs"]
    assert len(runs) == 2                        # started, then ended with the summary


def test_the_seal_is_the_chains_length_and_head(audit_url, tmp_path):
    stub = write_run(audit_url, spill_dir=tmp_path)

    eng = create_engine(audit_url)
    with eng.connect() as conn:
        length, head = conn.execute(text("select chain_length, chain_head from runs where run_id = 'R1'")).one()
    eng.dispose()
    assert (length, head) == (stub.length, stub.head) == (len(entries(audit_url)), entries(audit_url)[-1]["hash"])


def test_a_refused_row_leaves_no_hole_in_the_chain(audit_url, tmp_path):
    w = AuditWriter(audit_url, "R1", spill_dir=tmp_path, linger_s=5.0)
    w.record("fills", {k: v for k, v in fill(exec_id="E1").items() if k != "id"})
    w.record("fills", {k: v for k, v in fill(exec_id="E1", qty=D(9)).items() if k != "id"})  # same ExecID: refused
    w.record("events", {"run_id": "R1", "ts_ns": 1, "kind": "alert"})
    w.start()
    assert w.flush()
    w.close()

    es = entries(audit_url)
    assert [e["seq"] for e in es] == [1, 2] and {e["table_name"] for e in es} == {"fills", "events"}
    assert w.stats.spilled == 1


def test_a_writer_reopened_on_a_run_continues_its_chain(audit_url, tmp_path):
    for i in range(2):
        w = AuditWriter(audit_url, "R1", spill_dir=tmp_path).start()
        w.event("note", i)
        w.close()

    es = entries(audit_url)
    assert [e["seq"] for e in es] == [1, 2] and es[1]["prev_hash"] == es[0]["hash"]


def test_hashing_happens_on_the_writer_thread_never_on_the_callers(audit_url, tmp_path, monkeypatch):
    threads = set()
    real = chain.row_hash

    def spy(*args):
        threads.add(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(chain, "row_hash", spy)
    w = AuditWriter(audit_url, "R1", spill_dir=tmp_path).start()
    w.message(SESSION, "in", fix_text("8", ("11", "A1")), 1)
    w.record("tickets", {"ticket_id": "T1", "run_id": "R1", "pair": "P", "direction": "SELL_BASIS",
                         "intent": "OPEN", "state": "NEW", "created_ns": 1})
    assert w.flush()
    w.close()

    assert threads == {"xmc-audit-writer"}
