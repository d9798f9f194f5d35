"""Idempotency-Key on POST /api/v1/tasks, kept by Temporal rather than a table of our own.

The task id is derived from (tenant, key) (uuid5), so a repeated request names the same
task row and the same workflow id (`task-<id>`). The first request inserts the row and
starts the workflow with a REJECT_DUPLICATE/FAIL id policy, carrying a digest of the
request body in the workflow's memo. A repeat finds the row taken and asks Temporal:

- the workflow exists and its memo holds the same digest: the same task is answered
  again (201, the same representation the first request got);
- it exists with another digest: 422, the key was used for a different request;
- it does not exist yet: the first request is still between its insert and its start,
  so 409 (retry shortly). A row left behind by a request that died in that gap is
  taken over once it is older than STALE_AFTER_S.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from agency.db import records, task_reads
from agency.db.reads import Reader
from agency.db.types import utcnow
from api.outages import TEMPORAL
from api.problems import ProblemError, unavailable

MEMO_DIGEST = "agency.request_digest"
KEY_PATTERN = r"^[\x21-\x7e]+$"
MAX_KEY_LENGTH = 255
# The first request gives up on starting its workflow well before this (START_TIMEOUT_S);
# a row without a workflow older than this belongs to a request that died.
STALE_AFTER_S = 60.0
START_TIMEOUT_S = 20.0
DESCRIBE_TIMEOUT_S = 5.0

# Fixed namespace: the same (tenant, key) must name the same task in every process.
NAMESPACE = uuid.UUID("5c1b8f5e-3f0a-4a53-9b8e-7a1d6c2e9f40")


def task_id_for(tenant: str, key: str) -> str:
    # A separator that cannot occur in a tenant name keeps ("a", "b:c") and ("a:b", "c")
    # apart.
    return str(uuid.uuid5(NAMESPACE, f"{tenant}\n{key}"))


def request_digest(body: Any) -> str:
    """SHA-256 of the body as canonical JSON: key order and spacing do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def memo_for(digest: str | None) -> dict[str, str] | None:
    return None if digest is None else {MEMO_DIGEST: digest}


def in_flight() -> ProblemError:
    return ProblemError(
        409,
        "idempotency-in-flight",
        "A request with this Idempotency-Key is in progress",
        "the first request with this key has not finished; retry shortly",
        headers={"Retry-After": "1"},
    )


def key_reused() -> ProblemError:
    return ProblemError(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with a different request",
        "this key was already used for a request with a different body",
    )


@dataclass(frozen=True)
class Replay:
    """The task a repeated request answers with."""

    row: Row[Any]  # agency.db.task_reads.TASK_ROW


@dataclass(frozen=True)
class Retry:
    """The row was a dead request's leftover and is gone: submit afresh."""


async def resolve_duplicate(
    session: AsyncSession,
    reader: Reader,
    client: Client,
    *,
    task_id: str,
    tenant: str,
    digest: str,
    spec: dict[str, Any],
) -> Replay | Retry:
    """Decide what a request whose task row already exists gets (see the module doc)."""
    row = await task_reads.read_task(reader, task_id, tenant=tenant)
    if row is None:
        # The first request failed to start its workflow and removed its row just now.
        return Retry()
    stored = await _stored_digest(client, row.workflow_id)
    if stored is _MISSING:
        if row.last_seq > 0:
            # Records were written, so the workflow ran and its history has since been
            # deleted (retention): the stored spec is all that is left to compare.
            if task_reads.task_spec(row) != spec:
                raise key_reused()
            return Replay(row)
        age = (utcnow() - row.created_at).total_seconds()
        if age < STALE_AFTER_S:
            raise in_flight()
        await records.delete_unstarted_task(session, task_id)
        return Retry()
    if stored != digest:
        raise key_reused()
    return Replay(row)


_MISSING = object()


async def _stored_digest(client: Client, workflow_id: str) -> object:
    """The digest in the workflow's memo; _MISSING when no such workflow exists."""
    try:
        description = await asyncio.wait_for(
            client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=timedelta(seconds=DESCRIBE_TIMEOUT_S)
            ),
            timeout=DESCRIBE_TIMEOUT_S + 1,
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return _MISSING
        raise unavailable(f"Temporal error: {err.status.name}", TEMPORAL) from err
    except TimeoutError as err:
        raise unavailable("Temporal did not answer in time", TEMPORAL) from err
    memo = await description.memo()
    return memo.get(MEMO_DIGEST)
