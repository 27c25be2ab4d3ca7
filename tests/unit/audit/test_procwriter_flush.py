"""When the process writer hands its buffer to the writer process: never on age from inside a FIX
message QuickFIX's log hands over (a decision's orders are being sent then), always from the
engine's next record or the timer's pump, and at once when the buffer is full."""

from __future__ import annotations

from xmc_fix.audit import procwriter
from xmc_fix.audit.procwriter import ProcessAuditWriter

SOH = "\x01"
SESSION = "FIX.4.4:XMC->V1"
ORDER = f"8=FIX.4.4{SOH}9=60{SOH}35=D{SOH}34=7{SOH}49=XMC{SOH}56=V1{SOH}11=B-1{SOH}55=S1{SOH}10=000{SOH}"


class Pipe:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)


def writer(tmp_path) -> tuple[ProcessAuditWriter, Pipe]:
    w = ProcessAuditWriter(f"sqlite:///{tmp_path / 'audit.db'}", "R1", spill_dir=tmp_path)
    w._tx = pipe = Pipe()
    return w, pipe


def age(w: ProcessAuditWriter) -> None:
    """Make the oldest buffered record older than the flush age."""
    w._first_ns -= 2 * procwriter._FLUSH_NS


def test_an_outgoing_or_incoming_message_never_sends_an_aged_buffer(tmp_path):
    w, pipe = writer(tmp_path)
    w.event("verdict", 1, pair="P1")
    age(w)
    w.message(SESSION, "out", ORDER, 2)
    w.message(SESSION, "in", ORDER, 3)
    assert pipe.sent == []


def test_the_engines_next_record_sends_the_aged_buffer_with_the_messages_in_it(tmp_path):
    w, pipe = writer(tmp_path)
    w.message(SESSION, "out", ORDER, 2)
    age(w)
    w.record("orders", {"cl_ord_id": "B-1"})
    assert len(pipe.sent) == 1 and b"35=D" in pipe.sent[0]


def test_the_timers_pump_sends_an_aged_buffer_of_messages(tmp_path):
    w, pipe = writer(tmp_path)
    w.message(SESSION, "in", ORDER, 2)
    w.pump()
    assert pipe.sent == []                 # not old yet
    age(w)
    w.pump()
    assert len(pipe.sent) == 1 and b"35=D" in pipe.sent[0]


def test_a_full_buffer_goes_at_once_even_from_a_message(tmp_path):
    w, pipe = writer(tmp_path)
    big = ORDER.replace("S1", "S" * procwriter._FLUSH_BYTES)
    w.message(SESSION, "out", big, 2)
    assert len(pipe.sent) == 1
