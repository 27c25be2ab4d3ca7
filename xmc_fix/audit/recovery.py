"""Completing the audit of an engine run that died, at the next start of its namespace.

The audit writer commits rows a few milliseconds after the engine hands them over; a ``kill -9`` (or
a power cut) loses what was still in flight. At the start of an engine run — before QuickFIX opens
its stores and before the journal is compacted — :func:`recover_crashed_runs` looks for the earlier
runs of the same namespace that never ended (``runs.ended_ns`` null) and whose process is gone from
this host, and completes each one from the two witnesses that survive a crash:

1. **QuickFIX's FileStore** keeps every message QuickFIX sent, under its sequence number. Each
   outgoing message in the run's range (from the numbers the run recorded at its start, in
   ``runs.config`` ``store_marks``, to where the store stands now or where a later run found it)
   that ``fix_messages`` lacks is inserted, ``recovered = 'filestore'``, its time the message's own
   SendingTime (the store keeps no other).
2. **The journal** (:func:`xmc_fix.execution.journal.history`) holds every ticket, order, fill and end
   the run wrote before acting. Tickets and orders the database lacks, or has stale (a ticket still
   WORKING that the journal ended, an order whose fills the database never received), and fills it
   lacks are written, ``recovered = 'journal'``. Only the namespace's latest run can be completed from
   the journal: the next start compacts it.

The recovered rows are appended to the crashed run's own hash chain, after its last committed entry
(a writer re-opened on the run), with an ``audit_recovered`` event saying what was done; then the run
is sealed: ``ended_ns`` (the last moment it is known to have been alive), its store marks at the end
(the store as the crash left it), and a summary with ``crashed``: the chain length at the crash, what
was recovered, and what could not be.

What a crash loses for good: the incoming messages the writer had not committed (QuickFIX stores
only what it sends; the store's next expected incoming number says how many there were, counted per
session as the known gap ``lost_incoming``), and the run's own events, ticket transitions and session
events of that window. Not done here: a run on another host, or whose process is alive here, is left
alone (it may still be running); nothing is written to a store or the journal.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from xmc_fix.audit import models
from xmc_fix.audit.crashgap import RECOVERY_EVENT
from xmc_fix.audit.filestore import StoreMark, read_mark, read_store
from xmc_fix.audit.journal_rows import JournalRows, journal_rows
from xmc_fix.audit.mdbatch import highest_in
from xmc_fix.audit.writer import AuditWriter, make_engine, message_row
from xmc_fix.execution.journal import history
from xmc_fix.fixwire import parse_utc_ns, text_value
from xmc_fix.procutil import process_state

log = logging.getLogger("xmc.audit")

EVENT = RECOVERY_EVENT


@dataclass
class Recovery:
    """What completing one crashed run did (the ``audit_recovered`` event's detail)."""

    run_id: str
    committed: int                      # chain entries the run had committed when it died
    head: str
    messages: dict[str, int] = field(default_factory=dict)          # session -> outgoing recovered
    lost_incoming: dict[str, dict] = field(default_factory=dict)    # session -> {first, last, count}
    tickets: list[str] = field(default_factory=list)                # written from the journal
    tickets_ended: list[str] = field(default_factory=list)          # were open in the database
    orders: list[str] = field(default_factory=list)
    fills: int = 0
    journal: str | None = None
    notes: list[str] = field(default_factory=list)
    ended_ns: int = 0

    @property
    def rows(self) -> int:
        return sum(self.messages.values()) + len(self.tickets) + len(self.tickets_ended) + len(self.orders) + self.fills

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "chain_length_at_crash": self.committed, "chain_head_at_crash": self.head,
                "fix_messages": dict(self.messages), "tickets": list(self.tickets),
                "tickets_ended": list(self.tickets_ended), "orders": list(self.orders), "fills": self.fills,
                "lost_incoming": dict(self.lost_incoming), "journal": self.journal, "notes": list(self.notes),
                "lost_for_good": "incoming messages, events, ticket transitions and session events the writer had "
                                 "not committed (QuickFIX stores only what it sends)"}

    def line(self) -> str:
        lost = sum(v["count"] for v in self.lost_incoming.values())
        return (f"run {self.run_id} had died with {self.committed} chain entries committed: recovered "
                f"{sum(self.messages.values())} outgoing message(s) from QuickFIX's store, "
                f"{len(self.tickets)} ticket(s) written and {len(self.tickets_ended)} ended, "
                f"{len(self.orders)} order(s) and {self.fills} fill(s) from the journal; {lost} incoming message(s) "
                "lost for good; sealed")


