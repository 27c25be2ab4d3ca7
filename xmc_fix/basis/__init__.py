"""Pricing: FX, unit and tax conversion, the executable basis, thresholds, quantity alignment."""
