"""record_notifications: many notifications in a few statements, as if created one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.services.admin_notification_service import (
    NotificationRecord,
    admin_notification_service,
)
from gateway.storage.models import AdminNotification, NotificationDedup

service = admin_notification_service


def record(title: str, key: str | None = None, **fields: object) -> NotificationRecord:
    return NotificationRecord(
        notification_type="store_issue",
        title=title,
        message=f"message of {title}",
        dedup_key=key,
        **fields,  # type: ignore[arg-type]
    )


class TestRecordNotifications:
    async def test_results_in_input_order_with_repeats_suppressed(self, db: AsyncSession) -> None:
        records = [
            record("a1", "a"),
            record("plain-1"),
            record("a2", "a"),
            record("b1", "b", priority="critical", metadata={"store_id": 7}),
            record("a3", "a"),
            record("plain-2"),
        ]
        out = await service.record_notifications(db, records)
        await db.commit()
        assert [None if n is None else n.type for n in out] == [
            "store_issue",
            "store_issue",
            None,
            "store_issue",
            None,
            "store_issue",
        ]
        stored = {n.id: n for n in await db.scalars(select(AdminNotification))}
        titles = [stored[n.id].title if n else None for n in out]
        assert titles == ["a1", "plain-1", None, "b1", None, "plain-2"]
        created = [n for n in out if n is not None]
        # Ids follow the order given, as one-by-one creation would give them.
        assert [n.id for n in created] == sorted(n.id for n in created)
        b = stored[created[2].id]
        assert (b.priority, b.store_id, b.dedup_key) == ("critical", "7", "b")
        window_a = await db.get(NotificationDedup, "a")
        window_b = await db.get(NotificationDedup, "b")
        assert window_a is not None and window_b is not None
        assert (window_a.notification_id, window_a.suppressed_count) == (created[0].id, 2)
        assert (window_b.notification_id, window_b.suppressed_count) == (created[2].id, 0)

    async def test_an_open_window_suppresses_every_repeat(self, db: AsyncSession) -> None:
        first = await service.create_notification(
            db, notification_type="store_issue", title="t", message="m", dedup_key="k"
        )
        out = await service.record_notifications(db, [record("r1", "k"), record("r2", "k")])
        await db.commit()
        assert out == [None, None]
        window = await db.get(NotificationDedup, "k")
        assert window is not None and first is not None
        assert (window.notification_id, window.suppressed_count) == (first.id, 2)

    async def test_an_expired_window_opens_again(self, db: AsyncSession) -> None:
        await service.record_notifications(
            db, [record("old", "k", dedup_window=timedelta(hours=1))]
        )
        await db.execute(
            update(NotificationDedup).values(
                window_expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
        out = await service.record_notifications(db, [record("new", "k"), record("again", "k")])
        await db.commit()
        assert out[0] is not None and out[1] is None
        window = await db.get(NotificationDedup, "k", populate_existing=True)
        assert window is not None
        assert (window.notification_id, window.suppressed_count) == (out[0].id, 1)

    async def test_a_bad_window_is_refused_before_anything_is_written(
        self, db: AsyncSession
    ) -> None:
        with pytest.raises(ValueError, match="dedup_window must be positive"):
            await service.record_notifications(db, [record("x", "k", dedup_window=timedelta(0))])

    async def test_nothing_to_record(self, db: AsyncSession) -> None:
        assert await service.record_notifications(db, []) == []

    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    async def test_many_notifications_are_three_statements(
        self, db: AsyncSession, engine: AsyncEngine
    ) -> None:
        """Claims, inserts and links: one statement each, whatever the number of rows.

        PostgreSQL only: SQLite does not promise RETURNING rows in VALUES order, so SQLAlchemy
        inserts row by row there (in process, without round trips)."""
        sent: list[str] = []

        def count(conn: Connection, cursor: object, statement: str, *rest: object) -> None:
            sent.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            out = await service.record_notifications(
                db, [record(f"n{i}", f"key-{i:02d}") for i in range(20)]
            )
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        await db.commit()
        assert all(n is not None for n in out)
        assert len(sent) == 3, [statement[:60] for statement in sent]
