"""The notifications page in real Chromium: search, dates, multi-value filters and paging in the
URL; selection, deletion with confirmation, the detail dialog; sign out; desktop alerts.

Like test_browser.py: Debian's Chromium through Playwright against a gateway on loopback, on
SQLite; any JavaScript dialog or console error fails the test (the `page` fixture).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, Response, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from gateway.storage.models import AdminNotification
from tests.dashboard.browser import LIVE_MS, XSS, Client, sign_in, unread_count

N = "/api/v1/admin/notifications"
DAY = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)

# Replaces the browser's Notification API (not the page's code): the permission is the real
# one, granted or not on the context; each notification shown is recorded instead.
RECORD_DESKTOP_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__desktop = [];
  class Recorded {
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
    constructor(title, options = {}) {
      window.__desktop.push({ title, body: options.body ?? null });
    }
  }
  window.Notification = Recorded;
})();
"""


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    title: str,
    *,
    priority: str = "normal",
    type: str = "system_info",
    message: str = "m",
    created_at: datetime | None = None,
    **fields: Any,
) -> int:
    """Store a notification (created_at may be set); return its id."""
    async with sessions() as db, db.begin():
        row = await admin_notification_service.create_notification(
            db, notification_type=type, priority=priority, title=title, message=message, **fields
        )
        assert row is not None
        if created_at is not None:
            await db.execute(
                update(AdminNotification)
                .where(AdminNotification.id == row.id)
                .values(created_at=created_at)
            )
        return row.id


async def open_page(page: Page, client: Client, path: str = "/admin/notifications") -> None:
    await sign_in(page, str(client.make_url("/").origin()))
    await page.goto(path)


async def post_as_page(page: Page, client: Client, path: str, body: Any) -> Any:
    """POST as the signed-in browser would: session cookie, Origin and CSRF header."""
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    resp = await page.request.post(
        path,
        data=body,
        headers={"Origin": str(client.make_url("/").origin()), "X-CSRF-Token": token or ""},
    )
    assert resp.ok, await resp.text()
    return await resp.json()


def counter(first: int, last: int, total: int) -> str:
    """The pager's text: "first\N{EN DASH}last of total"."""
    return f"{first}\N{EN DASH}{last} of {total}"


def is_list(response: Response) -> bool:
    """Whether `response` answers the page's notification list."""
    return "/api/v1/admin/notifications?" in response.url


def url(client: Client, query: str = "") -> str:
    return str(client.make_url("/admin/notifications" + query))


