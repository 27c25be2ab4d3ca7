"""Reading QuickFIX's FileStore: the outgoing messages it keeps for resends, by sequence number.

A session's store is ``<FileStorePath>/<Begin>-<Sender>-<Target>[-<Qualifier>]`` plus ``.body``
(the messages back to back), ``.header`` (``seq,offset,size`` triples separated by spaces),
``.seqnums`` (``next sender : next target``) and ``.session`` (the store's creation time, UTC).
QuickFIX keeps every message it sends under its sequence number (admin and application), but not the
copies it re-sends (PossDup) nor the gap fills that replace them. The engine overwrites Logon
passwords in ``.body`` with ``*`` of the same length once the logon completed; compare through
:func:`xmc_fix.venues.credentials.mask_fix_bytes`, which masks both forms as ``***``.

Read-only: nothing here writes to a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xmc_fix.fixwire import parse_utc_ns


@dataclass(frozen=True, slots=True)
class StoreMark:
    """A session's store at one moment: its generation (the creation time QuickFIX wrote in
    ``.session`` when it created or last reset the store) and the next sequence numbers out and in.
    A run records one at its start and one at its end; a field is None when its file was missing."""

    created: str | None
    next_out: int | None
    next_in: int | None

    @property
    def created_ns(self) -> int | None:
        return parse_created(self.created) if self.created else None

    def to_dict(self) -> dict:
        return {"created": self.created, "next_out": self.next_out, "next_in": self.next_in}

    @classmethod
    def from_dict(cls, d: dict | None) -> "StoreMark | None":
        if not isinstance(d, dict):
            return None
        num = lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None  # noqa: E731
        return cls(d.get("created") if isinstance(d.get("created"), str) else None, num(d.get("next_out")),
                   num(d.get("next_in")))


def read_mark(store_dir: str | Path, session_key: str) -> StoreMark:
    """The store's generation and next numbers now (read only ``.session`` and ``.seqnums``)."""
    prefix = store_prefix(store_dir, session_key)
    created = nxt_s = nxt_t = None
    try:
        created = prefix.with_name(prefix.name + ".session").read_text().strip() or None
    except OSError:
        pass
    try:
        a, b = prefix.with_name(prefix.name + ".seqnums").read_text().split(":")
        nxt_s, nxt_t = int(a), int(b)
    except (OSError, ValueError):
        pass
    return StoreMark(created, nxt_s, nxt_t)


@dataclass
class StoreFile:
    session_key: str
    prefix: Path
    created_ns: int | None
    next_sender: int | None
    next_target: int | None
    messages: dict[int, bytes] = field(default_factory=dict)


def store_prefix(store_dir: str | Path, session_key: str) -> Path:
    """``FIX.4.4:XMC->SHFE[:QUAL]`` -> ``<dir>/FIX.4.4-XMC-SHFE[-QUAL]``."""
    begin, rest = session_key.split(":", 1)
    sender, _, target = rest.partition("->")
    target, _, qualifier = target.partition(":")
    name = f"{begin}-{sender}-{target}" + (f"-{qualifier}" if qualifier else "")
    return Path(store_dir) / name


def parse_created(text: str) -> int | None:
    """``20261123-20:32:27`` (optionally with fractions) as epoch nanoseconds, UTC."""
    return parse_utc_ns(text.strip())


def read_store(store_dir: str | Path, session_key: str) -> StoreFile | None:
    """The session's store, or None when it has no ``.body``/``.header`` there."""
    prefix = store_prefix(store_dir, session_key)
    body_p, header_p = prefix.with_name(prefix.name + ".body"), prefix.with_name(prefix.name + ".header")
    if not body_p.is_file() or not header_p.is_file():
        return None
    created = nxt_s = nxt_t = None
    try:
        created = parse_created(prefix.with_name(prefix.name + ".session").read_text())
    except OSError:
        pass
    try:
        a, b = prefix.with_name(prefix.name + ".seqnums").read_text().split(":")
        nxt_s, nxt_t = int(a), int(b)
    except (OSError, ValueError):
        pass
    body = body_p.read_bytes()
    messages: dict[int, bytes] = {}
    for triple in header_p.read_text().split():
        try:
            seq, offset, size = (int(x) for x in triple.split(","))
        except ValueError:
            continue
        if 0 <= offset and offset + size <= len(body):
            messages[seq] = body[offset:offset + size]
    return StoreFile(session_key, prefix, created, nxt_s, nxt_t, messages)
