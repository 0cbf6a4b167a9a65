"""The dashboard in real Chromium: sign-in, the live bell, quick actions, hostile content.

Runs Debian's Chromium through Playwright against a gateway on loopback (SQLite: these tests
are about the pages; the API underneath is tested on both backends elsewhere). Without a
browser the tests are skipped with the reason printed, except under CI=true, where they fail.
Any JavaScript dialog and any console error fails the test (the `page` fixture).
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, Response, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from tests.dashboard.browser import (
    ADMIN,
    ARTIFACTS,
    LIVE_MS,
    PASSWORD,
    XSS,
    Client,
    import_failed,
    ingest,
    sign_in,
    unread_count,
)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def is_recent(response: Response) -> bool:
    """Whether `response` answers the bell's list of recent unread notifications."""
    return "/api/v1/admin/notifications/recent" in response.url


async def test_login_then_live_bell_and_mark_one_read(page: Page, client: Client) -> None:
    """Sign in through the form; a new notification reaches badge and dropdown live."""
    await page.goto("/admin/notifications")
    await expect(page).to_have_url(
        str(client.make_url("/admin/login?next=%2Fadmin%2Fnotifications"))
    )
    await page.fill("#login-email", ADMIN)
    await page.fill("#login-password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(str(client.make_url("/admin/notifications")))

    bell, badge = page.locator("#bell"), page.locator("#bell-badge")
    await expect(badge).to_be_hidden()
    await bell.click()
    await expect(bell).to_have_attribute("aria-expanded", "true")
    await expect(page.locator("#bell-empty")).to_be_visible()

    await ingest(client, import_failed(1))
    await expect(badge).to_have_text("1", timeout=LIVE_MS)
    item = page.locator("#bell-list li")
    await expect(item).to_have_count(1, timeout=LIVE_MS)
    await expect(item).to_contain_text("Product import failed for Acme Corp")
    await expect(item.locator(".prio")).to_have_text("High")
    await expect(item.locator("time")).to_have_text("just now")
    await expect(page).to_have_title("(1) Notifications")
    # The page's own list follows too.
    await expect(page.locator("#notification-list li")).to_have_count(1, timeout=LIVE_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "bell-dropdown.png"))

    await item.get_by_role("button", name="Mark read").click()
    await expect(badge).to_be_hidden(timeout=LIVE_MS)
    await expect(page.locator("#bell-empty")).to_be_visible()
    await expect(page).to_have_title("Notifications")
    assert await unread_count(page) == 0

    await page.keyboard.press("Escape")
    await expect(page.locator("#bell-panel")).to_be_hidden()
    await expect(bell).to_have_attribute("aria-expanded", "false")
    await expect(bell).to_be_focused()


