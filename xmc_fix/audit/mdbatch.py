"""Incoming market data stored in bulk: one ``fix_message_batches`` row per session, MsgType and
write of the audit writer, instead of one ``fix_messages`` row and one chain entry per message.

Why: market data is nearly every message a session receives (a venue sends thousands of refreshes
a second), and a ``fix_messages`` row costs the writer process about 50 us of CPU (key tags, a row
hash over 18 columns, two inserts), on a 2-core machine the same CPU the session thread and the
venues need. A batch row costs that once for hundreds of messages.

What is kept, byte for byte: every message (secrets masked, as every stored message; market data
carries none), its receive time, its order. ``raw`` is the messages one after another, each framed
as ``<receive time ns: int64 LE><length: uint32 LE><bytes>``; ``seqs`` lists their MsgSeqNums as
ranges (``"7-9,12"``), so sequence coverage is checked without reading the bytes. The batch row is
one entry of the run's hash chain like any row (its hash covers ``raw``), so ``xmc audit verify``
detects a changed, added or removed message of a batch as it does a changed ``fix_messages`` row.

Readers that want market data as messages (the report's wire view, sequence coverage, crash
recovery's highest incoming number) get rows shaped like ``fix_messages`` rows from
:func:`message_rows` and :func:`seq_rows`; such a row's ``id`` is None and ``batch_id`` names its
batch. Everything else a venue sends (execution reports, session messages, a MarketDataRequestReject)
and everything the engine sends stays one ``fix_messages`` row per message.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from sqlalchemy import select

from xmc_fix.audit import models
from xmc_fix.audit.rows import SECRET_NEEDLES, message_row
from xmc_fix.errors import XmcError
from xmc_fix.venues.credentials import mask_fix_bytes

#: MsgTypes stored in bulk when incoming: MarketDataIncrementalRefresh, MarketDataSnapshotFullRefresh
MD_TYPES = ("X", "W")
_FRAME = struct.Struct("<qI")


def md_type(raw: str) -> str | None:
    """``"X"`` or ``"W"`` when ``raw`` is a market-data message (MsgType is the third field, within
    the first 40 characters of any message), else None."""
    i = raw.find("\x0135=", 0, 40)
    if i < 0:
        return None
    t = raw[i + 4:i + 6]
    return t[0] if len(t) == 2 and t[1] == "\x01" and t[0] in MD_TYPES else None


def _seq(data: bytes) -> int | None:
    """MsgSeqNum: in the header, after BeginString, BodyLength and MsgType (else wherever it is)."""
    i = data.find(b"\x0134=", 0, 64)
    if i < 0:
        i = data.find(b"\x0134=")
    if i < 0:
        return None
    j = data.find(b"\x01", i + 4)
    v = data[i + 4:j if j >= 0 else len(data)]
    return int(v) if v.isdigit() else None


def ranges(seqs: Iterable[int]) -> str:
    """``[7, 8, 9, 12]`` as ``"7-9,12"`` (in the order given; a run breaks wherever a number is not
    the one after the last)."""
    out: list[str] = []
    lo = prev = None
    for n in seqs:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if lo is not None:
            out.append(f"{lo}-{prev}" if prev != lo else str(lo))
        lo = prev = n
    if lo is not None:
        out.append(f"{lo}-{prev}" if prev != lo else str(lo))
    return ",".join(out)


def parse_ranges(text: str | None) -> list[int]:
    """The numbers of :func:`ranges`' text, in order."""
    out: list[int] = []
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi) + 1) if hi else (int(lo),))
    return out


def masked_bytes(raw: str) -> bytes:
    """A message's bytes as stored: secrets masked (market data carries none; masked if it did)."""
    data = raw.encode("utf-8", "surrogateescape")
    return mask_fix_bytes(data) if any(n in data for n in SECRET_NEEDLES) else data


