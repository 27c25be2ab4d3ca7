"""The QuickFIX acceptance-test ``.def`` format: parsing, and turning a step into wire bytes.

A ``.def`` file is one case: a script of steps, one a line, played against a FIX acceptor over TCP
(tests/conformance/quickfix-at/README.md describes the format; QuickFIX, QuickFIX/J and QuickFIX/n
ship the same scripts). This module only reads scripts and renders messages; it opens no socket
(:mod:`xmc_fix.conformance.runner` does) and compares nothing (:mod:`xmc_fix.conformance.compare`).

Lines:
  ``#...`` comment; blank line ignored
  ``iCONNECT`` / ``i1,CONNECT``       open TCP connection 1 (or N); ``I1,CONNECT`` is read alike
  ``iDISCONNECT`` / ``i2,DISCONNECT`` close it
  ``eDISCONNECT`` / ``e1,DISCONNECT`` expect the acceptor to close it
  ``I<fields>`` / ``I2,<fields>``     send a message
  ``E<fields>`` / ``E2,<fields>``     expect a message

Messages are written with real SOH (0x01) bytes. ``<TIME>``, ``<TIME+N>`` and ``<TIME-N>`` become
UTC ``YYYYMMDD-HH:MM:SS`` (N seconds later or earlier); then BodyLength (9) and CheckSum (10) are
added where the line does not give them. A line that gives them is sent exactly as written: the
bad-length and bad-checksum cases rely on that. A line that does not begin with ``8=`` is sent
as written, placeholders aside (the "first three fields out of order" cases rely on that).

The format is byte-oriented: files are read as Latin-1 so that every byte survives unchanged.
"""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from xmc_fix.errors import ConfigError
from xmc_fix.fixwire import SOH, checksum, format_utc

_CONN_PREFIX = re.compile(r"^([IEie])(\d+),(.*)$", re.S)
_PLACEHOLDER = re.compile(r"<TIME([^>]*)>")
_OFFSET = re.compile(r"^[+-]\d+$")
_TAG = re.compile(r"^\d+$")