def crashed_runs(db_url: str, namespace: str, current_run_id: str | None = None) -> list[dict]:
    """Engine runs of ``namespace`` that never ended and whose process is not alive on this host,
    oldest first (a run on another host, or with no pid, is not one: it may still be running)."""
    r = models.runs
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            rows = [dict(x) for x in conn.execute(
                select(r).where(r.c.role == "engine", r.c.namespace == namespace, r.c.ended_ns.is_(None))
                .order_by(r.c.started_ns)).mappings()]
    finally:
        eng.dispose()
    return [x for x in rows if x["run_id"] != current_run_id and process_state(x["host"], x["pid"]) == "dead"]


def recover_crashed_runs(db_url: str, namespace: str, *, journal_path: str | Path | None,
                         instruments: dict[str, tuple[str, str]], venues_by_session: dict[str, str],
                         current_run_id: str | None = None, now_ns=time.time_ns) -> list[Recovery]:
    """Complete and seal every crashed run of ``namespace`` (module docstring). ``instruments``:
    instrument name -> (venue, symbol), for orders known only from the journal."""
    out = []
    for run in crashed_runs(db_url, namespace, current_run_id):
        later = _later_runs(db_url, namespace, run["started_ns"], current_run_id)
        rec = _recover(db_url, run, later, journal_path, instruments, venues_by_session, now_ns)
        log.warning("audit: %s", rec.line())
        out.append(rec)
    return out


def _later_runs(db_url: str, namespace: str, started_ns: int, current: str | None) -> list[dict]:
    r = models.runs
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            return [dict(x) for x in conn.execute(
                select(r.c.run_id, r.c.started_ns, r.c.config).where(
                    r.c.role == "engine", r.c.namespace == namespace, r.c.started_ns > started_ns,
                    r.c.run_id != (current or "")).order_by(r.c.started_ns)).mappings()]
    finally:
        eng.dispose()


def _config(text: str | None) -> dict:
    try:
        cfg = json.loads(text or "{}")
    except (TypeError, ValueError):
        cfg = {}
    return cfg if isinstance(cfg, dict) else {}


def _start_mark(cfg: dict, session: str) -> StoreMark | None:
    marks = cfg.get("store_marks") if isinstance(cfg.get("store_marks"), dict) else {}
    rec = marks.get(session) if isinstance(marks.get(session), dict) else {}
    return StoreMark.from_dict(rec.get("start"))


# -- one run --------------------------------------------------------------------------------------------
def _recover(db_url: str, run: dict, later: list[dict], journal_path, instruments, venues_by_session,
             now_ns) -> Recovery:
    rid = run["run_id"]
    cfg = _config(run.get("config"))
    writer = AuditWriter(db_url, rid, venues_by_session=venues_by_session)
    try:
        return _complete(writer, run, cfg, later, journal_path, instruments, venues_by_session, now_ns)
    finally:
        writer.close()      # idempotent; releases the database when anything above failed


def _complete(writer: AuditWriter, run: dict, cfg: dict, later: list[dict], journal_path, instruments,
              venues_by_session, now_ns) -> Recovery:
    rid = run["run_id"]
    rec = Recovery(rid, writer.chain_length, writer.chain_head)
    with writer.engine.connect() as conn:
        seen_out, max_in, last_ns = _stored(conn, rid)
    rec.ended_ns = last_ns or run["started_ns"]
    rows: list[tuple[str, dict]] = []
    stores = cfg.get("stores") if isinstance(cfg.get("stores"), dict) else {}
    sent: dict[str, tuple[str | None, str, int | None]] = {}       # ClOrdID -> (venue, MsgType, time)
    for session, folder in sorted(stores.items()):
        if not folder:
            continue
        end = _from_store(rec, rid, session, str(folder), cfg, later, seen_out.get(session, {}),
                          max_in.get(session), venues_by_session, rows, sent)
        if end is not None:
            cfg.setdefault("store_marks", {}).setdefault(session, {})["end"] = end.to_dict()
    with writer.engine.connect() as conn:
        sent.update(_sent_in_db(conn, rid))
    jr = None
    journal = cfg.get("journal")
    if later:
        rec.notes.append("not completed from the journal: a later run has compacted it since")
    elif not journal or journal_path is None or Path(journal).resolve() != Path(journal_path).resolve():
        rec.notes.append(f"not completed from the journal: the run wrote {journal or 'none'}, this run reads "
                         f"{journal_path}")
    elif not Path(journal).exists():
        rec.notes.append(f"not completed from the journal: {journal} is gone")
    else:
        rec.journal = str(journal)
        with writer.engine.connect() as conn:
            jr = journal_rows(conn, rid, history(journal), instruments, sent)
        _take_journal(rec, jr, rows)
    rec.ended_ns = max([rec.ended_ns] + [r.get("ts_ns") or r.get("recv_ns") or 0 for t, r in rows
                                         if t in ("fix_messages", "fills")] + ([jr.last_ns] if jr else []))
    _seal(writer, rec, cfg, rows, run, now_ns)
    return rec


