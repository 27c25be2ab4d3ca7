"""The QuickFIX boundary: session settings, credentials, FIX <-> domain translation, the
``quickfix.Application`` adapter and the order sender."""
