"""The audit writer: a queue the hot path appends to, and a thread that batches rows into the
database.

The hot path pays one ``SimpleQueue.put`` per record (well under a microsecond); parsing of key
tags, masking of secrets, JSON encoding and SQL all happen on the writer thread. A batch is written
in one transaction when it reaches ``batch_max`` rows or ``linger_s`` after its first row. If the
database refuses a batch, the writer retries with back-off and finally spills the batch as JSON lines
next to the database so that nothing is lost (``xmc audit`` can re-load a spill file later).

Every row written is committed to the run's hash chain (:mod:`xmc_fix.audit.chain`) in the same
transaction, here on the writer thread: the hot path never hashes. At close the writer seals the
chain: its length and head go into the run's row (``runs.chain_length``, ``runs.chain_head``).
One writer per run id: two writers appending to one run's chain at once would fork it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from sqlalchemy import TypeDecorator, create_engine, event, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.engine import Engine

from xmc_fix.audit import chain, models
from xmc_fix.audit.mdbatch import batch_rows, masked_bytes, md_type
from xmc_fix.audit.rows import ADMIN_TYPES, message_row, storable_row, storable_text  # noqa: F401  (re-exported)
from xmc_fix.venues.credentials import mask_any

log = logging.getLogger("xmc.audit")

_FLUSH = object()
_STOP = object()


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for the audit database; creates the SQLite folder and tables."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    eng = create_engine(url, future=True, **kwargs)
    if eng.dialect.name == "sqlite":
        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers (reports, tests) never block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    models.metadata.create_all(eng)
    _add_missing_columns(eng)
    return eng


def _add_missing_columns(eng: Engine) -> None:
    """Additive schema changes on an existing database: a column this version writes but the
    database lacks is added (nullable). Anything else would need a real migration."""
    from sqlalchemy import inspect, text
    insp = inspect(eng)
    with eng.begin() as conn:
        for table in models.metadata.sorted_tables:
            have = {c["name"] for c in insp.get_columns(table.name)}
            for col in table.columns:
                if col.name not in have:
                    ddl = col.type.compile(dialect=eng.dialect)
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {ddl}'))
                    log.warning("audit: added column %s.%s to an older database", table.name, col.name)


@dataclass
class WriterStats:
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    batches: int = 0
    max_backlog: int = 0
    errors: int = 0
    spilled: int = 0
    write_seconds: float = 0.0
    #: market-data messages stored in the ``fix_message_batches`` rows counted in ``rows``
    batched_messages: int = 0


class AuditWriter:
    """Thread-safe audit sink. ``message``/``record``/``session_event`` may be called from any
    thread; ``flush`` blocks until everything queued before it is committed."""

    def __init__(self, url: str, run_id: str, *, venues_by_session: dict[str, str] | None = None,
                 log_dir: str | Path | None = None, batch_max: int = 5000, linger_s: float = 0.02,
                 spill_dir: str | Path | None = None) -> None:
        self.url = url
        self.run_id = run_id
        self.engine = make_engine(url)
        self.venues_by_session = dict(venues_by_session or {})
        self.log_dir = Path(log_dir) if log_dir else None
        self.batch_max = batch_max
        self.linger_s = linger_s
        self.stats = WriterStats()
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="xmc-audit-writer", daemon=True)
        self._files: dict[str, object] = {}
        self._closed = False
        self._spill_path = (Path(spill_dir) / f"audit-spill-{run_id}.jsonl" if spill_dir
                            else self._default_spill_path())
        self._head = self._load_head()
        self._sequences: dict[str, str | None] = {}
        self._hold = _test_hold_spec(os.environ.get(TEST_HOLD_ENV))
        self._held: list[tuple] = []
        self._holding = False
        #: a counter (``.value``) the records written are added to (the process writer's, in shared memory)
        self.progress = None

    def _load_head(self) -> chain.Head:
        """Continue this run's chain if it already has entries (a writer re-opened on a run)."""
        c = models.audit_chain
        with self.engine.connect() as conn:
            row = conn.execute(select(c.c.seq, c.c.hash).where(c.c.run_id == self.run_id)
                               .order_by(c.c.seq.desc()).limit(1)).first()
        return chain.Head(self.run_id, row[0], row[1]) if row else chain.Head.start(self.run_id)

    @property
    def chain_length(self) -> int:
        """Entries in this run's hash chain committed so far."""
        return self._head.length

    @property
    def chain_head(self) -> str:
        """The hash of the last committed entry (the genesis hash while the chain is empty)."""
        return self._head.hash

    def _default_spill_path(self) -> Path:
        if self.url.startswith("sqlite:///") and ":memory:" not in self.url:
            base = Path(self.url[len("sqlite:///"):]).expanduser().resolve().parent
        else:
            from xmc_fix.paths import var_dir
            base = var_dir()
        return base / f"audit-spill-{self.run_id}.jsonl"

    # -- producer side (hot path) ----------------------------------------------------------
    def start(self) -> "AuditWriter":
        self._thread.start()
        return self

    def message(self, session: str, direction: str, raw: str, ts_ns: int) -> None:
        self._q.put(("m", session, direction, raw, ts_ns))

    def session_event(self, session: str, text: str, ts_ns: int) -> None:
        self._q.put(("s", session, text, ts_ns))

    def record(self, table: str, row: dict) -> None:
        """Append a row (append-only tables) or a full snapshot of a keyed object (upsert tables)."""
        self._q.put(("r", table, row))

    def update(self, table: str, row: dict) -> None:
        """Change some columns of an existing keyed row (``row`` holds the key and the changes)."""
        self._q.put(("u", table, row))

    def event(self, kind: str, ts_ns: int, *, venue: str | None = None, pair: str | None = None,
              ticket_id: str | None = None, cl_ord_id: str | None = None, **detail) -> None:
        self._q.put(("r", "events", {"run_id": self.run_id, "ts_ns": ts_ns, "kind": kind, "venue": venue,
                                     "pair": pair, "ticket_id": ticket_id, "cl_ord_id": cl_ord_id,
                                     "detail": detail or None}))

    def flush(self, timeout: float = 30.0) -> bool:
        done = threading.Event()
        self._q.put((_FLUSH, done))
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._q.put((_STOP,))
            self._thread.join(timeout)
        for f in self._files.values():
            f.close()
        self.engine.dispose()

    @property
    def backlog(self) -> int:
        return self._q.qsize()

    # -- consumer side ------------------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            batch, waiters = [], []
            deadline = time.monotonic() + self.linger_s
            while True:
                if item[0] is _STOP:
                    stop = True
                elif item[0] is _FLUSH:
                    waiters.append(item[1])
                else:
                    batch.append(item)
                if stop or waiters or len(batch) >= self.batch_max:
                    # drain what is already queued without waiting, then write
                    try:
                        while len(batch) < self.batch_max:
                            nxt = self._q.get_nowait()
                            if nxt[0] is _STOP:
                                stop = True
                            elif nxt[0] is _FLUSH:
                                waiters.append(nxt[1])
                            else:
                                batch.append(nxt)
                    except queue.Empty:
                        pass
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._q.get(timeout=remaining)
                except queue.Empty:
                    break
            backlog = self._q.qsize()
            if backlog > self.stats.max_backlog:
                self.stats.max_backlog = backlog
            if batch and self._hold is not None:
                batch = self._held_back(batch)
            if batch:
                self._write(batch)
                if self.progress is not None:
                    self.progress.value += len(batch)
            for w in waiters:
                w.set()
        if self._held:
            self._write(self._held)
        self._seal()

    def _held_back(self, batch: list[tuple]) -> list[tuple]:
        """The test hook (:data:`TEST_HOLD_ENV`): the part of ``batch`` up to and including the first
        record that matches, to be written; everything after it, in this batch and every later one,
        is kept in memory until close. A ``kill -9`` meanwhile loses it, as a crash with a slow
        database would."""
        if self._holding:
            self._held += batch
            return []
        for i, item in enumerate(batch):
            if _matches(self._hold, item):
                self._holding = True
                self._held = batch[i + 1:]
                log.warning("audit: %s set: holding every row after the first %s until close",
                            TEST_HOLD_ENV, ":".join(self._hold))
                return batch[:i + 1]
        return batch

    def _seal(self) -> None:
        """Anchor the end of the chain in the run's row, so that entries removed from (or added to)
        the end of a finished run are detected. Not itself a chain entry: it describes the chain."""
        r = models.runs
        try:
            with self.engine.begin() as conn:
                conn.execute(r.update().where(r.c.run_id == self.run_id)
                             .values(chain_length=self._head.length, chain_head=self._head.hash))
        except Exception as e:
            self.stats.errors += 1
            log.error("audit: could not seal the chain of run %s: %s", self.run_id, e)

    def _write(self, batch: list[tuple]) -> None:
        by_table: dict[str, list[dict]] = defaultdict(list)
        market_data: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for item in batch:
            try:
                kind = item[0]
                if kind == "m":
                    _, session, direction, raw, ts_ns = item
                    mt = md_type(raw) if direction == "in" else None
                    if mt is not None:   # market data: in bulk, below
                        market_data.setdefault((session, mt), []).append((ts_ns, raw))
                        if self.log_dir is not None:
                            self._file_log(session, "messages", ts_ns, masked_bytes(raw))
                        continue
                    row = message_row(self.run_id, session, self.venues_by_session.get(session),
                                      direction, raw, ts_ns)
                    by_table["fix_messages"].append(row)
                    self._file_log(session, "messages", ts_ns, row["raw"])
                elif kind == "s":
                    _, session, text, ts_ns = item
                    text = storable_text(text)
                    by_table["session_events"].append({"run_id": self.run_id, "session": session,
                                                       "venue": self.venues_by_session.get(session),
                                                       "ts_ns": ts_ns, "text": text})
                    self._file_log(session, "event", ts_ns, text.encode())
                elif kind == "u":
                    _, table, row = item
                    row = storable_row(row)
                    # Updates and snapshots of one table are written as two groups, not in arrival
                    # order: an update of an object whose snapshot is in this batch joins the
                    # snapshot (merged, later columns win) ...
                    key = models.UPSERT_KEYS.get(table)
                    if key and row.get(key) is not None and any(r.get(key) == row[key] for r in by_table.get(table, ())):
                        by_table[table].append(dict(row))
                    else:
                        by_table[":update:" + table].append(dict(row))
                else:
                    _, table, row = item
                    row = storable_row(row)
                    if "detail" in row and row["detail"] is not None and not isinstance(row["detail"], str):
                        row = dict(row, detail=json.dumps(row["detail"], default=str, sort_keys=True))
                    if "decision" in row and row["decision"] is not None and not isinstance(row["decision"], str):
                        row = dict(row, decision=json.dumps(row["decision"], default=str, sort_keys=True))
                    # ... and a snapshot takes its columns out of earlier updates of the same object
                    key = models.UPSERT_KEYS.get(table)
                    for u in by_table.get(":update:" + table, ()) if key else ():
                        if row.get(key) is not None and u.get(key) == row[key]:
                            for c in row:
                                if c != key:
                                    u.pop(c, None)
                    by_table[table].append(row)
            except Exception:  # one bad record must not cost the batch
                self.stats.errors += 1
                log.exception("audit: could not prepare a record; skipped")
        for (session, mt), msgs in market_data.items():
            try:
                by_table["fix_message_batches"] += batch_rows(self.run_id, session,
                                                              self.venues_by_session.get(session), mt, msgs)
            except Exception:
                self.stats.errors += 1
                log.exception("audit: could not prepare %d market-data message(s) of %s; skipped", len(msgs), session)
        t0 = time.perf_counter()
        for attempt in range(5):
            try:
                self._commit(by_table)
                break
            except OperationalError as e:  # database busy or gone: worth another try
                self.stats.errors += 1
                log.warning("audit: write failed (attempt %d): %s", attempt + 1, e)
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            except Exception as e:  # a row the database refuses: isolate it, keep the others
                self.stats.errors += 1
                log.error("audit: batch refused (%s); writing row by row", e)
                self._write_rows_singly(by_table)
                break
        else:
            self._spill(by_table)
            return
        self.stats.write_seconds += time.perf_counter() - t0
        self.stats.batches += 1
        for table, rows in by_table.items():
            self.stats.rows[table.removeprefix(":update:")] += len(rows)
        self.stats.batched_messages += sum(r["count"] for r in by_table.get("fix_message_batches", ()))

    def _write_rows_singly(self, by_table: dict[str, list[dict]]) -> None:
        refused: dict[str, list[dict]] = defaultdict(list)
        for table, rows in by_table.items():
            for r in rows:
                try:
                    self._commit({table: [r]})
                except Exception as e:
                    log.error("audit: %s row refused: %s", table, e)
                    refused[table].append(r)
        if refused:
            self._spill(refused)

    def _commit(self, by_table: dict[str, list[dict]]) -> None:
        """One transaction: the rows, then their chain entries. The chain head moves only once the
        transaction is committed, so a retried or refused batch leaves no hole in the chain."""
        items: list[tuple[str, str, str]] = []
        touched: dict[str, dict[object, None]] = defaultdict(dict)   # upsert table -> keys, in order
        with self.engine.begin() as conn:
            for table, rows in by_table.items():
                self._insert(conn, table, rows, items, touched)
            for name, keys in touched.items():
                items += self._current_versions(conn, name, list(keys))
            entries, head = chain.extend(self._head, items)
            if entries:
                _insert_rows(conn, models.audit_chain, entries)
        self._head = head

    @staticmethod
    def _current_versions(conn, name: str, keys: list) -> list[tuple[str, str, str]]:
        """Chain items for upserted rows: each row as it now stands in the database (snapshots and
        updates of one batch merged), read back inside the writing transaction."""
        table = models.TABLES[name]
        key = models.UPSERT_KEYS[name]
        found = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            for row in conn.execute(select(table).where(table.c[key].in_(chunk))).mappings():
                found[row[key]] = chain.row_hash(table, row, conn.dialect)
        return [(name, str(k), found[k]) for k in keys if k in found]

    def _insert_with_ids(self, conn, table, rows: list[dict]) -> tuple[list[int], list[dict]]:
        """Insert append-only rows and learn their ids, in the rows' order, so that each row's hash
        covers its id. ``INSERT ... RETURNING`` in parameter order costs 3-5 times a plain insert
        (SQLAlchemy sends SQLite one statement per row for it), so where the backend allows:
        PostgreSQL hands out the ids from the table's own sequence first (unique across every
        process sharing the database); SQLite numbers the rows of one write transaction one after
        another, so the ids end at ``last_insert_rowid()``."""
        name = conn.dialect.name
        if not any("id" in r for r in rows):
            if name == "postgresql":
                seq = self._sequences.get(table.name)
                if seq is None:
                    seq = self._sequences[table.name] = conn.execute(
                        text("select pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
                if seq:
                    ids = conn.execute(text("select nextval(cast(:s as regclass)) from generate_series(1, :n)"),
                                       {"s": seq, "n": len(rows)}).scalars().all()
                    rows = [{**r, "id": i} for r, i in zip(rows, ids)]
                    conn.execute(insert(table), rows)
                    return ids, rows
            elif name == "sqlite":
                _insert_rows(conn, table, rows)
                last = conn.exec_driver_sql("select last_insert_rowid()").scalar()
                return list(range(last - len(rows) + 1, last + 1)), rows
        ids = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
        return ids, rows

    def _insert(self, conn, table_name: str, rows: list[dict], items: list, touched: dict) -> None:
        if table_name.startswith(":update:"):
            table = models.TABLES[table_name[len(":update:"):]]
            key = models.UPSERT_KEYS[table.name]
            for r in rows:
                conn.execute(table.update().where(table.c[key] == r[key]).values(**r))
                touched[table.name][r[key]] = None
            return
        table = models.TABLES[table_name]
        key = models.UPSERT_KEYS.get(table_name)
        if key is None:
            if table_name not in models.CHAIN_KEYS:
                conn.execute(insert(table), rows)
                return
            ids, rows = self._insert_with_ids(conn, table, rows)
            dialect = conn.dialect
            for r, rid in zip(rows, ids):
                items.append((table_name, str(rid), chain.row_hash(table, {**r, "id": rid}, dialect)))
            return
        for r in rows:
            touched[table_name][r[key]] = None
        latest: dict[object, dict] = {}
        for r in rows:  # snapshots: the last one of each object in the batch wins, merged
            latest[r[key]] = {**latest.get(r[key], {}), **r}
        groups: dict[frozenset, list[dict]] = defaultdict(list)
        for r in latest.values():
            groups[frozenset(r)].append(r)
        for cols, group in groups.items():
            stmt = _upsert_stmt(conn.dialect.name, table, key, cols)
            if stmt is not None:
                conn.execute(stmt, group)
                continue
            for r in group:  # backends without ON CONFLICT: update, else insert
                upd = table.update().where(table.c[key] == r[key]).values(**r)
                if conn.execute(upd).rowcount == 0:
                    conn.execute(insert(table), [r])

    def _spill(self, by_table: dict[str, list[dict]]) -> None:
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._spill_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        with open(fd, "a", encoding="utf-8") as f:
            for table, rows in by_table.items():
                for r in rows:
                    # messages are masked already; text that quotes one (an error's detail) too
                    r = {k: (v.hex() if isinstance(v, bytes) else mask_any(v)) for k, v in r.items()}
                    f.write(json.dumps({"table": table, "row": r}, default=str) + "\n")
                    self.stats.spilled += 1
        log.error("audit: %d rows could not be written; spilled to %s", self.stats.spilled, self._spill_path)

    def _file_log(self, session: str, kind: str, ts_ns: int, data: bytes) -> None:
        """QuickFIX FileLog-style text logs, written here so that secrets are already masked."""
        if self.log_dir is None:
            return
        name = f"{session.replace(':', '-').replace('>', '')}.{kind}.log"
        f = self._files.get(name)
        if f is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            f = self._files[name] = open(self.log_dir / name, "ab")
            os.chmod(self.log_dir / name, 0o600)
        from xmc_fix.fixwire import format_utc
        f.write(format_utc(ts_ns).encode() + b" : " + data + b"\n")


#: For tests that kill the engine with rows certainly in flight: ``tickets`` (any table the writer
#: stores) or ``fix_messages:out:D`` (a direction and a MsgType). Once the first matching row is
#: written, every later row is held in memory until the writer closes. Never set in production.
TEST_HOLD_ENV = "XMC_AUDIT_TEST_HOLD"


def _test_hold_spec(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    parts = tuple(text.split(":"))
    if parts[0] not in models.TABLES or (parts[0] == "fix_messages" and len(parts) not in (1, 3)):
        log.error("audit: %s=%r is not <table> or fix_messages:<in|out>:<MsgType>; ignored", TEST_HOLD_ENV, text)
        return None
    return parts


def _matches(spec: tuple[str, ...], item: tuple) -> bool:
    if item[0] == "m":
        if spec[0] != "fix_messages":
            return False
        return len(spec) == 1 or (item[2] == spec[1] and f"\x0135={spec[2]}\x01" in item[3])
    return item[0] in ("r", "u") and item[1] == spec[0]


_stmt_cache: dict[tuple, object] = {}


_plain_inserts: dict[tuple, tuple | None] = {}


def _plain_insert(table, keys: tuple[str, ...]) -> tuple | None:
    """``(INSERT text, itemgetter)`` for SQLite rows with exactly ``keys`` that SQLite takes as they
    are (no column of a type that converts its values, no column left out that has a default of
    SQLAlchemy's); else None."""
    k = (table.name, keys)
    if k not in _plain_inserts:
        cols = [table.c.get(n) for n in keys]
        ok = all(c is not None and not isinstance(c.type, TypeDecorator) for c in cols) and not any(
            c.default is not None and c.name not in keys for c in table.c)
        _plain_inserts[k] = ((f"INSERT INTO {table.name} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                              itemgetter(*keys)) if ok and len(keys) > 1 else None)
    return _plain_inserts[k]


def _insert_rows(conn, table, rows: list[dict]) -> None:
    """Insert ``rows`` in one statement. On SQLite rows of one shape go to the driver as tuples:
    SQLAlchemy's per-row parameter processing was a third of the writer's time per market-data
    message, and these columns need none. Same rows, order and ids."""
    if conn.dialect.name == "sqlite" and rows:
        keys = tuple(rows[0])
        plain = _plain_insert(table, keys)
        shape = rows[0].keys()
        if plain is not None and all(r.keys() == shape for r in rows):
            sql, get = plain
            conn.exec_driver_sql(sql, [get(r) for r in rows])
            return
    conn.execute(insert(table), rows)


def _upsert_stmt(dialect: str, table, key: str, cols: frozenset):
    ck = (dialect, table.name, cols)
    stmt = _stmt_cache.get(ck)
    if stmt is not None:
        return stmt
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dinsert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dinsert
    else:
        return None
    base = dinsert(table)
    stmt = base.on_conflict_do_update(index_elements=[key],
                                      set_={c: base.excluded[c] for c in cols if c != key})
    _stmt_cache[ck] = stmt
    return stmt
