"""Group commit: concurrent batches written together, each answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.actions import plan
from gateway.publish.hub import Hub
from gateway.publish.metrics import Metrics
from gateway.storage.models import AdminNotification, PlatformAlert
from gateway.writer import GroupWriter, WriterClosed
from rules.outcomes import AlertDraft, NotificationDraft
from rules.vocabulary import AlertType, NotificationType, Priority, Severity


def alert(fp: str, store: str) -> AlertDraft:
    return AlertDraft(
        rule="r",
        alert_type=AlertType.INTEGRATION,
        severity=Severity.ERROR,
        title="t",
        description="d",
        fingerprint=fp,
        affected_stores=(store,),
    )


def note(key: str | None, metadata: dict[str, object] | None = None) -> NotificationDraft:
    return NotificationDraft(
        rule="r",
        type=NotificationType.STORE_ISSUE,
        priority=Priority.NORMAL,
        title="t",
        message="m",
        dedup_key=key,
        metadata=metadata or {},
    )


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> GroupWriter:
    return GroupWriter(sessions, Hub(), Metrics(CollectorRegistry(), process=False))


class TestGroupWriter:
    async def test_concurrent_batches_share_one_upsert_per_fingerprint(
        self, writer: GroupWriter, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Occurrences of one fingerprint from many batches add up exactly, stores merged."""
        batches = [plan([alert("fp", str(i)), alert("fp", str(i))]) for i in range(10)]
        results = await asyncio.gather(*(writer.write(ops, source="logs") for ops in batches))
        assert all(not r.duplicate for r in results)
        async with sessions() as db:
            [row] = list(await db.scalars(select(PlatformAlert)))
        assert row.occurrence_count == 20
        assert sorted(row.affected_stores, key=int) == [str(i) for i in range(10)]

    async def test_each_batch_gets_its_own_counts(
        self, writer: GroupWriter, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """With one dedup key in every batch, exactly one batch reports the notification."""
        results = await asyncio.gather(
            *(writer.write(plan([note("same-key")]), source="logs") for _ in range(8))
        )
        assert sorted((r.notifications, r.suppressed) for r in results) == [(0, 1)] * 7 + [(1, 0)]
        async with sessions() as db:
            count = await db.scalar(select(func.count()).select_from(AdminNotification))
        assert count == 1

    async def test_a_failing_batch_does_not_fail_the_others(
        self, writer: GroupWriter, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A batch whose write fails is refused alone; its neighbours are committed."""
        bad = plan([note(None, {"not json": object()})])
        good = [plan([note(f"k{i}")]) for i in range(4)]
        outcomes = await asyncio.gather(
            *(writer.write(ops, source="logs") for ops in [*good[:2], bad, *good[2:]]),
            return_exceptions=True,
        )
        assert isinstance(outcomes[2], Exception)
        assert [o.notifications for o in outcomes if not isinstance(o, BaseException)] == [1] * 4
        async with sessions() as db:
            count = await db.scalar(select(func.count()).select_from(AdminNotification))
        assert count == 4

    async def test_replayed_delivery_in_one_group(self, writer: GroupWriter) -> None:
        """The same delivery id twice in one group is written once."""
        results = await asyncio.gather(
            *(writer.write(plan([note(None)]), source="hook", delivery_id="d-1") for _ in range(2))
        )
        assert sorted(r.duplicate for r in results) == [False, True]

    async def test_close_finishes_queued_batches_then_refuses(self, writer: GroupWriter) -> None:
        """Closing writes what is queued; a later batch is refused."""
        pending = [asyncio.ensure_future(writer.write(plan([note(None)]), source="logs"))]
        await asyncio.sleep(0)
        await writer.close()
        assert (await pending[0]).notifications == 1
        with pytest.raises(WriterClosed):
            await writer.write(plan([note(None)]), source="logs")


class StatementLog:
    """What the engine sent: each statement, and whether the driver ran it in autocommit
    (no BEGIN sent before it, no COMMIT after)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[tuple[str, bool]] = []
        self._engine = engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._execute)

    def _execute(self, conn: Connection, cursor: object, statement: str, *rest: object) -> None:
        driver = conn.connection.dbapi_connection
        self.statements.append((statement, bool(getattr(driver, "autocommit", False))))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._execute)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog(engine)
    yield log
    log.close()


class TestGroupShapes:
    async def test_a_group_with_nothing_to_write_touches_no_database(
        self, writer: GroupWriter, statements: StatementLog
    ) -> None:
        results = await asyncio.gather(*(writer.write([], source="logs") for _ in range(5)))
        assert [(r.notifications, r.duplicate) for r in results] == [(0, False)] * 5
        assert statements.statements == []

    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    async def test_an_alert_storm_group_is_one_statement_without_begin_on_postgres(
        self,
        writer: GroupWriter,
        statements: StatementLog,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        """One upsert, committed on its own: no BEGIN or COMMIT round trips, counts exact."""
        batches = [plan([alert(f"fp{i % 3}", str(i))]) for i in range(12)]
        results = await asyncio.gather(*(writer.write(ops, source="logs") for ops in batches))
        assert all(not r.duplicate for r in results)
        assert statements.statements, "nothing was written"
        for statement, autocommit in statements.statements:
            assert statement.lstrip().upper().startswith("INSERT")
            assert autocommit
        async with sessions() as db:
            rows = {
                a.fingerprint: a.occurrence_count for a in await db.scalars(select(PlatformAlert))
            }
        assert rows == {"fp0": 4, "fp1": 4, "fp2": 4}

    async def test_a_group_with_notifications_is_one_transaction(
        self, writer: GroupWriter, statements: StatementLog
    ) -> None:
        await asyncio.gather(
            writer.write(plan([alert("fp", "1"), note("k")]), source="logs"),
            writer.write(plan([note(None)]), source="logs"),
        )
        assert len(statements.statements) >= 2
        assert not any(autocommit for _, autocommit in statements.statements)

    async def test_one_fingerprint_from_two_sources_is_not_one_statement(
        self, writer: GroupWriter, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Two folds of one fingerprint (different sources) need two upserts: in one
        transaction, both counted."""
        await asyncio.gather(
            writer.write(plan([alert("fp", "1")]), source="logs"),
            writer.write(plan([alert("fp", "2")]), source="letzshop"),
        )
        async with sessions() as db:
            [row] = list(await db.scalars(select(PlatformAlert)))
        assert row.occurrence_count == 2
