"""A throw-away PostgreSQL server for tests and benchmarks: ``initdb`` into a temporary folder,
``pg_ctl start`` on a free 127.0.0.1 port with its unix socket in that folder, one database per
caller, everything removed on :meth:`TempPostgres.stop`.

It is not a way to run a production audit database (that is the DBA's server, reached by URL). It
needs the server binaries (Debian: ``apt-get install postgresql``; ``.ci/run`` installs them when
missing). ``initdb`` refuses to run as root, so as root the cluster is created and run as the
unprivileged ``postgres`` user (``nobody`` if there is none) through ``runuser``, in a folder that
user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from xmc_fix.errors import XmcError


class PostgresUnavailable(XmcError):
    """No PostgreSQL server binaries on this machine, or the server would not start."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb, or the folder of ``initdb`` on PATH."""
    env = os.environ.get("XMC_PG_BIN")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> str | None:
    """The unprivileged user to run the server as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists for initdb")


class TempPostgres:
    """``with TempPostgres() as pg: url = pg.create_database()``."""

    SUPERUSER = "xmc"

    def __init__(self, *, fsync: bool = False, bin_dir: str | Path | None = None) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir else find_bin_dir()
        if self.bin_dir is None:
            raise PostgresUnavailable("PostgreSQL server binaries not found (install the 'postgresql' package; "
                                      ".ci/run does so)")
        self.fsync = fsync
        self.user = _run_as()
        self.root: Path | None = None
        self.port: int | None = None
        self.started_s = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return prefix + list(args)

    def start(self, attempts: int = 3) -> "TempPostgres":
        try:
            return self._start(attempts)
        except OSError as e:   # runuser or a binary missing, a folder we cannot make
            self.stop()
            raise PostgresUnavailable(f"cannot start a PostgreSQL server: {e}") from e

    def _start(self, attempts: int) -> "TempPostgres":
        t0 = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="xmc-pg-", dir=self._parent()))
        os.chmod(self.root, 0o700)
        data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        if self.user:
            pw = pwd.getpwnam(self.user)
            for p in (self.root, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        res = subprocess.run(self._cmd(str(self.bin_dir / "initdb"), "-D", str(data), "-U", self.SUPERUSER,
                                       "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"),
                             capture_output=True, text=True)
        if res.returncode != 0:
            self._cleanup()
            raise PostgresUnavailable(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
        last = ""
        for _ in range(attempts):  # a free port can be taken between choosing it and binding it
            self.port = _free_port()
            opts = (f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.fsync else 'off'} "
                    f"-c synchronous_commit={'on' if self.fsync else 'off'} -c full_page_writes={'on' if self.fsync else 'off'}"
                    " -c max_connections=50 -c shared_buffers=64MB")
            res = subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", "30", "-D", str(data),
                                           "-l", str(self.root / "server.log"), "-o", opts),
                                 capture_output=True, text=True)
            if res.returncode == 0:
                self.started_s = time.monotonic() - t0
                return self
            last = res.stderr.strip() or res.stdout.strip()
        log_tail = ""
        try:
            log_tail = (self.root / "server.log").read_text()[-2000:]
        except OSError:
            pass
        self.stop()   # a server still starting when pg_ctl gave up is stopped too
        raise PostgresUnavailable(f"pg_ctl start failed: {last}\n{log_tail}")

    def _parent(self) -> str | None:
        """Where the temporary folder goes: the usual temp folder, unless the server's user could not
        reach it (every folder above must let others through)."""
        if self.user is None:
            return None
        for candidate in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
            p = Path(candidate)
            if p.is_dir() and all(os.stat(q).st_mode & 0o001 for q in (p, *p.parents)):
                return str(p)
        raise PostgresUnavailable(f"no temporary folder the '{self.user}' user can reach "
                                  f"({tempfile.gettempdir()}, /var/tmp, /dev/shm are closed to others)")

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "stop", "-m", "fast", "-w", "-t", "30",
                                     "-D", str(self.root / "data")), capture_output=True)
        self._cleanup()

    def _cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "TempPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- databases --------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = name or f"xmc_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        name = url_or_name.rsplit("/", 1)[-1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
