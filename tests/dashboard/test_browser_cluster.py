"""Two gateway processes on one PostgreSQL: the dashboard on one follows changes made on the other.

Instance A serves the browser; instance B takes the ingestion. The change reaches A's event
stream through PostgreSQL's LISTEN/NOTIFY relay, and the badge and the open dropdown follow
within a second. Needs PostgreSQL (skipped without it, failing under CI=true) and Chromium.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.conftest import MakeClient
from tests.dashboard.browser import LIVE_MS, chromium, import_failed, ingest, sign_in, watched_page

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


async def wait_for_stream(page: Page) -> None:
    """Wait until the page's event stream is open (its hello has been answered)."""
    async with page.expect_response("**/notifications/stream"):
        await page.goto("/admin/notifications")


async def test_badge_and_dropdown_follow_the_other_instance(
    make_client: MakeClient, admin: int
) -> None:
    a = await make_client()
    b = await make_client()
    assert a.port != b.port
    origin = str(a.make_url("/").origin())
    async with chromium() as browser, watched_page(browser, origin) as (page, problems):
        await sign_in(page, origin)
        await wait_for_stream(page)
        badge, items = page.locator("#bell-badge"), page.locator("#bell-list li")
        await expect(badge).to_be_hidden()
        await page.locator("#bell").click()
        await expect(page.locator("#bell-empty")).to_be_visible()

        await ingest(b, import_failed(1))
        await expect(badge).to_have_text("1", timeout=LIVE_MS)
        await expect(items).to_have_count(1, timeout=LIVE_MS)
        await expect(items.first).to_contain_text("Product import failed for Acme Corp")

        await ingest(b, import_failed(2, store_name="Maison Verte"))
        await expect(badge).to_have_text("2", timeout=LIVE_MS)
        await expect(items).to_have_count(2, timeout=LIVE_MS)
        await expect(items.first).to_contain_text("Product import failed for Maison Verte")
        await page.wait_for_timeout(100)
    assert problems == []