class DefFileError(ConfigError):
    """A ``.def`` file cannot be read or has a line this format does not define."""

    def __init__(self, problem: str, *, file: str, line: int | None = None, text: str | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        shown = None
        if text is not None:
            shown = text.replace(SOH, "|")
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(problem, file=where, key=shown,
                         remedy="see tests/conformance/quickfix-at/README.md for the .def format")


class StepKind(enum.Enum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    EXPECT_DISCONNECT = "expect-disconnect"
    SEND = "send"
    EXPECT = "expect"


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a script. ``template`` is the message as written (placeholders unresolved)."""

    line: int
    kind: StepKind
    conn: int
    source: str
    template: str | None = None

    def render(self, now: datetime) -> str:
        """The message to send (or to expect) at ``now``: placeholders resolved, 9 and 10 added."""
        if self.template is None:
            raise ValueError(f"line {self.line}: a {self.kind.value} step carries no message")
        return fixify(resolve_time(self.template, now))


@dataclass(frozen=True, slots=True)
class Script:
    """One ``.def`` file: a case."""

    name: str
    steps: tuple[Step, ...]


def _validate_placeholders(body: str, file: str, line_no: int, line: str) -> None:
    for m in _PLACEHOLDER.finditer(body):
        if m.group(1) and not _OFFSET.match(m.group(1)):
            raise DefFileError(f"bad placeholder {m.group(0)!r} (expected <TIME>, <TIME+N> or <TIME-N>)",
                               file=file, line=line_no, text=line)


def _validate_message(kind: StepKind, body: str, file: str, line_no: int, line: str) -> None:
    if not body:
        raise DefFileError("empty message", file=file, line=line_no, text=line)
    if SOH not in body:
        raise DefFileError("no SOH (0x01) between fields: write the byte itself, not '|' or '^A'",
                           file=file, line=line_no, text=line)
    _validate_placeholders(body, file, line_no, line)
    if kind is StepKind.EXPECT:
        # What we send may be garbled on purpose; what we expect must be fields we can compare.
        for field in body.rstrip(SOH).split(SOH):
            tag, sep, _ = field.partition("=")
            if not sep or not _TAG.match(tag):
                raise DefFileError(f"expected message has a field that is not TAG=VALUE: {field!r}",
                                   file=file, line=line_no, text=line)


def parse(text: str, name: str = "<string>") -> Script:
    """Parse the text of a ``.def`` file. Raises :class:`DefFileError` naming the line."""
    steps: list[Step] = []
    for line_no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _CONN_PREFIX.match(line)
        if m:
            code, conn, body = m.group(1), int(m.group(2)), m.group(3)
        else:
            code, conn, body = line[0], 1, line[1:]
        if code == "I" and body in ("CONNECT", "DISCONNECT"):
            code = "i"  # the README spells it I1,CONNECT too; a message always holds a SOH
        if code in "ie":
            if body not in ("CONNECT", "DISCONNECT"):
                raise DefFileError(f"unknown action {body!r} (expected CONNECT or DISCONNECT)",
                                   file=name, line=line_no, text=line)
            if code == "e" and body == "CONNECT":
                raise DefFileError("eCONNECT scripts test an initiator; this runner tests acceptors",
                                   file=name, line=line_no, text=line)
            kind = {("i", "CONNECT"): StepKind.CONNECT, ("i", "DISCONNECT"): StepKind.DISCONNECT,
                    ("e", "DISCONNECT"): StepKind.EXPECT_DISCONNECT}[(code, body)]
            steps.append(Step(line_no, kind, conn, line))
        elif code in "IE":
            kind = StepKind.SEND if code == "I" else StepKind.EXPECT
            _validate_message(kind, body, name, line_no, line)
            steps.append(Step(line_no, kind, conn, line, body))
        else:
            raise DefFileError(f"unknown step {code!r} (lines begin with #, i, e, I or E)",
                               file=name, line=line_no, text=line)
    if not any(s.kind is StepKind.CONNECT for s in steps):
        raise DefFileError("no iCONNECT step: nothing would be sent", file=name)
    return Script(name, tuple(steps))


def load(path: str | Path, name: str | None = None) -> Script:
    """Read and parse one ``.def`` file."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("latin-1")
    except OSError as e:
        raise DefFileError(f"cannot read: {e.strerror or e}", file=str(p)) from e
    return parse(text, name or str(p))


def collect(paths: list[str | Path]) -> list[Path]:
    """``.def`` files named directly, and every ``.def`` under a named directory (sorted)."""
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.rglob("*.def"))
            if not found:
                raise DefFileError("directory holds no .def file", file=str(p))
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DefFileError("no such file or directory", file=str(p))
    return out


def format_time(t: datetime) -> str:
    """A naive UTC datetime as a FIX UTCTimestamp in whole seconds."""
    return format_utc(calendar.timegm(t.timetuple()) * 1_000_000_000, 0)


def resolve_time(template: str, now: datetime) -> str:
    """Replace ``<TIME>``, ``<TIME+N>``, ``<TIME-N>`` by UTC timestamps (whole seconds, as the
    scripts' expected BodyLengths assume)."""
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)

    def sub(m: re.Match) -> str:
        offset = m.group(1)
        return format_time(now + timedelta(seconds=int(offset)) if offset else now)

    return _PLACEHOLDER.sub(sub, template)


def fixify(message: str) -> str:
    """Add BodyLength and CheckSum where the message does not give them.

    Mirrors QuickFIX's own acceptance runner: only a message beginning with ``8=`` is touched; a
    given 9 or 10 is kept as written, and the computed length covers everything between the
    BeginString field and the CheckSum field.
    """
    if not message.startswith("8=") or SOH not in message:
        return message
    cut = message.index(SOH) + 1
    head, rest = message[:cut], message[cut:]
    has_length = (SOH + "9=") in message
    trailer = ""
    i = rest.find(SOH + "10=")
    if i >= 0 and rest.endswith(SOH):
        rest, trailer = rest[:i + 1], rest[i + 1:]
    if not trailer and not rest.endswith(SOH):
        rest += SOH
    length = "" if has_length else f"9={len(rest.encode('latin-1'))}{SOH}"
    if not trailer:
        trailer = f"10={checksum(head + length + rest)}{SOH}"
    return head + length + rest + trailer
