"""Realistic dashboard content at fixed times, for accessibility checks and screenshots.

`seed_showcase` writes notifications of every priority (some read) and platform alerts (one
counted several times, one resolved), all dated shortly before SHOWCASE_NOW. A page whose clock
is pinned there (`page.clock.set_fixed_time(SHOWCASE_NOW)`) shows the same relative times on
every run, so screenshots of it only change when the pages do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from gateway.storage.models import AdminNotification, PlatformAlert

SHOWCASE_NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# (type, priority, title, message, action_url, minutes before SHOWCASE_NOW, read)
NOTIFICATIONS = [
    (
        "security_alert",
        "critical",
        "12 failed sign-ins for admin@acme.example",
        "Sign-ins from 203.0.113.7 were refused 12 times in 5 minutes; the account is locked.",
        "/admin/security/events",
        2,
        False,
    ),
    (
        "import_failure",
        "high",
        "Product import failed for Acme Corp",
        "Import job 123 failed: CSV parsing failed: invalid column format in row 42",
        "/admin/stores/5/imports/123",
        9,
        False,
    ),
    (
        "order_sync_failure",
        "high",
        "Order sync with Letzshop failed for Maison Verte",
        "3 orders could not be synchronised: the marketplace answered 503.",
        "/admin/stores/8/orders",
        26,
        False,
    ),
    (
        "store_issue",
        "normal",
        "Bäckerei Schmit has no shipping method",
        "Customers cannot check out until a shipping method is configured.",
        "/admin/stores/12",
        95,
        False,
    ),
    (
        "system_info",
        "low",
        "Nightly catalogue export finished",
        "48,211 products exported in 3 min 12 s.",
        None,
        340,
        True,
    ),
]


async def seed_showcase(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Write the showcase notifications and alerts, dated before SHOWCASE_NOW."""
    async with sessions() as db, db.begin():
        for kind, priority, title, message, url, minutes, read in NOTIFICATIONS:
            created = await admin_notification_service.create_notification(
                db,
                notification_type=kind,
                priority=priority,
                title=title,
                message=message,
                action_url=url,
                metadata={"store_id": "5"} if url else None,
            )
            assert created is not None
            at = SHOWCASE_NOW - timedelta(minutes=minutes)
            await db.execute(
                update(AdminNotification)
                .where(AdminNotification.id == created.id)
                .values(created_at=at, is_read=read, read_at=at if read else None)
            )
        for _ in range(3):
            storm = await platform_alert_service.create_alert(
                db,
                alert_type="integration",
                severity="critical",
                title="Letzshop API unreachable",
                description="Requests to the marketplace API time out after 30 s.",
                affected_stores=["Acme Corp", "Maison Verte"],
                affected_systems=["letzshop-sync"],
                fingerprint="letzshop-api-down",
            )
        slow = await platform_alert_service.create_alert(
            db,
            alert_type="database",
            severity="warning",
            title="Slow queries on the orders table",
            description="p95 query time 1.8 s over the last 15 minutes.",
            affected_systems=["postgresql"],
        )
        disk = await platform_alert_service.create_alert(
            db,
            alert_type="capacity",
            severity="error",
            title="Image storage 92% full",
            affected_systems=["media-store"],
        )
        await platform_alert_service.resolve_alert(
            db, disk.id, resolution_notes="Old export archives removed; 61% used."
        )
        for alert, first, last in ((storm, 48, 3), (slow, 130, 20), (disk, 600, 400)):
            await db.execute(
                update(PlatformAlert)
                .where(PlatformAlert.id == alert.id)
                .values(
                    first_occurred_at=SHOWCASE_NOW - timedelta(minutes=first),
                    last_occurred_at=SHOWCASE_NOW - timedelta(minutes=last),
                    created_at=SHOWCASE_NOW - timedelta(minutes=first),
                )
            )
