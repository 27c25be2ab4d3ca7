"""Where xmc_fix finds the files it ships (session files, dictionaries, scenarios).

Kept apart so that any module can name these folders without importing the wiring in
:mod:`xmc_fix.app` (and QuickFIX with it). Nothing here reads or creates a file.
"""

from __future__ import annotations

from pathlib import Path

#: The checkout (or installed source tree) that holds ``sessions/`` and ``fixspecs/``.
ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT / "sessions"
