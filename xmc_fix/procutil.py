"""Child processes (the simulator, benchmark venues) stop by themselves when the process that
started them dies, even by ``kill -9``: nothing is left listening on a port."""

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
