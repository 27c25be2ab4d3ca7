"""The audit trail: every FIX message in and out, every ticket, order, fill and decision, written
off the hot path by a batching writer thread into any SQLAlchemy database (SQLite by default)."""
