"""A notification's action_url in real Chromium: linked only to this site or an allowed host.

The gateway runs with --action-url-hosts; every place that shows the link (the bell's
dropdown, the notifications list, the detail dialog) must agree with api.js's safeHref.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import admin_notification_service
from tests.dashboard.browser import Client, sign_in

HOSTS = "Shop.Example.com, *.corp.example, tools.example:8443"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def client(make_client: Any, admin: int) -> Client:
    return await make_client(action_url_hosts=HOSTS)  # type: ignore[no-any-return]


def cases(origin: str) -> list[tuple[str, str, str | None]]:
    """(title, action_url, the href expected, or None for no link), oldest first.

    The bell shows the newest ten, so the first three are checked in the list and dialog only.
    """
    return [
        ("Allowed host, other port", "https://tools.example/run", None),
        ("Allowed host as user info", "https://shop.example.com@evil.example/", None),
        ("Wildcard parent", "https://corp.example/", None),
        ("Allowed host", "https://shop.example.com/orders/7", "https://shop.example.com/orders/7"),
        ("Wildcard subdomain", "https://EU.corp.example/x", "https://eu.corp.example/x"),
        ("Allowed port", "https://tools.example:8443/run", "https://tools.example:8443/run"),
        ("Own origin", f"{origin}/admin/rules", f"{origin}/admin/rules"),
        ("Relative path", "/admin/stores/5/orders", "/admin/stores/5/orders"),
        ("Other host", "https://evil.example/phish", None),
        ("Script URL", "javascript:alert(1)", None),
        ("Data URL", "data:text/html,<script>alert(1)</script>", None),
        ("Protocol-relative", "//evil.example/x", None),
        ("Tab in path", "/\t/evil.example/x", None),
    ]


async def test_action_url_linked_only_to_this_site_or_allowed_hosts(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Bell, list and detail link the allowed URLs only; the others' titles stay plain text."""
    origin = str(client.make_url("/").origin())
    made = cases(origin)
    ids: dict[str, int] = {}
    async with sessions() as db, db.begin():
        for title, action_url, _ in made:
            notification = await admin_notification_service.create_notification(
                db,
                notification_type="store_issue",
                title=title,
                message="see the link",
                action_url=action_url,
            )
            assert notification is not None
            ids[title] = notification.id
    await sign_in(page, origin)
    await page.goto("/admin/notifications")

    bell_items = page.locator("#bell-list li")
    await page.locator("#bell").click()
    await expect(bell_items).to_have_count(10)
    for title, _, href in made[3:]:
        item = bell_items.filter(has=page.get_by_text(title, exact=True))
        await expect(item.locator(".bell-title")).to_have_text(title)
        if href is None:
            await expect(item.locator("a")).to_have_count(0)
        else:
            await expect(item.locator("a.bell-title")).to_have_attribute("href", href)
    await page.keyboard.press("Escape")

    rows = page.locator("#notification-list li")
    await expect(rows).to_have_count(len(made))
    for title, _, href in made:
        row = rows.filter(has=page.get_by_text(title, exact=True))
        await expect(row.locator(".row-title")).to_have_text(title)
        if href is None:
            await expect(row.locator("a")).to_have_count(0)
        else:
            await expect(row.locator("a.action-link")).to_have_attribute("href", href)

    for title, _, href in made:
        await page.goto(f"/admin/notifications?id={ids[title]}")
        await expect(page.locator("#detail-title")).to_have_text(title)
        action = page.locator("#detail-action")
        if href is None:
            await expect(action).to_be_hidden()
            await expect(action.locator("a")).to_have_count(0)
        else:
            await expect(action.locator("a")).to_have_attribute("href", href)
            await expect(action.locator("a")).to_be_visible()