async def test_search_dates_filters_and_pages_live_in_the_url(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Search, dates and repeated filters go to the URL and the list; Back restores each
    step; paging shows "first-last of total"; the alerts tab filters by several types."""
    await seed(sessions, "Acme disk full", priority="high", created_at=DAY)
    await seed(sessions, "Acme payouts paused", priority="critical", created_at=DAY)
    await seed(sessions, "Acme import failed", priority="low", created_at=DAY)
    await seed(sessions, "Acme old", priority="critical", created_at=DAY - timedelta(days=2))
    await seed(sessions, "Other", priority="critical", created_at=DAY)
    for minute in range(25):
        await seed(sessions, f"Filler {minute}", created_at=DAY + timedelta(days=1, minutes=minute))
    async with sessions() as db, db.begin():
        for kind in ("integration", "database", "security"):
            await platform_alert_service.create_alert(
                db, alert_type=kind, severity="error", title=f"{kind} alert"
            )
    await open_page(page, client)
    rows = page.locator("#notification-list li")
    status = page.locator("#notification-pager .pager-status")
    await expect(status).to_have_text(counter(1, 25, 30))
    await expect(rows).to_have_count(25)

    filters = page.locator("#notification-filters")
    await filters.get_by_label("Search").fill("acme")
    await filters.get_by_label("Search").press("Enter")
    await expect(page).to_have_url(url(client, "?q=acme"))
    await expect(rows).to_have_count(4)
    await filters.get_by_label("From", exact=True).fill("2024-06-02")
    await filters.get_by_label("To", exact=True).fill("2024-06-04")
    await expect(rows).to_have_count(3)
    await filters.get_by_label("High", exact=True).check()
    await filters.get_by_label("Critical", exact=True).check()
    await expect(page).to_have_url(
        url(client, "?q=acme&since=2024-06-02&until=2024-06-04&priority=high&priority=critical")
    )
    await expect(rows.locator(".row-title")).to_have_text(["Acme payouts paused", "Acme disk full"])
    await expect(status).to_have_text(counter(1, 2, 2))
    await expect(page.locator("#notification-pager .pager-next")).to_be_disabled()

    await page.go_back()
    await expect(page).to_have_url(
        url(client, "?q=acme&since=2024-06-02&until=2024-06-04&priority=high")
    )
    await expect(rows.locator(".row-title")).to_have_text(["Acme disk full"])
    await expect(filters.get_by_label("Critical", exact=True)).not_to_be_checked()
    await expect(filters.get_by_label("High", exact=True)).to_be_checked()
    await expect(filters.get_by_label("To", exact=True)).to_have_value("2024-06-04")
    await page.go_back()
    await page.go_back()
    await page.go_back()
    await expect(page).to_have_url(url(client, "?q=acme"))
    await expect(filters.get_by_label("From", exact=True)).to_have_value("")
    await expect(rows).to_have_count(4)

    # Paging: a shared link opens on its page; Next and Previous move and count.
    await page.locator("#notification-clear").click()
    await expect(status).to_have_text(counter(1, 25, 30))
    await page.get_by_role("button", name="Next").click()
    await expect(page).to_have_url(url(client, "?page=2"))
    await expect(status).to_have_text(counter(26, 30, 30))
    await expect(rows).to_have_count(5)
    await expect(rows.last.locator(".row-title")).to_have_text("Acme old")
    await page.get_by_role("button", name="Previous").click()
    await expect(page).to_have_url(url(client))
    await expect(status).to_have_text(counter(1, 25, 30))
    await page.go_back()
    await expect(status).to_have_text(counter(26, 30, 30))
    await page.goto("/admin/notifications?priority=critical&page=1")
    await expect(status).to_have_text(counter(1, 3, 3))

    # Platform alerts: several types at once.
    await page.get_by_role("tab", name="Platform alerts").click()
    alert_filters = page.locator("#alert-filters")
    await alert_filters.get_by_label("Integration").check()
    await alert_filters.get_by_label("Database").check()
    await expect(page).to_have_url(
        url(client, "?alert_type=integration&alert_type=database&tab=alerts")
    )
    await expect(page.locator("#alert-list .row-title")).to_have_text(
        ["database alert", "integration alert"]
    )
    await expect(page.locator("#alert-pager .pager-status")).to_have_text(counter(1, 2, 2))


async def test_select_mark_read_delete_and_mark_all_within_the_filter(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two selected rows are marked read, then deleted after confirmation (Cancel keeps them);
    one row deletes alone; mark all read keeps to the filter and to what was shown."""
    for i in range(4):
        await seed(sessions, f"Row {i}", priority="high" if i < 3 else "low")
    await open_page(page, client)
    rows = page.locator("#notification-list li")
    await expect(rows).to_have_count(4)
    await page.get_by_role("checkbox", name="Select: Row 3").check()
    await page.get_by_role("checkbox", name="Select: Row 2").check()
    await expect(page.locator("#selection-count")).to_have_text("2 selected")
    async with page.expect_request("**/notifications/read") as marked:
        await page.get_by_role("button", name="Mark selected read").click()
    assert (await marked.value).post_data_json == {"ids": [4, 3]}
    await expect(rows.locator(".state")).to_have_text(["Read", "Read", "Unread", "Unread"])
    assert await unread_count(page) == 2

    select_all = page.get_by_label("Select all on this page")
    await select_all.check()
    await expect(page.locator("#selection-count")).to_have_text("4 selected")
    await select_all.uncheck()
    await page.get_by_role("checkbox", name="Select: Row 3").check()
    await page.get_by_role("checkbox", name="Select: Row 2").check()
    delete_selected = page.get_by_role("button", name="Delete selected…")
    await delete_selected.click()
    dialog = page.locator("#delete-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Delete the 2 selected notifications?")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(delete_selected).to_be_focused()
    await expect(rows).to_have_count(4)
    await delete_selected.click()
    async with page.expect_request("**/notifications/delete") as deleted:
        await dialog.get_by_role("button", name="Delete").click()
    assert (await deleted.value).post_data_json == {"ids": [4, 3]}
    await expect(rows.locator(".row-title")).to_have_text(["Row 1", "Row 0"])
    await expect(page.locator("#selection-count")).to_have_text("")

    await page.get_by_role("button", name="Delete: Row 1").click()
    await expect(dialog).to_contain_text("Delete “Row 1”?")
    await page.keyboard.press("Escape")
    await expect(rows).to_have_count(2)
    await page.get_by_role("button", name="Delete: Row 1").click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(rows.locator(".row-title")).to_have_text(["Row 0"])

    # Mark all read within a filter: the priority filter and the newest unread row shown. The
    # page lists at start and again on the live stream's hello; both answers must be in before
    # a row is committed behind its back, or a late refetch would show it.
    await seed(sessions, "Low one", priority="low")

    def is_high_list(response: Response) -> bool:  # not an answer to the page before
        return is_list(response) and "priority=high" in response.url

    listed: list[Response] = []
    page.on(
        "response", lambda response: listed.append(response) if is_high_list(response) else None
    )
    await page.goto("/admin/notifications?priority=high")
    while len(listed) < 2:
        await page.wait_for_event("response", predicate=is_high_list)
    await expect(rows.locator(".row-title")).to_have_text(["Row 0"])
    await seed(sessions, "High, arrived later", priority="high")
    async with page.expect_request("**/mark-all-read") as mark_all:
        await page.get_by_role("button", name="Mark all read").click()
    assert (await mark_all.value).post_data_json == {"up_to_id": 1, "priority": ["high"]}
    await expect(rows.locator(".state")).to_have_text(["Unread", "Read"])
    assert await unread_count(page) == 2  # the low one and the later high one


async def test_detail_shows_everything_as_text_and_lives_in_the_url(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The title opens a dialog with the whole notification, metadata as indented JSON text
    and the action link; opening marks it read; Escape closes it and gives focus back."""
    metadata = {
        "store_id": 5,
        "store_name": "Acme Corp",
        "job": {"id": 7, "steps": ["parse", XSS[0]], "ok": False, "ratio": 0.5},
        "note": XSS[1],
    }
    made = await seed(
        sessions,
        "Import failed",
        priority="high",
        type="import_failure",
        message="CSV parsing failed\nat line 3",
        metadata=metadata,
        action_url="/admin/stores/5/imports/7",
        rule="import-failed",
        source="logs",
    )
    hostile = await seed(sessions, XSS[0], action_url="javascript:alert(1)", metadata={"x": 1})
    await open_page(page, client)
    title = page.locator(f'#notification-list li[data-id="{made}"] .title-button')
    await title.click()
    await expect(page).to_have_url(url(client, f"?id={made}"))
    dialog = page.locator("#detail-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#detail-title")).to_have_text("Import failed")
    assert await dialog.locator("#detail-message").text_content() == "CSV parsing failed\nat line 3"
    pretty = json.dumps(metadata, indent=2, ensure_ascii=False)
    assert await dialog.locator("pre#detail-metadata").text_content() == pretty
    facts = dialog.locator("#detail-facts")
    for text in ("import failure", "High", "Acme Corp (store 5)", "import-failed", "logs"):
        await expect(facts).to_contain_text(text)
    await expect(dialog.get_by_role("link", name="Open the linked page")).to_have_attribute(
        "href", "/admin/stores/5/imports/7"
    )
    await expect(dialog.locator("#detail-facts dd time")).to_have_count(2)  # created, read
    await expect(page.locator(f'#notification-list li[data-id="{made}"] .state')).to_have_text(
        "Read", timeout=LIVE_MS
    )
    assert await dialog.locator("img, script").count() == 0

    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page).to_have_url(url(client))
    await expect(title).to_be_focused()

    # A shared link opens the dialog; a script URL is no link; Back closes it.
    await page.goto(f"/admin/notifications?id={hostile}")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#detail-title")).to_have_text(XSS[0])
    await expect(dialog.locator("#detail-action")).to_be_hidden()
    assert await dialog.locator("a").count() == 0
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
    await expect(page).to_have_url(url(client))
    await title.click()
    await expect(page).to_have_url(url(client, f"?id={made}"))
    await expect(dialog).to_be_visible()
    await page.go_back()
    await expect(dialog).to_be_hidden()
    await expect(page).to_have_url(url(client))
    await page.go_forward()
    await expect(dialog).to_be_visible()


async def test_desktop_alerts_after_opt_in_then_sign_out(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Critical items raise a desktop notification only once opted in; Sign out ends the
    session and returns to the login page, after which the API answers 401."""
    await page.context.grant_permissions(["notifications"])
    await page.context.add_init_script(RECORD_DESKTOP_NOTIFICATIONS)
    await open_page(page, client)
    rows = page.locator("#notification-list li")
    critical = {"type": "security_alert", "priority": "critical", "message": "5 failed logins"}
    await post_as_page(page, client, N, {**critical, "title": "Before opt-in"})
    await expect(rows).to_have_count(1, timeout=LIVE_MS)
    assert await page.evaluate("window.__desktop") == []

    await page.locator("#bell").click()
    toggle = page.get_by_label("Desktop alerts for critical")
    await toggle.check()
    await expect(toggle).to_be_checked()
    assert await page.evaluate("localStorage.getItem('gateway.desktop-critical')") == "on"
    await post_as_page(page, client, N, {**critical, "priority": "high", "title": "Not critical"})
    await post_as_page(page, client, N, {**critical, "title": XSS[0]})
    alert = {"alert_type": "security", "severity": "critical", "title": "Breach suspected"}
    await post_as_page(page, client, N + "/alerts", {**alert, "description": "from 10.0.0.1"})
    await post_as_page(page, client, N + "/alerts", {**alert, "severity": "error", "title": "x"})
    await expect(rows).to_have_count(3, timeout=LIVE_MS)
    # A function, not an expression: polling an expression would need eval, which the CSP forbids.
    await page.wait_for_function("() => window.__desktop.length >= 2")
    shown = await page.evaluate("window.__desktop")
    assert sorted(shown, key=lambda n: n["title"]) == [
        {"title": XSS[0], "body": "5 failed logins"},
        {"title": "Breach suspected", "body": "from 10.0.0.1"},
    ]

    # The opt-in survives a reload; turning it off stops the alerts.
    await page.reload()
    await page.locator("#bell").click()
    await expect(toggle).to_be_checked()
    await toggle.uncheck()
    await post_as_page(page, client, N, {**critical, "title": "After opt-out"})
    await expect(rows).to_have_count(4, timeout=LIVE_MS)
    assert await page.evaluate("window.__desktop") == []

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(str(client.make_url("/admin/login")))
    resp = await page.request.get(N + "/unread-count")
    assert resp.status == 401
