"""Fixtures shared by unit and integration tests: a data folder per test, and a real PostgreSQL server
for the audit tests.

One throw-away server per test session (``initdb`` in a temporary folder, ``pg_ctl start`` on a
free 127.0.0.1 port, run as an unprivileged user when the tests run as root), one fresh database per
test, the server stopped at the end even when tests fail. Without the server binaries the PostgreSQL
cases are skipped, unless ``XMC_REQUIRE_POSTGRES=1`` (``.ci/run`` sets it): then they fail.

And a check at the end of every test session: the checkout gained no database file (``*.db``,
``*.sqlite``, their journals) outside ``var/``, ``.git`` and the virtual environment. A test (or
the code under test) that opens a database by a relative path or a default one writes it into the
working directory, the checkout; the session then fails naming the files. ``var/``, the data
folder, has its own, slower test (``tests/integration/test_demo.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xmc_fix.audit.pgserver import PostgresUnavailable, TempPostgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server():
    try:
        pg = TempPostgres().start()
    except PostgresUnavailable as e:
        if os.environ.get("XMC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {e}")
        pytest.skip(str(e))
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg_url(postgres_server):
    """A fresh, empty PostgreSQL database (dropped afterwards, open connections and all)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def audit_url(request, tmp_path) -> str:
    """An empty audit database URL, once per backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    """Every test's data folder (XMC_VAR_DIR: default database, log, demo runs, journals, control
    sockets, stores, spill files, HTML reports) is a folder of its own, inherited by the processes it
    starts: a test never writes into the checkout's var/, where a user's runs live."""
    folder = tmp_path / "var"
    monkeypatch.setenv("XMC_VAR_DIR", str(folder))
    return folder


# -- the checkout gains no database file --------------------------------------------------------------
#: the checkout the session must leave as it found it (another folder only for the test of this check)
CHECKOUT = Path(os.environ.get("XMC_TEST_CHECKOUT") or Path(__file__).resolve().parents[1])
#: not the project's files: git's, virtual environments, caches, and the data folder (its own test)
NOT_SEARCHED = {".git", "var", "node_modules", "__pycache__", ".hypothesis", ".pytest_cache", "build"}
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db-journal", ".db-wal", ".db-shm")
_DATABASES_BEFORE = pytest.StashKey[frozenset]()


def database_files(root: Path) -> frozenset[str]:
    """Database files below ``root`` (paths relative to it), leaving out :data:`NOT_SEARCHED` and
    virtual environments (any folder holding ``pyvenv.cfg``)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in NOT_SEARCHED and not (Path(folder) / d / "pyvenv.cfg").exists()]
        found.update(os.path.relpath(os.path.join(folder, f), root) for f in files if f.endswith(DATABASE_SUFFIXES))
    return frozenset(found)


def pytest_sessionstart(session):
    session.config.stash[_DATABASES_BEFORE] = database_files(CHECKOUT)


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_DATABASES_BEFORE, None)
    if before is None:
        return
    new = sorted(database_files(CHECKOUT) - before)
    if not new:
        return
    message = (f"the tests left database files in the checkout {CHECKOUT}: {', '.join(new)} "
               "(a relative or default database path; give tests a path under tmp_path)")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", message, red=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
