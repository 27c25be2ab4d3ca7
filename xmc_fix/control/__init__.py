"""Operator control of a running engine: ``xmc status``, ``halt``, ``resume``, ``flatten``,
``cancel-all`` over a Unix socket that only the engine's own user can use."""
