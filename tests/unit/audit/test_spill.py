"""Spill files — what the audit writer keeps on local disk when the database or the writer process
is gone — hold no secret and only their owner can read them."""

from __future__ import annotations

import json
import pickle
import stat

from xmc_fix.audit.procwriter import _HDR, ProcessAuditWriter
from xmc_fix.audit.writer import AuditWriter

SOH = "\x01"
SESSION = "FIX.4.4:XMC->SHFE"
LOGON = f"8=FIX.4.4{SOH}9=80{SOH}35=A{SOH}34=1{SOH}49=XMC{SOH}56=SHFE{SOH}98=0{SOH}108=30{SOH}553=trader{SOH}" \
        f"554=hunter2-secret{SOH}10=123{SOH}"


def frames(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        (n,) = _HDR.unpack_from(data, i)
        out.append(data[i + _HDR.size:i + _HDR.size + n])
        i += _HDR.size + n
    return out


def test_the_process_writers_spill_file_is_private_and_masked(tmp_path):
    w = ProcessAuditWriter(f"sqlite:///{tmp_path / 'audit.db'}", "R1", spill_dir=tmp_path).start()
    try:
        w._proc.kill()                     # the writer process dies ...
        w._proc.join(10)
        w.message(SESSION, "out", LOGON, 1)    # ... and the engine keeps auditing
        w.event("callback_error", 2, where="fromAdmin", raw=LOGON)
        w.record("session_events", {"run_id": "R1", "text": f"resending {LOGON}"})
        w.flush(timeout=2)
    finally:
        w.close(timeout=2)

    [spill] = tmp_path.glob("audit-spill-*.pickles")
    data = spill.read_bytes()
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
    assert b"hunter2" not in data and b"554=***" in data
    # still readable, frame by frame: the masked message and the records
    fs = frames(data)
    assert any(f[:1] == b"\x01" and f.endswith(f"554=***{SOH}10=123{SOH}".encode()) for f in fs)
    records = [pickle.loads(f) for f in fs if f[:1] != b"\x01"]
    assert ("e", "callback_error") == records[[r[0] for r in records].index("e")][:2]


def test_the_thread_writers_spill_file_is_private_and_masked(tmp_path):
    w = AuditWriter(f"sqlite:///{tmp_path / 'audit.db'}", "R1", spill_dir=tmp_path).start()
    w.record("no_such_table", {"text": f"8=FIX.4.4{SOH}35=A{SOH}554=hunter2-secret{SOH}"})
    w.flush()
    w.close()

    [spill] = tmp_path.glob("audit-spill-*.jsonl")
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
    [row] = [json.loads(line) for line in spill.read_text().splitlines()]
    assert "hunter2" not in spill.read_text() and "554=***" in row["row"]["text"]
