"""Migrations: a fresh upgrade, idempotence, refusal of outdated schemas, concurrent starts."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.errors import SchemaOutdated
from gateway.storage.engine import create_engine
from gateway.storage.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)
from gateway.storage.models import Base

TABLES = {
    "admin_notifications",
    "platform_alerts",
    "notification_dedup",
    "api_tokens",
    "webhook_deliveries",
    "notification_unread_counts",
}


UPGRADE_SCRIPT = """
import asyncio, sys
from gateway.storage.migrate import upgrade
asyncio.run(upgrade(sys.argv[1]))
"""


def _schema_differences(connection: Connection) -> list[Any]:
    dialect = connection.dialect.name

    def declared_for_this_dialect(item: Any, *_: Any) -> bool:
        # An object the models create only on another dialect (`ddl_if`) is not expected here.
        only = getattr(item, "_ddl_if", None)
        return only is None or only.dialect is None or only.dialect == dialect

    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": declared_for_this_dialect}
    )
    return list(compare_metadata(context, Base.metadata))


class TestUpgrade:
    async def test_fresh_upgrade_reaches_head(self, unmigrated_database_url: str) -> None:
        """Upgrading an empty database creates every table and records the head revision."""
        engine = create_engine(unmigrated_database_url)
        try:
            assert await current_revision(engine) is None
            await upgrade(engine)
            assert await current_revision(engine) == head_revision()
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert names >= TABLES
        finally:
            await engine.dispose()

    async def test_upgrade_accepts_a_url_and_is_idempotent(self, database_url: str) -> None:
        """Upgrading an up-to-date database, given by URL, changes nothing."""
        await upgrade(database_url)
        engine = create_engine(database_url)
        try:
            assert await current_revision(engine) == head_revision()
        finally:
            await engine.dispose()

    async def test_models_match_the_migrations(self, engine: AsyncEngine) -> None:
        """The migrated schema is exactly what the models declare (autogenerate finds nothing)."""
        async with engine.connect() as connection:
            differences = await connection.run_sync(_schema_differences)
        assert differences == []

    async def test_partial_unique_index_exists(self, engine: AsyncEngine) -> None:
        """The open-alert fingerprint index is unique and partial on is_resolved."""
        async with engine.connect() as connection:
            indexes = await connection.run_sync(lambda c: inspect(c).get_indexes("platform_alerts"))
        [index] = [i for i in indexes if i["name"] == "uq_platform_alerts_fingerprint_open"]
        assert index["unique"]
        assert index["column_names"] == ["fingerprint"]
        where = " ".join(str(value) for value in index.get("dialect_options", {}).values())
        assert "is_resolved" in where

    async def test_concurrent_upgrades_do_not_fail(self, unmigrated_database_url: str) -> None:
        """Three gateway processes upgrading one fresh database at once all succeed."""
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                UPGRADE_SCRIPT,
                unmigrated_database_url,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        outputs = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), timeout=60
        )
        for process, (_, stderr) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, stderr.decode()
        await self._assert_at_head_once(unmigrated_database_url)

    async def test_concurrent_upgrades_in_one_process(self, unmigrated_database_url: str) -> None:
        """Concurrent upgrades inside one process take turns instead of corrupting each other."""
        upgrades = asyncio.gather(*(upgrade(unmigrated_database_url) for _ in range(3)))
        await asyncio.wait_for(upgrades, timeout=60)
        await self._assert_at_head_once(unmigrated_database_url)

    async def _assert_at_head_once(self, url: str) -> None:
        engine = create_engine(url)
        try:
            assert await current_revision(engine) == head_revision()
            async with engine.connect() as connection:
                versions = await connection.execute(text("SELECT count(*) FROM alembic_version"))
                assert versions.scalar() == 1
        finally:
            await engine.dispose()

    def test_scripts_are_found_from_any_directory(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The migration scripts are located beside the package, not the working directory."""
        monkeypatch.chdir(tmp_path)
        assert MIGRATIONS_DIR.is_absolute()
        assert head_revision() == "0005"


class TestEnsureSchema:
    async def test_up_to_date_schema_passes(self, engine: AsyncEngine) -> None:
        """A schema at head is accepted without migrating."""
        await ensure_schema(engine, migrate=False)

    async def test_outdated_schema_is_refused_with_the_command(
        self, unmigrated_database_url: str
    ) -> None:
        """Without --migrate an unmigrated database is refused, naming the upgrade command."""
        url = make_url(unmigrated_database_url)
        if url.get_backend_name() == "postgresql" and url.password is None:
            url = url.set(password="s3cret-pw")  # the server trusts us; it ignores the password
        engine = create_engine(url)
        try:
            with pytest.raises(SchemaOutdated) as caught:
                await ensure_schema(engine, migrate=False)
            message = str(caught.value)
            assert "gateway db upgrade --database-url " in message
            assert url.render_as_string(hide_password=True) in message
            if url.password is not None:
                assert f":{url.password}@" not in message and ":***@" in message
            assert await current_revision(engine) is None
        finally:
            await engine.dispose()

    async def test_migrate_upgrades(self, unmigrated_database_url: str) -> None:
        """With migrate=True an outdated schema is upgraded to head."""
        engine = create_engine(unmigrated_database_url)
        try:
            await ensure_schema(engine, migrate=True)
            assert await current_revision(engine) == head_revision()
        finally:
            await engine.dispose()

    async def test_unknown_revision_is_refused_even_with_migrate(self, engine: AsyncEngine) -> None:
        """A database migrated by a newer gateway is refused rather than touched."""
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        try:
            with pytest.raises(SchemaOutdated, match=r"9999.*does not know"):
                await ensure_schema(engine, migrate=True)
        finally:
            # The PostgreSQL database is shared by the whole test session.
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE alembic_version SET version_num = :head"),
                    {"head": head_revision()},
                )
