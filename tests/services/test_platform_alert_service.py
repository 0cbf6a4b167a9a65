"""PlatformAlertService on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.errors import Conflict, RecordNotFound
from gateway.services.admin_notification_service import (
    AlertOccurrence,
    AlertType,
    Severity,
    admin_notification_service,
    platform_alert_service,
)
from gateway.storage.models import PlatformAlert

service = platform_alert_service
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


async def occur(
    db: AsyncSession, fingerprint: str = "fp", minutes: int = 0, **fields: Any
) -> AlertOccurrence:
    """Record one occurrence of `fingerprint`, `minutes` after T0."""
    values: dict[str, Any] = {
        "alert_type": AlertType.SYSTEM,
        "severity": Severity.WARNING,
        "title": f"title at {minutes}",
        "fingerprint": fingerprint,
        "occurred_at": T0 + timedelta(minutes=minutes),
    }
    values.update(fields)
    return await service.create_or_increment_alert(db, **values)


async def alert_ids(db: AsyncSession, **filters: Any) -> list[int]:
    rows, _ = await service.get_alerts(db, **filters)
    return [row.id for row in rows]


class TestCreateAlert:
    async def test_manual_alert_without_fingerprint(self, db: AsyncSession) -> None:
        """A manual alert stores its fields, one occurrence, sorted unique scopes."""
        alert = await service.create_alert(
            db,
            alert_type=AlertType.CAPACITY,
            severity=Severity.ERROR,
            title="Disk 95% full",
            description="db-1 volume",
            affected_stores=["b", "a", "b"],
            affected_systems=["db-1"],
            metadata={"volume": "/var"},
            source="api",
        )
        await db.commit()
        loaded = await service.get_alert(db, alert.id)
        assert (loaded.alert_type, loaded.severity, loaded.title) == (
            "capacity",
            "error",
            "Disk 95% full",
        )
        assert loaded.description == "db-1 volume"
        assert loaded.affected_stores == ["a", "b"] and loaded.affected_systems == ["db-1"]
        assert loaded.alert_metadata == {"volume": "/var"}
        assert loaded.occurrence_count == 1 and loaded.fingerprint is None
        assert loaded.first_occurred_at == loaded.last_occurred_at
        assert loaded.first_occurred_at.tzinfo is UTC
        assert loaded.is_resolved is False and loaded.resolved_at is None

    async def test_alerts_without_fingerprint_never_merge(self, db: AsyncSession) -> None:
        """Two identical manual alerts without a fingerprint are two alerts."""
        for _ in range(2):
            await service.create_alert(db, alert_type="system", severity="info", title="same")
        assert (await service.get_alerts(db))[1] == 2

    async def test_with_fingerprint_counts_an_occurrence(self, db: AsyncSession) -> None:
        """create_alert with a fingerprint increments the open alert and returns it."""
        first = await service.create_alert(
            db, alert_type="system", severity="info", title="a", fingerprint="fp"
        )
        second = await service.create_alert(
            db, alert_type="system", severity="error", title="b", fingerprint="fp"
        )
        assert second.id == first.id
        assert second.occurrence_count == 2
        assert second.severity == "error" and second.title == "b"


class TestCreateOrIncrement:
    async def test_first_creates_then_increments(self, db: AsyncSession) -> None:
        """The first occurrence opens an alert; later ones increment it."""
        first = await occur(db, minutes=0)
        second = await occur(db, minutes=1)
        assert first == AlertOccurrence(alert_id=first.alert_id, occurrence_count=1, created=True)
        assert second == AlertOccurrence(alert_id=first.alert_id, occurrence_count=2, created=False)

    async def test_count_folds_occurrences(self, db: AsyncSession) -> None:
        """count records several occurrences in one statement, also on creation."""
        created = await occur(db, count=5)
        assert created.created and created.occurrence_count == 5
        incremented = await occur(db, count=3)
        assert not incremented.created and incremented.occurrence_count == 8

    async def test_count_must_be_positive(self, db: AsyncSession) -> None:
        """A count below one is refused."""
        with pytest.raises(ValueError, match="count"):
            await occur(db, count=0)

    async def test_occurrence_window_widens(self, db: AsyncSession) -> None:
        """first/last_occurred_at are the earliest and latest occurrence, in any order."""
        made = await occur(db, minutes=10)
        await occur(db, minutes=20)
        await occur(db, minutes=5)  # arrives late
        alert = await service.get_alert(db, made.alert_id)
        assert alert.first_occurred_at == T0 + timedelta(minutes=5)
        assert alert.last_occurred_at == T0 + timedelta(minutes=20)
        assert alert.first_occurred_at.tzinfo is UTC

    async def test_severity_only_escalates(self, db: AsyncSession) -> None:
        """Severity becomes the highest seen and never drops."""
        made = await occur(db, severity="warning")
        await occur(db, severity="critical")
        await occur(db, severity="info")
        await occur(db, severity="error")
        assert (await service.get_alert(db, made.alert_id)).severity == "critical"

    async def test_newest_occurrence_sets_the_text(self, db: AsyncSession) -> None:
        """Title, description and metadata follow the newest occurrence, not the latest call."""
        made = await occur(db, minutes=0, description="d0", metadata={"n": 0})
        await occur(db, minutes=10, description="d10", metadata={"n": 10})
        await occur(db, minutes=5, description="d5", metadata={"n": 5})  # older, arrives late
        await occur(db, minutes=10, description=None)  # a tie keeps the description
        alert = await service.get_alert(db, made.alert_id)
        assert alert.title == "title at 10"
        assert alert.description == "d10"
        assert alert.alert_metadata == {}

    async def test_scopes_merge_as_sorted_sets(self, db: AsyncSession) -> None:
        """affected_stores and affected_systems become the sorted union of all occurrences."""
        made = await occur(db, affected_stores=["s2", "s1"], affected_systems=["api"])
        await occur(db, affected_stores=["s3", "s1"], affected_systems=[])
        await occur(db, affected_stores=[], affected_systems=["worker", "api"])
        alert = await service.get_alert(db, made.alert_id)
        assert alert.affected_stores == ["s1", "s2", "s3"]
        assert alert.affected_systems == ["api", "worker"]

    async def test_empty_scopes_stay_empty(self, db: AsyncSession) -> None:
        """Merging empty arrays gives an empty array, not null."""
        made = await occur(db)
        await occur(db)
        alert = await service.get_alert(db, made.alert_id)
        assert alert.affected_stores == [] and alert.affected_systems == []

    async def test_resolved_alert_is_not_reopened(self, db: AsyncSession) -> None:
        """After resolution the next occurrence opens a new alert; the old one stays closed."""
        old = await occur(db, count=4)
        await service.resolve_alert(db, old.alert_id)
        new = await occur(db)
        assert new.created and new.alert_id != old.alert_id and new.occurrence_count == 1
        closed = await service.get_alert(db, old.alert_id)
        assert closed.is_resolved and closed.occurrence_count == 4
        again = await occur(db)
        assert again.alert_id == new.alert_id and again.occurrence_count == 2

    async def test_fingerprints_are_independent(self, db: AsyncSession) -> None:
        """Different fingerprints make different alerts."""
        a = await occur(db, "a")
        b = await occur(db, "b")
        assert a.alert_id != b.alert_id and a.created and b.created

    async def test_get_alert_sees_later_increments(self, db: AsyncSession) -> None:
        """An alert the session already holds shows later occurrences when fetched again."""
        made = await occur(db)
        loaded = await service.get_alert(db, made.alert_id)
        assert loaded.occurrence_count == 1
        await occur(db, severity="critical")
        again = await service.get_alert(db, made.alert_id)
        assert again is loaded
        assert (again.occurrence_count, again.severity) == (2, "critical")

    async def test_reload_shows_the_stored_values(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The merged row, read by another session after commit, is what was computed."""
        await occur(db, minutes=1, severity="error", affected_stores=["x"])
        await occur(db, minutes=2, affected_stores=["w"])
        await db.commit()
        async with sessions() as fresh:
            [alert] = (await fresh.scalars(select(PlatformAlert))).all()
        assert (alert.occurrence_count, alert.severity) == (2, "error")
        assert alert.affected_stores == ["w", "x"]
        assert alert.last_occurred_at == T0 + timedelta(minutes=2)
        assert alert.updated_at.tzinfo is UTC


