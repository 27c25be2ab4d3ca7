"""Comparing a received FIX message with the one a ``.def`` line expects.

The rule is QuickFIX's own: the same fields, in the same order, with the same values, except the
fields listed in ``fields.fmt`` (tag=regular expression a line), whose received value only has to
match the expression. The match is a search, not a full match, exactly as QuickFIX's runner does:
``52=\\d{8}-\\d{2}:\\d{2}:\\d{2}`` accepts a SendingTime with or without fractions, whatever
precision the gateway uses.

BodyLength (9) is compared literally: the scripts' expected lengths assume millisecond
SendingTime on FIX 4.2 and later, which is QuickFIX's default.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from xmc_fix.conformance.deffile import DefFileError
from xmc_fix.fixwire import split

#: QuickFIX's fields.fmt (tests/conformance/quickfix-at/fields.fmt): CheckSum and the timestamps.
DEFAULT_FIELDS_FMT = (
    "10=\\d{3}\n"
    "42=\\d{8}-\\d{2}:\\d{2}:\\d{2}\n"
    "52=\\d{8}-\\d{2}:\\d{2}:\\d{2}|\\d{8}-\\d{2}:\\d{2}:\\d{2}[.]\\d{3}\n"
    "60=\\d{8}-\\d{2}:\\d{2}:\\d{2}\n"
    "122=\\d{8}-\\d{2}:\\d{2}:\\d{2}\n"
)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a received message is not the expected one (``None`` from :func:`compare` when it is)."""

    reason: str


class FieldPatterns:
    """Tag -> compiled regular expression, from the ``fields.fmt`` format."""

    def __init__(self, patterns: dict[int, re.Pattern]) -> None:
        self._patterns = dict(patterns)

    @classmethod
    def parse(cls, text: str, name: str = "fields.fmt") -> "FieldPatterns":
        patterns: dict[int, re.Pattern] = {}
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            tag, sep, expr = line.partition("=")
            if not sep or not tag.strip().isdigit():
                raise DefFileError("expected TAG=REGEX", file=name, line=n, text=line)
            try:
                patterns[int(tag)] = re.compile(expr)
            except re.error as e:
                raise DefFileError(f"bad regular expression: {e}", file=name, line=n, text=line) from e
        return cls(patterns)

    @classmethod
    def default(cls) -> "FieldPatterns":
        return cls.parse(DEFAULT_FIELDS_FMT, "built-in fields.fmt")

    @classmethod
    def load(cls, path: str | Path) -> "FieldPatterns":
        try:
            text = Path(path).read_text(encoding="latin-1")
        except OSError as e:
            raise DefFileError(f"cannot read: {e.strerror or e}", file=str(path)) from e
        return cls.parse(text, str(path))

    def get(self, tag: int) -> re.Pattern | None:
        return self._patterns.get(tag)

    def tags(self) -> list[int]:
        return sorted(self._patterns)


#: ``tag=value`` pairs in wire order, empty pieces kept (a trailing SOH ends the last field, it adds none).
split_fields = functools.partial(split, literal=True)


def compare(expected: str, received: str, patterns: FieldPatterns) -> Mismatch | None:
    """``None`` when ``received`` is what ``expected`` describes, else the first difference."""
    exp, got = split_fields(expected), split_fields(received)
    for i, ((etag, evalue), (rtag, rvalue)) in enumerate(zip(exp, got), start=1):
        if etag != rtag:
            return Mismatch(f"field {i}: expected tag {etag} but found tag {rtag}")
        pattern = patterns.get(int(etag)) if etag.isdigit() else None
        if pattern is None:
            if evalue != rvalue:
                return Mismatch(f"field {etag}: expected {evalue!r} but was {rvalue!r}")
        elif not pattern.search(rvalue):
            return Mismatch(f"field {etag}: {rvalue!r} does not match /{pattern.pattern}/")
    if len(got) > len(exp):
        extra = "|".join(f"{t}={v}" for t, v in got[len(exp):])
        return Mismatch(f"received {len(got)} fields, expected {len(exp)}: unexpected {extra}|")
    if len(exp) > len(got):
        missing = "|".join(f"{t}={v}" for t, v in exp[len(got):])
        return Mismatch(f"received {len(got)} fields, expected {len(exp)}: missing {missing}|")
    return None
