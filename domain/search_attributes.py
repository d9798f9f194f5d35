"""The custom search attributes a task workflow carries, so that the Temporal web UI and
`temporal workflow list --query "AgencyPhase='awaiting_approval'"` find tasks by what
they are, not only by id.

The one definition every party shares: the API sets them when it starts a workflow, the
workflow upserts the phase as it moves (workflows/visibility.py), `agency up` registers
them on the embedded dev server (`--search-attribute`), and `agency temporal setup` on a
cluster. The keys are temporalio.common's typed keys: plain data (a name and a type, no
I/O), which is why the vocabulary layer may hold them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

from domain.task import TaskInput

# Where the task is (domain/phases.py): 'awaiting_approval', 'completed', ...
PHASE = SearchAttributeKey.for_keyword("AgencyPhase")
# The CAWS risk tier, 1 (most critical) to 3: an Int, so `AgencyRiskTier <= 2` works.
# Current: a human may change it (the `parameters` intervention).
RISK_TIER = SearchAttributeKey.for_int("AgencyRiskTier")
# The execution mode: strict, auto or dry_run.
MODE = SearchAttributeKey.for_keyword("AgencyMode")
TENANT = SearchAttributeKey.for_keyword("AgencyTenant")
# The repository the task changes, as submitted (a path or a URL without credentials).
REPO = SearchAttributeKey.for_keyword("AgencyRepo")
# True while the task waits for a human's approve or reject.
AWAITING_APPROVAL = SearchAttributeKey.for_bool("AgencyAwaitingApproval")

ALL: tuple[SearchAttributeKey[Any], ...] = (
    PHASE,
    RISK_TIER,
    MODE,
    TENANT,
    REPO,
    AWAITING_APPROVAL,
)

# The type names `temporal server start-dev --search-attribute NAME=TYPE` takes.
CLI_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

# Keyword values are limited in size by the server (2 KiB by default); a repository URL
# or path longer than that would make the start fail, so it is cut.
MAX_KEYWORD = 1000


def repo_label(repo: str) -> str:
    """The repository as shown to Temporal: a URL's user and password removed. Search
    attributes are indexed in the clear, even when payloads are encrypted (agency/codec)."""
    if "://" not in repo:
        return repo[:MAX_KEYWORD]
    try:
        parts = urlsplit(repo)
    except ValueError:
        return "(unparsable repository URL)"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))[:MAX_KEYWORD]


def dev_server_args() -> list[str]:
    """`--search-attribute NAME=TYPE` for each, for `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return args


def at_start(inp: TaskInput) -> TypedSearchAttributes:
    """The attributes a task's workflow starts with: what it is, and that it is queued."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(PHASE, "queued"),
            SearchAttributePair(RISK_TIER, inp.spec.risk_tier),
            SearchAttributePair(MODE, inp.spec.execution_mode),
            SearchAttributePair(TENANT, inp.tenant[:MAX_KEYWORD]),
            SearchAttributePair(REPO, repo_label(inp.spec.repo)),
            SearchAttributePair(AWAITING_APPROVAL, False),
        ]
    )
