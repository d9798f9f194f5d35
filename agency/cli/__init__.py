"""The `agency` command line: a thin client of the task API plus the one-machine stack."""
