"""Audit schema (SQLAlchemy Core). Decimal quantities and prices are exact: NUMERIC on PostgreSQL,
decimal text on SQLite (which has no exact decimal type). Times are epoch nanoseconds (BIGINT).

Append-only tables: ``fix_messages``, ``fix_message_batches``, ``session_events``, ``ticket_events``,
``fills``, ``events``. Incoming market data (35=X and 35=W) is stored in bulk: one
``fix_message_batches`` row holds every such message of one session and type that one write of the
audit writer took, byte for byte with its receive time (:mod:`xmc_fix.audit.mdbatch`).
State tables kept current by upsert: ``runs``, ``tickets``, ``orders``.
Every row of those tables, and every stored version of a state row, is committed to its run's hash
chain in ``audit_chain`` (see :mod:`xmc_fix.audit.chain`). A row the run itself never stored because
the process died, and that the next start completed from QuickFIX's store or the journal, says so in
its ``recovered`` column (:mod:`xmc_fix.audit.recovery`).
"""

from __future__ import annotations

from decimal import Context, Decimal

from sqlalchemy import (BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData, Numeric, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.types import TypeDecorator


_PG_SCALE = Decimal(1).scaleb(-12)
_PG_CONTEXT = Context(prec=60)


class Dec(TypeDecorator):
    """Exact decimals on every backend. PostgreSQL's NUMERIC(38,12) keeps 12 decimal places: values
    are rounded to them here (half even), before binding, so that what is stored is exactly what
    the writer hashed for the audit chain."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 12))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            d = value if isinstance(value, Decimal) else Decimal(value)
            return d.quantize(_PG_SCALE, context=_PG_CONTEXT) if d.is_finite() else d
        return format(Decimal(value), "f")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value) if not isinstance(value, Decimal) else value


metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("role", String(16), nullable=False),          # engine | sim
    Column("started_ns", BigInteger, nullable=False),
    Column("ended_ns", BigInteger),
    Column("host", String(128)),
    Column("pid", Integer),
    Column("namespace", String(8)),
    Column("id_prefix", String(32)),
    Column("command", Text),
    Column("config", Text),                               # JSON: files used and their hashes
    Column("summary", Text),                              # JSON written at the end of the run
    Column("chain_length", BigInteger),                   # the audit chain's seal, written by the
    Column("chain_head", String(64)),                     # writer at close (not part of the row hash)
)

fix_messages = Table(
    "fix_messages", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("session", String(128), nullable=False),
    Column("venue", String(32)),
    Column("direction", String(3), nullable=False),      # in | out
    Column("admin", Boolean, nullable=False),
    Column("msg_type", String(4)),
    Column("seq_num", Integer),
    Column("poss_dup", Boolean, nullable=False, default=False),
    Column("cl_ord_id", String(64)),
    Column("orig_cl_ord_id", String(64)),
    Column("order_id", String(64)),
    Column("exec_id", String(64)),
    Column("exec_type", String(2)),
    Column("ord_status", String(2)),
    Column("symbol", String(32)),
    Column("sending_time", String(32)),                  # the venue's SendingTime (52), as sent
    Column("ts_ns", BigInteger, nullable=False),         # our receive / send time
    Column("raw", LargeBinary, nullable=False),          # exact bytes, secrets masked
    Column("recovered", String(16)),                     # filestore: copied from QuickFIX's store after a crash
    Index("ix_fix_messages_run", "run_id", "session", "direction", "seq_num"),
    Index("ix_fix_messages_clordid", "cl_ord_id"),
)

#: Incoming market data in bulk (:mod:`xmc_fix.audit.mdbatch`): ``raw`` holds ``count`` messages of
#: one session and MsgType, each as ``<receive time ns:int64 LE><length:uint32 LE><bytes>``, in the
#: order QuickFIX handed them over; ``seqs`` their MsgSeqNums as ranges (``"7-9,12"``).
fix_message_batches = Table(
    "fix_message_batches", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("session", String(128), nullable=False),
    Column("venue", String(32)),
    Column("direction", String(3), nullable=False),      # in
    Column("msg_type", String(4), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_seq", Integer),
    Column("last_seq", Integer),
    Column("seqs", Text, nullable=False),
    Column("first_ts_ns", BigInteger, nullable=False),
    Column("last_ts_ns", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index("ix_fix_message_batches_run", "run_id", "session", "first_ts_ns"),
)

session_events = Table(
    "session_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("session", String(128)),
    Column("venue", String(32)),
    Column("ts_ns", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
)

tickets = Table(
    "tickets", metadata,
    Column("ticket_id", String(48), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("pair", String(64), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("intent", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("md_recv_ns", BigInteger),      # entry of the market-data callback that decided it
    Column("created_ns", BigInteger, nullable=False),
    Column("sent_ns", BigInteger),         # the last entry order handed to QuickFIX
    Column("ended_ns", BigInteger),
    Column("basis", Dec),
    Column("threshold", Dec),
    Column("inner_px", Dec),
    Column("outer_px", Dec),
    Column("outer_converted", Dec),
    Column("fx", Dec),
    Column("unit", String(8)),
    Column("planned_residual", Dec),
    Column("inner_target_lots", Dec),
    Column("outer_target_lots", Dec),
    Column("inner_filled_lots", Dec),
    Column("outer_filled_lots", Dec),
    Column("residual", Dec),
    Column("reason", Text),
    Column("repairs", Text),               # the repair path, e.g. "CHASE#1,UNWIND#1"
    Column("decision", Text),              # JSON: book tops, ages, FX source at decision
    Column("recovered", String(16)),       # journal: written (or completed) from the journal after a crash
    Index("ix_tickets_run", "run_id", "pair"),
)

ticket_events = Table(
    "ticket_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("ticket_id", String(48), nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("trigger", String(24), nullable=False),
    Column("cause", Text),
    Index("ix_ticket_events_ticket", "ticket_id"),
)

orders = Table(
    "orders", metadata,
    Column("cl_ord_id", String(64), primary_key=True),
    Column("run_id", String(40), nullable=False),
    Column("ticket_id", String(48), nullable=False),
    Column("leg", String(8), nullable=False),
    Column("role", String(8), nullable=False),
    Column("venue", String(32), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("qty", Dec, nullable=False),
    Column("ord_type", String(8), nullable=False),
    Column("price", Dec),
    Column("tif", String(4), nullable=False),
    Column("position_effect", String(16)),
    Column("account", String(32)),
    Column("status", String(20), nullable=False),
    Column("cum_qty", Dec, nullable=False),
    Column("avg_px", Dec),
    Column("order_id", String(64)),
    Column("created_ns", BigInteger, nullable=False),
    Column("sent_ns", BigInteger),
    Column("ack_ns", BigInteger),
    Column("done_ns", BigInteger),
    Column("text", Text),
    Column("recovered", String(16)),       # journal: written (or completed) from the journal after a crash
    Index("ix_orders_ticket", "ticket_id"),
)

fills = Table(
    "fills", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("venue", String(32), nullable=False),
    Column("exec_id", String(64), nullable=False),
    Column("cl_ord_id", String(64), nullable=False),
    Column("ticket_id", String(48)),
    Column("symbol", String(32)),
    Column("side", String(4)),
    Column("qty", Dec, nullable=False),
    Column("price", Dec, nullable=False),
    Column("venue_ns", BigInteger),
    Column("recv_ns", BigInteger, nullable=False),
    Column("recovered", String(16)),       # journal: written from the journal after a crash
    UniqueConstraint("venue", "exec_id", "cl_ord_id", name="uq_fills_exec"),
    Index("ix_fills_ticket", "ticket_id"),
)

events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("venue", String(32)),
    Column("pair", String(64)),
    Column("ticket_id", String(48)),
    Column("cl_ord_id", String(64)),
    Column("detail", Text),               # JSON
    Index("ix_events_run_kind", "run_id", "kind"),
)

audit_chain = Table(
    "audit_chain", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False),             # 1, 2, 3 ... per run, no gaps
    Column("table_name", String(32), nullable=False),
    Column("row_key", String(64), nullable=False),         # row id, or the upsert key
    Column("row_hash", String(64), nullable=False),        # SHA-256 of the row as stored (hex)
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("run_id", "seq", name="uq_audit_chain_seq"),
    Index("ix_audit_chain_row", "table_name", "row_key"),
)

#: Tables whose rows are full snapshots of a keyed object (upserted, last write wins).
UPSERT_KEYS = {"runs": "run_id", "tickets": "ticket_id", "orders": "cl_ord_id"}
TABLES = {t.name: t for t in metadata.sorted_tables}
#: Tables whose rows are committed to the hash chain, and the column that names a row in it.
CHAIN_KEYS = {"runs": "run_id", "fix_messages": "id", "fix_message_batches": "id", "session_events": "id",
              "tickets": "ticket_id", "ticket_events": "id", "orders": "cl_ord_id", "fills": "id", "events": "id"}
#: Columns left out of a row's hash: the chain's own seal on the run row.
UNHASHED_COLUMNS = {"runs": ("chain_length", "chain_head")}
#: Columns added after the chain existed: in a row's hash only when set, so that every row written
#: before them (null there) keeps the hash its chain entry committed.
HASHED_WHEN_SET = {"fix_messages": ("recovered",), "tickets": ("recovered",), "orders": ("recovered",),
                   "fills": ("recovered",)}
#: Byte columns a row's hash covers by their SHA-256 instead of their hex: a batch of market data
#: is hundreds of kilobytes, which as JSON hex cost the writer more than the rest of its work.
DIGESTED_COLUMNS = {"fix_message_batches": ("raw",)}
#: Where a recovered row came from (the ``recovered`` column; null: written by the run itself).
RECOVERED_FROM_STORE = "filestore"
RECOVERED_FROM_JOURNAL = "journal"


def stored_columns(conn, table: Table):
    """The columns of ``table`` the database at ``conn`` has, for a ``select``: a reader that must not
    change the schema (``xmc audit verify``, ``trace``) still reads a database written before a
    column was added (the missing column reads as null)."""
    from sqlalchemy import inspect
    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
    return [c for c in table.columns if c.name in have]
