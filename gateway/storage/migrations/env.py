"""Alembic environment: runs the migrations on an async engine through `run_sync`.

`gateway.storage.migrate` hands over an open connection in `config.attributes["connection"]`
(inside its transaction, and on PostgreSQL under its advisory lock). Without one, as when the
alembic command line is pointed at this directory, an engine is made from `sqlalchemy.url`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from gateway.storage.engine import create_engine
from gateway.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on `connection`, in its transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # With SQLAlchemy emitting BEGIN (see engine.py), SQLite DDL is transactional too:
        # a failed migration leaves no half-built schema behind.
        transactional_ddl=True,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    """Open an engine from the configured URL and migrate through it."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or use `gateway db upgrade`")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Emit the migrations as SQL text instead of running them."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    run_migrations(shared)
else:
    asyncio.run(run_online())
