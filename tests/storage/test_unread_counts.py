"""Migration 0005: the unread counter stays exact through every kind of write, on both backends.

After each write, committed or rolled back, `notification_unread_counts` summed per priority
equals the unread rows counted per priority. On PostgreSQL, concurrent writers end exact and
the counter never makes a writer wait (so it can take part in no deadlock).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import admin_notification_service as service
from gateway.services.admin_notification_service import platform_alert_service
from gateway.services.token_service import create_token
from gateway.storage.engine import create_engine, session_factory
from gateway.storage.migrate import current_revision, head_revision, upgrade
from tests.conftest import MakeClient
from tests.storage.alembic_steps import alembic_step

TABLE = "notification_unread_counts"
PRIORITIES = ("low", "normal", "high", "critical")

COUNTER = text(f"SELECT priority, sum(unread) FROM {TABLE} GROUP BY priority")
TRUTH = text(
    "SELECT priority, count(*) FROM admin_notifications WHERE NOT is_read GROUP BY priority"
)
# Plain SQL with every column, as the models' INSERT would write it: usable at any revision.
RAW_INSERT = text(
    "INSERT INTO admin_notifications (type, priority, title, message, is_read,"
    " action_required, notification_metadata, created_at, updated_at)"
    " VALUES ('system_info', :priority, :title, 'm', :is_read, false, '{}',"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)

COPY_ALL = (
    "INSERT INTO admin_notifications (type, priority, title, message, is_read,"
    " action_required, notification_metadata, created_at, updated_at)"
    " SELECT type, priority, title, message, is_read, action_required,"
    " notification_metadata, created_at, updated_at FROM admin_notifications"
)

# Updates a quarter of the rows in place (read state flipped, priority "high") and inserts one.
UPSERT = (
    "INSERT INTO admin_notifications (id, type, priority, title, message, is_read,"
    " action_required, notification_metadata, created_at, updated_at)"
    " SELECT id, type, 'high', title, message, NOT is_read, action_required,"
    " notification_metadata, created_at, updated_at FROM admin_notifications WHERE id % 4 = 0"
    " UNION ALL SELECT 100000, 'system_info', 'low', 't', 'm', false, false, '{}',"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
    " ON CONFLICT (id) DO UPDATE SET is_read = excluded.is_read, priority = excluded.priority"
)


async def counted(connection: Any) -> dict[str, int]:
    """The counter's figure per priority (priorities at zero left out)."""
    rows = (await connection.execute(COUNTER)).all()
    return {priority: int(total) for priority, total in rows if total}


async def truth(connection: Any) -> dict[str, int]:
    """The unread rows counted per priority."""
    return {priority: int(n) for priority, n in (await connection.execute(TRUTH)).all()}


async def assert_exact(engine: AsyncEngine) -> dict[str, int]:
    """Assert the counter equals the count, as a fresh connection sees both; return it."""
    async with engine.connect() as connection:
        expected = await truth(connection)
        assert await counted(connection) == expected
    return expected


async def create(db: AsyncSession, priority: str = "normal", **fields: Any) -> int:
    row = await service.create_notification(
        db,
        notification_type="system_info",
        title=fields.pop("title", f"{priority} notification"),
        message="m",
        priority=priority,
        **fields,
    )
    assert row is not None
    return row.id


