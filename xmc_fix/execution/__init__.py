"""Tickets: paired order submission, reconciliation of execution reports, repair of legged tickets,
and recovery (journal replay, reconciliation with the venues)."""
