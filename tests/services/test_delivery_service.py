"""Webhook replay protection on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.delivery_service import prune_deliveries, record_delivery
from gateway.storage.models import WebhookDelivery


class TestRecordDelivery:
    async def test_first_time_then_replay(self, db: AsyncSession) -> None:
        """A delivery id is new once; the same id again is a replay."""
        assert await record_delivery(db, source="github", delivery_id="d-1") is True
        assert await record_delivery(db, source="github", delivery_id="d-1") is False

    async def test_ids_are_per_source(self, db: AsyncSession) -> None:
        """The same id from two sources is two deliveries."""
        assert await record_delivery(db, source="github", delivery_id="d-1")
        assert await record_delivery(db, source="stripe", delivery_id="d-1")

    async def test_long_ids_are_kept_distinct(self, db: AsyncSession) -> None:
        """Ids longer than the column are stored as digests, still told apart and replayed."""
        long_a, long_b = "a" * 300, "a" * 299 + "b"
        assert await record_delivery(db, source="s", delivery_id=long_a)
        assert await record_delivery(db, source="s", delivery_id=long_b)
        assert not await record_delivery(db, source="s", delivery_id=long_a)
        await db.commit()

    async def test_concurrent_replays_have_one_first(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Of ten sessions recording one id at once, exactly one sees it first."""

        async def record() -> bool:
            async with sessions() as session:
                first = await record_delivery(session, source="s", delivery_id="same")
                await session.commit()
                return first

        outcomes = await asyncio.gather(*(record() for _ in range(10)))
        assert sorted(outcomes) == [False] * 9 + [True]


class TestPruneDeliveries:
    async def test_prunes_only_older_deliveries(self, db: AsyncSession) -> None:
        """prune_deliveries forgets deliveries received before the cutoff and counts them."""
        for delivery_id in ("old-1", "old-2", "new"):
            await record_delivery(db, source="s", delivery_id=delivery_id)
        long_ago = datetime.now(UTC) - timedelta(days=10)
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.delivery_id.like("old-%"))
            .values(received_at=long_ago)
        )
        cutoff = datetime.now(UTC) - timedelta(days=7)
        assert await prune_deliveries(db, cutoff) == 2
        assert await db.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        assert await record_delivery(db, source="s", delivery_id="old-1") is True
