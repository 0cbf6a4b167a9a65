"""Schema migrations: upgrade to the newest revision, or refuse to run on an outdated schema.

Migrations are the only way tables are created, in production and in tests alike. Alembic is
configured in code, its scripts located beside this module, so that it works from any cwd.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.errors import SchemaOutdated
from gateway.storage.engine import create_engine, is_postgres

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# An arbitrary, fixed key: every gateway migrating the same PostgreSQL database takes it.
MIGRATION_LOCK_KEY = 7_461_776_761_105_649_001

# Alembic keeps its running context in a module global, so within one process upgrades must
# take turns whatever database they target; one lock per event loop.
_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def alembic_config() -> Config:
    """Return an alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """Return the newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None for a database never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_read_revision)


async def upgrade(target: AsyncEngine | str) -> None:
    """Upgrade the database of `target` (an engine or a URL) to the newest revision.

    The whole upgrade is one transaction. On PostgreSQL it first takes a transaction-scoped
    advisory lock on a fixed key, so gateways starting together migrate one after the other
    and the later ones find nothing left to do; PostgreSQL releases it at commit or rollback,
    even if the process dies. On SQLite the transaction's BEGIN IMMEDIATE serialises them.
    """
    engine = create_engine(target) if isinstance(target, str) else target
    try:
        async with _process_lock(), engine.begin() as connection:
            if is_postgres(engine):
                await connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            await connection.run_sync(_upgrade_to_head)
    finally:
        if engine is not target:
            await engine.dispose()


async def ensure_schema(engine: AsyncEngine, *, migrate: bool) -> None:
    """Make sure the schema is at the newest revision, upgrading it only when `migrate` is set.

    Raises SchemaOutdated, naming the command that fixes it, when the schema is behind and
    `migrate` is false, and always when the database is at a revision this code does not know.
    """
    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return
    shown_url = engine.url.render_as_string(hide_password=True)
    if current is not None and not _is_known(current):
        raise SchemaOutdated(
            f"the database {shown_url} is at revision {current}, which this gateway does not "
            f"know (its newest is {head}); run a gateway at least as new as the database"
        )
    if migrate:
        await upgrade(engine)
        return
    at = f"at revision {current}" if current else "empty (never migrated)"
    raise SchemaOutdated(
        f"the database schema is {at}, this gateway needs revision {head}; "
        f"run `gateway db upgrade --database-url {shown_url}` (or start with --migrate)"
    )


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _process_locks.get(loop)
    if lock is None:
        lock = _process_locks[loop] = asyncio.Lock()
    return lock


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade_to_head(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False