class TestGetAlerts:
    async def test_latest_activity_first(self, db: AsyncSession) -> None:
        """Alerts are ordered by last occurrence descending, then id descending."""
        a = await occur(db, "a", minutes=0)
        b = await occur(db, "b", minutes=5)
        c = await occur(db, "c", minutes=5)
        await occur(db, "a", minutes=9)  # a becomes the most recent
        rows, total = await service.get_alerts(db)
        assert [r.id for r in rows] == [a.alert_id, c.alert_id, b.alert_id]
        assert total == 3

    async def test_severity_and_type_filters(self, db: AsyncSession) -> None:
        """severity and alert_type accept one value or several."""
        crit = await occur(db, "a", severity="critical", alert_type="security")
        warn = await occur(db, "b", minutes=1, severity="warning", alert_type="database")
        await occur(db, "c", minutes=2, severity="info", alert_type="system")
        assert await alert_ids(db, severity="critical") == [crit.alert_id]
        assert await alert_ids(db, severity=["critical", "warning"]) == [
            warn.alert_id,
            crit.alert_id,
        ]
        assert await alert_ids(db, alert_type=["database"]) == [warn.alert_id]

    async def test_resolution_filter(self, db: AsyncSession) -> None:
        """is_resolved selects open or resolved alerts."""
        done = await occur(db, "a")
        open_ = await occur(db, "b", minutes=1)
        await service.resolve_alert(db, done.alert_id)
        assert await alert_ids(db, is_resolved=False) == [open_.alert_id]
        assert await alert_ids(db, is_resolved=True) == [done.alert_id]

    async def test_store_and_system_containment(self, db: AsyncSession) -> None:
        """store_id and system match an element of the affected arrays, not a substring."""
        a = await occur(db, "a", affected_stores=["5", "7"], affected_systems=["api"])
        b = await occur(db, "b", minutes=1, affected_stores=["55"], affected_systems=["api-2"])
        assert await alert_ids(db, store_id=5) == [a.alert_id]
        assert await alert_ids(db, store_id="55") == [b.alert_id]
        assert await alert_ids(db, system="api") == [a.alert_id]
        assert await alert_ids(db, store_id="7", system="api-2") == []

    async def test_since(self, db: AsyncSession) -> None:
        """since keeps alerts whose last occurrence is at or after it."""
        await occur(db, "a", minutes=0)
        b = await occur(db, "b", minutes=10)
        assert await alert_ids(db, since=T0 + timedelta(minutes=10)) == [b.alert_id]

    async def test_paging_and_cursor(self, db: AsyncSession) -> None:
        """limit/offset page the list, before_id continues after a row; total ignores both."""
        made = [await occur(db, f"f{i}", minutes=i) for i in range(5)]
        newest_first = [m.alert_id for m in reversed(made)]
        rows, total = await service.get_alerts(db, limit=2, offset=1)
        assert [r.id for r in rows] == newest_first[1:3] and total == 5
        rows, total = await service.get_alerts(db, limit=2, before_id=newest_first[1])
        assert [r.id for r in rows] == newest_first[2:4] and total == 5


