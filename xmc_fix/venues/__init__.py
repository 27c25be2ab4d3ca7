"""The QuickFIX boundary: session settings, credentials, venue dialects, FIX <-> domain translation,
the ``quickfix.Application`` adapter and the order sender. The tag=value format itself is in
:mod:`xmc_fix.fixwire`."""
