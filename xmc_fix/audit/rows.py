"""The audit database's rows made from what QuickFIX hands over: a FIX message's ``fix_messages``
row (secrets masked, key tags extracted), and text a venue sent as bytes that are not UTF-8 made
storable. Pure functions, run on the audit writer's thread (:mod:`xmc_fix.audit.writer`)."""

from __future__ import annotations

import re

from xmc_fix.venues.credentials import SECRET_TAGS, mask_fix_bytes

ADMIN_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})
_KEY_TAGS = {b"35": "msg_type", b"34": "seq_num", b"43": "poss_dup", b"11": "cl_ord_id",
             b"41": "orig_cl_ord_id", b"37": "order_id", b"17": "exec_id", b"150": "exec_type",
             b"39": "ord_status", b"55": "symbol", b"52": "sending_time"}
_KEY_TAG_RE = re.compile(rb"(?:^|\x01)(" + b"|".join(_KEY_TAGS) + rb")=([^\x01]*)")
SECRET_NEEDLES = tuple(f"{t}=".encode() for t in SECRET_TAGS)


def storable_text(text: str) -> str:
    """Text QuickFIX handed over (a session event may quote a venue's bytes, which arrive as lone
    surrogates when they are not UTF-8) as text every database and log file accepts: the bytes
    that are not UTF-8 become ``\\xNN`` escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def storable_row(row: dict) -> dict:
    """``row`` with text a venue sent as bytes that are not UTF-8 (a ClOrdID in an event, say)
    made storable (:func:`storable_text`); the row itself when there is none, as almost always."""
    if all(type(v) is not str or v.isascii() for v in row.values()):
        return row
    return {k: storable_text(v) if type(v) is str else v for k, v in row.items()}


def _key_tags_end(data: bytes) -> int:
    """Where a message's key tags end: a market-data message repeats Symbol (55) in every entry and
    only the first counts, so the scan stops at the second entry (279= in a refresh, 269= in a
    snapshot) when the first entry has a Symbol."""
    if b"\x0135=X\x01" in data:
        first = data.find(b"\x01279=")
    elif b"\x0135=W\x01" in data:
        first = data.find(b"\x01269=")
    else:
        return len(data)
    if first < 0:
        return len(data)
    second = data.find(data[first:first + 5], first + 5)
    if second < 0 or data.find(b"\x0155=", first, second) < 0:
        return len(data)
    return second


def message_row(run_id: str, session: str, venue: str | None, direction: str, raw: str, ts_ns: int) -> dict:
    """The ``fix_messages`` row for one raw message (secrets masked, key tags extracted)."""
    data = raw.encode("utf-8", "surrogateescape")
    if any(n in data for n in SECRET_NEEDLES):   # a cheap test first: few messages carry a secret
        data = mask_fix_bytes(data)
    row = {"run_id": run_id, "session": session, "venue": venue, "direction": direction, "ts_ns": ts_ns,
           "raw": data, "admin": False, "poss_dup": False, "msg_type": None, "seq_num": None,
           "cl_ord_id": None, "orig_cl_ord_id": None, "order_id": None, "exec_id": None,
           "exec_type": None, "ord_status": None, "symbol": None, "sending_time": None}
    for m in _KEY_TAG_RE.finditer(data, 0, _key_tags_end(data)):   # in C
        tag, value = m.group(1), m.group(2)
        name = _KEY_TAGS[tag]
        if row[name] not in (None, False):
            continue  # first occurrence wins (the first Symbol of a market-data group)
        text = value.decode("utf-8", "replace")[:64]
        if name == "seq_num":
            row[name] = int(text) if text.isdigit() else None
        elif name == "poss_dup":
            row[name] = text == "Y"
        else:
            row[name] = text
    row["admin"] = row["msg_type"] in ADMIN_TYPES
    return row