def batch_rows(run_id: str, session: str, venue: str | None, msg_type: str,
               messages: list[tuple[int, str]]) -> list[dict]:
    """The ``fix_message_batches`` rows of ``messages`` (``(receive ns, raw)``, in arrival order):
    one row, or one more wherever MsgSeqNum does not go up (the session was reset and began again
    at 1: each row then holds messages of one store generation only)."""
    rows = _rows(run_id, session, venue, msg_type, messages, _plain_bytes)
    if any(n in r["raw"] for r in rows for n in SECRET_NEEDLES):   # one search over the batch's bytes
        rows = _rows(run_id, session, venue, msg_type, messages, masked_bytes)   # masked if one did
    return rows


def _rows(run_id, session, venue, msg_type, messages, encode) -> list[dict]:
    out: list[dict] = []
    parts: list[bytes] = []
    seqs: list[int] = []
    first = last = 0
    pack = _FRAME.pack
    for ts_ns, raw in messages:
        data = encode(raw)
        s = _seq(data)
        if parts and s is not None and seqs and s <= seqs[-1]:
            out.append(_row(run_id, session, venue, msg_type, parts, seqs, first, last))
            parts, seqs = [], []
        if not parts:
            first = ts_ns
        last = ts_ns
        parts.append(pack(ts_ns, len(data)))
        parts.append(data)
        if s is not None:
            seqs.append(s)
    if parts:
        out.append(_row(run_id, session, venue, msg_type, parts, seqs, first, last))
    return out


def _plain_bytes(raw: str) -> bytes:
    return raw.encode("utf-8", "surrogateescape")


def _row(run_id, session, venue, msg_type, parts, seqs, first, last) -> dict:
    return {"run_id": run_id, "session": session, "venue": venue, "direction": "in", "msg_type": msg_type,
            "count": len(parts) // 2, "first_seq": seqs[0] if seqs else None, "last_seq": seqs[-1] if seqs else None,
            "seqs": ranges(seqs), "first_ts_ns": first, "last_ts_ns": last, "raw": b"".join(parts)}


class BatchError(XmcError):
    """A batch's ``raw`` does not frame into messages: the row was changed after it was written."""

    def __init__(self, batch_id, problem: str) -> None:
        super().__init__(f"fix_message_batches row {batch_id}: {problem}; the stored market data was "
                         f"changed after it was written (run `xmc audit verify` on this database "
                         f"to see every row that was)")


def unpack(blob: bytes, batch_id=None) -> list[tuple[int, bytes]]:
    """``(receive ns, bytes)`` of every message of a batch's ``raw``, in order. Raises
    :class:`BatchError` (naming ``batch_id``) when the framing does not add up (a batch changed
    after it was written)."""
    out = []
    view = memoryview(blob)
    i, hdr, n = 0, _FRAME.size, len(view)
    while i < n:
        if i + hdr > n:
            raise BatchError(batch_id, f"its bytes end inside a frame header at byte {i}")
        ts, ln = _FRAME.unpack_from(view, i)
        i += hdr
        if i + ln > n:
            raise BatchError(batch_id, f"its bytes end inside a message at byte {i}")
        out.append((ts, bytes(view[i:i + ln])))
        i += ln
    return out


class SeqRow(NamedTuple):
    """What sequence coverage reads of a message (the shape of its ``fix_messages`` query)."""
    session: str
    direction: str
    msg_type: str
    seq_num: int
    ts_ns: int
    raw: bytes | None


def seq_rows(conn, run_id: str) -> Iterator[SeqRow]:
    """One :class:`SeqRow` per message held in the run's batches, from ``seqs`` alone (no bytes
    read). The batch's first receive time stands for its messages' times: coverage reads a time only
    to tell which store generation a message belongs to, and a batch never spans two (a reset starts
    the numbers again at 1, and :func:`batch_rows` starts a new row wherever they go down)."""
    b = models.fix_message_batches
    q = (select(b.c.session, b.c.direction, b.c.msg_type, b.c.seqs, b.c.first_ts_ns)
         .where(b.c.run_id == run_id).order_by(b.c.id))
    for r in conn.execute(q):
        for n in parse_ranges(r.seqs):
            yield SeqRow(r.session, r.direction, r.msg_type, n, r.first_ts_ns, None)


