"""The writer gives up on a database that does not answer, and writes again once it does.

A real SQLite file whose write lock another connection holds makes every BEGIN IMMEDIATE wait
(up to the 10 s busy timeout): the writer must answer within its own timeout instead.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.actions import plan
from gateway.publish.hub import Hub
from gateway.publish.metrics import Metrics
from gateway.storage.engine import create_engine, session_factory
from gateway.storage.models import AdminNotification
from gateway.writer import CLEANUP_GRACE_SECONDS, GroupWriter, WriteTimeout
from rules.outcomes import NotificationDraft
from rules.vocabulary import NotificationType, Priority

TIMEOUT = 0.5


def note(title: str) -> NotificationDraft:
    return NotificationDraft(
        rule="r",
        type=NotificationType.STORE_ISSUE,
        priority=Priority.NORMAL,
        title=title,
        message="m",
    )


class TestWriteTimeout:
    async def test_locked_database_times_out_then_recovers(self, sqlite_url: str) -> None:
        """Writes fail with WriteTimeout while the lock is held, together; then succeed."""
        engine = create_engine(sqlite_url)
        try:
            await self.check(sqlite_url, session_factory(engine))
        finally:
            await engine.dispose()

    async def check(self, sqlite_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        writer = GroupWriter(
            sessions, Hub(), Metrics(CollectorRegistry(), process=False), timeout=TIMEOUT
        )
        other = create_engine(sqlite_url)
        try:
            async with other.connect() as holder:
                await holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
                started = time.monotonic()
                outcomes = await asyncio.gather(
                    *(writer.write(plan([note(f"t{i}")]), source="logs") for i in range(3)),
                    return_exceptions=True,
                )
                elapsed = time.monotonic() - started
                await holder.rollback()
        finally:
            await other.dispose()
        assert all(isinstance(outcome, WriteTimeout) for outcome in outcomes), outcomes
        assert "did not commit within 0.5s" in str(outcomes[0])
        # The first batch alone, then the other two as one group that fails at once: retrying
        # them one by one would take two more rounds.
        round_trip = TIMEOUT + CLEANUP_GRACE_SECONDS
        assert elapsed < 3.2 * round_trip, f"{elapsed:.2f}s for three timed-out writes"

        written = await writer.write(plan([note("after")]), source="logs")
        assert written.notifications == 1
        await writer.close()
        # Give the abandoned transactions time to finish their rollback, then count.
        await asyncio.sleep(0.2)
        async with sessions() as db:
            titles = list(await db.scalars(select(AdminNotification.title)))
            assert await db.scalar(select(func.count()).select_from(AdminNotification)) == 1
        assert titles == ["after"]
