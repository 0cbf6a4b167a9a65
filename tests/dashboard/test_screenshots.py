"""Screenshots of the dashboard with realistic content: the open dropdown and both tabs.

Every run writes them to tests/artifacts/ (not versioned). With GATEWAY_WRITE_SCREENSHOTS=1
the two shown in the README are also rewritten in docs/images/:

    GATEWAY_WRITE_SCREENSHOTS=1 .venv/bin/pytest tests/dashboard/test_screenshots.py

They are made deterministic enough to commit: a fixed viewport, locale and time zone, fixed
content (tests/dashboard/showcase.py) and a page clock pinned to SHOWCASE_NOW, so the relative
times read the same on every run.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.browser import ARTIFACTS, Client, chromium, sign_in
from tests.dashboard.showcase import SHOWCASE_NOW, seed_showcase

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WRITE_DOCS = os.environ.get("GATEWAY_WRITE_SCREENSHOTS") == "1"
VIEWPORT = {"width": 1200, "height": 760}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG file's header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", head[16:24])
    return width, height


async def shoot(page: Page, name: str, docs_name: str | None = None) -> None:
    """Save the viewport as tests/artifacts/`name` (and docs/images/`docs_name` if asked)."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, VIEWPORT["height"] - 1)  # no hover effect in the picture
    targets = [ARTIFACTS / name]
    if WRITE_DOCS and docs_name is not None:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        targets.append(DOCS_IMAGES / docs_name)
    for target in targets:
        await page.screenshot(path=str(target), animations="disabled", caret="hide")
        assert png_size(target) == (VIEWPORT["width"], VIEWPORT["height"])


async def test_screenshots_of_the_dropdown_and_both_tabs(
    browser: Browser, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_showcase(sessions)
    origin = str(client.make_url("/").origin())
    context = await browser.new_context(
        base_url=origin,
        viewport=VIEWPORT,  # type: ignore[arg-type]
        device_scale_factor=1,
        locale="en-GB",
        timezone_id="UTC",
        color_scheme="light",
        reduced_motion="reduce",
    )
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.clock.set_fixed_time(SHOWCASE_NOW)
        await sign_in(page, origin)
        await page.goto("/admin/notifications")
        rows = page.locator("#notification-list li")
        await expect(rows).to_have_count(5)
        await expect(rows.first).to_contain_text("12 failed sign-ins")
        await expect(rows.first.locator("time")).to_have_text("2 min ago")
        await expect(page.locator("#stat-unread")).to_have_text("4")
        await shoot(page, "notifications-tab.png")

        await page.locator("#bell").click()
        items = page.locator("#bell-list li")
        await expect(items).to_have_count(4)
        await expect(page.locator("#bell-badge")).to_have_text("4")
        await shoot(page, "bell-dropdown-open.png", "dashboard-notifications.png")
        await page.keyboard.press("Escape")

        await page.get_by_role("tab", name="Platform alerts").click()
        alerts = page.locator("#alert-list li")
        await expect(alerts).to_have_count(3)
        await expect(alerts.first).to_contain_text("\u00d73")
        await expect(page.get_by_text("Old export archives removed; 61% used.")).to_be_visible()
        await shoot(page, "alerts-tab.png", "dashboard-alerts.png")
    finally:
        await context.close()
    assert errors == []
