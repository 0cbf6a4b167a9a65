"""Several fingerprints' occurrences in one statement, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.services.admin_notification_service import (
    AlertRecord,
    AlertType,
    Severity,
    admin_notification_service,
    platform_alert_service,
)
from gateway.storage.models import NotificationDedup, PlatformAlert

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def record(fingerprint: str, count: int = 1, **fields: object) -> AlertRecord:
    values: dict[str, object] = {
        "alert_type": AlertType.SYSTEM,
        "severity": Severity.WARNING,
        "title": f"title {fingerprint}",
        "fingerprint": fingerprint,
        "occurred_at": T0,
        "count": count,
    }
    values.update(fields)
    return AlertRecord(**values)  # type: ignore[arg-type]


async def test_new_and_open_alerts_in_one_call(db: AsyncSession) -> None:
    """Results come back in input order, each telling whether it opened its alert."""
    (first,) = await platform_alert_service.record_alert_occurrences(db, [record("b", 2)])
    assert first.created and first.occurrence_count == 2

    results = await platform_alert_service.record_alert_occurrences(
        db,
        [
            record("a", 3, affected_stores=("s2",)),
            record(
                "b",
                4,
                severity=Severity.CRITICAL,
                title="newer",
                occurred_at=T0 + timedelta(minutes=1),
                affected_stores=("s1",),
            ),
            record("c"),
        ],
    )
    assert [(r.created, r.occurrence_count) for r in results] == [(True, 3), (False, 6), (True, 1)]
    assert results[1].alert_id == first.alert_id

    rows = {
        alert.fingerprint: alert
        for alert in (
            await db.scalars(select(PlatformAlert).execution_options(populate_existing=True))
        )
    }
    assert set(rows) == {"a", "b", "c"}
    b = rows["b"]
    assert (b.occurrence_count, b.severity, b.title) == (6, "critical", "newer")
    assert (b.first_occurred_at, b.last_occurred_at) == (T0, T0 + timedelta(minutes=1))
    assert b.affected_stores == ["s1"]
    assert rows["a"].affected_stores == ["s2"]


async def test_repeated_fingerprint_is_refused(db: AsyncSession) -> None:
    """One statement may not touch a row twice: the caller must fold first."""
    with pytest.raises(ValueError, match="distinct fingerprints"):
        await platform_alert_service.record_alert_occurrences(db, [record("a"), record("a")])


async def test_no_records_no_statement(db: AsyncSession) -> None:
    assert await platform_alert_service.record_alert_occurrences(db, []) == []


async def test_dedup_window_counts_suppressed_repeats(db: AsyncSession) -> None:
    """The claim statement opens a window once, then counts each repeat inside it."""
    created = [
        await admin_notification_service.create_notification(
            db,
            notification_type="system_info",
            title="t",
            message="m",
            dedup_key="k",
            dedup_window=timedelta(minutes=5),
        )
        for _ in range(3)
    ]
    assert created[0] is not None and created[1:] == [None, None]
    window = await db.get(NotificationDedup, "k", populate_existing=True)
    assert window is not None
    assert (window.notification_id, window.suppressed_count) == (created[0].id, 2)
