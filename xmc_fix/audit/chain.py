"""The audit hash chain: what a row's hash is, and how entries link.

Every row the audit writer stores (a FIX message, an event, a fill, and each stored version of a
ticket, order or run) gets one entry in ``audit_chain``, written in the same transaction as the row:

    row_hash = SHA-256( canonical(table, row as stored) )
    hash     = SHA-256( prev_hash | seq | table | key | row_hash )

``seq`` counts 1, 2, 3 ... per run with no gaps; the first entry's ``prev_hash`` is the run's
genesis (a hash of the run id), so a chain cannot be moved to another run. ``key`` is the row id
for append-only tables and the natural key (``ticket_id``, ``cl_ord_id``, ``run_id``) for the
upserted ones, whose every stored version is an entry; only the last entry for a key can be compared
with the current row.

The canonical encoding is JSON with sorted keys over every column of the table (absent values as
their column default or null; a column added after the chain existed, ``models.HASHED_WHEN_SET``,
only when it is set, so that older rows keep their hashes): integers as numbers, booleans as
true/false, exact decimals as plain decimal text without trailing zeros, bytes as hex (a column of
``models.DIGESTED_COLUMNS``, the bytes of hundreds of messages, as ``sha256:`` and the hex SHA-256 of
its bytes), text as text.
It depends only on the values as the database returns them, so the verifier recomputes it from a
plain ``SELECT``.

This module is pure: no database access, no clock. It does not make the chain tamper-proof against
someone who rewrites rows *and* recomputes every later hash; that is what anchoring the head outside
the database is for (README, "Audit: verify and trace").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Boolean, Integer, LargeBinary, Table

from xmc_fix.audit import models

VERSION = b"xmc_fix audit chain v1"


def genesis(run_id: str) -> str:
    """The ``prev_hash`` of a run's first entry."""
    return hashlib.sha256(VERSION + b"\x00" + run_id.encode()).hexdigest()


def link(prev_hash: str, seq: int, table: str, key: str, row_hash: str) -> str:
    """An entry's own hash: it commits to the previous entry and to the row."""
    return hashlib.sha256(f"{prev_hash}|{seq}|{table}|{key}|{row_hash}".encode()).hexdigest()


def dec_text(value) -> str:
    """An exact decimal as plain text with no exponent and no trailing zeros (``-0`` is ``0``)."""
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not d.is_finite():
        return str(d)
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


# How each column is normalised, by table: (name, kind, default, left out when null).
_Plan = tuple[tuple[str, str, object, bool], ...]
_plans: dict[tuple[str, str], _Plan] = {}


def _plan(table: Table, dialect) -> _Plan:
    key = (table.name, dialect.name)
    plan = _plans.get(key)
    if plan is None:
        skip = models.UNHASHED_COLUMNS.get(table.name, ())
        when_set = models.HASHED_WHEN_SET.get(table.name, ())
        digested = models.DIGESTED_COLUMNS.get(table.name, ())
        cols = []
        for c in sorted(table.columns, key=lambda c: c.name):
            if c.name in skip:
                continue
            t = c.type
            if isinstance(t, models.Dec):
                kind = "dec"
            elif isinstance(t, Boolean):
                kind = "bool"
            elif isinstance(t, Integer):
                kind = "int"
            elif isinstance(t, LargeBinary):
                kind = "digest" if c.name in digested else "bytes"
            else:
                kind = "str"
            default = c.default.arg if c.default is not None and c.default.is_scalar else None
            cols.append((c.name, kind, default, c.name in when_set))
        plan = _plans[key] = tuple(cols)
    return plan


def _norm(kind: str, v, dialect):
    try:
        return _norm_value(kind, v, dialect)
    except Exception:  # a value of the wrong type (SQLite stores what it is given): hash what it is
        return f"!{type(v).__name__}:{v!r}"


def _norm_value(kind: str, v, dialect):
    if v is None:
        return None
    if kind == "int":
        try:
            return int(v)
        except (TypeError, ValueError):
            return str(v)
    if kind == "str":
        return v if isinstance(v, str) else str(v)
    if kind == "bytes":
        return (v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)).hex()
    if kind == "digest":
        return "sha256:" + hashlib.sha256(v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v).hexdigest()
    if kind == "bool":
        return bool(v)
    # dec: the value the database stores (NUMERIC(38,12) on PostgreSQL rounds), as text
    try:
        return dec_text(models.Dec().process_bind_param(v, dialect))
    except (InvalidOperation, ValueError, TypeError):
        return str(v)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_PLAIN = {"str": str, "int": int, "bool": bool}


def canonical(table: Table, row: dict, dialect) -> bytes:
    """The bytes a row's hash is computed over: ``{"r":{...columns sorted...},"t":"table"}``."""
    body = {}
    for name, kind, default, when_set in _plan(table, dialect):   # columns in sorted order: no sort needed
        v = row.get(name, default)
        if v is None and when_set:
            continue
        # the common cases inline (this runs once per stored row, on the writer thread)
        body[name] = v if v is None or type(v) is _PLAIN.get(kind) else _norm(kind, v, dialect)
    return _encode({"r": body, "t": table.name}).encode("utf-8", "surrogatepass")


def row_hash(table: Table, row: dict, dialect) -> str:
    return hashlib.sha256(canonical(table, row, dialect)).hexdigest()


def row_key(table_name: str, row: dict) -> str:
    return str(row[models.CHAIN_KEYS[table_name]])


@dataclass(slots=True)
class Head:
    """Where a run's chain stands: the number of entries and the last entry's hash."""

    run_id: str
    length: int
    hash: str

    @classmethod
    def start(cls, run_id: str) -> "Head":
        return cls(run_id, 0, genesis(run_id))


def extend(head: Head, items: list[tuple[str, str, str]]) -> tuple[list[dict], Head]:
    """``audit_chain`` rows for ``items`` (table, key, row_hash) after ``head``, and the new head.
    ``head`` itself is not changed: the caller adopts the new head once the rows are committed."""
    seq, prev = head.length, head.hash
    out = []
    for table, key, rh in items:
        seq += 1
        h = link(prev, seq, table, key, rh)
        out.append({"run_id": head.run_id, "seq": seq, "table_name": table, "row_key": key, "row_hash": rh,
                    "prev_hash": prev, "hash": h})
        prev = h
    return out, Head(head.run_id, seq, prev)
