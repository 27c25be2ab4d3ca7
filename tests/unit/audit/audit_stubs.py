"""Stub factories for the audit tests: FIX message text, and one small but complete run written
through the real AuditWriter (messages in and out, a ticket with its orders, transitions, fills and
events), optionally with the QuickFIX FileStore that would have been left beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

from xmc_fix.audit.writer import AuditWriter

SOH = "\x01"
SESSION = "FIX.4.4:XMC->SHFE"
PASSWORD = "hunter2-Sup3rSecret"
T0 = 1_700_000_000_000_000_000          # 2023-11-14 22:13:20 UTC
STORE_CREATED = "20231114-22:13:20"
MS = 1_000_000


def fix_text(msg_type: str, *pairs: tuple[str, str], seq: int = 1, sender: str = "XMC", target: str = "SHFE",
             sending_time: str = "20231114-22:13:20.000001") -> str:
    body = f"35={msg_type}{SOH}34={seq}{SOH}49={sender}{SOH}52={sending_time}{SOH}56={target}{SOH}"
    body += "".join(f"{t}={v}{SOH}" for t, v in pairs)
    return f"8=FIX.4.4{SOH}9={len(body)}{SOH}{body}10=000{SOH}"


def incoming(msg_type: str, *pairs: tuple[str, str], seq: int) -> str:
    return fix_text(msg_type, *pairs, seq=seq, sender="SHFE", target="XMC")


@dataclass
class RunStub:
    """What ``write_run`` wrote: the run id, the ticket, the outgoing messages by sequence number."""

    run_id: str
    ticket_id: str
    cl_ord_ids: list[str]
    outgoing: dict[int, str] = field(default_factory=dict)
    head: str = ""
    length: int = 0


def outgoing_messages(cl: str) -> dict[int, str]:
    return {
        1: fix_text("A", ("98", "0"), ("108", "10"), ("553", "trader"), ("554", PASSWORD), seq=1),
        2: fix_text("V", ("262", "M1"), ("263", "1"), ("264", "5"), ("146", "1"), ("55", "CU"), seq=2),
        3: fix_text("D", ("11", cl), ("55", "CU"), ("54", "2"), ("38", "5"), ("40", "2"), ("44", "77270"),
                    ("59", "3"), seq=3),
        4: fix_text("0", seq=4),
    }


def write_run(url: str, run_id: str = "R1", *, store_dir: Path | None = None, spill_dir: Path | None = None,
              t0: int = T0, batches: int = 3) -> RunStub:
    """A short engine run: the writer's rows arrive in several batches, as they do live."""
    tid, cl1, cl2 = f"T-{run_id}", f"{run_id}-1", f"{run_id}-2"
    stub = RunStub(run_id, tid, [cl1, cl2], outgoing_messages(cl1))
    w = AuditWriter(url, run_id, venues_by_session={SESSION: "SHFE"}, spill_dir=spill_dir or store_dir,
                    linger_s=5.0).start()
    config = {"sessions": "venues.cfg", "strategy": "strategy.toml"}
    if store_dir is not None:
        config["stores"] = {SESSION: str(store_dir)}
    w.record("runs", {"run_id": run_id, "role": "engine", "started_ns": t0, "host": "box", "pid": 1,
                      "namespace": "X", "command": "test", "config": json.dumps(config)})
    w.session_event(SESSION, "Initiated connection", t0 + 1)
    w.message(SESSION, "out", stub.outgoing[1], t0 + 2 * MS)
    w.message(SESSION, "in", incoming("A", ("98", "0"), ("108", "10"), seq=1), t0 + 3 * MS)
    w.message(SESSION, "out", stub.outgoing[2], t0 + 4 * MS)
    w.message(SESSION, "in", incoming("W", ("55", "CU"), ("262", "M1"), ("268", "2"), ("269", "0"), ("270", "77300"),
                                      ("271", "32"), ("269", "1"), ("270", "77310"), ("271", "15"), seq=2), t0 + 5 * MS)
    w.message(SESSION, "in", incoming("X", ("268", "1"), ("279", "0"), ("269", "0"), ("55", "CU"), ("83", "2"),
                                      ("270", "77300"), ("271", "40"), seq=3), t0 + 6 * MS)
    if batches > 1:
        assert w.flush()
    md = t0 + 6 * MS + 50_000
    w.event("verdict", md, pair="CU_SHFE_LME", ticket_id=tid, ok=True, order_kind="OPEN")
    w.record("tickets", {"ticket_id": tid, "run_id": run_id, "pair": "CU_SHFE_LME", "direction": "SELL_BASIS",
                         "intent": "OPEN", "state": "PENDING", "md_recv_ns": md, "created_ns": md + 100_000,
                         "basis": D("262.5123456789012345"), "threshold": D(250), "inner_px": D(77300),
                         "outer_px": D("9500.5"), "outer_converted": D("77037.49"), "fx": D("7.2"), "unit": "t",
                         "planned_residual": D(0), "inner_target_lots": D(5), "outer_target_lots": D(1),
                         "inner_filled_lots": D(0), "outer_filled_lots": D(0), "residual": D(0),
                         "decision": {"inner_book": [["77300", "32"], ["77310", "15"]],
                                      "outer_book": [["9500", "3"], ["9500.5", "4"]],
                                      "inner_age_ms": 1.0, "outer_age_ms": 0.5, "fx_age_ms": None}})
    for cl, leg, venue, sym, side, qty, px in ((cl1, "INNER", "SHFE", "CU", "SELL", D(5), D(77270)),
                                              (cl2, "OUTER", "LME", "CA", "BUY", D(1), D("9510.5"))):
        w.record("orders", {"cl_ord_id": cl, "run_id": run_id, "ticket_id": tid, "leg": leg, "role": "ENTRY",
                            "venue": venue, "symbol": sym, "side": side, "qty": qty, "ord_type": "LIMIT", "price": px,
                            "tif": "IOC", "status": "PENDING_NEW", "cum_qty": D(0), "created_ns": md + 100_000})
    w.message(SESSION, "out", stub.outgoing[3], md + 300_000)
    for cl in (cl1, cl2):
        w.update("orders", {"cl_ord_id": cl, "sent_ns": md + 310_000, "status": "SENT"})
    w.record("ticket_events", {"run_id": run_id, "ticket_id": tid, "ts_ns": md + 320_000, "from_state": "PENDING",
                               "to_state": "WORKING", "trigger": "SENT", "cause": "OPEN SELL_BASIS"})
    w.update("tickets", {"ticket_id": tid, "state": "WORKING", "sent_ns": md + 310_000})
    if batches > 2:
        assert w.flush()
    w.message(SESSION, "in", incoming("8", ("37", "O1"), ("11", cl1), ("17", "E1"), ("150", "F"), ("39", "2"),
                                      ("55", "CU"), ("54", "2"), ("32", "5"), ("31", "77300"), ("151", "0"),
                                      ("14", "5"), ("6", "77300"), seq=4), md + 900_000)
    w.record("fills", {"run_id": run_id, "venue": "SHFE", "exec_id": "E1", "cl_ord_id": cl1, "ticket_id": tid,
                       "symbol": "CU", "side": "SELL", "qty": D(5), "price": D(77300), "venue_ns": md + 800_000,
                       "recv_ns": md + 910_000})
    w.update("orders", {"cl_ord_id": cl1, "status": "FILLED", "cum_qty": D(5), "avg_px": D(77300),
                        "ack_ns": md + 900_000, "done_ns": md + 910_000})
    w.event("repair_step", md + 950_000, pair="CU_SHFE_LME", ticket_id=tid, step="CHASE", attempt=1,
            expected_cost=D("12.3456789"))
    w.record("ticket_events", {"run_id": run_id, "ticket_id": tid, "ts_ns": md + 960_000, "from_state": "WORKING",
                               "to_state": "COMPLETED", "trigger": "LEGS_MATCHED", "cause": "matched"})
    w.update("tickets", {"ticket_id": tid, "state": "COMPLETED", "ended_ns": md + 960_000,
                         "inner_filled_lots": D(5), "outer_filled_lots": D(1)})
    w.message(SESSION, "out", stub.outgoing[4], md + 2_000 * MS)
    w.update("runs", {"run_id": run_id, "ended_ns": md + 3_000 * MS, "summary": json.dumps({"tickets": 1})})
    w.close()
    stub.head, stub.length = w.chain_head, w.chain_length
    if store_dir is not None:
        write_store(store_dir, SESSION, stub.outgoing)
    return stub


def write_store(store_dir: Path, session: str, messages: dict[int, str], created: str = STORE_CREATED) -> None:
    """A QuickFIX FileStore as the engine leaves it: the Logon password overwritten with '*' in place
    (and that message's CheckSum restamped) by the engine's own scrub."""
    from xmc_fix.audit.filestore import store_prefix
    from xmc_fix.venues.credentials import scrub_store_file

    store_dir.mkdir(parents=True, exist_ok=True)
    prefix = store_prefix(store_dir, session)
    body, header = b"", []
    for seq in sorted(messages):
        data = messages[seq].encode()
        header.append(f"{seq},{len(body)},{len(data)}")
        body += data
    prefix.with_name(prefix.name + ".body").write_bytes(body)
    scrub_store_file(prefix.with_name(prefix.name + ".body"))
    prefix.with_name(prefix.name + ".header").write_text(" ".join(header) + " ")
    prefix.with_name(prefix.name + ".seqnums").write_text(f"{max(messages) + 1:020d} : {5:020d}")
    prefix.with_name(prefix.name + ".session").write_text(created)
