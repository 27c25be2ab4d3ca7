"""A database that cannot be used — damaged, not a database, not a URL, a server that does not answer,
a driver that is not installed — ends `xmc report`, `xmc audit verify` and `xmc audit trace` (and
`xmc run` / `xmc demo` before anything starts) with one line naming the database, its password
hidden, and what to do: exit 2, as any configuration error. Real processes, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from xmc_fix.audit.writer import AuditWriter
from xmc_fix.demo import free_ports

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = [["report"], ["audit", "verify"], ["audit", "trace", "X-T1"]]


def real_database(path: Path) -> None:
    """An audit database as a run leaves it, big enough to span many pages."""
    w = AuditWriter(f"sqlite:///{path}", "R1").start()
    w.record("runs", {"run_id": "R1", "role": "engine", "started_ns": 1})
    for i in range(1, 3000):
        w.message("FIX.4.4:XMC->SHFE", "in", f"8=FIX.4.4\x019=5\x0135=X\x0134={i}\x0155=CU\x01270=80000\x0110=000\x01",
                  i)
    w.flush()
    w.close()


@pytest.fixture(params=["truncated", "garbage", "not-a-url", "closed-port", "no-driver"])
def bad(request, tmp_path) -> tuple[str, str, str | None]:
    """(URL, what the line must name, a secret it must not show)."""
    kind = request.param
    if kind == "truncated":
        path = tmp_path / "audit.db"
        real_database(path)
        data = path.read_bytes()
        assert len(data) > 100_000
        path.write_bytes(data[:len(data) // 3])
        return f"sqlite:///{path}", str(path), None
    if kind == "garbage":
        path = tmp_path / "audit.db"
        path.write_bytes(bytes(range(256)) * 40)
        return f"sqlite:///{path}", str(path), None
    if kind == "not-a-url":
        return "notaurl", "notaurl", None
    if kind == "closed-port":
        port = free_ports(1)[0]
        return f"postgresql+psycopg://xmc:s3cret@127.0.0.1:{port}/audit", f"xmc:***@127.0.0.1:{port}/audit", "s3cret"
    return "mysql://xmc:s3cret@127.0.0.1/audit", "xmc:***@127.0.0.1/audit", "s3cret"


def xmc(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "xmc_fix", "--log-file", str(tmp_path / "x.log"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_bad_database_is_one_line_and_exit_2(bad, command, tmp_path):
    url, named, secret = bad

    res = xmc(tmp_path, *command, "--db", url)

    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and res.stdout == ""
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("xmc: configuration error: ") and named in line and "--db" in line
    assert "(" in line and line.endswith(")")          # the remedy
    if secret:
        assert secret not in res.stderr


def test_run_and_demo_refuse_a_bad_database_before_starting(tmp_path):
    path = tmp_path / "audit.db"
    path.write_bytes(b"not sqlite" * 500)
    for command in (["run", "--duration", "1"], ["demo", "--duration", "1"]):
        res = xmc(tmp_path, *command, "--db", f"sqlite:///{path}")

        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert len(res.stderr.strip().splitlines()) == 1 and "cannot be read as an audit database" in res.stderr
