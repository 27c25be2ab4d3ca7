"""The pure model: no QuickFIX, no SQL, no clock reads. Everything here is unit-testable alone."""
