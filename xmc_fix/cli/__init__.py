"""``xmc``: argument parsing only (the commands are in :mod:`.base` and :mod:`.operate`)."""

from xmc_fix.cli import operate  # noqa: F401  (registers the commands that talk to a running engine)
from xmc_fix.cli.base import _chain_line, cli, main  # noqa: F401
