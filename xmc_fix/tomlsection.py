"""Typed reading of one TOML table, with errors that name the file, the dotted key and the remedy.

Every TOML file the package reads (the strategy file, the simulator's market and scenario files, the
calendars in the strategy file and the built-in holiday data) goes through :class:`Section`, so a
mistake reads the same wherever it is made: ``strategy.toml: pairs.CU.entry: expected a number, got
'ten' (write a number, e.g. entry = 10)``.

What it deliberately does not do: parse TOML (callers use :mod:`tomllib` and choose ``parse_float``),
know any file's schema, or collect several errors (the first one raises :class:`ConfigError`).
It depends on nothing in the package but :mod:`xmc_fix.errors`, so any loader can use it.
"""

from __future__ import annotations

import difflib
from decimal import Decimal, InvalidOperation
from typing import Any

from xmc_fix.errors import ConfigError

__all__ = ["Section", "table"]


class Section:
    """Typed access to one TOML table, producing errors that name file and dotted key.

    ``prefix`` is the table's dotted key ("pairs.CU_SHFE_LME"; "" for the top level). Each accessor
    records the key as known in ``used``; :meth:`check_unknown` then refuses any other key, with the
    closest known one as a hint. A ``default`` of ``...`` means the key is required.
    """

    def __init__(self, file: str, prefix: str, data: dict[str, Any]) -> None:
        self.file, self.prefix, self.data = file, prefix, data
        self.used: set[str] = set()

    def key(self, k: str) -> str:
        if not k:
            return self.prefix
        return f"{self.prefix}.{k}" if self.prefix else k

    def error(self, k: str, problem: str, remedy: str | None = None) -> ConfigError:
        return ConfigError(problem, file=self.file, key=self.key(k), remedy=remedy)

    def raw(self, k: str, default: Any = ..., required: bool = False) -> Any:
        self.used.add(k)
        if k not in self.data:
            if required or default is ...:
                raise self.error(k, "missing", "add this key")
            return default
        return self.data[k]

    def str(self, k: str, default: Any = ..., choices: tuple[str, ...] | None = None) -> Any:
        v = self.raw(k, default)
        if v is default and k not in self.data:
            return v
        if not isinstance(v, str) or not v:
            raise self.error(k, f"expected a non-empty string, got {v!r}", f'write it as {k} = "..."')
        if choices and v not in choices:
            raise self.error(k, f"unknown value {v!r}", f"use one of {', '.join(choices)}")
        return v

    def dec(self, k: str, default: Any = ..., positive: bool = False, nonneg: bool = False) -> Any:
        v = self.raw(k, default)
        if v is default and k not in self.data:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, Decimal, str)):
            raise self.error(k, f"expected a number, got {v!r}", f"write a number, e.g. {k} = 10")
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise self.error(k, f"expected a number, got {v!r}", f"write a number, e.g. {k} = 10") from None
        if not d.is_finite():
            raise self.error(k, f"expected a finite number, got {v!r}", f"write a number, e.g. {k} = 10")
        if positive and d <= 0:
            raise self.error(k, f"must be greater than zero, got {v}", "use a number above zero")
        if nonneg and d < 0:
            raise self.error(k, f"must not be negative, got {v}", "use zero or a positive number")
        return d

    def int(self, k: str, default: Any = ..., minimum: int | None = None) -> Any:
        v = self.raw(k, default)
        if v is default and k not in self.data:
            return v
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(k, f"expected an integer, got {v!r}", f"write a whole number, e.g. {k} = {minimum or 1}")
        if minimum is not None and v < minimum:
            raise self.error(k, f"must be at least {minimum}, got {v}", f"use {minimum} or more")
        return v

    def bool(self, k: str, default: Any = ...) -> Any:
        v = self.raw(k, default)
        if not isinstance(v, bool):
            raise self.error(k, f"expected true or false, got {v!r}", f"write {k} = true or {k} = false")
        return v

    def check_unknown(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            k = extra[0]
            near = difflib.get_close_matches(k, sorted(self.used), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known keys: {', '.join(sorted(self.used))}"
            raise self.error(k, "unknown key", hint)


def table(file: str, parent: dict, name: str, prefix: str = "") -> dict:
    """The sub-table ``name`` of ``parent`` ({} when absent); ``prefix`` is the parent's dotted key
    with its trailing dot ("risk."), for the error when ``name`` is not a table."""
    v = parent.get(name, {})
    if not isinstance(v, dict):
        raise ConfigError("expected a table", file=file, key=(prefix + name) if prefix else name,
                          remedy=f"write it as [{name}]")
    return v
