"""The engine's control socket.

A Unix stream socket in a 0700 folder, itself 0600, and every connection's peer credentials
(SO_PEERCRED) checked: only the user the engine runs as may command it. One JSON request per line,
one JSON answer per line. Every request — refused ones included — is audited with who (user, uid,
pid) and when. A client acting for someone else (the web view for a browser) says so in ``via``;
that names the request's origin in the audit trail and never replaces the peer credentials, which
are checked first and always recorded. Commands run inside the engine through its Serializer, so an operator's halt is
applied between two market-data callbacks, never in the middle of one.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Callable

log = logging.getLogger("xmc.control")

COMMANDS = {"status": (), "watch": ("pair",), "halt": ("pair", "reason"), "resume": ("pair",),
            "flatten": ("pair",), "cancel-all": ("pair",), "reconcile": ("venue",), "reconcile-result": (),
            "set-mode": ("pair", "mode"), "set-size": ("pair", "qty")}
MAX_REQUEST = 64 * 1024
MAX_VIA = 200
META = ("cmd", "user", "via")   # about the request, not arguments of the command


#: Longest path a Unix socket can bind (sun_path is 108 bytes with its terminating NUL).
MAX_SOCKET_PATH = 107


def default_socket(namespace: str) -> Path:
    """``<data folder>/run/xmc-<namespace>.sock`` (see :mod:`xmc_fix.paths`). When that is longer
    than a Unix socket allows (a deep data folder), a short folder of the user's in the system's
    temporary folder, named by a hash of the data folder: the engine and ``xmc status`` compute the
    same one."""
    import hashlib
    import tempfile

    from xmc_fix.paths import var_dir
    path = var_dir() / "run" / f"xmc-{namespace}.sock"
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(var_dir())).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"xmc-{os.getuid()}-{digest}" / f"xmc-{namespace}.sock"


class ControlServer:
    def __init__(self, path: str | Path, run: Callable[[str, dict, str], dict], audit) -> None:
        """``run(command, args, who)`` executes a validated command and returns its answer."""
        self.path = Path(path)
        self._run = run
        self._audit = audit
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="xmc-control", daemon=True)
        self._stop = threading.Event()

    def start(self) -> "ControlServer":
        folder = self.path.parent
        if not folder.exists():
            folder.mkdir(parents=True)
            os.chmod(folder, 0o700)   # only a folder of our own: never tighten /tmp or a user's folder
        else:
            st = folder.stat()
            # another user's folder (bar a sticky one of root's, like /tmp) could swap the socket
            if st.st_uid != os.getuid() and not (st.st_uid == 0 and st.st_mode & 0o1000):
                raise RuntimeError(f"control socket folder {folder} belongs to another user (uid {st.st_uid})")
        if self.path.exists():
            if _alive(self.path):
                raise RuntimeError(f"another engine is listening on {self.path}")
            self.path.unlink()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            s.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        s.listen(8)
        s.settimeout(0.2)
        self._sock = s
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            now = time.time_ns()
            pid, uid, _ = _peer(conn)
            who = _user(uid) + f" (uid {uid}, pid {pid})"
            req: dict = {}
            try:
                raw = _read_line(conn)
                if uid != os.getuid():
                    raise PermissionError(f"unauthorised: uid {uid} is not the engine's user (uid {os.getuid()})")
                try:
                    req = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise ValueError(f"malformed request: not JSON ({e.msg})") from None
                if not isinstance(req, dict) or req.get("cmd") not in COMMANDS:
                    raise ValueError(f"malformed request: cmd must be one of {', '.join(COMMANDS)}")
                cmd = req["cmd"]
                args = {k: v for k, v in req.items() if k not in META}
                unknown = set(args) - set(COMMANDS[cmd])
                if unknown:
                    raise ValueError(f"malformed request: {cmd} takes no {', '.join(sorted(unknown))}")
                for k, v in args.items():
                    if v is not None and not isinstance(v, str):
                        raise ValueError(f"malformed request: {k} must be a string")
                if req.get("user") and req["user"] != _user(uid):
                    who = f"{req['user']} via {who}"
                via = req.get("via")
                if via is not None:
                    if not isinstance(via, str) or not via.isprintable() or not 0 < len(via) <= MAX_VIA:
                        raise ValueError(f"malformed request: via must be a printable string of at most "
                                         f"{MAX_VIA} characters")
                    who = f"{via} via {who}"
                result = self._run(cmd, args, who)
                answer = {"ok": True, "result": result}
            except (PermissionError, ValueError, KeyError) as e:
                answer = {"ok": False, "error": str(e).strip("'\"")}
            except Exception as e:  # the engine must keep running whatever a client sends
                log.exception("control command failed")
                answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            try:
                self._audit.event("operator", now, who=who, command=req.get("cmd"),
                                  args={k: v for k, v in req.items() if k != "cmd"} or None, ok=answer["ok"],
                                  error=answer.get("error"))
            except Exception:
                log.exception("control audit failed")
            try:
                conn.sendall((json.dumps(answer, default=str) + "\n").encode())
            except OSError:
                pass


def _read_line(conn: socket.socket) -> str:
    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_REQUEST:
            raise ValueError("malformed request: too long")
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace")


def _peer(conn: socket.socket) -> tuple[int, int, int]:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def _alive(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(0.5)
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()
