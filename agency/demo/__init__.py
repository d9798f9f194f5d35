"""The demo: a real stack, a real repository, three tasks with known outcomes.

`make_demo_repo` builds the repository; `run_demo` (behind `agency demo`) does the rest.
"""

from agency.demo.repo import make_demo_repo

__all__ = ["make_demo_repo"]
