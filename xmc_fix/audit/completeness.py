"""Audit coverage: is every sequence number QuickFIX used in a run, in and out, in the audit database,
and is every outgoing message the one QuickFIX kept?

Two methods, and the result says which one ran and exactly what it compared:

``filestore`` — the run recorded, per session, its QuickFIX store's generation (the creation time in
``.session``) and next sequence numbers at its start and at its end (``runs.config``
``store_marks``). Every number in ``[next at start, next at end - 1]`` must be in ``fix_messages``
(or, for incoming market data, in a ``fix_message_batches`` row's ``seqs``), in and out (a SequenceReset-GapFill accounts for the numbers it skips). The outgoing messages are
also compared byte for byte (secrets masked) with what the store holds, when the store on disk is
still the generation the run ended on (a later reset, or another run's store in the same folder,
is never read as this run's). A session whose range cannot be fixed — no end recorded (the run did
not stop cleanly and was not completed since), the store reset during the run — is counted as
*unchecked*, never complete. A run that died and was completed at a later start
(:mod:`xmc_fix.audit.recovery`) has its end recorded then, from the store as the crash left it: its
outgoing numbers are checked as any run's, and the incoming numbers the crash lost are missing and
also counted as ``known_gap`` (QuickFIX keeps no copy of what it receives).

``database`` — runs that recorded no marks (written by older versions): per session and direction
the stored numbers must be gapless from the first to the last stored (a Logon with
ResetSeqNumFlag starts again at 1). It cannot see a loss before the first stored message or after
the last, so it can show a gap but never prove completeness.

Read-only: nothing here writes to a store or the database.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path

from sqlalchemy import case, select

from xmc_fix.audit import models
from xmc_fix.audit.crashgap import crashed_summary
from xmc_fix.audit.filestore import StoreMark, read_mark, read_store
from xmc_fix.audit.mdbatch import seq_rows
from xmc_fix.audit.writer import make_engine
from xmc_fix.fixwire import SOH_B, text_value
from xmc_fix.venues.credentials import SECRET_TAGS, mask_fix_bytes

MAX_LISTED = 5


def store_seqnums(store_dir: str, session_key: str) -> tuple[int, int] | None:
    """Next sender and target sequence numbers from a QuickFIX FileStore, or None."""
    mark = read_mark(store_dir, session_key)
    return None if mark.next_out is None else (mark.next_out, mark.next_in)


def store_marks(stores: dict[str, str]) -> dict[str, dict]:
    """``{session: mark}`` of each session's store now, for ``runs.config``."""
    return {key: read_mark(d, key).to_dict() for key, d in stores.items() if d}


def audit_completeness(db_url: str, run_id: str, sessions=None) -> dict:
    """:func:`coverage` of one run by id (``sessions``: a session file whose FileStorePath values
    stand in when the run recorded no stores)."""
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            row = conn.execute(select(models.runs).where(models.runs.c.run_id == run_id)).mappings().first()
    finally:
        eng.dispose()
    run = dict(row) if row is not None else {"run_id": run_id, "config": None}
    if sessions is not None:
        cfg = _config(run)
        if not cfg.get("stores"):
            cfg["stores"] = {s.session_key: s.values.get("FileStorePath") for s in sessions.sessions}
            run["config"] = json.dumps(cfg)
    return coverage(db_url, run)


def _config(run: dict) -> dict:
    try:
        cfg = json.loads(run.get("config") or "{}")
    except (TypeError, ValueError):
        cfg = {}
    return cfg if isinstance(cfg, dict) else {}


