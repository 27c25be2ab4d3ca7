"""Reports: pandas frames over the audit store, rendered as table, JSON or CSV."""
