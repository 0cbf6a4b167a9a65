"""Engine construction: URL handling, SQLite connection settings and transaction mode."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    create_engine,
    database_url,
    is_postgres,
    session_factory,
)

INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (source, delivery_id, received_at) "
    "VALUES ('s', :id, '2024-01-01 00:00:00.000000')"
)


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        ("given", "driver"),
        [
            ("sqlite:///gateway.db", "sqlite+aiosqlite"),
            ("sqlite+aiosqlite:///gateway.db", "sqlite+aiosqlite"),
            ("postgresql://u@h/db", "postgresql+asyncpg"),
            ("postgres://u@h/db", "postgresql+asyncpg"),
            ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
        ],
    )
    def test_async_driver_is_chosen(self, given: str, driver: str) -> None:
        """A URL without a driver, or with the async one, selects the async driver."""
        assert database_url(given).drivername == driver

    @pytest.mark.parametrize(
        "given", ["mysql://u:pw@h/db", "postgresql+psycopg2://u:pw@h/db", "sqlite+pysqlite:///x"]
    )
    def test_other_drivers_are_refused_without_the_password(self, given: str) -> None:
        """An unsupported URL is an error that does not echo the password."""
        with pytest.raises(ValueError, match="unsupported database URL") as caught:
            database_url(given)
        assert "pw" not in str(caught.value)


class TestSqliteEngine:
    async def test_connection_pragmas(self, sqlite_url: str) -> None:
        """Every SQLite connection runs WAL, NORMAL sync, foreign keys and a busy timeout."""
        engine = create_engine(sqlite_url)
        try:
            async with engine.connect() as connection:

                async def pragma(name: str) -> object:
                    return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()

                assert await pragma("journal_mode") == "wal"
                assert await pragma("synchronous") == 1  # NORMAL
                assert await pragma("foreign_keys") == 1
                assert await pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        finally:
            await engine.dispose()
        assert not is_postgres(engine)

    async def test_transactions_begin_immediate(self, sqlite_url: str, tmp_path: Path) -> None:
        """A transaction holds the write lock from its first statement, even a SELECT."""
        engine = create_engine(sqlite_url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))  # autobegins
                assert connection.in_transaction()
                assert _write_lock_is_taken(tmp_path / "gateway.db")
                await connection.rollback()
            assert not _write_lock_is_taken(tmp_path / "gateway.db")
        finally:
            await engine.dispose()

    async def test_deferred_begin_on_request(self, sqlite_url: str, tmp_path: Path) -> None:
        """The sqlite_begin execution option gives read-only work a deferred transaction."""
        engine = create_engine(sqlite_url)
        try:
            deferred = engine.execution_options(sqlite_begin="DEFERRED")
            async with deferred.connect() as connection:
                await connection.execute(text("SELECT count(*) FROM admin_notifications"))
                assert connection.in_transaction()
                assert not _write_lock_is_taken(tmp_path / "gateway.db")
        finally:
            await engine.dispose()

    async def test_why_immediate_deferred_read_then_write_fails(self, sqlite_url: str) -> None:
        """With a deferred BEGIN, a write after a read loses to a concurrent commit at once."""
        engine = create_engine(sqlite_url)
        deferred = engine.execution_options(sqlite_begin="DEFERRED")
        try:
            async with deferred.connect() as first, deferred.connect() as second:
                await first.execute(text("SELECT count(*) FROM webhook_deliveries"))
                await second.execute(text(INSERT_DELIVERY), {"id": "a"})
                await second.commit()
                started = time.monotonic()
                with pytest.raises(OperationalError, match="locked"):
                    await first.execute(text(INSERT_DELIVERY), {"id": "b"})
                assert time.monotonic() - started < 1  # busy_timeout was not even consulted
        finally:
            await engine.dispose()

    async def test_immediate_read_then_write_waits_its_turn(self, sqlite_url: str) -> None:
        """With the default BEGIN IMMEDIATE the same interleaving queues and both succeed."""
        engine = create_engine(sqlite_url)
        try:
            async with engine.connect() as first, engine.connect() as second:
                await first.execute(text("SELECT count(*) FROM webhook_deliveries"))

                async def write_second() -> None:
                    await second.execute(text(INSERT_DELIVERY), {"id": "a"})
                    await second.commit()

                waiting = asyncio.create_task(write_second())
                await asyncio.sleep(0.2)
                assert not waiting.done()  # blocked on the write lock, not failed
                await first.execute(text(INSERT_DELIVERY), {"id": "b"})
                await first.commit()
                await asyncio.wait_for(waiting, timeout=5)
            async with engine.connect() as check:
                count = await check.execute(text("SELECT count(*) FROM webhook_deliveries"))
                assert count.scalar() == 2
        finally:
            await engine.dispose()

    async def test_rollback_undoes_ddl_and_dml(self, sqlite_url: str) -> None:
        """With SQLAlchemy emitting BEGIN, a rollback undoes everything, DDL included."""
        engine = create_engine(sqlite_url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("CREATE TABLE scratch (x INTEGER)"))
                await connection.execute(text("INSERT INTO scratch VALUES (1)"))
                await connection.rollback()
            async with engine.connect() as connection:
                names = await connection.execute(
                    text("SELECT name FROM sqlite_master WHERE name = 'scratch'")
                )
                assert names.all() == []
        finally:
            await engine.dispose()

    async def test_failed_open_ends_the_worker_thread_first(self, tmp_path: Path) -> None:
        """A database that cannot be opened raises only after aiosqlite's thread has ended.

        A thread still running would report to the event loop later, perhaps once it is
        closed, and die with "Event loop is closed".
        """
        before = _sqlite_workers()
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'gateway.db'}")
        try:
            with pytest.raises(OperationalError, match="unable to open"):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            assert _sqlite_workers() - before == set()
        finally:
            await engine.dispose()


def _sqlite_workers() -> set[threading.Thread]:
    """Return the live worker threads of aiosqlite connections."""
    return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}


def _write_lock_is_taken(path: Path) -> bool:
    """Tell whether another connection holds SQLite's write lock on `path` (without waiting)."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()


class TestSessions:
    async def test_objects_stay_loaded_after_commit(self, engine: AsyncEngine) -> None:
        """Sessions do not expire objects on commit, so attributes need no lazy reload."""
        factory = session_factory(engine)
        async with factory() as db:
            assert db.sync_session.expire_on_commit is False

    async def test_is_postgres(self, engine: AsyncEngine, backend: str) -> None:
        """is_postgres tells the backends apart."""
        assert is_postgres(engine) is (backend == "postgresql")
