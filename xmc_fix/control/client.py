"""The operator's side of the control socket (``xmc status``, ``halt``, ``resume``, ``flatten``,
``cancel-all``)."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path

from xmc_fix.errors import XmcError


class ControlError(XmcError):
    pass


def request(path: str | Path, cmd: str, timeout: float = 15.0, via: str | None = None, **args) -> dict:
    """Send one command; the engine's answer (``result``) or :class:`ControlError`. ``via`` names
    whom a relaying client acts for (the engine audits it beside the socket's peer credentials)."""
    p = Path(path)
    if not p.exists():
        raise ControlError(f"no engine is running with control socket {p} (start `xmc run` or `xmc demo`, "
                           "or pass --socket)")
    body = {"cmd": cmd, "user": getpass.getuser(), **{k: v for k, v in args.items() if v is not None}}
    if via is not None:
        body["via"] = via
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(p))
        s.sendall((json.dumps(body) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (ConnectionRefusedError, FileNotFoundError):
        raise ControlError(f"no engine is listening on {p} (a stale socket from a stopped engine?)") from None
    except socket.timeout:
        raise ControlError(f"the engine did not answer within {timeout:.0f} s") from None
    finally:
        s.close()
    try:
        answer = json.loads(buf)
    except json.JSONDecodeError:
        raise ControlError("the engine's answer was not JSON") from None
    if not answer.get("ok"):
        raise ControlError(f"refused: {answer.get('error')}")
    return answer["result"]
