"""What to tell the user when an audit database cannot be opened or read.

A bad ``--db`` — not a URL, a driver that is not installed, a server that does not answer, a file
that is not SQLite or is truncated — must end a command with one line naming the database (its
password hidden) and what to do, exit code 2, like any configuration error: never a traceback.
:func:`translating` turns SQLAlchemy's and the drivers' errors raised inside it into such a
:class:`~xmc_fix.errors.ConfigError`. It does not retry, repair or create anything.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from xmc_fix.errors import ConfigError

URL_EXAMPLE = "sqlite:///var/xmc.db or postgresql+psycopg://user@host:5432/xmc"


def shown(url: str) -> str:
    """A database URL fit to print: the password, if any, hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:
        return None


def _first_line(e: BaseException, url: str) -> str:
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip()
    line = (text.splitlines() or [type(e).__name__])[0].strip()
    pw = _password(url)
    return line.replace(pw, "***") if pw else line


def config_error(url: str, e: BaseException) -> ConfigError:
    """The one line for a database error ``e`` raised while opening or reading ``url``."""
    what = _first_line(e, url)
    db = shown(url)
    if isinstance(e, ImportError):     # the URL names a driver that is not installed
        return ConfigError(f"its driver is not installed ({what})", file=db, key="--db",
                           remedy=f"install the driver, or use a URL xmc_fix ships a driver for, e.g. {URL_EXAMPLE}")
    if isinstance(e, ArgumentError):   # not a URL, or a dialect that does not exist
        return ConfigError(f"not a usable database URL: {what}", file=db, key="--db",
                           remedy=f"use a SQLAlchemy URL, e.g. {URL_EXAMPLE}")
    if isinstance(e, (OperationalError, sqlite3.OperationalError)) and (
            "connect" in what.lower() or "unable to open" in what.lower()):
        return ConfigError(f"cannot connect: {what}", file=db, key="--db",
                           remedy="check the URL, that the server is up and reachable, and the credentials")
    if isinstance(e, (DBAPIError, sqlite3.DatabaseError)):
        return ConfigError(f"cannot be read as an audit database: {what}", file=db, key="--db",
                           remedy="the file is damaged or is not an xmc_fix database: restore it from a backup, "
                                  "or pass --db with another one")
    return ConfigError(f"cannot use the database: {what}", file=db, key="--db",
                       remedy=f"check the URL (e.g. {URL_EXAMPLE}) and the database")


def check_usable(url: str) -> None:
    """Connect and read the list of tables (which reads a SQLite file's header and schema): a bad
    ``url`` raises the :class:`ConfigError` of :func:`config_error`. Creates nothing but a SQLite
    file's folder: several engines may start at once on a fresh database, and creating the tables is
    the audit writer's job."""
    from pathlib import Path

    from sqlalchemy import create_engine, inspect

    with translating(url):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url[len("sqlite:///"):]).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(url, **({"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}))
        try:
            with eng.connect() as conn:
                inspect(conn).get_table_names()
        finally:
            eng.dispose()


@contextmanager
def translating(url: str):
    """Database errors inside become a :class:`ConfigError` naming ``url`` (exit 2 at the CLI)."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error, ImportError) as e:
        raise config_error(url, e) from None