def coverage(db_url: str, run: dict) -> dict:
    """The run's audit coverage (module docstring): ``method``, ``compared`` (what was compared, in
    words), ``rate`` (share of the checked sequence numbers present and, out, equal to the store's),
    ``complete`` (True only when everything was checked and found), ``checked`` (numbers),
    ``unchecked`` (session directions that could not be checked, with the reason), ``sessions``
    (per session and direction), ``note``."""
    cfg = _config(run)
    marks = cfg.get("store_marks") if isinstance(cfg.get("store_marks"), dict) else None
    stores = cfg.get("stores") if isinstance(cfg.get("stores"), dict) else {}
    if not stores and isinstance(cfg.get("store"), str):
        stores = {key: cfg["store"] for key in (marks or {})}
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            rows = _rows(conn, run["run_id"])
    finally:
        eng.dispose()
    if not marks:
        db = _database_coverage(rows)
        why = ("the run recorded no FileStore sequence numbers (written by an older version)" if stores
               else "runs.config records no FileStore path")
        db["note"] = (f"{why}: the stored numbers were checked for gaps only; messages lost before the first "
                      "stored one or after the last cannot be seen this way")
        return db
    return _store_coverage(rows, marks, stores, run)


def _rows(conn, run_id: str) -> dict[tuple[str, str], list]:
    m = models.fix_messages
    q = (select(m.c.session, m.c.direction, m.c.msg_type, m.c.seq_num, m.c.ts_ns,
                case((m.c.msg_type.in_(("4", "A")) | (m.c.direction == "out"), m.c.raw), else_=None).label("raw"))
         .where(m.c.run_id == run_id, m.c.seq_num.is_not(None)).order_by(m.c.id))
    streams: dict[tuple[str, str], list] = {}
    for r in conn.execute(q):
        streams.setdefault((r.session, r.direction), []).append(r)
    batched: dict[tuple[str, str], list] = {}
    for r in seq_rows(conn, run_id):   # market data stored in bulk (xmc_fix.audit.mdbatch)
        batched.setdefault((r.session, r.direction), []).append(r)
    for key, rows in batched.items():  # in receive-time order, each source's own order kept
        rows.sort(key=lambda r: r.ts_ns)   # a stream's batches of each MsgType, each in its order
        streams[key] = list(heapq.merge(streams.get(key, []), rows, key=lambda r: r.ts_ns or 0))
    return streams


def _gap_fill(r) -> range:
    """The numbers a SequenceReset accounts for (its own up to NewSeqNo - 1), else nothing."""
    if r.msg_type != "4":
        return range(0)
    new = text_value(r.raw, 36)
    return range(r.seq_num, int(new)) if new and new.isdigit() and int(new) > r.seq_num else range(0)


# -- against what the run recorded --------------------------------------------------------------
def _store_coverage(streams: dict, marks: dict, stores: dict, run: dict) -> dict:
    sessions: dict[str, dict] = {}
    unchecked: list[dict] = []
    expected_total = present_total = compared_total = known_total = 0
    crash = crashed_summary(run.get("summary"))
    lost = (crash or {}).get("lost_incoming") if isinstance((crash or {}).get("lost_incoming"), dict) else {}
    keys = sorted(set(marks) | {s for s, _ in streams})
    for key in keys:
        rec = marks.get(key) if isinstance(marks.get(key), dict) else {}
        start, end = StoreMark.from_dict(rec.get("start")), StoreMark.from_dict(rec.get("end"))
        store_note, store = _store_for(key, stores.get(key), end)
        out: dict[str, dict] = {"store": store_note}
        for direction in ("out", "in"):
            msgs = streams.get((key, direction), [])
            window = lost.get(key) if direction == "in" and isinstance(lost.get(key), dict) else None
            d = _direction(msgs, start, end, direction, store if direction == "out" else None, window)
            known_total += d.get("known_gap", 0)
            out[direction] = d
            if d["unchecked"]:
                unchecked.append({"session": key, "direction": direction, "reason": d["unchecked"]})
            expected_total += d["expected"]
            present_total += d["present"]
            compared_total += d.get("store_compared", 0)
        sessions[key] = out
    missing = expected_total - present_total
    complete = missing == 0 and not unchecked and expected_total > 0
    notes = []
    if crash is not None:
        notes.append(f"the run died and was completed at a later start: its outgoing messages from QuickFIX's store, "
                     f"its tickets, orders and fills from the journal; {known_total} incoming number(s) it had not "
                     "committed are a known gap (QuickFIX keeps no copy of what it receives)")
    if unchecked:
        notes.append(f"{len(unchecked)} session direction(s) could not be checked: "
                     + "; ".join(f"{u['session']} {u['direction']}: {u['reason']}" for u in unchecked[:MAX_LISTED]))
    return {"method": "filestore",
            "compared": (f"{expected_total} sequence numbers QuickFIX used in the run (in and out, from the numbers "
                         f"recorded in its store at start and end) looked up in fix_messages; {compared_total} "
                         "outgoing messages compared byte for byte with QuickFIX's store"),
            "rate": round(present_total / expected_total, 6) if expected_total else None,
            "complete": complete, "checked": expected_total, "missing": missing,
            "store_compared": compared_total, "unchecked": unchecked, "sessions": sessions,
            "known_gap": known_total, "crashed": crash is not None, "note": "; ".join(notes) or None}



