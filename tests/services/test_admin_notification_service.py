"""AdminNotificationService on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.errors import RecordNotFound
from gateway.services.admin_notification_service import (
    DEFAULT_DEDUP_WINDOW,
    NotificationType,
    Priority,
    admin_notification_service,
)
from gateway.storage.models import AdminNotification, NotificationDedup

service = admin_notification_service
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


async def add(db: AsyncSession, minutes: int = 0, **fields: Any) -> AdminNotification:
    """Store a notification created `minutes` after T0."""
    values: dict[str, Any] = {
        "type": NotificationType.SYSTEM_INFO,
        "priority": Priority.NORMAL,
        "title": "Title",
        "message": "Message",
        "read_at": None,
        "read_by_user_id": None,
        "created_at": T0 + timedelta(minutes=minutes),
    }
    values.update(fields)
    notification = AdminNotification(**values)
    db.add(notification)
    await db.flush()
    return notification


async def ids(db: AsyncSession, **filters: Any) -> list[int]:
    rows, _ = await service.get_notifications(db, **filters)
    return [row.id for row in rows]


class TestSpecificationExample:
    async def test_example_usage_works_as_written(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The specification's example, awaited, stores a high-priority import failure."""
        await admin_notification_service.notify_import_failure(
            db=db,
            store_name="Acme Corp",
            job_id=123,
            error_message="CSV parsing failed: invalid column format",
            store_id=5,
        )
        await db.commit()

        async with sessions() as fresh:
            [stored] = (await fresh.scalars(select(AdminNotification))).all()
        assert stored.type == NotificationType.IMPORT_FAILURE
        assert stored.priority == Priority.HIGH
        assert stored.action_required is True
        assert "Acme Corp" in stored.title
        assert "CSV parsing failed: invalid column format" in stored.message
        assert stored.notification_metadata["job_id"] == 123
        assert stored.notification_metadata["store_id"] == 5
        assert stored.created_at.tzinfo is UTC


class TestCreateNotification:
    async def test_stores_every_field(self, db: AsyncSession) -> None:
        """A created notification carries all given fields and is unread."""
        created = await service.create_notification(
            db,
            notification_type=NotificationType.STORE_ISSUE,
            title="Store offline",
            message="Store 7 stopped answering",
            priority=Priority.HIGH,
            action_required=True,
            action_url="/admin/stores/7",
            metadata={"store_id": 7},
            rule="store-offline",
            source="logs",
        )
        assert created is not None
        assert created.id > 0
        await db.commit()
        loaded = await service.get_notification(db, created.id)
        assert (loaded.type, loaded.priority) == ("store_issue", "high")
        assert (loaded.title, loaded.message) == ("Store offline", "Store 7 stopped answering")
        assert loaded.action_required and loaded.action_url == "/admin/stores/7"
        assert loaded.notification_metadata == {"store_id": 7}
        assert (loaded.rule, loaded.source, loaded.dedup_key) == ("store-offline", "logs", None)
        assert loaded.is_read is False and loaded.read_at is None
        assert loaded.created_at.tzinfo is UTC and loaded.updated_at.tzinfo is UTC

    async def test_defaults(self, db: AsyncSession) -> None:
        """Priority defaults to normal, metadata to an empty object, no action."""
        created = await service.create_notification(
            db, notification_type="system_info", title="t", message="m"
        )
        assert created is not None
        assert created.priority == "normal"
        assert created.notification_metadata == {}
        assert created.action_required is False and created.action_url is None


