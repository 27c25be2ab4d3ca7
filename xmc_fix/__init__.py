"""xmc_fix: cross-market basis arbitrage on FIX.

The package is split by bounded context (see ARCHITECTURE in the README): ``domain`` is the pure
model, ``venues`` the QuickFIX boundary, ``marketdata``/``basis``/``risk``/``execution`` the engine,
``audit``/``reports`` the record, ``sim`` the exchange simulator; ``fixwire`` is the FIX tag=value
format they share. ``app`` wires them; ``cli`` parses.
"""

__version__ = "0.1.0"
