"""An audit sink that keeps nothing: for measuring what auditing costs (``xmc bench``), never for
trading."""

from __future__ import annotations

from collections import defaultdict


class _Stats:
    def __init__(self) -> None:
        self.rows = defaultdict(int)
        self.errors = 0
        self.max_backlog = 0


class NullAudit:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.stats = _Stats()
        self.backlog = 0

    def start(self) -> "NullAudit":
        return self

    def message(self, session: str, direction: str, raw: str, ts_ns: int) -> None:
        pass

    def session_event(self, session: str, text: str, ts_ns: int) -> None:
        pass

    def record(self, table: str, row: dict) -> None:
        pass

    def update(self, table: str, row: dict) -> None:
        pass

    def event(self, kind: str, ts_ns: int, **kw) -> None:
        pass

    def flush(self, timeout: float = 30.0) -> bool:
        return True

    def close(self, timeout: float = 30.0) -> None:
        pass
