"""Fixtures for the dashboard tests: an admin account, a signed-in HTTP client, a browser page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_user_service import create_user
from gateway.services.passwords import HashParameters, Passwords
from tests.dashboard.browser import ADMIN, PASSWORD, chromium, watched_page

try:
    from playwright.async_api import Page
except ImportError:  # pragma: no cover - the page fixture reports it
    Page = Any  # type: ignore[assignment,misc]

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


@pytest.fixture
async def page(client: Client) -> AsyncIterator[Page]:
    """A fresh Chromium page on `client`'s gateway; fails the test on any dialog or JS error."""
    async with (
        chromium() as browser,
        watched_page(browser, str(client.make_url("/"))) as (
            page,
            problems,
        ),
    ):
        yield page
    assert problems == []
