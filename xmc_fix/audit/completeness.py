"""Audit completeness: is every sequence number QuickFIX used in a run, in and out, in the audit
database? QuickFIX's FileStore is the independent witness of what was used.

Read-only: nothing here writes to a store or the database.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from xmc_fix.audit import models
from xmc_fix.audit.writer import make_engine


def store_seqnums(store_dir: str, session_key: str) -> tuple[int, int] | None:
    """Next sender and target sequence numbers from a QuickFIX FileStore, or None."""
    begin, rest = session_key.split(":", 1)
    sender, target = rest.split("->", 1)
    path = Path(store_dir) / f"{begin}-{sender}-{target}.seqnums"
    try:
        a, b = path.read_text().split(":")
        return int(a), int(b)
    except (OSError, ValueError):
        return None


def audit_completeness(db_url: str, run_id: str, sessions) -> dict:
    """Compare each session's FIX messages in the audit database with QuickFIX's own store: every
    sequence number QuickFIX used in this run must be in the database, in and out. ``sessions`` is a
    session file (anything with ``sessions``, each with ``session_key`` and ``values["FileStorePath"]``)."""
    m = models.fix_messages
    eng = make_engine(db_url)
    out: dict[str, dict] = {}
    complete = True
    with eng.connect() as conn:
        for s in sessions.sessions:
            key = s.session_key
            store = store_seqnums(s.values["FileStorePath"], key)
            row = {}
            for direction in ("out", "in"):
                n, lo, hi = conn.execute(select(func.count(func.distinct(m.c.seq_num)), func.min(m.c.seq_num),
                                                func.max(m.c.seq_num))
                                         .where(m.c.run_id == run_id, m.c.session == key, m.c.direction == direction,
                                                m.c.seq_num.is_not(None))).one()
                row[direction] = {"messages": n, "first_seq": lo, "last_seq": hi}
            if store is not None:
                row["store_next_out"], row["store_next_in"] = store
                for direction, nxt in (("out", store[0]), ("in", store[1])):
                    r = row[direction]
                    gapless = r["messages"] == ((r["last_seq"] or 0) - (r["first_seq"] or 1) + 1)
                    upto = (r["last_seq"] or 0) >= nxt - 1
                    r["complete"] = bool(gapless and upto)
                    complete &= r["complete"]
            out[key] = row
    eng.dispose()
    return {"complete": complete, "sessions": out}
