"""Child processes (the simulator, benchmark venues) stop by themselves when the process that
started them dies, even by ``kill -9``: nothing is left listening on a port. And whether a process
a run recorded is still running (:func:`process_state`), for what takes over after a crash."""

from __future__ import annotations

import os
import signal


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel to send SIGTERM when our parent dies (Linux ``PR_SET_PDEATHSIG``); if the
    parent is already gone, stop now."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def stop_child(proc, timeout: float = 15.0) -> int:
    """SIGTERM a child (a ``subprocess.Popen``), wait for it, SIGKILL it if it will not go; its exit code."""
    import subprocess
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def process_state(host: str | None, pid: int | None) -> str:
    """Whether the process ``pid`` on ``host`` is running, as far as this machine can tell:
    ``alive``, ``dead`` (no such process here, or a zombie waiting to be reaped), or ``unknown``
    (another host, or no pid recorded). A pid the system has since given to another process reads
    as alive: the cautious answer for anything that would take over what that process owned."""
    import socket
    if not pid or not host or host != socket.gethostname():
        return "unknown"
    if pid == os.getpid():
        return "dead"          # not us: a pid reused since that process ended
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        return "alive"
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return "dead"
    except (OSError, IndexError):
        pass
    return "alive"
