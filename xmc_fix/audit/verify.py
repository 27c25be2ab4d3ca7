"""``xmc audit verify``: is the audit database what the writer wrote?

Two independent witnesses are checked:

1. **The hash chain** of every run (:mod:`xmc_fix.audit.chain`): sequence numbers 1..N with no gap,
   each entry linked to the one before (from the run's genesis), each entry's own hash matching its
   content; every row of every chained table has an entry and every entry has its row, with the same
   hash (for upserted tables: the last entry for the key against the current row); and when the run
   was closed, its length and head equal the seal the writer left in ``runs``.
2. **QuickFIX's FileStore** of each session whose store folder is known (``--store``, or
   ``runs.config`` ``stores``/``store``): every outgoing message QuickFIX kept equals the database's
   outgoing row with that sequence number (secrets compared masked, and the CheckSum of a message that
   carried one ignored: the store's is restamped after the scrub), and every outgoing sequence number
   the database has within the store's range is in the store.

A run that died is told apart from tampering. Before the next start completes it, the outgoing
messages QuickFIX's store holds after the last one the run committed (the tail its writer had in
flight) are a ``crash_gap``, not rows ``deleted``; a message missing *before* a committed one still
is. Once completed (:mod:`xmc_fix.audit.recovery`) the run's summary records the chain length at the
crash: every entry after it must be a recovered row (``recovered`` set), the recovery's event or the
run row, and the run's line says what was recovered and what was lost for good (incoming messages:
QuickFIX keeps no copy of what it receives).

What it cannot see: a database rewritten from some row onward *with* every later hash recomputed
and the seal updated. Anchor the head outside the database (README) and compare it with ``--head``.
Reading only: verify never writes to the database or the store.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from xmc_fix.audit import chain, models
from xmc_fix.audit.crashgap import crashed_summary, describe_crash, not_recovered
from xmc_fix.audit.database import config_error, shown, translating
from xmc_fix.audit.filestore import StoreFile, read_store
from xmc_fix.errors import ConfigError
from xmc_fix.procutil import process_state
from xmc_fix.venues.credentials import SECRET_TAGS, mask_fix_bytes

_APPEND = [t for t, k in models.CHAIN_KEYS.items() if k == "id"]
_UPSERT = [t for t, k in models.CHAIN_KEYS.items() if k != "id"]
_TABLE_ORDER = {t: i for i, t in enumerate(models.CHAIN_KEYS)}
_LATE = 1 << 62


@contextmanager
def reading(url: str):
    """A connection to an existing audit database, or a ConfigError naming the URL."""
    eng = connect(url)
    try:
        with translating(url):
            with eng.connect() as conn:
                yield conn
    finally:
        eng.dispose()


def connect(url: str) -> Engine:
    """An engine on an existing audit database; unlike the writer's, it creates nothing."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///"):]).expanduser()
        if not path.is_file():
            raise ConfigError("database not found", file=shown(url), key="--db",
                              remedy="run `xmc demo` or pass --db URL")
    kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
    try:
        return create_engine(url, **kwargs)
    except Exception as e:  # a malformed URL or a driver that is not installed
        raise config_error(url, e if isinstance(e, (SQLAlchemyError, ImportError)) else ArgumentError(str(e))) from e


@dataclass(frozen=True)
class Problem:
    """One row (or chain entry) that is not what the writer committed."""

    kind: str            # changed | inserted | deleted | chain | unchained | crash_gap
    table: str
    key: str | None
    run_id: str | None
    detail: str
    order: tuple = ()

    def name(self) -> str:
        col = models.CHAIN_KEYS.get(self.table, "id")
        row = f"{self.table} {col}={self.key}" if self.key is not None else self.table
        return f"{row} (run {self.run_id})" if self.run_id else row

    def line(self) -> str:
        return f"{self.name()}: {self.kind}: {self.detail}"