async def test_mark_all_read_spares_what_was_not_shown(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Mark all read stops at the newest notification shown; a later one stays unread."""
    await ingest(client, import_failed(1), import_failed(2))
    await sign_in(page, str(client.make_url("/").origin()))
    # The bell fetches its list at start and again on the live stream's hello; opening it
    # fetches once more. Every one of those answers must be in before the row is committed
    # behind its back, or a late refetch would show it.
    answered: list[Response] = []
    page.on("response", lambda response: answered.append(response) if is_recent(response) else None)
    await page.goto("/admin/notifications")
    while len(answered) < 2:
        await page.wait_for_event("response", predicate=is_recent)
    async with page.expect_response(is_recent):
        await page.locator("#bell").click()
    await expect(page.locator("#bell-list li")).to_have_count(2)
    await expect(page.locator("#bell-badge")).to_have_text("2")
    # Committed behind the live stream's back, so the open dropdown does not show it.
    async with sessions() as db, db.begin():
        await admin_notification_service.create_notification(
            db,
            notification_type="system_info",
            priority="low",
            title="Arrived later",
            message="not shown when mark all was clicked",
        )
    async with page.expect_request("**/mark-all-read") as request_info:
        await page.locator("#bell-mark-all").click()
    assert (await request_info.value).post_data_json == {"up_to_id": 2}
    await expect(page.locator("#bell-list li")).to_have_text(["LowArrived laterjust nowMark read"])
    assert await unread_count(page) == 1


async def test_hostile_content_is_shown_as_text(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Markup and script URLs in titles, messages and store names stay inert text."""
    await ingest(client, import_failed(1, store_name=XSS[0]))
    async with sessions() as db, db.begin():
        await admin_notification_service.create_notification(
            db,
            notification_type="store_issue",
            priority="critical",
            title=XSS[0],
            message=XSS[1],
            action_url="javascript:alert(1)",
        )
        await platform_alert_service.create_alert(
            db,
            alert_type="integration",
            severity="critical",
            title=XSS[1],
            description=XSS[0],
            affected_stores=[XSS[0]],
            affected_systems=["javascript:alert(1)"],
        )
    await sign_in(page, str(client.make_url("/").origin()))
    await page.goto("/admin/notifications")
    await page.locator("#bell").click()
    items = page.locator("#bell-list li")
    await expect(items).to_have_count(2)
    await expect(items.nth(0).locator(".bell-title")).to_have_text(XSS[0])
    await expect(items.nth(1)).to_contain_text(f"Product import failed for {XSS[0]}")
    rows = page.locator("#notification-list li")
    await expect(rows.nth(0).locator(".row-message")).to_have_text(XSS[1])
    # The script URL is not a link; the rule's relative action_url is.
    assert await items.nth(0).locator("a").count() == 0
    assert await rows.nth(0).locator("a").count() == 0
    await expect(items.nth(1).locator("a")).to_have_attribute("href", "/admin/stores/5/imports/1")

    await page.get_by_role("tab", name="Platform alerts").click()
    alert = page.locator("#alert-list li")
    await expect(alert).to_have_count(1)
    await expect(alert.locator(".row-title")).to_have_text(XSS[1])
    await expect(alert).to_contain_text(f"store {XSS[0]}, javascript:alert(1)")
    for scope in ("#bell-list", "#notification-list", "#alert-list"):
        assert await page.locator(f"{scope} img, {scope} script").count() == 0
    await page.wait_for_timeout(100)  # a dialog, had one been injected, would have opened


async def test_filters_live_in_the_url_and_alerts_resolve(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Filters go to the URL (Back restores them); an alert resolves with notes."""
    async with sessions() as db, db.begin():
        for priority in ("low", "critical"):
            await admin_notification_service.create_notification(
                db,
                notification_type="system_info",
                priority=priority,
                title=f"{priority} one",
                message="m",
            )
        alert = await platform_alert_service.create_alert(
            db, alert_type="integration", severity="error", title="API down"
        )
    await sign_in(page, str(client.make_url("/").origin()))
    await page.goto("/admin/notifications")
    rows = page.locator("#notification-list li")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#stat-unread")).to_have_text("2")
    await expect(page.locator("#stat-active")).to_have_text("1")

    critical = page.locator("#notification-filters").get_by_label("Critical", exact=True)
    await critical.check()
    await expect(page).to_have_url(str(client.make_url("/admin/notifications?priority=critical")))
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("critical one")
    await page.go_back()
    await expect(rows).to_have_count(2)
    await expect(critical).not_to_be_checked()

    await page.get_by_role("tab", name="Platform alerts").click()
    await expect(page).to_have_url(str(client.make_url("/admin/notifications?tab=alerts")))
    await page.get_by_role("button", name="Resolve: API down").click()
    await page.fill("#resolve-notes", "restarted the importer")
    await page.locator("#resolve-confirm").click()
    await expect(page.locator("#alert-list li .state")).to_have_text("Resolved")
    await expect(page.locator("#alert-list li .notes")).to_have_text("restarted the importer")
    await expect(page.locator("#stat-resolved")).to_have_text("1")
    async with sessions() as db:
        resolved = await platform_alert_service.get_alert(db, alert.id)
    assert resolved.is_resolved and resolved.resolution_notes == "restarted the importer"
