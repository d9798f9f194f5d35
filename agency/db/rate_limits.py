"""Rate-limit buckets shared by every API process, for deployments on PostgreSQL.

One row per API key: the token bucket of api/ratelimit.py (tokens left, when they were
counted), spent by one statement per request. The statement refills the bucket for the
time since `updated_at`, takes a token if there is one and says whether it did, in a
single `INSERT … ON CONFLICT DO UPDATE … RETURNING`: the row lock the upsert takes makes
concurrent requests on any replica queue for that key's row, so a token is never spent
twice, and every replica counts time by the database's clock (no skew between hosts).

A row untouched for a whole window is a full bucket, the same as no row: pruning such
rows (`prune`) changes no decision.

SQLite deployments keep the buckets in the API process instead (api/ratelimit.py): one
SQLite file serves processes on one machine, and a write per request would queue every
request behind the single writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from agency.db.types import UTCDateTime, utcnow

KEY_ID_LENGTH = 64


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_buckets"

    key_id: str = Field(primary_key=True, max_length=KEY_ID_LENGTH)
    tokens: float = Field(sa_type=Float)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    # Whether the last request took a token (what RETURNING reports for it).
    allowed: bool


# now() is the statement's start (autocommit: one statement, one transaction), so every
# use of it below is the same instant. SET expressions read the row as it was.
_REFILLED = (
    "LEAST(CAST(:quota AS double precision), b.tokens + :rate * "
    "GREATEST(0, EXTRACT(EPOCH FROM now() - b.updated_at)))"
)
SPEND = text(
    "INSERT INTO rate_limit_buckets AS b (key_id, tokens, updated_at, allowed) "
    "VALUES (:key_id, CAST(:quota AS double precision) - 1, now(), true) "
    "ON CONFLICT (key_id) DO UPDATE SET "
    f"tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END, "
    f"allowed = {_REFILLED} >= 1, "
    "updated_at = now() "
    "RETURNING b.tokens, b.allowed"
).bindparams(bindparam("key_id"), bindparam("quota", type_=Float), bindparam("rate", type_=Float))

PRUNE = text(
    "DELETE FROM rate_limit_buckets WHERE updated_at < now() - make_interval(secs => :window_s)"
).bindparams(bindparam("window_s", type_=Float))


@dataclass(frozen=True)
class Spent:
    tokens: float
    allowed: bool


async def spend(connection: AsyncConnection, key_id: str, quota: int, rate: float) -> Spent:
    """Take one token from `key_id`'s bucket (quota tokens, refilled at `rate` per
    second) if it has one; the tokens left and whether one was taken."""
    row = (await connection.execute(SPEND, {"key_id": key_id, "quota": quota, "rate": rate})).one()
    return Spent(tokens=float(row.tokens), allowed=bool(row.allowed))


async def prune(connection: AsyncConnection, window_s: float) -> int:
    """Delete buckets untouched for `window_s` (full again); how many went."""
    result = await connection.execute(PRUNE, {"window_s": window_s})
    return int(result.rowcount or 0)
