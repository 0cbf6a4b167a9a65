"""Migration 0004: the `store_id` column is filled for the rows already stored, and removable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.engine import create_engine
from gateway.storage.migrate import current_revision, head_revision, upgrade
from gateway.storage.types import JSONType
from tests.storage.alembic_steps import alembic_step

INDEX = "ix_admin_notifications_store_id_created_at_id"
ALERT_STORES_INDEX = "ix_platform_alerts_affected_stores"
# Plain SQL, as the models at 0004 could not write a table without the column.
INSERT = text(
    "INSERT INTO admin_notifications (type, priority, title, message, is_read, action_required,"
    " notification_metadata, created_at, updated_at)"
    " VALUES ('store_issue', 'normal', :title, 'm', false, false, :metadata,"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
).bindparams(bindparam("metadata", type_=JSONType))
ROWS: dict[str, dict[str, Any]] = {
    "int": {"store_id": 7},
    "string": {"store_id": "7"},
    "other": {"store_id": "s-12", "job_id": 1},
    "absent": {"job_id": 2},
    "null": {"store_id": None},
    "overlong": {"store_id": "x" * 256},
}


@pytest.fixture
async def at_0003(unmigrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database migrated up to 0003 only, holding ROWS."""
    engine = create_engine(unmigrated_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(alembic_step("upgrade", "0003"))
            for title, metadata in ROWS.items():
                await connection.execute(INSERT, {"title": title, "metadata": metadata})
        yield engine
    finally:
        await engine.dispose()


async def _store_ids(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT title, store_id FROM admin_notifications"))
        return {title: store_id for title, store_id in rows}


async def _indexes_and_columns(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    def read(connection: Connection) -> tuple[set[str], set[str]]:
        found = inspect(connection)
        indexes = {str(i["name"]) for i in found.get_indexes("admin_notifications")}
        columns = {c["name"] for c in found.get_columns("admin_notifications")}
        return indexes, columns

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def test_upgrade_fills_existing_rows(at_0003: AsyncEngine) -> None:
    """Rows stored at 0003 read their metadata's store_id as text after the upgrade."""
    assert await current_revision(at_0003) == "0003"
    await upgrade(at_0003)
    assert await current_revision(at_0003) == head_revision()
    assert await _store_ids(at_0003) == {
        "int": "7",
        "string": "7",
        "other": "s-12",
        "absent": None,
        "null": None,
        "overlong": None,
    }
    indexes, _ = await _indexes_and_columns(at_0003)
    assert INDEX in indexes


async def _plan(engine: AsyncEngine, query: str) -> str:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # A handful of rows would otherwise be read by a sequential scan.
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            rows = await connection.execute(text(f"EXPLAIN {query}"))
            return " ".join(str(row[0]) for row in rows)
        rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {query}"))
        return " ".join(str(row[-1]) for row in rows)


async def test_indexes_answer_the_store_filters(at_0003: AsyncEngine) -> None:
    """The planners read one store's notifications (and on PostgreSQL alerts) by index."""
    await upgrade(at_0003)
    notifications = (
        "SELECT id FROM admin_notifications WHERE store_id = '7' "
        "ORDER BY created_at DESC, id DESC LIMIT 51"
    )
    assert INDEX in await _plan(at_0003, notifications)
    if at_0003.dialect.name == "postgresql":
        alerts = "SELECT id FROM platform_alerts WHERE affected_stores @> '[\"7\"]'"
        assert ALERT_STORES_INDEX in await _plan(at_0003, alerts)


async def test_downgrade_removes_the_column_and_index(at_0003: AsyncEngine) -> None:
    """Downgrading to 0003 drops the column and its index and keeps the rows."""
    await upgrade(at_0003)
    async with at_0003.begin() as connection:
        await connection.run_sync(alembic_step("downgrade", "0003"))
    assert await current_revision(at_0003) == "0003"
    indexes, columns = await _indexes_and_columns(at_0003)
    assert INDEX not in indexes and "store_id" not in columns
    async with at_0003.connect() as connection:
        alert_indexes = await connection.run_sync(
            lambda c: {i["name"] for i in inspect(c).get_indexes("platform_alerts")}
        )
    assert ALERT_STORES_INDEX not in alert_indexes
    async with at_0003.connect() as connection:
        count = (
            await connection.execute(text("SELECT count(*) FROM admin_notifications"))
        ).scalar()
    assert count == len(ROWS)
    await upgrade(at_0003)
    assert (await _store_ids(at_0003))["int"] == "7"