def _store_for(key: str, folder: str | None, end: StoreMark | None):
    """(what the store on disk is to this run, its messages when it is still the generation the run
    ended on)."""
    if not folder:
        return "not recorded", None
    sf = read_store(folder, key)
    if sf is None:
        return f"gone ({folder})", None
    if end is None or end.created_ns is None:
        return "not compared: the run recorded no end", None
    if sf.created_ns != end.created_ns:
        return (f"not compared: {folder} now holds another generation (created {_iso(sf.created_ns)}; the run "
                f"ended on the one created {_iso(end.created_ns)})"), None
    if sf.next_sender is not None and end.next_out is not None and sf.next_sender < end.next_out:
        return f"not compared: {folder} has fewer messages than the run recorded (next {sf.next_sender})", None
    return f"same generation ({folder})", sf


def _iso(ns: int | None) -> str:
    from xmc_fix.clock import ns_to_iso
    return ns_to_iso(ns)[:19] + "Z" if ns else "?"


def _direction(msgs: list, start: StoreMark | None, end: StoreMark | None, direction: str, sf,
               lost: dict | None = None) -> dict:
    """One session direction against its recorded range; ``lost``: the window of incoming numbers a
    crash lost ({first, last}), whose missing numbers are also counted as ``known_gap``."""
    nxt = (lambda mk: None if mk is None else (mk.next_out if direction == "out" else mk.next_in))
    seen = {r.seq_num for r in msgs}
    d = {"messages": len(seen), "first_seq": min(seen, default=None), "last_seq": max(seen, default=None),
         "range": None, "expected": 0, "present": 0, "missing": 0, "first_missing": [], "outside_range": 0,
         "unchecked": None, "complete": None}
    lo, hi = nxt(start), nxt(end)
    if lo is None:
        d["unchecked"] = "no sequence number recorded at the run's start (its store could not be read)"
        return d
    if hi is None:
        d["unchecked"] = ("no sequence number recorded at the run's end (it did not stop cleanly): "
                          "the last numbers it used are unknown")
        return d
    hi -= 1
    if start.created_ns != end.created_ns:
        # the store was reset during the run (a new session day, a reset logon): only the last
        # generation's numbers [1, end) are known; what the older one used after `start` is not
        since = end.created_ns // 1_000_000_000 * 1_000_000_000 if end.created_ns else 0
        msgs = [r for r in msgs if r.ts_ns is not None and r.ts_ns >= since]
        seen = {r.seq_num for r in msgs}
        d["unchecked"] = (f"the store was reset during the run (created {_iso(end.created_ns)}): numbers used "
                          "before the reset cannot be bounded; only [1, end) after it was checked")
        lo = 1
    covered = set(seen)
    for r in msgs:
        covered.update(_gap_fill(r))
    expected = range(lo, hi + 1) if hi >= lo else range(0)
    missing = [n for n in expected if n not in covered]
    d.update(range=[lo, hi] if hi >= lo else None, expected=len(expected), missing=len(missing),
             first_missing=missing[:MAX_LISTED], outside_range=sum(1 for n in seen if not lo <= n <= hi))
    if lost and isinstance(lost.get("first"), int) and isinstance(lost.get("last"), int):
        d["known_gap"] = sum(1 for n in missing if lost["first"] <= n <= lost["last"])
    present = len(expected) - len(missing)
    if direction == "out":
        d.update(store_compared=0, store_differs=0, first_differs=[], store_lacks=0)
        if sf is not None:
            by_seq: dict[int, list] = {}
            for r in msgs:
                by_seq.setdefault(r.seq_num, []).append(r)
            differs = []
            for n in expected:
                if n not in by_seq:
                    continue
                kept = sf.messages.get(n)
                if kept is None:
                    d["store_lacks"] += 1
                    continue
                d["store_compared"] += 1
                if not any(_comparable(_as_bytes(r.raw)) == _comparable(kept) for r in by_seq[n]):
                    differs.append(n)
            d.update(store_differs=len(differs), first_differs=differs[:MAX_LISTED])
            present -= len(differs)
    d["present"] = present
    d["complete"] = None if d["unchecked"] else present == len(expected)
    return d