@dataclass
class RunCheck:
    run_id: str
    role: str | None
    entries: int = 0
    head: str | None = None
    sealed: bool = False
    store: str = "not checked"
    store_messages: int = 0
    crash: str | None = None       # a run that died: what its crash lost and what was recovered


@dataclass
class Verification:
    db: str
    runs: list[RunCheck] = field(default_factory=list)
    rows_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.order) if self.problems else None

    def to_dict(self) -> dict:
        probs = sorted(self.problems, key=lambda p: p.order)
        return {"ok": self.ok, "db": self.db, "rows_checked": self.rows_checked,
                "first": None if not probs else {**_pdict(probs[0]), "line": probs[0].line()},
                "problems": [{**_pdict(p), "line": p.line()} for p in probs],
                "runs": [asdict(r) for r in self.runs], "notes": self.notes}

    def render(self, limit: int = 20) -> str:
        lines = []
        for r in self.runs:
            seal = "sealed" if r.sealed else "not sealed"
            lines.append(f"run {r.run_id} ({r.role or '?'})  chain {r.entries} entries, {seal}, "
                         f"head {r.head or '-'}  store: {r.store}")
            if r.crash:
                lines.append(f"  crash gap: {r.crash}")
        lines += [f"note: {n}" for n in self.notes]
        if self.ok:
            lines.append(f"OK: {len(self.runs)} run(s), {self.rows_checked} rows and every chain entry verified")
        else:
            probs = sorted(self.problems, key=lambda p: p.order)
            lines.append(f"FAIL: {probs[0].line()}")
            lines += [f"  also {p.line()}" for p in probs[1:limit]]
            if len(probs) > limit:
                lines.append(f"  ... and {len(probs) - limit} more (--format json lists all)")
            lines.append(f"{len(probs)} problem(s); first: {probs[0].name()} {probs[0].kind}")
        return "\n".join(lines) + "\n"


_SECRET_FIELD = re.compile(rb"(?:^|\x01)(?:" + b"|".join(str(t).encode() for t in SECRET_TAGS) + rb")=")
_CHECKSUM = re.compile(rb"\x0110=[0-9]{3}\x01$")


def comparable(raw: bytes) -> bytes:
    """A FIX message as the store and the database can both be compared: secrets masked, and for a
    message that carries one, the CheckSum ignored (the engine restamps it in the store after
    overwriting the password; the database keeps the original)."""
    if not _SECRET_FIELD.search(raw):
        return raw
    return _CHECKSUM.sub(b"\x0110=---\x01", mask_fix_bytes(raw))


def _as_bytes(v) -> bytes:
    """A ``raw`` column as bytes, whatever SQLite holds (a plain SQL edit can leave text there)."""
    if v is None:
        return b""
    return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)


def _pdict(p: Problem) -> dict:
    return {"kind": p.kind, "table": p.table, "key": p.key, "run_id": p.run_id, "detail": p.detail}


def chain_seal(db_url: str, run_id: str) -> tuple[int, str] | None:
    """``(length, head)`` the writer sealed for a run at close, or None (not sealed, no database)."""
    try:
        eng = connect(db_url)
    except ConfigError:
        return None
    try:
        with eng.connect() as conn:
            r = models.runs
            row = conn.execute(select(r.c.chain_length, r.c.chain_head).where(r.c.run_id == run_id)).first()
    except Exception:
        return None
    finally:
        eng.dispose()
    return (int(row[0]), row[1]) if row is not None and row[0] is not None else None


# -- the verifier --------------------------------------------------------------------------------
def verify(db_url: str, run: str = "all", *, store: str | None = None, head: str | None = None) -> Verification:
    """Check the chain(s) and, where known, the FileStore. ``run`` is a run id, ``latest`` (the latest
    engine run) or ``all``; ``head`` an anchored chain head the selected run must contain."""
    with reading(db_url) as conn:
        return _Verifier(conn, shown(db_url), run, store, head).run()


