"""Service level objectives: the SLO file, the burn-rate evaluator, the Prometheus rules
and their promtool unit tests, and the SLOs judged from our records (docs/slo.md)."""
