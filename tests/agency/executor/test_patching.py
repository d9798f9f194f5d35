"""A model-drafted patch is applied by `git apply` in the sandbox, like an agent's change.

Proves: a valid patch becomes the run's change (reported as `git apply`, kept outside
the worktree); miscounted hunks still apply; a malformed or non-applying patch is an
agent failure with git's reason, never an executor error.
"""

from __future__ import annotations

from pathlib import Path

from agency.executor.host import HostRuns
from agency.executor.patching import APPLY_DISPLAY
from tests.agency.executor.conftest import finished, needs_bwrap, request

pytestmark = needs_bwrap

GOOD = """\
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 hello
+world
diff --git a/src/new.py b/src/new.py
new file mode 100644
--- /dev/null
+++ b/src/new.py
@@ -0,0 +1 @@
+print("hi")
"""

# The hunk header's counts are wrong (as models often write them): --recount fixes that.
MISCOUNTED = """\
--- a/README.md
+++ b/README.md
@@ -1,5 +1,9 @@
 hello
+again
"""


async def test_a_valid_patch_becomes_the_runs_change(host: HostRuns, repo: Path) -> None:
    req = request(repo, ["ignored"], patch=GOOD)
    status = await finished(host, req)
    assert status.agent is not None and status.agent.exit_code == 0, status.agent
    assert status.agent.argv == list(APPLY_DISPLAY)
    assert sorted(f.path for f in status.changed_files) == ["README.md", "src/new.py"]
    assert status.lines_added == 2
    # The patch was kept outside the worktree, so it is not part of the change.
    assert (host.layout.run_logs(req.run_id) / "agent.patch").read_text() == GOOD
    assert (host.layout.worktree(req.run_id) / "README.md").read_text() == "hello\nworld\n"


async def test_miscounted_hunks_still_apply(host: HostRuns, repo: Path) -> None:
    status = await finished(host, request(repo, ["ignored"], patch=MISCOUNTED))
    assert status.agent is not None and status.agent.exit_code == 0, status.agent
    assert [f.path for f in status.changed_files] == ["README.md"]


async def test_a_malformed_patch_is_an_agent_failure_with_the_reason(
    host: HostRuns, repo: Path
) -> None:
    for patch, reason in [
        ("Sure! Here is the change you asked for.\n", "No valid patches in input"),
        (GOOD.replace(" hello", " goodbye"), "patch does not apply"),
    ]:
        # The run itself finished: the agent failed, with git's reason, and nothing changed.
        status = await finished(host, request(repo, ["ignored"], patch=patch))
        assert status.agent is not None and status.agent.exit_code not in (0, None)
        assert reason in status.agent.stderr_tail
        assert status.changed_files == []
