"""The environment agents and gates see: a small fixed base, never the executor's own.

The executor's environment may hold credentials (database URLs, API keys, the values of
secrets); none of it reaches a sandboxed command except PATH, LANG and the secrets the
task names, which reach its agent (never its gates).
"""

from __future__ import annotations

import os

from agency.executor.schemas import ExecuteRequest

_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def base_env(req: ExecuteRequest) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", _DEFAULT_PATH),
        # Inside bubblewrap /tmp is private and writable; tools that want a home get one.
        "HOME": "/tmp",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "AGENCY_TASK_ID": req.task_id,
        "AGENCY_ITERATION": str(req.iteration),
        "AGENCY_RUN_ID": req.run_id,
    }


def agent_env(req: ExecuteRequest, secrets: dict[str, str]) -> dict[str, str]:
    """Base + the judges' feedback and human guidance + the request's own variables + the
    values of the secrets it names (resolved on this host, agency.executor.secrets)."""
    env = base_env(req)
    env["AGENCY_FEEDBACK"] = req.feedback
    env.update(req.agent.env)
    env.update(secrets)
    return env


def gate_env(req: ExecuteRequest) -> dict[str, str]:
    """Gates get the base only: the agent's variables may carry the agent's credentials."""
    return base_env(req)
