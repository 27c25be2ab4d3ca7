"""The session-end check of ``tests/conftest.py``: a test session that leaves a database file in the
checkout fails, naming it; and no database file is committed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_files

ROOT = Path(__file__).resolve().parents[2]


def test_database_files_are_found_at_any_depth_outside_git_var_and_virtual_environments(tmp_path):
    for name in ("engine.db", "sub/deeper/x.sqlite", "a.db-journal", ".git/x.db", "var/xmc.db", "env/lib/y.db",
                 "notes.txt", "dbfile"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")

    assert database_files(tmp_path) == {"engine.db", os.path.join("sub", "deeper", "x.sqlite"), "a.db-journal"}


def test_a_session_that_leaves_a_database_in_the_checkout_fails_naming_it(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "kept.db").write_text("")          # there before: not the session's doing
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_relative.py").write_text(
        "import os, sqlite3\n"
        "def test_opens_a_database_by_a_relative_path(monkeypatch):\n"
        "    monkeypatch.chdir(os.environ['XMC_TEST_CHECKOUT'])   # as when the suite runs from the checkout\n"
        "    sqlite3.connect('engine.db').close()\n")
    (tests / "test_tidy.py").write_text("def test_writes_nothing():\n    pass\n")

    def session(test_file: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                               f"--rootdir={tmp_path}", "-c", os.devnull, str(tests / test_file)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT,
                              env={**os.environ, "XMC_TEST_CHECKOUT": str(checkout)})

    res = session("test_relative.py")

    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "1 passed" in res.stdout
    complaint = res.stdout.split("left database files", 1)[1]
    assert "engine.db" in complaint and "kept.db" not in complaint
    # a session that writes nothing there passes
    res = session("test_tidy.py")
    assert res.returncode == 0 and "left database files" not in res.stdout, res.stdout[-2000:]


def test_no_database_file_is_committed():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    res = subprocess.run(["git", "ls-files", "--", *(f"*{s}" for s in (".db", ".sqlite", ".sqlite3"))],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert res.stdout.split() == []
