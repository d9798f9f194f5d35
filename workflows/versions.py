"""Changes to the commands a task workflow issues, each behind `workflow.patched`, so that
a history written before the change replays as it ran (tests/workflows/test_replay.py
replays histories recorded before each one).

A new execution records the patch's marker the first time it asks and takes the new
path from then on; a replayed history without the marker takes the old path throughout.
"""

from __future__ import annotations

from temporalio import workflow

# Short effects on the workflow's own worker as local activities (records, validation,
# judging), and the last worktree discarded beside the terminal record and provenance
# rather than before them. A no-op task went from 18 workflow tasks to 5: every activity
# completion is a workflow task (a round trip to the server and a worker's turn), a local
# activity's result goes on within the workflow task that asked for it.
LOCAL_EFFECTS = "local-effects"


def local_effects() -> bool:
    return workflow.patched(LOCAL_EFFECTS)