def _message(batch, ts_ns: int, data: bytes) -> dict:
    """One message of ``batch`` (a row with id, run_id, session, venue, direction) as the
    ``fix_messages`` row the writer would have made of it: ``id`` None, ``batch_id`` the batch."""
    row = message_row(batch.run_id, batch.session, batch.venue, batch.direction,
                      data.decode("utf-8", "surrogateescape"), ts_ns)
    row["id"], row["batch_id"] = None, batch.id
    return row


def message_rows(conn, run_id: str, start_ns: int | None = None, end_ns: int | None = None, *,
                 session: str | None = None, direction: str | None = None) -> Iterator[dict]:
    """The run's batched messages (receive time in ``[start_ns, end_ns)``, of ``session`` and
    ``direction``, when given) as ``fix_messages`` rows (:func:`_message`), batch by batch."""
    b = models.fix_message_batches
    q = select(b.c.id, b.c.run_id, b.c.session, b.c.venue, b.c.direction, b.c.raw).where(b.c.run_id == run_id)
    if start_ns is not None:
        q = q.where(b.c.last_ts_ns >= start_ns)
    if end_ns is not None:
        q = q.where(b.c.first_ts_ns < end_ns)
    if session is not None:
        q = q.where(b.c.session == session)
    if direction is not None:
        q = q.where(b.c.direction == direction)
    for r in conn.execute(q.order_by(b.c.id)):
        for ts, data in unpack(bytes(r.raw), r.id):
            if (start_ns is None or ts >= start_ns) and (end_ns is None or ts < end_ns):
                yield _message(r, ts, data)


def highest_in(conn, run_id: str) -> dict[str, tuple[int, int]]:
    """``{session: (highest MsgSeqNum, latest receive ns)}`` over the run's batches."""
    b = models.fix_message_batches
    out: dict[str, tuple[int, int]] = {}
    for session, seqs, ts in conn.execute(select(b.c.session, b.c.seqs, b.c.last_ts_ns).where(
            b.c.run_id == run_id, b.c.first_seq.is_not(None))):
        n = max(parse_ranges(seqs))
        have = out.get(session)
        out[session] = (max(n, have[0]), max(ts, have[1])) if have else (n, ts)
    return out


def last_batched(conn, run_id: str, venue: str, symbol: str, at_ns: int,
                 *, look_back: int = 64) -> tuple[dict | None, dict | None]:
    """The last batched market-data message of ``venue`` received at or before ``at_ns`` whose first
    Symbol is ``symbol`` (searched in the ``look_back`` batches before it), and the last of any
    symbol; each as a ``fix_messages`` row (``id`` None, ``batch_id`` set) or None."""
    b = models.fix_message_batches
    q = (select(b.c.id, b.c.run_id, b.c.session, b.c.venue, b.c.direction, b.c.raw)
         .where(b.c.run_id == run_id, b.c.venue == venue, b.c.first_ts_ns <= at_ns)
         .order_by(b.c.first_ts_ns.desc(), b.c.id.desc()).limit(look_back))
    anyone = None
    for r in conn.execute(q):
        for ts, data in reversed(unpack(bytes(r.raw), r.id)):
            if ts > at_ns:
                continue
            row = _message(r, ts, data)
            if anyone is None or ts > anyone["ts_ns"]:
                anyone = row
            if row["symbol"] == symbol:
                return row, anyone
    return None, anyone


def all_messages(conn, run_id: str, *, session: str | None = None, direction: str | None = None) -> list[dict]:
    """Every FIX message of a run as ``fix_messages`` rows (the market data stored in bulk with ``id``
    None and ``batch_id`` set), in the order they were recorded: ``fix_messages`` by id, the batches'
    messages in theirs, the two merged by receive time."""
    m = models.fix_messages
    q = select(*models.stored_columns(conn, m)).where(m.c.run_id == run_id)
    if session is not None:
        q = q.where(m.c.session == session)
    if direction is not None:
        q = q.where(m.c.direction == direction)
    rows = [dict(r, batch_id=None) for r in conn.execute(q.order_by(m.c.id)).mappings()]
    batched = sorted(message_rows(conn, run_id, session=session, direction=direction),
                     key=lambda r: r["ts_ns"])   # batches of several sessions and types, each in its order
    return list(heapq.merge(rows, batched, key=lambda r: r["ts_ns"] or 0))
