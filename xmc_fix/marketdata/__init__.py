"""Order books per venue and instrument, built from snapshots (W) and incremental refreshes (X)."""
