"""Tickets: paired order submission, reconciliation of execution reports, and (issue 4) repair
and recovery."""