def _stored(conn, rid: str) -> tuple[dict, dict, int | None]:
    """What the database holds of the run: outgoing numbers per session (with their times),
    the highest incoming number per session, the time of its last message."""
    m = models.fix_messages
    seen_out: dict[str, dict[int, int]] = {}
    for session, seq, ts in conn.execute(select(m.c.session, m.c.seq_num, m.c.ts_ns).where(
            m.c.run_id == rid, m.c.direction == "out", m.c.seq_num.is_not(None))):
        seen_out.setdefault(session, {})[seq] = ts
    max_in = {s: (n, ts) for s, n, ts in conn.execute(
        select(m.c.session, func.max(m.c.seq_num), func.max(m.c.ts_ns)).where(
            m.c.run_id == rid, m.c.direction == "in").group_by(m.c.session))}
    for session, (n, ts) in highest_in(conn, rid).items():   # market data stored in bulk
        have = max_in.get(session)
        max_in[session] = (max(n, have[0]), max(ts, have[1])) if have and have[0] is not None else (n, ts)
    # a gap fill committed last accounts for the numbers up to its NewSeqNo
    for session, (n, ts) in list(max_in.items()):
        for (raw,) in conn.execute(select(m.c.raw).where(m.c.run_id == rid, m.c.session == session,
                                                          m.c.direction == "in", m.c.seq_num == n,
                                                          m.c.msg_type == "4")):
            new = text_value(raw, 36)
            if new and new.isdigit() and int(new) - 1 > n:
                max_in[session] = (int(new) - 1, ts)
    b = models.fix_message_batches
    last = max([x for x in (conn.execute(select(func.max(m.c.ts_ns)).where(m.c.run_id == rid)).scalar(),
                            conn.execute(select(func.max(b.c.last_ts_ns)).where(b.c.run_id == rid)).scalar())
                if x is not None], default=None)
    e = models.events
    last_ev = conn.execute(select(func.max(e.c.ts_ns)).where(e.c.run_id == rid)).scalar()
    return seen_out, max_in, max([x for x in (last, last_ev) if x is not None], default=None)


def _sent_in_db(conn, rid: str) -> dict[str, tuple[str | None, str, int | None]]:
    """ClOrdID -> (venue, MsgType, time) of the run's NewOrderSingles, ``cancel:<ClOrdID>`` of its
    cancel requests, as the database has them."""
    m = models.fix_messages
    out = {}
    for cl, orig, mt, venue, ts in conn.execute(select(m.c.cl_ord_id, m.c.orig_cl_ord_id, m.c.msg_type,
                                                       m.c.venue, m.c.ts_ns).where(
            m.c.run_id == rid, m.c.direction == "out", m.c.msg_type.in_(("D", "F")))):
        if mt == "D" and cl:
            out.setdefault(cl, (venue, "D", ts))
        elif mt == "F" and orig:
            out[f"cancel:{orig}"] = (venue, "F", ts)
    return out


