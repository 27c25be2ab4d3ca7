"""Venue credentials (Username 553 / Password 554 on Logon) and secret masking.

Credentials come from the environment (``XMC_<VENUE>_USERNAME``, ``XMC_<VENUE>_PASSWORD``) or
from a TOML file outside the repository that only its owner can read (``--credentials FILE``):
never from committed configuration. Every place a FIX message is written down (audit store, file
logs, reports) goes through :func:`mask_fix`, which keeps the message's length-free shape but
replaces secret values with ``***``.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from xmc_fix.errors import CredentialsError
from xmc_fix.fixwire import SOH_B, checksum

#: Tags whose values are secrets: Password, NewPassword, RawData (often a signed token).
SECRET_TAGS = (554, 925, 96)
MASK = "***"
_SECRET_RE = re.compile(r"(^|\x01)(" + "|".join(str(t) for t in SECRET_TAGS) + r")=[^\x01]*")
_SECRET_RE_PIPE = re.compile(r"(^|[|\s])(" + "|".join(str(t) for t in SECRET_TAGS) + r")=[^|\s]*")
_SECRET_RE_B = re.compile(rb"(^|\x01)(" + b"|".join(str(t).encode() for t in SECRET_TAGS) + rb")=[^\x01]*")


def mask_fix(raw: str) -> str:
    """Replace the values of secret tags in a FIX message string."""
    return _SECRET_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}", raw)


def mask_fix_bytes(raw: bytes) -> bytes:
    return _SECRET_RE_B.sub(lambda m: m.group(1) + m.group(2) + b"=" + MASK.encode(), raw)


def mask_any(value):
    """``value`` with every FIX message inside it masked: strings and bytes, and the strings and
    bytes inside tuples, lists and dicts (a record about to be spilled or stored as text)."""
    if isinstance(value, str):
        return mask_fix(value) if "=" in value else value
    if isinstance(value, (bytes, bytearray)):
        return mask_fix_bytes(bytes(value)) if b"=" in value else value
    if isinstance(value, tuple):
        return tuple(mask_any(v) for v in value)
    if isinstance(value, list):
        return [mask_any(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_any(v) for k, v in value.items()}
    return value


def storable_raw(raw: str | None, limit: int = 2000) -> str | None:
    """A raw FIX message for an audit row or a log line: secrets masked first (the masking needs
    the SOH separators), then SOH shown as ``|``, cut at ``limit`` characters."""
    if not raw:
        return None
    text = mask_fix(raw).replace("\x01", "|")
    # text that already showed SOH as | (an exception quoting a message) is masked in that form too
    return _SECRET_RE_PIPE.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}", text)[:limit] or None


def scrub_store_file(path: str | Path, tail: int | None = None) -> int:
    """Overwrite secret values in a QuickFIX FileStore body file with ``*`` of the same length.
    ``tail``: only the messages holding the last ``tail`` bytes are searched (the one QuickFIX has
    just appended), so a scrub right after a send does not read a store grown over days.

    QuickFIX persists every message it sends, the Logon with its Password included. The length is
    kept so that the store's offset index stays valid, and the CheckSum (10) of each message that
    holds a secret is recomputed in place (same three digits' width): QuickFIX parses stored
    messages again when the counterparty asks for a resend (it gap-fills the Logon), and one that
    fails its checksum aborts the whole resend, leaving the venue waiting for a gap that is never
    filled. Returns the number of values overwritten.
    """
    import mmap

    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return 0
    n = 0
    with open(p, "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
        holders: set[int] = set()
        first = 0
        if tail is not None:   # from the start of the message that holds the tail's first byte
            first = max(0, mm.rfind(b"8=FIX", 0, max(0, len(mm) - tail) + 5))
        for tag in SECRET_TAGS:
            needle = SOH_B + str(tag).encode() + b"="
            i = mm.find(needle, first)
            while i >= 0:
                start = i + len(needle)
                end = mm.find(SOH_B, start)
                if end < 0:
                    end = len(mm)
                holders.add(max(mm.rfind(b"8=FIX", first, i), first))
                if mm[start:end].strip(b"*"):
                    mm[start:end] = b"*" * (end - start)
                    n += 1
                i = mm.find(needle, end)
        for start in holders:
            _restamp_checksum(mm, start)
        mm.flush()
    return n


def _restamp_checksum(buf, start: int) -> None:
    """Recompute the CheckSum of the message beginning at ``start`` (left alone if malformed)."""
    soh = buf.find(SOH_B, start)
    if soh < 0 or buf[soh + 1:soh + 3] != b"9=":
        return
    soh2 = buf.find(SOH_B, soh + 3)
    length = buf[soh + 3:soh2] if soh2 > 0 else b""
    if not length.isdigit():
        return
    cs = soh2 + 1 + int(length)
    if buf[cs:cs + 3] != b"10=" or buf[cs + 6:cs + 7] != SOH_B:
        return
    buf[cs + 3:cs + 6] = checksum(buf[start:cs])


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str | None
    password: Secret | None


def env_prefix(venue: str) -> str:
    return "XMC_" + re.sub(r"[^A-Za-z0-9]", "_", venue).upper()


def _repo_root(start: Path) -> Path | None:
    for p in [start, *start.parents]:
        if (p / ".git").exists():
            return p
    return None


def load_credentials(venues: list[str] | set[str] | frozenset[str], *, file: str | Path | None = None,
                     environ: dict[str, str] | None = None,
                     forbidden_roots: list[Path] | None = None) -> dict[str, Credentials]:
    """Credentials per venue: the file's entries first, then the environment overrides them."""
    env = os.environ if environ is None else environ
    found: dict[str, dict[str, str]] = {}
    if file is not None:
        found = _read_file(Path(file), forbidden_roots)
        for venue in found:
            if venue not in venues:
                import difflib
                near = difflib.get_close_matches(venue, sorted(venues), n=1)
                raise CredentialsError(f"unknown venue {venue!r}: no session reaches it", file=str(file), key=venue,
                                       remedy=f"did you mean [{near[0]}]?" if near else
                                       f"use the Venue= names of the session file: {', '.join(sorted(venues))}")
    out: dict[str, Credentials] = {}
    for venue in venues:
        entry = dict(found.get(venue, {}))
        prefix = env_prefix(venue)
        if env.get(prefix + "_USERNAME"):
            entry["username"] = env[prefix + "_USERNAME"]
        if env.get(prefix + "_PASSWORD"):
            entry["password"] = env[prefix + "_PASSWORD"]
        pw = entry.get("password")
        out[venue] = Credentials(entry.get("username"), Secret(pw) if pw else None)
    return out


def _read_file(path: Path, forbidden_roots: list[Path] | None) -> dict[str, dict[str, str]]:
    file = str(path)
    if not path.is_file():
        raise CredentialsError("file not found", file=file, key="--credentials", remedy="pass an existing credentials file")
    real = path.resolve()
    roots = forbidden_roots if forbidden_roots is not None else [
        r for r in (_repo_root(Path.cwd().resolve()), _repo_root(Path(__file__).resolve().parent)) if r]
    for root in roots:
        if real.is_relative_to(root.resolve()):
            raise CredentialsError(f"credentials file is inside the repository {root}", file=file, key="--credentials",
                                   remedy="keep it outside the working tree, e.g. ~/.config/xmc/credentials.toml")
    mode = real.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"readable by others (mode {stat.S_IMODE(mode):o})", file=file, key="--credentials",
                               remedy=f"chmod 600 {file}")
    try:
        data = tomllib.loads(real.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        # The message may quote the offending line, which may hold a password: do not repeat it.
        raise CredentialsError("not valid TOML", file=file, key="--credentials",
                               remedy="write [VENUE] tables with username and password") from None
    out: dict[str, dict[str, str]] = {}
    for venue, body in data.items():
        if not isinstance(body, dict):
            raise CredentialsError("expected a table", file=file, key=venue,
                                   remedy=f"write [{venue}] with username = \"...\" and password = \"...\"")
        extra = set(body) - {"username", "password"}
        if extra:
            raise CredentialsError("unknown key", file=file, key=f"{venue}.{sorted(extra)[0]}",
                                   remedy="only username and password are read")
        for k, v in body.items():
            if not isinstance(v, str) or not v:
                # never echo the value: it may be a password
                raise CredentialsError("expected a non-empty string", file=file, key=f"{venue}.{k}",
                                       remedy=f'write {k} = "...", or remove the key')
        out[venue] = dict(body)
    return out
