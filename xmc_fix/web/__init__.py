"""``xmc web``: a running engine live in the browser, from a separate process.

The engine's QuickFIX session thread never serves HTTP: this package reads the engine over its
control socket (``status`` and ``watch``, a few times a second), keeps the basis history for the
charts, and pushes each snapshot to browsers by server-sent events. Control (halt, resume,
flatten, cancel-all) is off unless the operator gives a token file; accepted actions are relayed
over the same socket, naming the browser's address, so the engine audits them like ``xmc halt``.
"""
