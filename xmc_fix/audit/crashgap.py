"""A run that died, as ``xmc audit verify`` reads it after the next start completed it.

The recovery (:mod:`xmc_fix.audit.recovery`) appends what it wrote to the crashed run's own chain
and records in the run's summary (``crashed``) how long the chain was at the crash. Here: reading
that summary, describing it in one line, and finding the entries after the crash point whose rows
are not ones the recovery writes (a recovered row, its event, the run row), which would be rows
added to a finished run by some other hand. Reading only.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select

from xmc_fix.audit import models

RECOVERY_EVENT = "audit_recovered"


def crashed_summary(summary_text) -> dict | None:
    """A run's summary when the run died and was completed at a later start, else None."""
    try:
        s = json.loads(summary_text or "null")
    except (TypeError, ValueError):
        return None
    return s if isinstance(s, dict) and s.get("crashed") is True else None


def describe_crash(crash: dict, committed: int, entries: int) -> str:
    """One line: where the chain stood at the crash, what was recovered after it, what is lost."""
    from xmc_fix.clock import ns_to_iso
    msgs = crash.get("fix_messages") if isinstance(crash.get("fix_messages"), dict) else {}
    lost = crash.get("lost_incoming") if isinstance(crash.get("lost_incoming"), dict) else {}
    n_lost = sum(v.get("count", 0) for v in lost.values() if isinstance(v, dict))
    when = crash.get("recovered_ns")
    listed = lambda k: len(crash.get(k) or [])  # noqa: E731
    text = (f"the process died with {committed} chain entries committed; entries {committed + 1}..{entries} were "
            f"recovered{' at ' + ns_to_iso(when)[:19] + 'Z' if isinstance(when, int) else ''}: "
            f"{sum(v for v in msgs.values() if isinstance(v, int))} outgoing message(s) from QuickFIX's store, "
            f"{listed('tickets')} ticket(s) written and {listed('tickets_ended')} ended, {listed('orders')} order(s) "
            f"and {crash.get('fills', 0)} fill(s) from the journal; known gap: {n_lost} incoming message(s) "
            "lost for good (QuickFIX keeps no copy of what it receives)")
    if lost:
        text += " [" + ", ".join(f"{s} in {v.get('first')}..{v.get('last')}" for s, v in sorted(lost.items())
                                 if isinstance(v, dict)) + "]"
    return text


def not_recovered(conn, rid: str, entries: list) -> list:
    """Entries of ``entries`` whose row is not a recovered one (rows that are gone are reported
    as deleted elsewhere)."""
    by_table: dict[str, dict[str, object]] = defaultdict(dict)
    for e in entries:
        by_table[e.table_name][e.row_key] = e
    bad = []
    for name, ents in by_table.items():
        if name == "runs":
            bad += [e for k, e in ents.items() if k != rid]
            continue
        table = models.TABLES.get(name)
        if table is None:
            bad += list(ents.values())
            continue
        key_col = models.CHAIN_KEYS[name]
        have = {c.name for c in models.stored_columns(conn, table)}
        mark = "kind" if name == "events" else "recovered" if "recovered" in have else None
        if mark is None:
            bad += list(ents.values())
            continue
        keys = list(ents)
        found = {}
        for i in range(0, len(keys), 500):
            chunk = [int(k) for k in keys[i:i + 500] if k.isdigit()] if key_col == "id" else keys[i:i + 500]
            for k, v in conn.execute(select(table.c[key_col], table.c[mark]).where(table.c[key_col].in_(chunk))):
                found[str(k)] = v
        for k, e in ents.items():
            if k in found and not (found[k] == RECOVERY_EVENT if mark == "kind" else found[k]):
                bad.append(e)
    return bad