def _from_store(rec: Recovery, rid: str, session: str, folder: str, cfg: dict, later: list[dict],
                db_seqs: dict[int, int], max_in, venues_by_session: dict, rows: list, sent: dict) -> StoreMark | None:
    """The run's outgoing messages the database lacks, from the session's store; the store's mark
    at the run's end (None when it cannot be told)."""
    start = _start_mark(cfg, session)
    if start is None or start.next_out is None:
        rec.notes.append(f"{session}: the run recorded no store mark at its start; its store was not read")
        return None
    # where the store stood when the run ended: where the next run found it, else where it is now
    nxt = next((m for m in (_start_mark(_config(r.get("config")), session) for r in later) if m is not None), None)
    end = nxt if nxt is not None else read_mark(folder, session)
    sf = read_store(folder, session)
    if sf is None or end.next_out is None:
        rec.notes.append(f"{session}: no FileStore in {folder}; its outgoing messages were not recovered")
        return end if end.next_out is not None else None
    if end.created_ns != sf.created_ns:
        rec.notes.append(f"{session}: the store in {folder} was reset after the run; its messages are gone")
        return end
    lo = start.next_out
    since = 0
    if start.created_ns != end.created_ns:
        # reset during the run (a new session day, a reset logon): only the new generation is there
        rec.notes.append(f"{session}: the store was reset during the run; what it sent before the reset and did "
                         "not commit is gone")
        lo, since = 1, (end.created_ns or 0) // 1_000_000_000 * 1_000_000_000
    have = {s for s, ts in db_seqs.items() if ts is None or ts >= since}
    venue = venues_by_session.get(session)
    n = 0
    for seq in range(lo, end.next_out):
        raw = sf.messages.get(seq)
        if raw is None or seq in have:
            continue
        text = raw.decode("utf-8", "surrogateescape")
        ts = parse_utc_ns(text_value(raw, 52)) or rec.ended_ns
        row = message_row(rid, session, venue, "out", text, ts)
        row["recovered"] = models.RECOVERED_FROM_STORE
        rows.append(("fix_messages", row))
        if row["msg_type"] == "D" and row["cl_ord_id"]:
            sent.setdefault(row["cl_ord_id"], (venue, "D", ts))
        elif row["msg_type"] == "F" and row["orig_cl_ord_id"]:
            sent[f"cancel:{row['orig_cl_ord_id']}"] = (venue, "F", ts)
        n += 1
    if n:
        rec.messages[session] = n
    # incoming: the store knows the next number it expected; what the database lacks below it is lost
    if end.next_in is not None:
        got = max_in[0] if max_in and (max_in[1] or 0) >= since else None
        floor = (start.next_in or 1) if since == 0 else 1
        first = max(got + 1 if got is not None else 1, floor)
        if end.next_in - 1 >= first:
            rec.lost_incoming[session] = {"first": first, "last": end.next_in - 1, "count": end.next_in - first}
    return end


def _take_journal(rec: Recovery, jr: JournalRows, rows: list) -> None:
    for row in jr.new_tickets:
        rows.append(("tickets", row))
        rec.tickets.append(row["ticket_id"])
    for row in jr.ticket_updates:
        rows.append((":update:tickets", row))
        rec.tickets_ended.append(row["ticket_id"])
    for row in jr.new_orders:
        rows.append(("orders", row))
        rec.orders.append(row["cl_ord_id"])
    for row in jr.order_updates:
        rows.append((":update:orders", row))
        rec.orders.append(row["cl_ord_id"])
    for row in jr.fills:
        rows.append(("fills", row))
    rec.fills = len(jr.fills)
    rec.notes += jr.notes


def _seal(writer: AuditWriter, rec: Recovery, cfg: dict, rows: list, run: dict, now_ns) -> None:
    """Append the recovered rows to the run's chain, say what was done, end and seal the run."""
    writer.start()
    try:
        for table, row in rows:
            if table.startswith(":update:"):
                writer.update(table[len(":update:"):], row)
            else:
                writer.record(table, row)
        now = now_ns()
        writer.event(EVENT, now, **rec.to_dict())
        summary = {"crashed": True, "recovered_ns": now, **{k: v for k, v in rec.to_dict().items() if k != "run_id"}}
        writer.update("runs", {"run_id": rec.run_id, "ended_ns": rec.ended_ns, "config": json.dumps(cfg),
                               "summary": json.dumps(summary, default=str)})
        writer.flush()
    finally:
        writer.close()
    if writer.stats.errors or writer.stats.spilled:
        rec.notes.append(f"the database refused {writer.stats.errors} write(s); {writer.stats.spilled} row(s) "
                         "spilled next to it")
