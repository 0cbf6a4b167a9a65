"""Column types: UTC timestamps and JSON behave the same on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.storage.models import AdminNotification


def notification(**fields: object) -> AdminNotification:
    values: dict[str, object] = {
        "type": "system_info",
        "priority": "normal",
        "title": "t",
        "message": "m",
    }
    values.update(fields)
    return AdminNotification(**values)


class TestUTCDateTime:
    async def test_round_trip_is_aware_utc(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A stored timestamp reads back as the same instant, aware and in UTC."""
        moment = datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
        db.add(notification(created_at=moment, updated_at=moment))
        await db.commit()

        async with sessions() as fresh:
            loaded = await fresh.scalar(select(AdminNotification))
        assert loaded is not None
        assert loaded.created_at == moment
        assert loaded.created_at.tzinfo is UTC
        assert loaded.updated_at.utcoffset() == timedelta(0)

    async def test_other_offsets_are_stored_as_utc(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """An aware value in another zone is converted to UTC, keeping the instant."""
        plus_two = timezone(timedelta(hours=2))
        local = datetime(2024, 1, 1, 1, 0, tzinfo=plus_two)
        db.add(notification(created_at=local))
        await db.commit()

        async with sessions() as fresh:
            loaded = await fresh.scalar(select(AdminNotification))
        assert loaded is not None
        assert loaded.created_at == datetime(2023, 12, 31, 23, 0, tzinfo=UTC)
        assert loaded.created_at.tzinfo is UTC

    async def test_comparisons_use_the_instant(self, db: AsyncSession) -> None:
        """Filtering with a non-UTC bound compares instants, not wall-clock text."""
        db.add(notification(created_at=datetime(2024, 1, 1, 12, 0, tzinfo=UTC)))
        await db.commit()
        bound = datetime(2024, 1, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))  # 11:30 UTC
        found = await db.scalars(
            select(AdminNotification).where(AdminNotification.created_at > bound)
        )
        assert len(found.all()) == 1

    async def test_naive_datetime_is_refused(self, db: AsyncSession) -> None:
        """A naive datetime is rejected instead of being guessed to be UTC."""
        db.add(notification(created_at=datetime(2024, 1, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            await db.flush()


class TestJSONType:
    async def test_nested_values_round_trip(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Metadata with nesting, unicode and numbers reads back equal."""
        metadata = {"store_id": 5, "tags": ["a", "ü"], "nested": {"ok": True, "n": 1.5}}
        db.add(notification(notification_metadata=metadata))
        await db.commit()
        async with sessions() as fresh:
            loaded = await fresh.scalar(select(AdminNotification))
        assert loaded is not None
        assert loaded.notification_metadata == metadata