class TestWritePaths:
    async def test_service_writes(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Create, dedup, read, unread, read many, read all, delete, delete many: all exact."""
        ids: dict[str, list[int]] = {}
        async with sessions() as db, db.begin():
            for n, priority in enumerate(PRIORITIES):
                ids[priority] = [await create(db, priority) for _ in range(n + 2)]
            await service.notify_security_alert(db, title="guessing", details="10 failures")
            await service.notify_import_failure(
                db, store_name="Acme", job_id=1, error_message="bad CSV", store_id=5
            )
        assert await assert_exact(engine) == {"low": 2, "normal": 3, "high": 5, "critical": 6}

        # The first of a dedup key creates, the repeats inside the window are suppressed.
        async with sessions() as db, db.begin():
            window = timedelta(hours=1)
            assert await create(db, "high", dedup_key="k", dedup_window=window)
            for _ in range(3):
                suppressed = await service.create_notification(
                    db,
                    notification_type="system_info",
                    title="t",
                    message="m",
                    dedup_key="k",
                    dedup_window=window,
                )
                assert suppressed is None
        assert (await assert_exact(engine))["high"] == 6

        steps: list[Callable[[AsyncSession], Any]] = [
            lambda db: service.mark_as_read(db, ids["low"][0], user_id=1),
            lambda db: service.mark_as_read(db, ids["low"][0]),  # again: nothing changes
            lambda db: service.mark_as_unread(db, ids["low"][0]),
            lambda db: service.mark_as_unread(db, ids["low"][0]),
            lambda db: service.mark_many_as_read(db, [*ids["normal"], *ids["high"][:2], 999]),
            lambda db: service.mark_all_as_read(db, priority="critical", up_to_id=ids["high"][-1]),
            lambda db: service.delete_notification(db, ids["high"][-1]),
            lambda db: service.delete_notification(db, ids["normal"][0]),  # a read one
            lambda db: service.delete_many_notifications(db, [*ids["low"], *ids["critical"], 999]),
            lambda db: service.mark_all_as_read(db),
        ]
        for step in steps:
            async with sessions() as db, db.begin():
                await step(db)
            await assert_exact(engine)
        assert await assert_exact(engine) == {}

    async def test_the_service_reads_the_counter(
        self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Count, per priority, summary, marker and statistics agree with the rows."""
        async with sessions() as db, db.begin():
            for priority in ("high", "high", "critical", "low"):
                await create(db, priority)
            read = await create(db, "normal")
            await service.mark_as_read(db, read)
            # Inside the writing transaction the counter already shows its own changes.
            assert await service.get_unread_count(db) == 4
        async with sessions() as db:
            by_priority = {"low": 1, "normal": 0, "high": 2, "critical": 1}
            assert await service.get_unread_count(db) == 4
            assert await service.get_unread_count_by_priority(db) == by_priority
            summary, marker = await service.get_unread_summary(db)
            assert summary == by_priority
            assert marker == await service.get_unread_marker(db)
            assert marker[:2] == (4, read)
            stats = await platform_alert_service.get_statistics(db)
            assert (stats["unread"], stats["critical"]) == (4, 1)

    async def test_raw_sql_and_rollback(self, engine: AsyncEngine) -> None:
        """Raw INSERT/UPDATE/DELETE, a priority change, odd priorities and rollbacks: exact."""
        unread_rows = [{"priority": p, "title": p, "is_read": False} for p in PRIORITIES * 3]
        statements: list[tuple[str, Any]] = [
            ("insert", unread_rows),
            ("insert", {"priority": "urgent", "title": "odd", "is_read": False}),
            ("insert", {"priority": "low", "title": "read", "is_read": True}),
            # Several priorities in one statement, in both directions.
            ("UPDATE admin_notifications SET is_read = true WHERE id % 3 = 0", None),
            ("UPDATE admin_notifications SET is_read = NOT is_read WHERE id % 2 = 0", None),
            # A priority change moves unread rows from one count to another.
            ("UPDATE admin_notifications SET priority = 'critical' WHERE priority = 'low'", None),
            ("UPDATE admin_notifications SET title = 'renamed'", None),
            (COPY_ALL, None),
            # An upsert fires both the INSERT and the UPDATE triggers.
            (UPSERT, None),
            ("DELETE FROM admin_notifications WHERE priority = 'high'", None),
            ("DELETE FROM admin_notifications WHERE id % 5 = 1", None),
        ]
        for sql, params in statements:
            statement = RAW_INSERT if sql == "insert" else text(sql)
            # Each statement once rolled back (nothing may stick), then committed.
            async with engine.connect() as connection:
                await connection.execute(statement, params)
                await connection.rollback()
            await assert_exact(engine)
            async with engine.begin() as connection:
                await connection.execute(statement, params)
            await assert_exact(engine)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE admin_notifications SET is_read = false"))
        assert "urgent" in await assert_exact(engine)
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM notification_dedup"))
            await connection.execute(text("DELETE FROM admin_notifications"))
        assert await assert_exact(engine) == {}

    async def test_several_statements_in_one_transaction(self, engine: AsyncEngine) -> None:
        """A transaction touching priorities in one order, then the other, counts each once."""
        async with engine.begin() as connection:
            for priority in [*PRIORITIES, *reversed(PRIORITIES)]:
                await connection.execute(
                    RAW_INSERT, {"priority": priority, "title": "t", "is_read": False}
                )
                await connection.execute(
                    text("UPDATE admin_notifications SET is_read = true WHERE priority = :p"),
                    {"p": priority},
                )
                await connection.execute(
                    text("UPDATE admin_notifications SET is_read = false WHERE priority = :p"),
                    {"p": priority},
                )
        assert await assert_exact(engine) == {priority: 2 for priority in PRIORITIES}
        async with engine.connect() as connection:
            rows = await connection.execute(text(f"SELECT count(*) FROM {TABLE}"))
            assert rows.scalar() == len(PRIORITIES)  # one row per priority, touched 6 times

    async def test_api_and_ingestion(
        self,
        make_client: MakeClient,
        sessions: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
    ) -> None:
        """Log lines through the rules pipeline, then the admin API's writes: exact, with badge."""
        async with sessions() as db, db.begin():
            _, token = await create_token(db, name="unread-test", scope="admin")
        client = await make_client()
        headers = {"Authorization": f"Bearer {token}"}
        lines = [
            '{"event": "product_import.failed", "store_id": 5, "store_name": "Acme",'
            f' "job_id": {job % 4}, "error_message": "bad CSV"}}'
            for job in range(10)
        ] + [
            '{"event": "store.issue", "store_id": 7, "store_name": "Shop",'
            f' "issue": "issue-{n}", "message": "m"}}'
            for n in range(3)
        ]
        response = await client.post(
            "/api/v1/ingest/logs",
            data="\n".join(lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
        body = await response.json()
        assert response.status == 200, body
        assert (body["notifications"], body["suppressed"]) == (7, 6)
        assert await assert_exact(engine) == {"high": 4, "normal": 3}

        api = "/api/v1/admin/notifications"

        async def badge() -> dict[str, Any]:
            async with client.get(f"{api}/unread-count", headers=headers) as reply:
                assert reply.status == 200
                return dict(await reply.json())

        assert (await badge())["unread_count"] == 7
        created = await client.post(
            api,
            json={"type": "system_info", "priority": "critical", "title": "t", "message": "m"},
            headers=headers,
        )
        assert created.status == 201
        new_id = (await created.json())["id"]
        for method, path, payload in [
            ("PUT", f"{api}/1/read", None),
            ("PUT", f"{api}/1/unread", None),
            ("PUT", f"{api}/read", {"ids": [1, 2, 3]}),
            ("PUT", f"{api}/mark-all-read", {"priority": ["normal"]}),
            ("DELETE", f"{api}/{new_id}", None),
            ("POST", f"{api}/delete", {"ids": [3, 4, 5]}),
        ]:
            async with client.request(method, path, json=payload, headers=headers) as reply:
                assert reply.status in (200, 204), await reply.text()
            expected = await assert_exact(engine)
            shown = await badge()
            assert shown["unread_count"] == sum(expected.values())
            assert {k: v for k, v in shown["by_priority"].items() if v} == expected


@pytest.fixture
async def at_0004(unmigrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database migrated up to 0004 only, holding read and unread notifications."""
    engine = create_engine(unmigrated_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(alembic_step("upgrade", "0004"))
            rows = [
                {"priority": priority, "title": f"{priority}-{n}", "is_read": n % 3 == 0}
                for n, priority in enumerate(PRIORITIES * 5 + ("urgent",))
            ]
            await connection.execute(RAW_INSERT, rows)
        yield engine
    finally:
        await engine.dispose()


async def _schema(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    """Tables, and triggers and trigger functions by name."""
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        if engine.dialect.name == "postgresql":
            rows = await connection.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal UNION ALL "
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'notification_unread%'"
                )
            )
        else:
            rows = await connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            )
        return tables, {str(row[0]) for row in rows}


class TestMigration:
    async def test_upgrade_counts_the_rows_already_stored(self, at_0004: AsyncEngine) -> None:
        """Upgrading a database holding notifications fills the counter from them."""
        async with at_0004.connect() as connection:
            before = await truth(connection)
        assert before == {"low": 3, "normal": 4, "high": 3, "critical": 3, "urgent": 1}
        await upgrade(at_0004)
        assert await current_revision(at_0004) == head_revision() == "0005"
        assert await assert_exact(at_0004) == before
        sessions = session_factory(at_0004)
        async with sessions() as db, db.begin():
            await create(db, "urgent")
            await service.mark_all_as_read(db, priority="low")
        del before["low"]
        assert await assert_exact(at_0004) == {**before, "urgent": 2}

    async def test_downgrade_removes_table_triggers_and_functions(
        self, at_0004: AsyncEngine
    ) -> None:
        """Downgrading to 0004 leaves no trace of the counter; writes go on; upgrade again."""
        _, objects_at_0004 = await _schema(at_0004)
        await upgrade(at_0004)
        tables, objects = await _schema(at_0004)
        assert TABLE in tables
        assert len(objects - objects_at_0004) == (10 if at_0004.dialect.name == "postgresql" else 3)
        async with at_0004.begin() as connection:
            await connection.run_sync(alembic_step("downgrade", "0004"))
        assert await current_revision(at_0004) == "0004"
        tables, objects = await _schema(at_0004)
        assert TABLE not in tables and objects == objects_at_0004
        async with at_0004.begin() as connection:
            await connection.execute(
                RAW_INSERT, {"priority": "high", "title": "after", "is_read": False}
            )
            await connection.execute(text("UPDATE admin_notifications SET is_read = true"))
            await connection.execute(text("DELETE FROM admin_notifications WHERE id % 2 = 0"))
            await connection.execute(text("UPDATE admin_notifications SET is_read = false"))
        await upgrade(at_0004)
        assert sum((await assert_exact(at_0004)).values()) > 0


# -- PostgreSQL only -------------------------------------------------------------------------

postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


@postgres_only
class TestPostgreSQL:
    async def test_truncate_resets_the_counter(self, engine: AsyncEngine) -> None:
        """TRUNCATE fires no DELETE trigger; its own trigger empties the counter."""
        async with engine.begin() as connection:
            await connection.execute(
                RAW_INSERT, [{"priority": p, "title": p, "is_read": False} for p in PRIORITIES]
            )
        assert len(await assert_exact(engine)) == 4
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE admin_notifications CASCADE"))
        assert await assert_exact(engine) == {}
        async with engine.begin() as connection:
            await connection.execute(
                RAW_INSERT, {"priority": "low", "title": "again", "is_read": False}
            )
        assert await assert_exact(engine) == {"low": 1}
        # Written before and after a TRUNCATE in one transaction: only what follows it counts.
        async with engine.begin() as connection:
            for title in ("before", "truncate", "after", "after again"):
                if title == "truncate":
                    await connection.execute(text("TRUNCATE admin_notifications CASCADE"))
                    continue
                await connection.execute(
                    RAW_INSERT, {"priority": "high", "title": title, "is_read": False}
                )
        assert await assert_exact(engine) == {"high": 2}

    async def test_a_large_update_is_one_change_per_priority(self, engine: AsyncEngine) -> None:
        """Marking 3,000 rows read touches the counter once per priority, not per row."""
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO admin_notifications (type, priority, title, message, is_read,"
                    " action_required, notification_metadata, created_at, updated_at)"
                    " SELECT 'system_info', (ARRAY['low','normal','high','critical'])[1 + i % 4],"
                    " 't', 'm', false, false, '{}', now(), now()"
                    " FROM generate_series(1, 3000) AS i"
                )
            )
        async with engine.begin() as connection:
            before = await _counter_tuple_writes(connection)
            await connection.execute(text("UPDATE admin_notifications SET is_read = true"))
            assert await _counter_tuple_writes(connection) - before == 4
        assert await assert_exact(engine) == {}

    async def test_long_transactions_cost_linear_and_leave_no_bloat(
        self, engine: AsyncEngine
    ) -> None:
        """A transaction's statements find its counter rows by ctid, not by a scan.

        Each change writes a version nothing can prune before the commit, so a scan per
        statement would make a transaction of N statements cost N squared; with the counter
        table analyzed at one page (where the planner prefers a sequential scan) it is scanned
        once per priority, for the first change. And the versions of ended transactions are
        pruned as the next ones read the page, so the table stays at a page or two without
        VACUUM.
        """
        async with engine.connect() as connection:
            await connection.execute(text(f"ANALYZE {TABLE}"))
            await connection.commit()
            scans = text(
                "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)"
                f" FROM pg_stat_xact_user_tables WHERE relname = '{TABLE}'"
            )
            for _ in range(30):
                # Statistics not yet reported are counted on across transactions: a difference.
                before = (await connection.execute(scans)).scalar_one()
                for n in range(60):
                    await connection.execute(
                        RAW_INSERT,
                        {"priority": PRIORITIES[n % 4], "title": "t", "is_read": n % 5 == 0},
                    )
                # One lookup for the first change of each priority in the transaction; the other
                # 56 statements went to their row by its ctid, which is no scan.
                assert (await connection.execute(scans)).scalar_one() - before == len(PRIORITIES)
                await connection.commit()
            size = await connection.execute(text(f"SELECT pg_relation_size('{TABLE}')"))
            assert size.scalar_one() <= 2 * 8192
        unread_per_transaction = [PRIORITIES[n % 4] for n in range(60) if n % 5]
        assert await assert_exact(engine) == {
            priority: 30 * unread_per_transaction.count(priority) for priority in PRIORITIES
        }

    async def test_interleaved_writers_never_wait_on_the_counter(self, database_url: str) -> None:
        """Two transactions writing priorities in opposite orders finish without waiting.

        With one locked counter row per priority this interleaving is a deadlock: A holds
        `high` and wants `low`, B holds `low` and wants `high`. Here every statement runs
        under a 1 s lock_timeout, and while one transaction holds a notification row lock
        and counter rows, the other still writes the same priorities.
        """
        engine = create_engine(database_url, pool_size=3)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    RAW_INSERT, [{"priority": p, "title": p, "is_read": False} for p in PRIORITIES]
                )
            async with engine.connect() as a, engine.connect() as b:
                for connection in (a, b):
                    await connection.execute(text("SET lock_timeout = '1s'"))
                mark = text("UPDATE admin_notifications SET is_read = true WHERE priority = :p")
                add = RAW_INSERT
                await a.execute(mark, {"p": "high"})  # A holds a high row and a counter row
                await b.execute(add, {"priority": "low", "title": "b1", "is_read": False})
                await a.execute(add, {"priority": "low", "title": "a2", "is_read": False})
                await b.execute(add, {"priority": "high", "title": "b2", "is_read": False})
                await b.execute(mark, {"p": "normal"})
                await a.execute(add, {"priority": "normal", "title": "a3", "is_read": False})
                # Each keeps to the row it holds: no further rows.
                for n in range(3):
                    await a.execute(add, {"priority": "low", "title": f"a{n}", "is_read": False})
                    await b.execute(add, {"priority": "high", "title": f"b{n}", "is_read": False})
                await a.commit()
                await b.commit()
            counts = await assert_exact(engine)
            assert counts == {"low": 6, "high": 4, "critical": 1, "normal": 1}
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(f"SELECT priority, count(*) FROM {TABLE} GROUP BY priority")
                )
                # One row more than the first for each priority both held at once.
                assert dict(rows.all()) == {"low": 2, "high": 2, "normal": 2, "critical": 1}
        finally:
            await engine.dispose()

    async def test_concurrent_writers_end_exact(self, database_url: str) -> None:
        """Eight connections inserting, marking, unmarking and deleting at once: exact.

        Each writer updates and deletes only its own rows (id modulo the writers), so that
        no two of them wait for each other's notification rows; what they share is the
        counter, of every priority, in multi-statement transactions taking the priorities in
        random orders, and one of them marks everything read, an API call at a time. A wait
        of a second for any lock fails the test.
        """
        writers, rounds, seeded = 8, 12, 400
        engine = create_engine(
            database_url,
            pool_size=writers + 2,
            max_overflow=0,
            connect_args={"server_settings": {"lock_timeout": "1000"}},
        )
        sessions = session_factory(engine)
        try:
            async with sessions() as db, db.begin():
                for n in range(seeded):
                    await create(db, PRIORITIES[n % 4])
            start = asyncio.Event()
            by_id = "WHERE id = ANY(:ids)"

            async def writer(index: int) -> None:
                chance = random.Random(index)
                mine = [n for n in range(1, seeded + 1) if n % (writers - 1) == index]
                await start.wait()
                for _ in range(rounds):
                    async with sessions() as db, db.begin():
                        for priority in chance.sample(PRIORITIES, 3):
                            await create(db, priority)
                        picked = chance.sample(mine, 12)
                        await service.mark_many_as_read(db, picked[:5])
                        await db.execute(
                            text(f"UPDATE admin_notifications SET is_read = false {by_id}"),
                            {"ids": picked[5:9]},
                        )
                        await db.execute(
                            text(f"UPDATE admin_notifications SET priority = :p {by_id}"),
                            {"p": chance.choice(PRIORITIES), "ids": picked[9:11]},
                        )
                        await service.delete_many_notifications(db, picked[11:])
                        mine.remove(picked[11])
                        await create(db, chance.choice(PRIORITIES))

            async def reader_of_everything() -> None:
                # Marks the new notifications read, never the seeded ones the others use.
                await start.wait()
                for _ in range(rounds * 2):
                    async with sessions() as db, db.begin():
                        await db.execute(
                            text(
                                "UPDATE admin_notifications SET is_read = true "
                                "WHERE id > :seeded AND NOT is_read"
                            ),
                            {"seeded": seeded},
                        )
                    await asyncio.sleep(0)

            tasks = [asyncio.create_task(writer(index)) for index in range(writers - 1)]
            tasks.append(asyncio.create_task(reader_of_everything()))
            await asyncio.sleep(0.05)
            start.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
            await assert_exact(engine)
            async with engine.connect() as connection:
                rows = (await connection.execute(text(f"SELECT count(*) FROM {TABLE}"))).scalar()
            # More than one row per priority only where writers held rows at the same time.
            assert rows is not None and len(PRIORITIES) <= rows <= writers * len(PRIORITIES)
        finally:
            await engine.dispose()


async def _counter_tuple_writes(connection: Any) -> int:
    """Rows this transaction inserted or updated in the counter table (pg_stat_xact_*)."""
    row = await connection.execute(
        text(
            "SELECT coalesce(n_tup_ins + n_tup_upd, 0) FROM pg_stat_xact_user_tables "
            f"WHERE relname = '{TABLE}'"
        )
    )
    return int(row.scalar() or 0)
