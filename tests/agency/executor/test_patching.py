"""A model-drafted patch is applied by `git apply` in the sandbox, like an agent's change."""

from __future__ import annotations

from pathlib import Path

from agency.executor.client import ExecutorClient
from agency.executor.patching import APPLY_DISPLAY
from tests.agency.executor.conftest import RunningExecutor, needs_bwrap, request, until_terminal

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


async def test_a_valid_patch_becomes_the_runs_change(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    req = request(repo, ["ignored"], patch=GOOD)
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished", status.error
    assert status.agent is not None and status.agent.exit_code == 0, status.agent
    assert status.agent.argv == list(APPLY_DISPLAY)
    assert sorted(f.path for f in status.changed_files) == ["README.md", "src/new.py"]
    assert status.lines_added == 2
    # The patch was kept outside the worktree, so it is not part of the change.
    assert (executor.data / "logs" / req.run_id / "agent.patch").read_text() == GOOD
    assert (executor.worktree(req.run_id) / "README.md").read_text() == "hello\nworld\n"


async def test_miscounted_hunks_still_apply(client: ExecutorClient, repo: Path) -> None:
    req = request(repo, ["ignored"], patch=MISCOUNTED)
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.agent is not None and status.agent.exit_code == 0, status.agent
    assert [f.path for f in status.changed_files] == ["README.md"]


async def test_a_malformed_patch_is_an_agent_failure_with_the_reason(
    client: ExecutorClient, repo: Path
) -> None:
    for patch, reason in [
        ("Sure! Here is the change you asked for.\n", "No valid patches in input"),
        (GOOD.replace(" hello", " goodbye"), "patch does not apply"),
    ]:
        req = request(repo, ["ignored"], patch=patch)
        await client.execute(req)
        status = await until_terminal(client, req.run_id)
        # The run itself finished: the agent failed, with git's reason, and nothing changed.
        assert status.state == "finished", status.error
        assert status.agent is not None and status.agent.exit_code not in (0, None)
        assert reason in status.agent.stderr_tail
        assert status.changed_files == []
