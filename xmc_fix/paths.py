"""Where xmc_fix finds the files it ships (session files, dictionaries, scenarios) and where it keeps
what it writes by default.

The data folder is ``XMC_VAR_DIR`` when set, else ``var/`` of the checkout: the audit database
(``xmc.db``), the application log, the demo's work folders, intent journals, control sockets,
QuickFIX stores of session files that name none, audit spill files and HTML reports all default to
it. It is read on every call, so a wrapper (the test suite points it at a folder per test) can move
everything at once. Paths a user gives on the command line or in a file always win.

Kept apart so that any module can name these folders without importing the wiring in
:mod:`xmc_fix.app` (and QuickFIX with it). Nothing here reads or creates a file.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout (or installed source tree) that holds ``sessions/`` and ``fixspecs/``.
ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT / "sessions"
VAR_ENV = "XMC_VAR_DIR"


def var_dir() -> Path:
    """The data folder: ``$XMC_VAR_DIR``, else ``<checkout>/var``."""
    v = os.environ.get(VAR_ENV)
    return Path(v).expanduser().resolve() if v else ROOT / "var"


def default_db() -> str:
    """The audit database when no ``--db`` is given: SQLite in the data folder."""
    return f"sqlite:///{var_dir() / 'xmc.db'}"
