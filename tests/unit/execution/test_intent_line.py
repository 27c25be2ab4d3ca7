"""The intent journal line rendered as text on the hot path is the very line ``json.dumps`` made of
the same fields, for every kind of value a ticket and its orders carry, and replays the same."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D

import pytest

from xmc_fix.domain.commands import NewOrder
from xmc_fix.domain.enums import OrdType, PositionEffect, Side, TimeInForce
from xmc_fix.domain.instruments import Instrument
from xmc_fix.execution.journal import Journal, replay
from xmc_fix.execution.records import cmd_json, cmd_record, intent_json, intent_record

CU = Instrument(name="CU_SHFE", venue="SHFE", symbol="cu2501", currency="CNY", contract_size=D(5), unit="t",
                tick=D(10))
LME = Instrument(name="LME \"3M\" 铜", venue="LME", symbol="CAD", currency="USD", contract_size=D(25), unit="t",
                 tick=D("0.5"))

TICKETS = [
    # (ticket id, pair, direction, intent, created, closes, aim, lots, decision, orders)
    ("B-T1", "CU_SHFE_LME", "SELL_BASIS", "OPEN", 1_764_400_000_123_456_789, None, D(0), (D(5), D(1)),
     (D("201.5"), D(100), D("73120"), D("9001.25"), D("72951.3750"), D("7.1023"), D("0")),
     [(NewOrder("B-a-1", CU, Side.SELL, D(5), OrdType.LIMIT, D("73100"), TimeInForce.IOC, None, PositionEffect.OPEN),
       "INNER"),
      (NewOrder("B-a-2", LME, Side.BUY, D(1), OrdType.LIMIT, D("9002.5"), TimeInForce.IOC, "ACC 1", None), "OUTER")]),
    ("B-T2", "铜 \"pair\"\\", "BUY_BASIS", "CLOSE", 1, "B-T1", D("-0.50"), (D("1E+1"), D("0.001")),
     (D("-1.5E-7"), D("-100"), D("0.10"), D("1234.500000"), D("-0"), 1, D("2.5")),
     [(NewOrder("B-b-1", CU, Side.BUY, D(5), OrdType.MARKET, None, TimeInForce.FOK, None,
                PositionEffect.CLOSE_TODAY), "INNER")]),
    ("B-T3", "P", "SELL_BASIS", "OPEN", 2, None, D(3), (D(1), D(1)),
     (D(1), D(1), D(1), D(1), D(1), D(1), D(1)), []),
]


def old_line(path, t) -> str:
    tid, pair, direction, intent, created, closes, aim, lots, decision, orders = t
    j = Journal(path, sync="none")
    j.write("intent", **intent_record(tid, pair, direction, intent, created, closes, aim, lots, decision,
                                      [cmd_record(c, tid, leg, "ENTRY", created) for c, leg in orders]))
    j.close()
    return path.read_text()


def new_line(path, t) -> str:
    tid, pair, direction, intent, created, closes, aim, lots, decision, orders = t
    j = Journal(path, sync="none")
    j.write_json("intent", intent_json(tid, pair, direction, intent, created, closes, aim, lots, decision,
                                       [cmd_json(c, tid, leg, "ENTRY", created) for c, leg in orders]))
    j.close()
    return path.read_text()


def without_time(line: str) -> str:
    return re.sub(r',"t":\d+\}\n$', "}\n", line)


@pytest.mark.parametrize("ticket", TICKETS, ids=lambda t: t[0])
def test_the_rendered_intent_line_is_the_json_dumps_line(tmp_path, ticket):
    old = old_line(tmp_path / "old.jsonl", ticket)
    new = new_line(tmp_path / "new.jsonl", ticket)
    assert without_time(new) == without_time(old)
    a, b = json.loads(old), json.loads(new)
    assert a.pop("t") > 0 and b.pop("t") > 0
    assert a == b


def test_an_order_rendered_as_text_is_its_record(tmp_path):
    for t in TICKETS:
        for c, leg in t[9]:
            assert json.loads(cmd_json(c, t[0], leg, "ENTRY", t[4])) == cmd_record(c, t[0], leg, "ENTRY", t[4])


def test_a_rendered_intent_replays_as_the_json_dumps_one(tmp_path):
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    for t in TICKETS:
        old.write_text(old.read_text() + old_line(tmp_path / "o1.jsonl", t) if old.exists() else
                       old_line(tmp_path / "o1.jsonl", t))
        new.write_text(new.read_text() + new_line(tmp_path / "n1.jsonl", t) if new.exists() else
                       new_line(tmp_path / "n1.jsonl", t))
        (tmp_path / "o1.jsonl").unlink()
        (tmp_path / "n1.jsonl").unlink()
    a, b = replay(old), replay(new)
    assert a.records == b.records == len(TICKETS) and a.bad_lines == b.bad_lines == 0
    assert {k: (v.record, v.orders) for k, v in a.open_tickets.items()} == \
        {k: (v.record, v.orders) for k, v in b.open_tickets.items()}
    assert a.last_prefix == b.last_prefix == "B-b"


def test_write_json_of_an_empty_object_is_a_valid_line(tmp_path):
    j = Journal(tmp_path / "j.jsonl", sync="none")
    j.write_json("ticket", "{}")
    j.close()
    r = json.loads((tmp_path / "j.jsonl").read_text())
    assert r["k"] == "ticket" and r["t"] > 0 and len(r) == 2
