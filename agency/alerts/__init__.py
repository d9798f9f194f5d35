"""Alerts from the SLOs, with a lifecycle (firing → acknowledged → resolved), silences
and webhook notifications (docs/alerts.md)."""
