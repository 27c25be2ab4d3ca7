"""QuickFIX's own acceptance scripts, FIX 4.2 and FIX 4.4, played by ``xmc certify`` against
``xmc sim --acceptance-test``: both real processes, over real TCP on loopback. Every case passes.

Each version's run takes about 55 seconds, nearly all of it in the scripts' own waits (heartbeat
and TestRequest intervals of 6 seconds, a logout timeout of 2); the two run side by side.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xmc_fix.demo import free_ports
from xmc_fix.procutil import stop_child

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AT = Path(__file__).resolve().parent / "quickfix-at"


class AcceptanceSim:
    """``xmc sim --acceptance-test`` in a child process; it stops by itself after --duration too."""

    def __init__(self, work: Path) -> None:
        self.port = free_ports(1)[0]
        self.err_path = work / "sim.err"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xmc_fix", "--log-file", str(work / "sim.log"), "sim", "--acceptance-test",
             "--port", str(self.port), "--duration", "600"],
            stdout=subprocess.PIPE, stderr=open(self.err_path, "wb"), cwd=str(ROOT),
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.ready = self._wait_ready(60)

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                break
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if line.startswith("READY"):
                threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
                return line
        self.stop()
        raise RuntimeError(f"acceptance sim did not start: {self.stderr()}")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")[-3000:]

    def stop(self, timeout: float = 20.0) -> int:
        return stop_child(self.proc, timeout)


@pytest.fixture
def acceptance_sim(tmp_path):
    sim = AcceptanceSim(tmp_path)
    try:
        yield sim
    finally:
        sim.stop()


def certify_args(port: int, *defs: Path, tmp_path: Path, name: str = "certify") -> list[str]:
    return [sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / f"{name}.log"), "certify",
            "--port", str(port), "--timeout", "15", *map(str, defs)]


def certify(port: int, *defs: Path, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(certify_args(port, *defs, tmp_path=tmp_path), capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT))


def certify_in_parallel(port: int, groups: dict[str, Path], tmp_path: Path, timeout: float = 280):
    """One ``xmc certify`` per group at once (the FIX 4.2 and 4.4 sessions are independent, and
    the scripts spend most of their time waiting): {group: (exit code, stdout, stderr)}."""
    procs = {name: subprocess.Popen(certify_args(port, path, tmp_path=tmp_path, name=name), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
             for name, path in groups.items()}
    out = {}
    deadline = time.monotonic() + timeout
    try:
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            out[name] = (proc.returncode, stdout, stderr)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    return out


def test_every_fix42_and_fix44_acceptance_script_passes_through_xmc_certify(acceptance_sim, tmp_path):
    assert acceptance_sim.ready.startswith("READY acceptance-test port")
    expected = {"fix42": 58, "fix44": 59}
    assert {v: len(list((AT / v).glob("*.def"))) for v in expected} == expected

    results = certify_in_parallel(acceptance_sim.port, {v: AT / v for v in expected}, tmp_path)

    for version, n in expected.items():
        code, stdout, stderr = results[version]
        lines = stdout.splitlines()
        failures = [line for line in lines if not line.startswith(("PASS", "total:"))]
        assert not failures, "\n".join(failures) + "\n--- sim stderr ---\n" + acceptance_sim.stderr()
        assert sum(line.startswith("PASS") and f"/{version}/" in line for line in lines) == n
        assert lines[-1].startswith(f"total: {n} cases, {n} passed, 0 failed"), stdout
        assert code == 0, stderr
    # QuickFIX survived every case and stops cleanly (no exception escaped, no crash on stop).
    assert acceptance_sim.stop() == 0, acceptance_sim.stderr()


def test_a_script_the_acceptor_does_not_satisfy_fails_with_exit_code_1(acceptance_sim, tmp_path):
    src = (AT / "fix44" / "1a_ValidLogonWithCorrectMsgSeqNum.def").read_bytes()
    wrong = tmp_path / "wrong.def"
    wrong.write_bytes(src.replace(b"\x01108=30\x0110=0\x01", b"\x01108=31\x0110=0\x01", 1))

    res = certify(acceptance_sim.port, wrong, AT / "fix44" / "13b_UnsolicitedLogoutMessage.def",
                  tmp_path=tmp_path, timeout=60)

    lines = res.stdout.splitlines()
    assert res.returncode == 1
    assert lines[0].startswith(f"FAIL {wrong} ") and "line 5 E: field 108: expected '31' but was '30'" in lines[0]
    assert "received 8=FIX.4.4|9=63|35=A|34=1|49=ISLD|" in lines[0]
    assert lines[1].startswith("PASS ")
    assert lines[2].startswith("total: 2 cases, 1 passed, 1 failed")
