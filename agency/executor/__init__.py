"""The executor: agent commands and quality gates in sandboxed git worktrees, as a
Temporal worker (worker.py) driving the runs of its host (host.py)."""
