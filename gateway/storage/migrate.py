"""Schema migrations: upgrade to the newest revision, or refuse to run on an outdated schema.

Migrations are the only way tables are created, in production and in tests alike. Alembic is
configured in code, its scripts located beside this module, so that it works from any cwd.

Alembic is imported only to migrate: checking that a schema is current, which every start
and readiness probe does, reads the revision table and the scripts' revision lines directly
(importing alembic costs a third of a second and several MB at every start).
"""

from __future__ import annotations

import asyncio
import functools
import re
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import String, column, func, inspect, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.errors import SchemaOutdated
from gateway.storage.engine import create_engine, is_postgres

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"

# `revision: str = "0002"` and `down_revision: str | None = "0001"` in each script.
_REVISION_LINE = re.compile(r'^(down_)?revision\b[^=\n]*=\s*(?:None|"([^"]+)")', re.MULTILINE)

# An arbitrary, fixed key: every gateway migrating the same PostgreSQL database takes it.
MIGRATION_LOCK_KEY = 7_461_776_761_105_649_001

# Alembic keeps its running context in a module global, so within one process upgrades must
# take turns whatever database they target; one lock per event loop.
_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def alembic_config() -> Config:
    """Return an alembic configuration pointing at the packaged migration scripts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def known_revisions() -> dict[str, str | None]:
    """Return every revision of the packaged scripts with the revision it follows."""
    revisions: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found = dict(
            (bool(down), value or None)
            for down, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8"))
        )
        if found.get(False) is None:
            raise RuntimeError(f"{script} declares no revision")
        revisions[str(found[False])] = found.get(True)
    return revisions


def head_revision() -> str:
    """Return the newest revision this code knows: the one no other revision follows."""
    revisions = known_revisions()
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision in {MIGRATIONS_DIR}, found {sorted(heads)}")
    return heads.pop()


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or None for a database never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(read_revision)


def read_revision(connection: Connection) -> str | None:
    """Return the revision recorded in the database, None when it was never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    version_num = column("version_num", String)
    rows = connection.execute(select(version_num).select_from(table(VERSION_TABLE))).scalars().all()
    # Several rows (alembic branches, which these scripts never create) read as one string
    # that matches no known revision, so the schema is reported as unknown, not as current.
    return ",".join(sorted(rows)) or None


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


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _is_known(revision: str) -> bool:
    return revision in known_revisions()
