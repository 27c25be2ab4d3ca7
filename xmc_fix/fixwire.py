"""The FIX tag=value wire format, in one place: the separator, reading tags out of a message,
framing a message, CheckSum, and FIX UTCTimestamps.

Pure functions over ``str`` (QuickFIX's ``message.toString()``, our own outgoing text) and, where
callers hold raw bytes (the audit store, QuickFIX's FileStore, a TCP proxy), over ``bytes``. This
module knows no message type, no tag's meaning and no venue: what a tag means is in
:mod:`xmc_fix.venues.translate`, what a venue accepts in :mod:`xmc_fix.venues.dialects`. It does not
validate messages (QuickFIX does, against the session's dictionary), does no I/O and never imports
QuickFIX, so the simulator, the audit tools and the reports can use it without a FIX engine.
"""

from __future__ import annotations

import calendar
import time

SOH = "\x01"
SOH_B = b"\x01"


# --- reading tags ----------------------------------------------------------------------------------
def split(raw: str, *, literal: bool = False) -> list[tuple[str, str]]:
    """``8=FIX.4.4<SOH>9=..`` -> ``[("8", "FIX.4.4"), ("9", ..), ...]`` in wire order, tags as strings.

    Pieces without ``=`` and empty pieces are skipped; ``literal`` keeps every piece between two
    separators as it is (an empty one as ``("", "")``), as a byte-for-byte comparison needs. A
    separator at the very end adds no piece either way."""
    parts = raw.split(SOH)
    if literal:
        while parts and parts[-1] == "":
            parts.pop()
        return [p.partition("=")[::2] for p in parts]
    return [p.partition("=")[::2] for p in parts if "=" in p]


def fields(raw: str) -> dict[str, str]:
    """Tag -> value for a message without repeating groups (the last occurrence wins)."""
    return dict(p.partition("=")[::2] for p in raw.split(SOH) if "=" in p)


def value_of(raw, tag: int | str | bytes):
    """The first value of ``tag`` in ``raw`` (``str`` in, ``str`` out; ``bytes``-like in, ``bytes``
    out), or None when the tag is absent. The first field counts too (``8=``)."""
    if isinstance(raw, str):
        key, sep = f"{tag.decode() if isinstance(tag, bytes) else tag}=", SOH
    else:
        raw = bytes(raw)
        key = (tag if isinstance(tag, bytes) else str(tag).encode()) + b"="
        sep = SOH_B
    if raw.startswith(key):
        start = len(key)
    else:
        i = raw.find(sep + key)
        if i < 0:
            return None
        start = i + 1 + len(key)
    end = raw.find(sep, start)
    return raw[start:end if end >= 0 else len(raw)]


def text_value(raw, tag: int | str) -> str | None:
    """:func:`value_of` as text whatever ``raw`` is (bytes decoded as ASCII, odd bytes replaced)."""
    if raw is None:
        return None
    v = value_of(raw, tag)
    return v if v is None or isinstance(v, str) else v.decode("ascii", "replace")


def msg_type_of(raw: str) -> str:
    """MsgType (35) of a whole message; ``""`` when it has none."""
    i = raw.find("\x0135=")
    if i < 0:
        return ""
    j = raw.find(SOH, i + 4)
    return raw[i + 4:j if j >= 0 else len(raw)]


def begin_string_of(raw: str, default: str = "FIX.4.4") -> str:
    """BeginString (8) of a message that starts with it, else ``default``."""
    if not raw.startswith("8="):
        return default
    end = raw.find(SOH)
    return raw[2:end if end >= 0 else len(raw)]


def readable(raw: str | bytes, limit: int | None = None) -> str:
    """A message for people and logs: the separator shown as ``|``, cut at ``limit`` characters."""
    text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
    text = text.replace(SOH, "|")
    return text if limit is None else text[:limit]


# --- writing messages ------------------------------------------------------------------------------
def checksum(data):
    """FIX CheckSum (10): the byte sum modulo 256 as three digits, in the type given (``str`` is
    summed as Latin-1, so every character is one byte)."""
    if isinstance(data, str):
        return "%03d" % (sum(data.encode("latin-1")) % 256)
    return b"%03d" % (sum(data) % 256)


def frame(begin: str, msg_type: str, body: str, *, with_checksum: bool = False) -> str:
    """A whole message around ``body`` (``tag=value<SOH>`` fields after MsgType): BeginString,
    BodyLength, MsgType, body, CheckSum. The CheckSum is ``000`` unless asked for: QuickFIX
    recomputes length and checksum of every message it sends, so the hot path skips the sum."""
    head = f"35={msg_type}{SOH}"
    text = f"8={begin}{SOH}9={len(head) + len(body)}{SOH}{head}{body}"
    return f"{text}10={checksum(text) if with_checksum else '000'}{SOH}"


# --- timestamps ------------------------------------------------------------------------------------
_day_cache: dict[str, int] = {}
_second_cache: dict[str, int] = {}      # "YYYYMMDD-HH:MM:SS" -> epoch seconds


def parse_utc_ns(value) -> int | None:
    """FIX UTCTimestamp ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` -> epoch ns; None when absent or malformed.

    The hot path of every incoming message's SendingTime: the epoch second of the last few seconds
    seen is cached (a busy session sends thousands of messages within one second), so most calls
    read only the fraction; the day's epoch is cached too."""
    if not isinstance(value, str):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            return None     # absent (None, or a missing value in a frame of messages)
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    secs = _second_cache.get(value[:17])
    if secs is None:
        secs = _epoch_second(value)
        if secs is None:
            return None
    if len(value) == 17:
        return secs * 1_000_000_000
    frac = value[18:]
    if value[17] != "." or not frac.isdigit():
        return None
    return secs * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


def _epoch_second(value: str) -> int | None:
    """The epoch second of ``YYYYMMDD-HH:MM:SS...`` (None: malformed), remembered for the next."""
    if len(value) < 17 or value[8] != "-" or value[11] != ":" or value[14] != ":":
        return None
    try:
        day = _day_cache.get(value[:8])
        if day is None:
            day = calendar.timegm(time.strptime(value[:8], "%Y%m%d"))
            if len(_day_cache) > 64:
                _day_cache.clear()
            _day_cache[value[:8]] = day
        secs = day + int(value[9:11]) * 3600 + int(value[12:14]) * 60 + int(value[15:17])
    except (ValueError, OverflowError):
        return None
    if len(_second_cache) > 256:
        _second_cache.clear()
    _second_cache[value[:17]] = secs
    return secs


_second: tuple[int | None, str] = (None, "")   # the last whole second formatted, swapped as one


def format_utc(ns: int, digits: int = 6) -> str:
    """Epoch ns -> FIX UTCTimestamp with ``digits`` (0-9) fraction digits, truncated, never rounded
    (a time is never sent later than it was)."""
    global _second
    secs, rem = divmod(ns, 1_000_000_000)
    cached = _second
    if cached[0] == secs:
        text = cached[1]
    else:
        text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs))
        _second = (secs, text)
    if digits <= 0:
        return text
    return f"{text}.{f'{rem:09d}'[:digits]}"


def fraction_digits(value: str | bytes) -> int:
    """How many fraction digits a UTCTimestamp carries (``...:SS`` 0, ``...:SS.123`` 3)."""
    return len(value) - 18 if len(value) > 18 else 0
