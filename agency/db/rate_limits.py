"""Rate-limit buckets shared by every API process, for deployments on PostgreSQL.

One row per API key: the token bucket of api/ratelimit.py (tokens left, when they were
counted), spent by one statement for one request or for several of the same key at once
(api/shared_ratelimit.py gathers a process's concurrent requests of a key). The
statement refills the bucket for the time since `updated_at`, takes up to `n` whole
tokens, as many as there are, and says how many it took (`granted`), in a single
`INSERT … ON CONFLICT DO UPDATE … RETURNING`: the row lock the upsert takes makes
concurrent spends on any replica queue for that key's row, so a token is never spent
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

from sqlalchemy import Float, Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from agency.db.types import UTCDateTime, utcnow

KEY_ID_LENGTH = 64


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_buckets"

    key_id: str = Field(primary_key=True, max_length=KEY_ID_LENGTH)
    tokens: float = Field(sa_type=Float)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    # Whether the last spend took a token, and how many (of the requests it was for).
    allowed: bool
    granted: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


# now() is the statement's start (autocommit: one statement, one transaction), so every
# use of it below is the same instant. SET expressions read the row as it was. A spend
# of n takes min(n, whole tokens): the first `granted` of its requests are let through.
_REFILLED = (
    "LEAST(CAST(:quota AS double precision), b.tokens + :rate * "
    "GREATEST(0, EXTRACT(EPOCH FROM now() - b.updated_at)))"
)
_TAKEN = f"LEAST(CAST(:n AS double precision), FLOOR({_REFILLED}))"
_TAKEN_NEW = "LEAST(CAST(:n AS double precision), FLOOR(CAST(:quota AS double precision)))"
SPEND = text(
    "INSERT INTO rate_limit_buckets AS b (key_id, tokens, updated_at, allowed, granted) "
    f"VALUES (:key_id, CAST(:quota AS double precision) - {_TAKEN_NEW}, now(), "
    f"{_TAKEN_NEW} >= 1, CAST({_TAKEN_NEW} AS integer)) "
    "ON CONFLICT (key_id) DO UPDATE SET "
    f"tokens = {_REFILLED} - {_TAKEN}, "
    f"allowed = {_TAKEN} >= 1, "
    f"granted = CAST({_TAKEN} AS integer), "
    "updated_at = now() "
    "RETURNING b.tokens, b.granted"
).bindparams(
    bindparam("key_id"),
    bindparam("quota", type_=Float),
    bindparam("rate", type_=Float),
    bindparam("n", type_=Integer),
)

PRUNE = text(
    "DELETE FROM rate_limit_buckets WHERE updated_at < now() - make_interval(secs => :window_s)"
).bindparams(bindparam("window_s", type_=Float))


@dataclass(frozen=True)
class Spent:
    # Tokens left after the spend, and how many of the requests it was for got one.
    tokens: float
    granted: int

    @property
    def allowed(self) -> bool:
        return self.granted >= 1


async def spend(
    connection: AsyncConnection, key_id: str, quota: int, rate: float, n: int = 1
) -> Spent:
    """Take up to `n` tokens from `key_id`'s bucket (quota tokens, refilled at `rate` per
    second), as many whole ones as it has; the tokens left and how many were taken."""
    params = {"key_id": key_id, "quota": quota, "rate": rate, "n": n}
    row = (await connection.execute(SPEND, params)).one()
    return Spent(tokens=float(row.tokens), granted=int(row.granted))


async def prune(connection: AsyncConnection, window_s: float) -> int:
    """Delete buckets untouched for `window_s` (full again); how many went."""
    result = await connection.execute(PRUNE, {"window_s": window_s})
    return int(result.rowcount or 0)