class TestResolve:
    async def test_resolve_sets_the_resolution(self, db: AsyncSession) -> None:
        """resolve_alert records who, when and why."""
        made = await occur(db)
        alert = await service.resolve_alert(
            db, made.alert_id, user_id=4, resolution_notes="disk grown"
        )
        assert alert.is_resolved and alert.resolved_by_user_id == 4
        assert alert.resolution_notes == "disk grown"
        assert alert.resolved_at is not None and alert.resolved_at.tzinfo is UTC

    async def test_resolving_twice_conflicts(self, db: AsyncSession) -> None:
        """A second resolve raises Conflict and keeps the first resolution."""
        made = await occur(db)
        await service.resolve_alert(db, made.alert_id, resolution_notes="first")
        with pytest.raises(Conflict):
            await service.resolve_alert(db, made.alert_id, resolution_notes="second")
        assert (await service.get_alert(db, made.alert_id)).resolution_notes == "first"

    async def test_missing_alert(self, db: AsyncSession) -> None:
        """get_alert and resolve_alert raise RecordNotFound for an unknown id."""
        with pytest.raises(RecordNotFound):
            await service.get_alert(db, 404)
        with pytest.raises(RecordNotFound) as caught:
            await service.resolve_alert(db, 404)
        assert caught.value.kind == "platform alert"

    async def test_concurrent_resolves_have_one_winner(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Two sessions resolving the same alert at once: one succeeds, the other conflicts."""
        made = await occur(db)
        await db.commit()

        async def resolve(user_id: int) -> int | Exception:
            async with sessions() as session:
                try:
                    await service.resolve_alert(session, made.alert_id, user_id=user_id)
                    await session.commit()
                except Conflict as exc:
                    return exc
                return user_id

        outcomes = await asyncio.gather(resolve(1), resolve(2))
        winners = [o for o in outcomes if isinstance(o, int)]
        assert len(winners) == 1
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1
        alert = await service.get_alert(db, made.alert_id)
        assert alert.resolved_by_user_id == winners[0]

    async def test_resolve_by_fingerprint(self, db: AsyncSession) -> None:
        """resolve_by_fingerprint resolves the open alert, or returns None if there is none."""
        assert await service.resolve_by_fingerprint(db, "fp") is None
        made = await occur(db)
        resolved = await service.resolve_by_fingerprint(db, "fp", notes="recovered", user_id=2)
        assert resolved is not None and resolved.id == made.alert_id
        assert resolved.is_resolved and resolved.resolution_notes == "recovered"
        assert resolved.resolved_by_user_id == 2
        assert await service.resolve_by_fingerprint(db, "fp") is None
        reopened = await occur(db)
        again = await service.resolve_by_fingerprint(db, "fp")
        assert again is not None and again.id == reopened.alert_id != made.alert_id


class TestStatistics:
    async def test_counts(self, db: AsyncSession) -> None:
        """get_statistics counts unread, active, critical, resolved today, per severity and type."""
        notes = admin_notification_service
        await notes.notify_critical_error(db, error_type="db", error_message="down")
        await notes.notify_store_issue(db, store_name="s", issue_type="x", message="m")
        read = await notes.notify_security_alert(db, title="t", details="d")
        await notes.mark_as_read(db, read.id)

        await occur(db, "a", severity="critical", alert_type="security")
        await occur(db, "b", severity="warning", alert_type="system")
        await occur(db, "b", severity="warning", alert_type="system")  # same alert
        await occur(db, "c", severity="error", alert_type="custom_kind")
        today = await occur(db, "d", severity="critical")
        await service.resolve_alert(db, today.alert_id)
        yesterday = await occur(db, "e", severity="critical")
        await service.resolve_alert(db, yesterday.alert_id)
        await db.execute(
            update(PlatformAlert)
            .where(PlatformAlert.id == yesterday.alert_id)
            .values(resolved_at=datetime.now(UTC) - timedelta(days=1, hours=1))
        )

        stats = await service.get_statistics(db)
        assert stats == {
            "unread": 2,
            "active_alerts": 3,
            "critical": 2,  # 1 open critical alert + 1 unread critical notification
            "resolved_today": 1,
            "by_severity": {"info": 0, "warning": 1, "error": 1, "critical": 1},
            "by_type": {
                "security": 1,
                "performance": 0,
                "capacity": 0,
                "integration": 0,
                "system": 1,
                "database": 0,
                "custom_kind": 1,
            },
        }

    async def test_empty_database(self, db: AsyncSession) -> None:
        """An empty database reports zeros everywhere."""
        stats = await service.get_statistics(db)
        assert stats["unread"] == stats["active_alerts"] == stats["critical"] == 0
        assert stats["resolved_today"] == 0
        assert set(stats["by_severity"].values()) == {0}
        assert set(stats["by_type"]) == {t.value for t in AlertType}


class TestResolveOpen:
    """The pipeline's resolve: one statement, the same result as resolve_by_fingerprint."""

    async def test_resolves_the_open_alert_and_returns_what_is_announced(
        self, db: AsyncSession
    ) -> None:
        opened = await service.create_or_increment_alert(
            db,
            alert_type="integration",
            severity="error",
            title="t",
            fingerprint="fp",
        )
        resolved = await service.resolve_open(db, "fp", notes="recovered")
        await db.commit()
        assert resolved is not None
        assert (resolved.id, resolved.alert_type, resolved.severity) == (
            opened.alert_id,
            "integration",
            "error",
        )
        row = await db.get(PlatformAlert, opened.alert_id, populate_existing=True)
        assert row is not None and row.is_resolved
        assert row.resolution_notes == "recovered" and row.resolved_by_user_id is None
        assert row.resolved_at is not None and row.resolved_at.tzinfo is UTC
        assert row.updated_at == row.resolved_at
        # Nothing open any more: nothing to resolve, and the resolved row is left alone.
        assert await service.resolve_open(db, "fp") is None
        assert await service.resolve_open(db, "no-such-fingerprint") is None
