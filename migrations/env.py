"""Alembic environment for both drivers: SQLite (aiosqlite) and PostgreSQL (asyncpg).

Alembic itself is synchronous, so online migrations open an async connection and hand
its synchronous facade to Alembic with `run_sync`. The URL comes from
`agency.db.migrate` (in memory); when Alembic is driven some other way it falls back to
`sqlalchemy.url` and then to the settings (`AGENCY_DATABASE_URL` or the embedded file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import agency.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from agency.db.engine import is_sqlite, make_migration_engine
from agency.db.migrate import URL_ATTRIBUTE, run_blocking
from agency.settings import Settings

config = context.config
MIGRATION_LOCK_NAME = "agency.migrations"
target_metadata = SQLModel.metadata


def database_url() -> str:
    url = config.attributes.get(URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    return url or Settings().effective_database_url


def configure(**kwargs: object) -> None:
    sqlite = is_sqlite(database_url())
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=sqlite,
        # One transaction for the whole upgrade on SQLite too (make_migration_engine makes
        # the driver honour it), so a failed migration leaves nothing half-applied.
        transactional_ddl=True,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes that start together (API, workers) each upgrade at startup; the
            # lock queues them, and each reads the version only once it holds the lock.
            connection.exec_driver_sql(
                f"SELECT pg_advisory_xact_lock(hashtext('{MIGRATION_LOCK_NAME}'))"
            )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys were off while tables were rebuilt; refuse to commit a
            # migration that left dangling references behind.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration broke foreign keys: {broken[:10]}")


async def run_async_migrations() -> None:
    engine = make_migration_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_blocking(run_async_migrations())
