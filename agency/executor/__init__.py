"""The executor service: agent commands and quality gates in sandboxed git worktrees."""
