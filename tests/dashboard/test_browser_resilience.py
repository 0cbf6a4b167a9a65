"""The dashboard without its live stream: the polling fallback, and catching up on reconnect.

- When the event stream cannot be reached (the browser's network fails it: Playwright aborts
  the request), the bell polls every 60 s; the page's clock is fast-forwarded past that.
- When an open stream drops and comes back, the page resynchronises: a notification committed
  while it was away shows up without a reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import keys
from gateway.services.admin_notification_service import admin_notification_service
from tests.dashboard.browser import (
    LIVE_MS,
    Client,
    chromium,
    import_failed,
    ingest,
    sign_in,
    watched_page,
)

STREAM = "**/api/v1/admin/notifications/stream*"
POLL_MS = 60_000
# What Chromium logs for each stream request the test fails on purpose.
NETWORK_FAILURE = "console error: Failed to load resource: net::ERR_CONNECTION_RESET"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def page(client: Client) -> AsyncIterator[Page]:
    """A Chromium page on the gateway; any dialog or JS error but the failed stream fails."""
    async with (
        chromium() as browser,
        watched_page(browser, str(client.make_url("/"))) as (page, problems),
    ):
        yield page
    assert [problem for problem in problems if problem != NETWORK_FAILURE] == []


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


class StreamBlock:
    """Fails every request for the event stream while `blocked` (a network error)."""

    def __init__(self) -> None:
        self.blocked = True
        self.aborted = 0
        self.passed = 0

    async def handle(self, route: Route) -> None:
        if self.blocked:
            self.aborted += 1
            await route.abort("connectionreset")
        else:
            self.passed += 1
            await route.continue_()


async def test_polling_keeps_the_badge_current_without_the_stream(
    page: Page, client: Client
) -> None:
    block = StreamBlock()
    await page.route(STREAM, block.handle)
    await page.clock.install()
    await sign_in(page, str(client.make_url("/").origin()))
    await page.goto("/admin/notifications")
    badge = page.locator("#bell-badge")
    await expect(badge).to_be_hidden()
    await until(lambda: block.aborted > 0)

    await ingest(client, import_failed(1))
    await page.wait_for_timeout(LIVE_MS)
    await expect(badge).to_be_hidden()  # nothing live reaches the page

    await page.clock.fast_forward(POLL_MS)
    await expect(badge).to_have_text("1", timeout=LIVE_MS)
    await page.locator("#bell").click()
    await expect(page.locator("#bell-list li")).to_contain_text(
        ["Product import failed for Acme Corp"]
    )
    assert block.passed == 0


async def test_a_dropped_stream_reconnects_and_catches_up(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    block = StreamBlock()
    block.blocked = False
    await page.route(STREAM, block.handle)
    await sign_in(page, str(client.make_url("/").origin()))
    await ingest(client, import_failed(1))
    async with page.expect_response(STREAM):
        await page.goto("/admin/notifications")
    badge = page.locator("#bell-badge")
    await expect(badge).to_have_text("1")
    await page.evaluate("window.sameDocument = true")

    # Drop the open stream from the server's side and keep the browser from reconnecting.
    block.blocked = True
    # Ending a subscription ends its response, as a shutdown does for every stream.
    hub = client.app[keys.HUB]
    assert hub.subscriber_count >= 1
    for subscription in list(hub._subscribers):
        subscription.close()
    await until(lambda: block.aborted > 0)

    # Committed while the page is disconnected, and announced to nobody.
    async with sessions() as db, db.begin():
        await admin_notification_service.create_notification(
            db,
            notification_type="system_info",
            priority="critical",
            title="Committed while the stream was down",
            message="m",
        )
    await page.wait_for_timeout(LIVE_MS)
    await expect(badge).to_have_text("1")

    block.blocked = False
    await expect(badge).to_have_text("2", timeout=10_000)
    await page.locator("#bell").click()
    await expect(page.locator("#bell-list li").first).to_contain_text(
        "Committed while the stream was down"
    )
    assert await page.evaluate("window.sameDocument") is True
    assert block.passed >= 2
