"""Fixtures for the admin API tests: tokens of every scope, an admin client, and seeded rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.publish.hub import Subscription
from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from gateway.services.token_service import create_token, revoke_token
from gateway.storage.models import AdminNotification, PlatformAlert

Tokens = dict[str, str]
SeedNotification = Callable[..., Awaitable[int]]
SeedAlert = Callable[..., Awaitable[int]]


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def changes_of(sub: Subscription) -> list[tuple[str, dict[str, Any]]]:
    """Drain a hub subscription; return (kind, data) of each change, badge recounts aside."""
    out = []
    while not sub.queue.empty():
        change = sub.queue.get_nowait()
        if change is not None and change.kind != "unread_count":
            out.append((change.kind, change.data))
    return out


@pytest.fixture
async def tokens(sessions: async_sessionmaker[AsyncSession]) -> Tokens:
    """Tokens by kind: "admin", "read", "ingest", and "revoked" (an admin token, revoked)."""
    made: Tokens = {}
    async with sessions() as db, db.begin():
        for kind, scope in (("admin", "admin"), ("read", "read"), ("ingest", "ingest")):
            _, made[kind] = await create_token(db, name=f"test-{kind}", scope=scope)
        _, made["revoked"] = await create_token(db, name="test-revoked", scope="admin")
        await revoke_token(db, "test-revoked")
    return made


class Api:
    """A client of the admin API that sends one token's credentials with every request."""

    def __init__(self, client: TestClient[Any, Any], token: str) -> None:
        self.client = client
        self.headers = bearer(token)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, Any]:
        """Make a request; return its status, its JSON body (None when empty) and headers."""
        async with self.client.request(
            method,
            path,
            json=json,
            params=params,
            data=data,
            headers={**self.headers, **(headers or {})},
        ) as resp:
            raw = await resp.read()
            body = await resp.json(content_type=None) if raw else None
            return resp.status, body, resp.headers

    async def get(self, path: str, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("DELETE", path, **kw)


@pytest.fixture
async def api(client: TestClient[Any, Any], tokens: Tokens) -> Api:
    """The admin API of a started gateway, called with an admin token."""
    return Api(client, tokens["admin"])


@pytest.fixture
def seed_notification(sessions: async_sessionmaker[AsyncSession]) -> SeedNotification:
    """Store a notification directly; `created_at` and `is_read` may be set. Return its id."""

    async def seed(
        title: str = "Import failed",
        *,
        message: str = "CSV parsing failed",
        type: str = "import_failure",
        priority: str = "high",
        metadata: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        is_read: bool = False,
    ) -> int:
        async with sessions() as db, db.begin():
            row = await admin_notification_service.create_notification(
                db,
                notification_type=type,
                priority=priority,
                title=title,
                message=message,
                metadata=metadata,
                source="test",
            )
            assert row is not None
            changes: dict[str, Any] = {}
            if created_at is not None:
                changes["created_at"] = created_at
            if is_read:
                changes.update(is_read=True, read_at=row.created_at)
            if changes:
                await db.execute(
                    update(AdminNotification)
                    .where(AdminNotification.id == row.id)
                    .values(**changes)
                )
            return row.id

    return seed


@pytest.fixture
def seed_alert(sessions: async_sessionmaker[AsyncSession]) -> SeedAlert:
    """Store an alert directly; `last_occurred_at` and `resolved` may be set. Return its id."""

    async def seed(
        title: str = "Letzshop API unreachable",
        *,
        alert_type: str = "integration",
        severity: str = "error",
        stores: tuple[str, ...] = (),
        systems: tuple[str, ...] = (),
        last_occurred_at: datetime | None = None,
        resolved: bool = False,
    ) -> int:
        async with sessions() as db, db.begin():
            row = await platform_alert_service.create_alert(
                db,
                alert_type=alert_type,
                severity=severity,
                title=title,
                affected_stores=stores,
                affected_systems=systems,
                source="test",
            )
            alert_id = row.id
            if last_occurred_at is not None:
                await db.execute(
                    update(PlatformAlert)
                    .where(PlatformAlert.id == alert_id)
                    .values(last_occurred_at=last_occurred_at)
                )
            if resolved:
                await platform_alert_service.resolve_alert(db, alert_id)
            return alert_id

    return seed
