"""Fixtures shared by unit and integration tests: a data folder per test, and a real PostgreSQL server
for the audit tests.

One throw-away server per test session (``initdb`` in a temporary folder, ``pg_ctl start`` on a
free 127.0.0.1 port, run as an unprivileged user when the tests run as root), one fresh database per
test, the server stopped at the end even when tests fail. Without the server binaries the PostgreSQL
cases are skipped, unless ``XMC_REQUIRE_POSTGRES=1`` (``.ci/run`` sets it): then they fail.
"""

from __future__ import annotations

import os

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
