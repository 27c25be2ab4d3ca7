"""Identifier generation: ClOrdIDs unique across restarts, days and engine processes.

A ClOrdID is ``<namespace><epoch-ms at start, base 36>-<counter, base 36>``: the namespace keeps
engines sharing one audit database apart, the start stamp keeps restarts apart (the generator is
seeded past the last stamp the database saw, so a clock stepping back cannot reuse one), and the
counter keeps orders within a run apart. Around 16 characters, inside every venue's limit we know.
"""

from __future__ import annotations

import itertools
import string

_DIGITS = string.digits + string.ascii_lowercase


def base36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    out = []
    while True:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
        if not n:
            return "".join(reversed(out))


class IdGenerator:
    def __init__(self, namespace: str, start_ms: int) -> None:
        if not (namespace.isascii() and namespace.isalnum()):  # str.isalnum() alone admits "é", "²"
            raise ValueError("namespace must be ASCII alphanumeric")
        self.namespace = namespace
        self.start_ms = start_ms
        self.prefix = f"{namespace}{base36(start_ms)}"
        self._orders = itertools.count(1)
        self._tickets = itertools.count(1)
        self._requests = itertools.count(1)

    def cl_ord_id(self) -> str:
        return f"{self.prefix}-{base36(next(self._orders))}"

    def ticket_id(self) -> str:
        return f"T{self.prefix}-{base36(next(self._tickets))}"

    def request_id(self, kind: str = "R") -> str:
        return f"{kind}{self.prefix}-{base36(next(self._requests))}"