def _as_bytes(v) -> bytes:
    if v is None:
        return b""
    return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)


def _comparable(raw: bytes) -> bytes:
    """A message as the store and the database can both show it: secrets masked and, for a message
    that holds one, the CheckSum ignored (the store's copy is restamped after the password is
    overwritten; the database keeps the original)."""
    if not any(SOH_B + str(t).encode() + b"=" in raw for t in SECRET_TAGS):
        return raw
    masked = mask_fix_bytes(raw)
    i = masked.rfind(SOH_B + b"10=")
    return masked[:i] if i >= 0 else masked


# -- gaplessness in the database ------------------------------------------------------------------
def _database_coverage(streams: dict) -> dict:
    used = present = 0
    sessions: dict[str, dict] = {}
    for (session, direction), msgs in sorted(streams.items()):
        segments: list[dict] = []
        seg = None
        for r in msgs:
            reset = r.msg_type == "A" and r.seq_num == 1 and text_value(r.raw, 141) == "Y"
            if seg is None or (reset and seg["seen"]):
                seg = {"seen": set(), "covered": set()}
                segments.append(seg)
            seg["seen"].add(r.seq_num)
            seg["covered"].update(_gap_fill(r))
        expected = found = 0
        missing: list[int] = []
        for s in segments:
            lo, hi = min(s["seen"]), max(max(s["seen"]), max(s["covered"], default=0))
            accounted = s["seen"] | s["covered"]
            gaps = [n for n in range(lo, hi + 1) if n not in accounted]
            expected += hi - lo + 1
            found += hi - lo + 1 - len(gaps)
            missing += gaps
        used += expected
        present += found
        sessions.setdefault(session, {})[direction] = {
            "first_seq": min(min(s["seen"]) for s in segments), "last_seq": max(max(s["seen"]) for s in segments),
            "messages": sum(len(s["seen"]) for s in segments), "expected": expected, "missing": len(missing),
            "first_missing": missing[:MAX_LISTED], "complete": not missing}
    return {"method": "database",
            "compared": (f"{used} sequence numbers between the first and the last stored per session and direction "
                         "looked up in fix_messages (nothing outside that span, nothing against QuickFIX's store)"),
            "rate": round(present / used, 6) if used else None,
            "complete": present == used, "checked": used, "missing": used - present, "unchecked": [],
            "sessions": sessions, "note": None}


def stores_of(sessions) -> dict[str, str]:
    """``{session: FileStorePath}`` of a session file."""
    return {s.session_key: str(Path(s.values["FileStorePath"])) for s in sessions.sessions
            if s.values.get("FileStorePath")}