class _Verifier:
    def __init__(self, conn, db_url: str, run: str, store: str | None, head: str | None) -> None:
        self.conn = conn
        self.out = Verification(db_url)
        self.run_arg = run
        self.store_opt = store
        self.head_opt = head

    def problem(self, kind: str, table: str, key, run_id: str | None, detail: str, order: tuple) -> None:
        self.out.problems.append(Problem(kind, table, None if key is None else str(key), run_id, detail, order))

    def run(self) -> Verification:
        insp = inspect(self.conn)
        if not insp.has_table("audit_chain") or not insp.has_table("runs"):
            self.problem("chain", "audit_chain", None, None,
                         "this database has no audit chain (written before xmc_fix kept one, or the table was "
                         "dropped)", (0,))
            return self.out
        runs = self._select_runs()
        self.pos = {rid: i for i, rid in enumerate(runs)}
        self.single = None if self.run_arg == "all" else runs[0]
        entries = self._load_entries()
        self.unchained = {rid: 0 for rid in self.run_rows if rid not in self.chained}
        for rid in runs:
            self._check_chain(rid, entries.get(rid, []))
        self._check_rows(entries)
        for rid, n in self.unchained.items():
            if n:
                self.problem("unchained", "runs", rid, rid,
                             f"none of its {n} rows is in an audit chain (written before xmc_fix kept one, or its "
                             "chain was deleted): they cannot be verified",
                             (self.pos.get(rid, _LATE), 0))
        for rc in self.out.runs:
            self._check_crash(rc, entries.get(rc.run_id, []))
            self._check_stores(rc)
        if self.head_opt:
            self._check_anchor(entries)
        return self.out

    # -- which runs ------------------------------------------------------------------------
    def _select_runs(self) -> list[str]:
        r, c = models.runs, models.audit_chain
        rows = {row.run_id: row for row in self.conn.execute(select(r)).all()}
        self.chained = chained = {x for (x,) in self.conn.execute(select(c.c.run_id).distinct())}
        if self.run_arg == "latest":
            eng_runs = sorted((row for row in rows.values() if row.role == "engine"), key=lambda x: x.started_ns)
            if not eng_runs:
                raise ConfigError("no engine run in this database", key="--run", remedy="pass --run all or a run id")
            wanted = [eng_runs[-1].run_id]
        elif self.run_arg != "all":
            if self.run_arg not in rows and self.run_arg not in chained:
                raise ConfigError(f"run {self.run_arg!r} not found", key="--run",
                                  remedy="pass --run all, latest, or an id `xmc report` printed")
            wanted = [self.run_arg]
        else:
            wanted = sorted(set(rows) | chained,
                            key=lambda x: (rows[x].started_ns if x in rows else _LATE, x))
        self.run_rows = rows
        for rid in wanted:
            row = rows.get(rid)
            self.out.runs.append(RunCheck(rid, row.role if row is not None else None))
        return wanted

    def _load_entries(self) -> dict[str, list]:
        c = models.audit_chain
        q = select(c.c.id, c.c.run_id, c.c.seq, c.c.table_name, c.c.row_key, c.c.row_hash, c.c.prev_hash, c.c.hash)
        if self.single is not None:
            q = q.where(c.c.run_id == self.single)
        out: dict[str, list] = defaultdict(list)
        for e in self.conn.execute(q.order_by(c.c.run_id, c.c.seq, c.c.id)):
            out[e.run_id].append(e)
        return out

    # -- the chain itself --------------------------------------------------------------------
    def _check_chain(self, rid: str, entries: list) -> None:
        rc = next(r for r in self.out.runs if r.run_id == rid)
        pos = self.pos[rid]
        prev, expected = chain.genesis(rid), 1
        for e in entries:
            gap = e.seq != expected
            if e.seq > expected:
                self.problem("chain", "audit_chain", None, rid,
                             f"entries seq {expected}..{e.seq - 1} are missing (deleted from audit_chain)",
                             (pos, expected))
            elif e.seq < expected:
                self.problem("chain", e.table_name, e.row_key, rid, f"chain entry seq {e.seq} is repeated",
                             (pos, e.seq))
            if not gap and e.prev_hash != prev:
                self.problem("chain", e.table_name, e.row_key, rid,
                             f"chain entry seq {e.seq} does not link to entry seq {e.seq - 1} "
                             "(an entry was altered or replaced)", (pos, e.seq))
            if chain.link(e.prev_hash, e.seq, e.table_name, e.row_key, e.row_hash) != e.hash:
                self.problem("chain", e.table_name, e.row_key, rid,
                             f"chain entry seq {e.seq} was altered (its hash does not match its content)",
                             (pos, e.seq))
            prev, expected = e.hash, e.seq + 1
        rc.entries = len(entries)
        rc.head = entries[-1].hash if entries else None
        row = self.run_rows.get(rid)
        length = getattr(row, "chain_length", None) if row is not None else None
        if length is None:
            self.out.notes.append(f"run {rid}: chain not sealed (still running, or it did not close); entries "
                                  "removed from its end would not be noticed without an external anchor")
            return
        rc.sealed = True
        last_seq = entries[-1].seq if entries else 0
        if last_seq < length:
            self.problem("deleted", "audit_chain", None, rid,
                         f"the run was sealed at {length} entries but its chain ends at seq {last_seq}: "
                         f"entries {last_seq + 1}..{length} and their rows were deleted", (pos, last_seq + 1))
        elif last_seq > length:
            extra = entries[length] if length < len(entries) else entries[-1]
            self.problem("inserted", extra.table_name, extra.row_key, rid,
                         f"chain entry seq {extra.seq} was added after the run was sealed at {length} entries",
                         (pos, extra.seq))
        elif entries and row.chain_head != entries[-1].hash:
            self.problem("chain", entries[-1].table_name, entries[-1].row_key, rid,
                         "the chain's last entry differs from the head sealed in runs.chain_head", (pos, last_seq))

    # -- rows against entries ---------------------------------------------------------------
    def _check_rows(self, entries: dict[str, list]) -> None:
        by_table: dict[str, dict[str, tuple]] = defaultdict(dict)
        for rid, es in entries.items():
            for e in es:
                by_table[e.table_name][e.row_key] = (rid, e.seq, e.row_hash)
        for name in _APPEND:
            self._check_append(name, by_table.get(name, {}))
        latest = self._latest_upsert_entries()
        for name in _UPSERT:
            self._check_upsert(name, latest.get(name, {}), entries)

    def _rows(self, table, where=None):
        q = select(*models.stored_columns(self.conn, table))
        if where is not None:
            q = q.where(where)
        elif self.single is not None:
            q = q.where(table.c.run_id == self.single)
        return self.conn.execute(q.execution_options(yield_per=2000)).mappings()

    def _order(self, run_id: str | None, seq: int | None, table: str, key) -> tuple:
        if seq is not None and run_id in self.pos:
            return (self.pos[run_id], seq)
        k = int(key) if isinstance(key, int) or (isinstance(key, str) and key.isdigit()) else 0
        return (_LATE, _TABLE_ORDER.get(table, 99), k, str(key))

    def _compare(self, name: str, table, row, entry, key) -> None:
        self.out.rows_checked += 1
        h = chain.row_hash(table, row, self.conn.dialect)
        run_of_row = row.get("run_id")
        if entry is None and run_of_row in self.unchained:
            self.unchained[run_of_row] += 1
        elif entry is None:
            self.problem("inserted", name, key, run_of_row,
                         "not in any audit chain (added with SQL, not by the writer)",
                         self._order(None, None, name, key))
        elif entry[2] != h:
            self.problem("changed", name, key, entry[0],
                         f"the row differs from what chain entry seq {entry[1]} committed",
                         self._order(entry[0], entry[1], name, key))

    def _check_append(self, name: str, ents: dict[str, tuple]) -> None:
        table = models.TABLES[name]
        pending = dict(ents)
        orphans = []
        for row in self._rows(table):
            key = str(row["id"])
            e = pending.pop(key, None)
            if e is None and self.single is not None:
                orphans.append(dict(row))
                continue
            self._compare(name, table, row, e, key)
        if orphans:  # rows of this run committed to another run's chain (or to none)
            other = self._entries_for(name, [str(r["id"]) for r in orphans])
            for row in orphans:
                self._compare(name, table, row, other.get(str(row["id"])), str(row["id"]))
        if pending and self.single is not None:  # entries whose row may now carry another run id
            ids = [int(k) for k in pending if k.isdigit()]
            for i in range(0, len(ids), 500):
                for row in self._rows(table, table.c.id.in_(ids[i:i + 500])):
                    key = str(row["id"])
                    self._compare(name, table, row, pending.pop(key), key)
        for key, (rid, seq, _) in pending.items():
            self.problem("deleted", name, key, rid, f"chain entry seq {seq} has no row (deleted)",
                         self._order(rid, seq, name, key))

    def _entries_for(self, name: str, keys: list[str]) -> dict[str, tuple]:
        c = models.audit_chain
        out = {}
        for i in range(0, len(keys), 500):
            q = select(c.c.run_id, c.c.seq, c.c.row_key, c.c.row_hash).where(
                c.c.table_name == name, c.c.row_key.in_(keys[i:i + 500])).order_by(c.c.id)
            for e in self.conn.execute(q):
                out[e.row_key] = (e.run_id, e.seq, e.row_hash)
        return out

    def _latest_upsert_entries(self) -> dict[str, dict[str, tuple]]:
        """For each upserted key, the last entry written for it in any chain (global write order)."""
        c = models.audit_chain
        out: dict[str, dict[str, tuple]] = defaultdict(dict)
        q = select(c.c.run_id, c.c.seq, c.c.table_name, c.c.row_key, c.c.row_hash).where(
            c.c.table_name.in_(_UPSERT)).order_by(c.c.id)
        for e in self.conn.execute(q):
            out[e.table_name][e.row_key] = (e.run_id, e.seq, e.row_hash)
        return out

    def _check_upsert(self, name: str, latest: dict[str, tuple], entries: dict[str, list]) -> None:
        table = models.TABLES[name]
        key_col = models.UPSERT_KEYS[name]
        seen = set()
        for row in self._rows(table):
            key = str(row[key_col])
            seen.add(key)
            self._compare(name, table, row, latest.get(key), key)
        mine = {e.row_key for es in entries.values() for e in es if e.table_name == name}
        missing = [k for k in mine if k not in seen and latest.get(k, (None,))[0] in self.pos]
        if missing and self.single is not None:
            for i in range(0, len(missing), 500):
                for row in self._rows(table, table.c[key_col].in_(missing[i:i + 500])):
                    key = str(row[key_col])
                    seen.add(key)
                    self._compare(name, table, row, latest.get(key), key)
        for key in missing:
            if key not in seen:
                rid, seq, _ = latest[key]
                self.problem("deleted", name, key, rid, f"chain entry seq {seq} has no row (deleted)",
                             self._order(rid, seq, name, key))

    # -- FileStore against the database --------------------------------------------------------
    def _store_dirs(self, rc: RunCheck) -> tuple[dict[str, str] | str | None, str]:
        if self.store_opt:
            return self.store_opt, "--store"
        row = self.run_rows.get(rc.run_id)
        try:
            cfg = json.loads(row.config) if row is not None and row.config else {}
        except (TypeError, ValueError):
            cfg = {}
        if isinstance(cfg.get("stores"), dict) and cfg["stores"]:
            return {str(k): str(v) for k, v in cfg["stores"].items()}, "runs.config stores"
        if isinstance(cfg.get("store"), str) and cfg["store"]:
            return cfg["store"], "runs.config store"
        return None, ""

    def _check_stores(self, rc: RunCheck) -> None:
        dirs, source = self._store_dirs(rc)
        if dirs is None:
            rc.store = "not checked (the run did not record its FileStorePath; pass --store DIR)"
            return
        m = models.fix_messages
        sessions = {s for (s,) in self.conn.execute(
            select(m.c.session).where(m.c.run_id == rc.run_id, m.c.direction == "out").distinct())}
        if self._open_run(rc.run_id) and isinstance(dirs, dict):
            sessions |= set(dirs)     # a run that died may have committed nothing of a session
        checked, compared, missing = [], 0, []
        for session in sorted(sessions):
            d = dirs.get(session) if isinstance(dirs, dict) else dirs
            sf = read_store(d, session) if d else None
            if sf is None:
                missing.append(session)
                continue
            n = self._check_store(rc, session, sf)
            if n is not None:
                checked.append(session)
                compared += n
        rc.store_messages = compared
        where = dirs if isinstance(dirs, str) else ", ".join(sorted(set(dirs.values())))
        rc.store = (f"{len(checked)} session(s), {compared} stored messages compared ({source}: {where})"
                    if checked else f"no store of this run found ({source}: {where})")
        if missing:
            self.out.notes.append(f"run {rc.run_id}: no FileStore for {', '.join(missing)} in {where}")

    def _open_run(self, rid: str) -> bool:
        """The run never ended: still running, or it died and was not completed yet."""
        row = self.run_rows.get(rid)
        return row is not None and row.ended_ns is None and row.chain_length is None

    def _start_out(self, rid: str, session: str) -> int | None:
        row = self.run_rows.get(rid)
        try:
            cfg = json.loads(row.config) if row is not None and row.config else {}
            return int(cfg["store_marks"][session]["start"]["next_out"])
        except (TypeError, ValueError, KeyError):
            return None

    def _check_store(self, rc: RunCheck, session: str, sf: StoreFile) -> int | None:
        m = models.fix_messages
        rid, pos = rc.run_id, self.pos[rc.run_id]
        q = select(m.c.id, m.c.run_id, m.c.seq_num, m.c.poss_dup, m.c.raw, m.c.ts_ns).where(
            m.c.session == session, m.c.direction == "out", m.c.seq_num.is_not(None))
        if sf.created_ns is not None:
            q = q.where(m.c.ts_ns >= sf.created_ns // 1_000_000_000 * 1_000_000_000)
        rows = self.conn.execute(q.order_by(m.c.id)).all()
        mine = [r for r in rows if r.run_id == rid]
        run_row = self.run_rows.get(rid)
        open_run = self._open_run(rid)
        start_out = self._start_out(rid, session) if open_run and not mine else None
        if (not mine and start_out is None) or not sf.messages:
            ended = getattr(run_row, "ended_ns", None)
            if sf.created_ns is not None and ended is not None and ended < sf.created_ns:
                self.out.notes.append(f"run {rid}: the store of {session} was created after the run ended "
                                      "(reset or reused); not compared")
            return None
        by_seq: dict[int, list] = defaultdict(list)
        for r in rows:
            by_seq[r.seq_num].append(r)
        if mine:
            lo, hi = min(r.seq_num for r in mine), max(r.seq_num for r in mine)
        else:
            lo, hi = start_out, start_out - 1
        others = [r.seq_num for r in rows if r.run_id != rid]
        s_lo, s_hi = min(sf.messages), max(sf.messages)
        # the run's numbers reach to the neighbouring runs' (what lies between is the run's own)
        span_lo = max([s for s in others if s < lo], default=s_lo - 1) + 1
        span_hi = min([s for s in others if s > hi], default=s_hi + 1) - 1
        compared = 0
        tail: list[int] = []
        for seq in sorted(sf.messages):
            if not span_lo <= seq <= span_hi:
                continue
            stored = comparable(sf.messages[seq])
            cands = by_seq.get(seq, [])
            if not cands and open_run and seq > hi:
                tail.append(seq)      # after the last message the run committed: in flight, or lost in a crash
                continue
            compared += 1
            if not cands:
                self.problem("deleted", "fix_messages", None, rid,
                             f"session {session} out seq {seq} is in QuickFIX's store ({sf.prefix}.body) but not "
                             "in the database", (pos, _LATE - 1, seq))
            elif not any(comparable(_as_bytes(c.raw)) == stored for c in cands):
                c = next((c for c in cands if not c.poss_dup), cands[0])
                self.problem("changed", "fix_messages", c.id, c.run_id,
                             f"session {session} out seq {seq} differs from QuickFIX's store ({sf.prefix}.body)",
                             (self.pos.get(c.run_id, pos), _LATE - 1, seq))
        for r in mine:
            if s_lo <= r.seq_num <= s_hi and r.seq_num not in sf.messages:
                self.problem("inserted", "fix_messages", r.id, rid,
                             f"session {session} out seq {r.seq_num} is not in QuickFIX's store ({sf.prefix}.body)",
                             (pos, _LATE - 1, r.seq_num))
        if tail:
            self._tail(rc, session, sf, tail, run_row)
        return compared

    def _tail(self, rc: RunCheck, session: str, sf: StoreFile, tail: list[int], run_row) -> None:
        """Messages QuickFIX stored after the last one an unfinished run committed."""
        rid = rc.run_id
        what = (f"session {session} out seq {tail[0]}..{tail[-1]} ({len(tail)} message(s)) in QuickFIX's store "
                f"({sf.prefix}.body) after the last one the run committed")
        state = process_state(getattr(run_row, "host", None), getattr(run_row, "pid", None))
        if state == "alive":
            self.out.notes.append(f"run {rid}: {what}: the run is still running (its writer has them in flight)")
            return
        maybe = (f" (or it still runs on host {run_row.host})" if state == "unknown" and run_row is not None else "")
        ns = getattr(run_row, "namespace", None) or "its namespace"
        self.problem("crash_gap", "fix_messages", None, rid,
                     f"{what}: not in the database because the process died before its audit writer committed "
                     f"them{maybe}, not deleted; start the engine of namespace {ns} again to complete and seal "
                     "the run from the store and the journal", (self.pos[rid], _LATE - 1, tail[0]))
        rc.crash = rc.crash or ("the run never ended and its process is gone: what its audit writer had in "
                                "flight is missing until the next start of its namespace completes it")

    # -- a run that died, completed at the next start ---------------------------------------------
    def _check_crash(self, rc: RunCheck, entries: list) -> None:
        row = self.run_rows.get(rc.run_id)
        crash = crashed_summary(getattr(row, "summary", None))
        if crash is None:
            if row is not None and self._open_run(rc.run_id) and process_state(row.host, row.pid) == "dead":
                rc.crash = ("the run never ended and its process is gone: what its audit writer had in flight is "
                            "missing until the next start of its namespace completes it")
            return
        n = crash.get("chain_length_at_crash")
        if not isinstance(n, int) or isinstance(n, bool):
            self.problem("chain", "runs", rc.run_id, rc.run_id, "the run's summary says it crashed but not where its "
                         "chain stood then", (self.pos[rc.run_id], 0))
            return
        for e in not_recovered(self.conn, rc.run_id, [e for e in entries if e.seq > n]):
            self.problem("inserted", e.table_name, e.row_key, rc.run_id,
                         f"chain entry seq {e.seq} comes after the crash (the chain stood at {n} entries) but its "
                         "row is not one the recovery wrote", (self.pos[rc.run_id], e.seq))
        rc.crash = describe_crash(crash, n, rc.entries)

    # -- an external anchor -------------------------------------------------------------------
    def _check_anchor(self, entries: dict[str, list]) -> None:
        want = self.head_opt.strip().lower()
        for rid in self.pos:
            for e in entries.get(rid, []):
                if e.hash == want:
                    self.out.notes.append(f"anchored head {want[:16]}... found: run {rid} seq {e.seq}")
                    return
        self.problem("chain", "audit_chain", None, self.single,
                     f"the anchored head {want} is not in the chain (entries up to it were changed or deleted)",
                     (-1,))