class TestDeduplication:
    async def test_same_key_within_window_is_suppressed(self, db: AsyncSession) -> None:
        """A second notification with the same key inside the window is not created."""
        kwargs: dict[str, Any] = {
            "notification_type": "store_issue",
            "title": "t",
            "message": "m",
            "dedup_key": "store-7-offline",
            "dedup_window": timedelta(minutes=10),
        }
        first = await service.create_notification(db, **kwargs)
        second = await service.create_notification(db, **kwargs)
        third = await service.create_notification(db, **kwargs)
        await db.commit()

        assert first is not None and first.dedup_key == "store-7-offline"
        assert second is None and third is None
        assert (await service.get_notifications(db))[1] == 1
        window = await db.get(NotificationDedup, "store-7-offline")
        assert window is not None
        assert window.notification_id == first.id
        assert window.suppressed_count == 2
        assert window.window_expires_at.tzinfo is UTC

    async def test_new_notification_after_window_expires(self, db: AsyncSession) -> None:
        """Once the window has expired the key opens a new window and a new notification."""
        kwargs: dict[str, Any] = {
            "notification_type": "store_issue",
            "title": "t",
            "message": "m",
            "dedup_key": "k",
            "dedup_window": timedelta(hours=1),
        }
        first = await service.create_notification(db, **kwargs)
        assert await service.create_notification(db, **kwargs) is None
        await db.execute(
            update(NotificationDedup).values(
                window_expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
        second = await service.create_notification(db, **kwargs)
        await db.commit()

        assert first is not None and second is not None and second.id != first.id
        window = await db.get(NotificationDedup, "k", populate_existing=True)
        assert window is not None
        assert window.notification_id == second.id
        assert window.suppressed_count == 0
        assert window.window_expires_at > datetime.now(UTC) + timedelta(minutes=59)

    async def test_different_keys_do_not_interfere(self, db: AsyncSession) -> None:
        """Each key has its own window."""
        for key in ("a", "b", "a", "b", "c"):
            await service.create_notification(
                db, notification_type="x", title="t", message="m", dedup_key=key
            )
        assert (await service.get_notifications(db))[1] == 3

    async def test_without_key_nothing_is_deduplicated(self, db: AsyncSession) -> None:
        """Identical notifications without a key are all stored."""
        for _ in range(3):
            await service.create_notification(db, notification_type="x", title="t", message="m")
        assert (await service.get_notifications(db))[1] == 3

    async def test_default_window(self, db: AsyncSession) -> None:
        """A key without a window uses DEFAULT_DEDUP_WINDOW."""
        before = datetime.now(UTC)
        await service.create_notification(
            db, notification_type="x", title="t", message="m", dedup_key="k"
        )
        window = await db.get(NotificationDedup, "k")
        assert window is not None
        expected = before + DEFAULT_DEDUP_WINDOW
        assert expected <= window.window_expires_at <= expected + timedelta(seconds=30)

    async def test_non_positive_window_is_refused(self, db: AsyncSession) -> None:
        """A zero window is a programming error, not a silent no-op."""
        with pytest.raises(ValueError, match="dedup_window"):
            await service.create_notification(
                db,
                notification_type="x",
                title="t",
                message="m",
                dedup_key="k",
                dedup_window=timedelta(0),
            )

    async def test_deleting_the_notification_keeps_the_window(self, db: AsyncSession) -> None:
        """Deleting the notification leaves the window open and unlinks it (ON DELETE SET NULL)."""
        first = await service.create_notification(
            db, notification_type="x", title="t", message="m", dedup_key="k"
        )
        assert first is not None
        await service.delete_notification(db, first.id)
        await db.commit()
        window = await db.get(NotificationDedup, "k", populate_existing=True)
        assert window is not None and window.notification_id is None
        assert (
            await service.create_notification(
                db, notification_type="x", title="t", message="m", dedup_key="k"
            )
            is None
        )


class TestGetNotifications:
    async def test_newest_first_with_id_tiebreak(self, db: AsyncSession) -> None:
        """Rows come by created_at descending, then id descending."""
        a = await add(db, 0)
        b = await add(db, 5)
        c = await add(db, 5)
        d = await add(db, 1)
        rows, total = await service.get_notifications(db)
        assert [r.id for r in rows] == [c.id, b.id, d.id, a.id]
        assert total == 4

    async def test_priority_filter_one_or_many(self, db: AsyncSession) -> None:
        """Priority accepts one value or several."""
        low = await add(db, 0, priority="low")
        high = await add(db, 1, priority="high")
        critical = await add(db, 2, priority="critical")
        assert await ids(db, priority="high") == [high.id]
        assert await ids(db, priority=["critical", "low"]) == [critical.id, low.id]
        assert await ids(db, priority=[]) == []

    async def test_type_filter(self, db: AsyncSession) -> None:
        """notification_type filters by one or several types."""
        imp = await add(db, 0, type="import_failure")
        sec = await add(db, 1, type="security_alert")
        await add(db, 2, type="store_issue")
        assert await ids(db, notification_type="import_failure") == [imp.id]
        assert await ids(db, notification_type=("import_failure", "security_alert")) == [
            sec.id,
            imp.id,
        ]

    async def test_read_filter(self, db: AsyncSession) -> None:
        """is_read selects read or unread notifications."""
        unread = await add(db, 0)
        read = await add(db, 1, is_read=True, read_at=T0)
        assert await ids(db, is_read=False) == [unread.id]
        assert await ids(db, is_read=True) == [read.id]
        assert len(await ids(db, is_read=None)) == 2

    async def test_time_range(self, db: AsyncSession) -> None:
        """since is inclusive and until exclusive."""
        early = await add(db, 0)
        middle = await add(db, 10)
        await add(db, 20)
        window = {"since": T0 + timedelta(minutes=10), "until": T0 + timedelta(minutes=20)}
        assert await ids(db, **window) == [middle.id]
        assert await ids(db, until=T0 + timedelta(minutes=10)) == [early.id]

    async def test_text_search_is_case_insensitive(self, db: AsyncSession) -> None:
        """q matches a substring of title or message in any case."""
        in_title = await add(db, 0, title="CSV Import failed")
        in_message = await add(db, 1, message="the csv had a bad column")
        await add(db, 2, title="Other", message="nothing")
        assert await ids(db, q="cSv") == [in_message.id, in_title.id]

    async def test_text_search_escapes_wildcards(self, db: AsyncSession) -> None:
        """%, _ and backslash in q are literal characters, not patterns."""
        percent = await add(db, 0, title="disk 100% full")
        await add(db, 1, title="disk 1000 full")
        underscore = await add(db, 2, title="job_id missing")
        await add(db, 3, title="jobXid missing")
        backslash = await add(db, 4, message=r"path C:\temp")
        assert await ids(db, q="100%") == [percent.id]
        assert await ids(db, q="b_i") == [underscore.id]
        assert await ids(db, q="\\t") == [backslash.id]

    async def test_store_filter_matches_numbers_and_strings(self, db: AsyncSession) -> None:
        """store_id matches metadata holding the id as a number or a string."""
        numeric = await add(db, 0, notification_metadata={"store_id": 5})
        textual = await add(db, 1, notification_metadata={"store_id": "5"})
        await add(db, 2, notification_metadata={"store_id": 50})
        await add(db, 3, notification_metadata={})
        assert await ids(db, store_id=5) == [textual.id, numeric.id]
        assert await ids(db, store_id="5") == [textual.id, numeric.id]

    async def test_filters_combine(self, db: AsyncSession) -> None:
        """Several filters narrow the result together."""
        target = await add(db, 0, priority="high", type="import_failure", title="Acme import")
        await add(db, 1, priority="high", type="import_failure", title="Other import")
        await add(db, 2, priority="low", type="import_failure", title="Acme import")
        rows, total = await service.get_notifications(
            db, priority="high", notification_type="import_failure", q="acme", is_read=False
        )
        assert [r.id for r in rows] == [target.id] and total == 1

    async def test_limit_offset_and_total(self, db: AsyncSession) -> None:
        """limit and offset page the rows; total counts every match."""
        made = [await add(db, minute) for minute in range(5)]
        rows, total = await service.get_notifications(db, limit=2, offset=1)
        assert [r.id for r in rows] == [made[3].id, made[2].id]
        assert total == 5

    async def test_keyset_cursor(self, db: AsyncSession) -> None:
        """before_id continues after that row, ties on created_at included."""
        a = await add(db, 0)
        b = await add(db, 1)
        c = await add(db, 1)
        d = await add(db, 2)
        first_page, total = await service.get_notifications(db, limit=2)
        assert [r.id for r in first_page] == [d.id, c.id]
        second_page, total_again = await service.get_notifications(
            db, limit=2, before_id=first_page[-1].id
        )
        assert [r.id for r in second_page] == [b.id, a.id]
        assert total == total_again == 4
        assert await ids(db, before_id=999_999) == []

    async def test_keyset_cursor_by_value_outlives_its_row(self, db: AsyncSession) -> None:
        """before_key continues after (created_at, id) even once that row is deleted."""
        a = await add(db, 0)
        b = await add(db, 1)
        c = await add(db, 1)
        d = await add(db, 2)
        key = (c.created_at, c.id)
        await service.delete_notification(db, c.id)
        assert await ids(db, before_key=key) == [b.id, a.id]
        assert await ids(db, before_key=(d.created_at, d.id), limit=1) == [b.id]

    async def test_negative_limit_is_refused(self, db: AsyncSession) -> None:
        """A negative limit is an error."""
        with pytest.raises(ValueError, match="limit"):
            await service.get_notifications(db, limit=-1)


class TestUnread:
    async def test_recent_unread_newest_first(self, db: AsyncSession) -> None:
        """get_recent_notifications returns the newest unread ones, up to the limit."""
        made = [await add(db, minute) for minute in range(7)]
        await add(db, 10, is_read=True)
        recent = await service.get_recent_notifications(db)
        assert [n.id for n in recent] == [n.id for n in reversed(made)][:5]
        assert len(await service.get_recent_notifications(db, limit=2)) == 2

    async def test_unread_count(self, db: AsyncSession) -> None:
        """get_unread_count counts only unread notifications."""
        await add(db, 0)
        await add(db, 1)
        await add(db, 2, is_read=True)
        assert await service.get_unread_count(db) == 2

    async def test_unread_count_by_priority_includes_zeros(self, db: AsyncSession) -> None:
        """Every priority is reported, zero when it has no unread notification."""
        await add(db, 0, priority="high")
        await add(db, 1, priority="high")
        await add(db, 2, priority="critical")
        await add(db, 3, priority="low", is_read=True)
        assert await service.get_unread_count_by_priority(db) == {
            "low": 0,
            "normal": 0,
            "high": 2,
            "critical": 1,
        }

    async def test_unread_marker_moves_with_every_change(self, db: AsyncSession) -> None:
        """The marker changes on a new, read, unread or deleted notification."""
        assert await service.get_unread_marker(db) == (0, 0, None)
        first = await add(db, 0)
        second = await add(db, 1)
        seen = {await service.get_unread_marker(db)}
        assert (await service.get_unread_marker(db))[:2] == (2, second.id)
        await service.mark_as_read(db, first.id)
        seen.add(await service.get_unread_marker(db))
        await service.mark_as_unread(db, first.id)
        seen.add(await service.get_unread_marker(db))
        await service.delete_notification(db, first.id)
        seen.add(await service.get_unread_marker(db))
        assert len(seen) == 4


class TestSingleNotification:
    async def test_get_missing_raises(self, db: AsyncSession) -> None:
        """get_notification raises RecordNotFound for an unknown id."""
        with pytest.raises(RecordNotFound) as caught:
            await service.get_notification(db, 42)
        assert (caught.value.kind, caught.value.record_id) == ("notification", 42)

    async def test_mark_as_read_is_idempotent(self, db: AsyncSession) -> None:
        """Marking read twice keeps the first reader and time."""
        made = await add(db)
        first = await service.mark_as_read(db, made.id, user_id=7)
        assert first.is_read and first.read_by_user_id == 7
        assert first.read_at is not None and first.read_at.tzinfo is UTC
        read_at = first.read_at
        again = await service.mark_as_read(db, made.id, user_id=8)
        assert again.read_by_user_id == 7 and again.read_at == read_at

    async def test_mark_as_read_missing_raises(self, db: AsyncSession) -> None:
        """mark_as_read raises RecordNotFound for an unknown id."""
        with pytest.raises(RecordNotFound):
            await service.mark_as_read(db, 42)

    async def test_mark_as_unread(self, db: AsyncSession) -> None:
        """mark_as_unread clears the read state."""
        made = await add(db)
        await service.mark_as_read(db, made.id, user_id=1)
        unread = await service.mark_as_unread(db, made.id)
        assert (unread.is_read, unread.read_at, unread.read_by_user_id) == (False, None, None)
        assert await service.get_unread_count(db) == 1
        with pytest.raises(RecordNotFound):
            await service.mark_as_unread(db, 42)

    async def test_delete(self, db: AsyncSession) -> None:
        """delete_notification removes it; deleting again raises RecordNotFound."""
        made = await add(db)
        await service.delete_notification(db, made.id)
        await db.commit()
        assert (await service.get_notifications(db))[1] == 0
        with pytest.raises(RecordNotFound):
            await service.delete_notification(db, made.id)


class TestBulkRead:
    async def test_mark_many_counts_only_unread(self, db: AsyncSession) -> None:
        """mark_many_as_read marks the given ids and counts those that were unread."""
        a, b, c = await add(db, 0), await add(db, 1), await add(db, 2)
        await service.mark_as_read(db, a.id)
        assert await service.mark_many_as_read(db, [a.id, b.id, 999], user_id=3) == 1
        assert await service.mark_many_as_read(db, []) == 0
        assert await ids(db, is_read=False) == [c.id]
        reloaded = await service.get_notification(db, b.id)
        assert reloaded.is_read and reloaded.read_by_user_id == 3

    async def test_loaded_objects_follow_bulk_updates(self, db: AsyncSession) -> None:
        """Objects the session already holds show the bulk update without a reload."""
        created = await service.create_notification(
            db, notification_type="x", title="t", message="m"
        )
        assert created is not None
        await service.mark_all_as_read(db, user_id=5)
        assert created.is_read and created.read_by_user_id == 5
        assert created.read_at is not None

    async def test_mark_all(self, db: AsyncSession) -> None:
        """mark_all_as_read marks every unread notification and returns the count."""
        for minute in range(3):
            await add(db, minute)
        await add(db, 5, is_read=True)
        assert await service.mark_all_as_read(db, user_id=9) == 3
        assert await service.get_unread_count(db) == 0

    async def test_mark_all_bounded_by_id_and_time(self, db: AsyncSession) -> None:
        """up_to_id and up_to leave newer notifications unread."""
        a, b, c = await add(db, 0), await add(db, 1), await add(db, 2)
        assert await service.mark_all_as_read(db, up_to_id=a.id) == 1
        assert await service.mark_all_as_read(db, up_to=T0 + timedelta(minutes=1)) == 1
        assert await ids(db, is_read=False) == [c.id]
        assert b.id in await ids(db, is_read=True)

    async def test_mark_all_by_priority_and_type(self, db: AsyncSession) -> None:
        """priority and notification_type restrict mark_all_as_read."""
        high = await add(db, 0, priority="high", type="import_failure")
        await add(db, 1, priority="high", type="store_issue")
        await add(db, 2, priority="low", type="import_failure")
        marked = await service.mark_all_as_read(
            db, priority="high", notification_type=["import_failure"]
        )
        assert marked == 1
        assert await ids(db, is_read=True) == [high.id]


class TestConvenienceMethods:
    async def test_import_failure(self, db: AsyncSession) -> None:
        """notify_import_failure: high, action required, link to the job."""
        n = await service.notify_import_failure(
            db, store_name="Acme", job_id=9, error_message="boom", import_type="order"
        )
        assert (n.type, n.priority, n.action_required) == ("import_failure", "high", True)
        assert n.action_url == "/admin/imports/9"
        assert n.title == "Order import failed for Acme"
        assert n.notification_metadata["import_type"] == "order"
        assert n.notification_metadata["store_id"] is None

    async def test_order_sync_failure(self, db: AsyncSession) -> None:
        """notify_order_sync_failure: high, link to the store's orders."""
        n = await service.notify_order_sync_failure(
            db, store_name="Acme", error_message="API 502", store_id=5
        )
        assert (n.type, n.priority) == ("order_sync_failure", "high")
        assert n.action_url == "/admin/stores/5/orders"
        assert "API 502" in n.message
        assert n.notification_metadata == {
            "store_name": "Acme",
            "store_id": 5,
            "error_message": "API 502",
        }

    async def test_order_exception(self, db: AsyncSession) -> None:
        """notify_order_exception: high, action required, lists unmatched products."""
        n = await service.notify_order_exception(
            db,
            store_name="Acme",
            order_number="A-1001",
            exception_message="2 products not found",
            unmatched_products=["4006381333931", "SKU-9"],
        )
        assert (n.type, n.priority, n.action_required) == ("order_exception", "high", True)
        assert "A-1001" in n.title and "SKU-9" in n.message
        assert n.action_url == "/admin/orders?search=A-1001"
        assert n.notification_metadata["unmatched_products"] == ["4006381333931", "SKU-9"]
        with_id = await service.notify_order_exception(
            db, store_name="Acme", order_number="A-2", exception_message="x", order_id=77
        )
        assert with_id.action_url == "/admin/orders/77"

    async def test_critical_error(self, db: AsyncSession) -> None:
        """notify_critical_error: critical, details kept in the metadata."""
        n = await service.notify_critical_error(
            db, error_type="database", error_message="disk full", details={"free_mb": 0}
        )
        assert (n.type, n.priority, n.action_required) == ("critical_error", "critical", True)
        assert n.title == "Critical error: database" and n.message == "disk full"
        assert n.notification_metadata["details"] == {"free_mb": 0}

    async def test_store_issue(self, db: AsyncSession) -> None:
        """notify_store_issue: normal priority, link to the store."""
        n = await service.notify_store_issue(
            db, store_name="Acme", issue_type="payment_config", message="no IBAN", store_id="s-1"
        )
        assert (n.type, n.priority, n.action_required) == ("store_issue", "normal", False)
        assert n.title == "Acme: payment config"
        assert n.action_url == "/admin/stores/s-1"

    async def test_security_alert(self, db: AsyncSession) -> None:
        """notify_security_alert: critical, with the address and account in message and data."""
        n = await service.notify_security_alert(
            db, title="Brute force", details="50 failed logins", ip="203.0.113.9", user="admin"
        )
        assert (n.type, n.priority, n.action_required) == ("security_alert", "critical", True)
        assert n.message == "50 failed logins (IP 203.0.113.9, user admin)"
        assert n.notification_metadata == {
            "details": "50 failed logins",
            "ip": "203.0.113.9",
            "user": "admin",
        }
