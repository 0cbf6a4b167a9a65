"""Fixtures for the dashboard tests: an admin account and a signed-in HTTP client."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_user_service import create_user
from gateway.services.passwords import HashParameters, Passwords

ADMIN = "ops@example.com"
PASSWORD = "correct horse battery"
CHEAP = Passwords(HashParameters(time_cost=1, memory_cost=8, parallelism=1))

Client = TestClient[Any, Any]


@pytest.fixture
async def admin(sessions: async_sessionmaker[AsyncSession]) -> int:
    """An admin account (ADMIN, PASSWORD); its id."""
    async with sessions() as db, db.begin():
        user = await create_user(db, email=ADMIN, password=PASSWORD, role="admin", passwords=CHEAP)
        return user.id


@pytest.fixture
async def client(make_client: Any, admin: int) -> Client:
    return await make_client()  # type: ignore[no-any-return]


@pytest.fixture
async def csrf_token(client: Client) -> str:
    """Sign `client` in as ADMIN (the cookie goes to its jar); return the CSRF token."""
    resp = await client.post(
        "/api/v1/auth/login",
        json={"email": ADMIN, "password": PASSWORD},
        headers={"Origin": str(client.make_url("/").origin())},
    )
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["csrf_token"])
