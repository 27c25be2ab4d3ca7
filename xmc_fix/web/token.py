"""The web view's control token: a file only its owner can read, compared in constant time.

Loading checks the file the way ``--credentials`` files are checked (ours, mode 0600 or tighter,
not empty); it does not create tokens (README "Web view" shows one way) and never logs one.
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

from xmc_fix.errors import ConfigError

KEY = "--control-token"
MIN_LENGTH = 16
MAKE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE; chmod 600 FILE"


class ControlToken:
    """The secret a browser must send with each control request. ``repr`` never shows it."""

    __slots__ = ("_value", "path")

    def __init__(self, value: str, path: str) -> None:
        self._value = value.encode()
        self.path = path

    def matches(self, offered: str | None) -> bool:
        if not offered:
            return False
        return hmac.compare_digest(self._value, offered.encode("utf-8", "replace"))

    def __repr__(self) -> str:
        return f"ControlToken({self.path!r}, ***)"


def load_token(path: str) -> ControlToken:
    """Read the token file; :class:`ConfigError` (exit 2) when anyone but its owner could read it,
    when it belongs to another user, or when it holds no usable token."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError("file not found", file=path, key=KEY, remedy=f"create it: {MAKE}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError("not a regular file", file=path, key=KEY, remedy="pass the token file itself")
    if st.st_uid != os.geteuid():
        raise ConfigError(f"owned by uid {st.st_uid}, not by the user running xmc web (uid {os.geteuid()})",
                          file=path, key=KEY, remedy="use a token file of your own")
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"mode {mode:04o} is wider than 0600: others could read the token", file=path, key=KEY,
                          remedy=f"chmod 600 {path}")
    value = p.read_text(encoding="utf-8", errors="replace").strip()
    if len(value) < MIN_LENGTH or any(c.isspace() for c in value):
        raise ConfigError(f"no token in it (one line of at least {MIN_LENGTH} characters, no spaces)", file=path,
                          key=KEY, remedy=f"write one: {MAKE}")
    return ControlToken(value, path)
