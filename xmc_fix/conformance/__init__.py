"""Acceptance-script runner: QuickFIX's ``.def`` scripts played against any FIX acceptor over TCP
(``xmc certify``). :mod:`deffile` reads scripts, :mod:`compare` matches messages, :mod:`runner`
drives the connections."""
