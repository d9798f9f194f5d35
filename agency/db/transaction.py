"""One write as one transaction on a caller's session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession


@asynccontextmanager
async def transaction(session: AsyncSession) -> AsyncIterator[None]:
    """What runs inside is one transaction: committed at the end; on any exception
    (cancellation included) rolled back and raised, so that the session stays usable and
    holds no half-written state. Wrap it in `contextlib.suppress(IntegrityError)` for a
    write that a concurrent writer may already have made."""
    try:
        yield
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
