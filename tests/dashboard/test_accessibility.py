"""axe-core on the dashboard's pages: no serious or critical accessibility violation.

axe-core comes from PyPI (the `axe-playwright-python` package ships `axe.min.js`; it is in the
`test` extra), never from a CDN. The page's Content-Security-Policy forbids inline scripts, so
the engine is not added as a <script> element: Playwright's `evaluate` runs it in the page
through the DevTools protocol, which the policy does not govern, and `axe.run` is called the
same way. The pages keep their real policy (no `bypass_csp`).

Each view is its own case, so a known violation can be marked xfail(strict=True) and the fix
of the page flips it. Runs on SQLite with realistic content (tests/dashboard/showcase.py).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dashboard.browser import Client, sign_in
from tests.dashboard.showcase import seed_showcase

BLOCKING = ("serious", "critical")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def axe_source() -> str:
    """The axe-core engine shipped by the axe-playwright-python package."""
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text("utf-8")


async def axe_violations(page: Page, include: list[str] | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page (or only inside `include`); its serious and critical findings."""
    await page.evaluate(axe_source())
    assert await page.evaluate("typeof axe.run") == "function"
    context: Any = {"include": [[selector] for selector in include]} if include else "html"
    results = await page.evaluate(
        "([context]) => axe.run(context, {resultTypes: ['violations']})", [context]
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and element: rule id, impact, selector and axe's summary."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(
                f"{violation['id']} ({violation['impact']}) at {node['target']}: {summary}"
            )
    return "\n".join(lines)


async def open_notifications(page: Page, client: Client) -> None:
    await sign_in(page, str(client.make_url("/").origin()))
    await page.goto("/admin/notifications")
    await expect(page.locator("#notification-list li").first).to_be_visible()


async def test_login_page(page: Page, client: Client) -> None:
    response = await page.goto("/admin/login")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await expect(page.locator("#login-form")).to_be_visible()
    found = await axe_violations(page)
    assert found == [], describe(found)
    # The engine really checks: a field that loses its label is reported.
    await page.evaluate("document.querySelector('#login-email').removeAttribute('id')")
    assert "label" in {v["id"] for v in await axe_violations(page)}


async def test_open_bell_dropdown(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_showcase(sessions)
    await open_notifications(page, client)
    await page.locator("#bell").click()
    await expect(page.locator("#bell-list li")).to_have_count(4)
    found = await axe_violations(page, include=["#bell", "#bell-panel"])
    assert found == [], describe(found)


async def test_notifications_tab(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_showcase(sessions)
    await open_notifications(page, client)
    await expect(page.locator("#notification-list li")).to_have_count(5)
    found = await axe_violations(page)
    assert found == [], describe(found)


async def test_platform_alerts_tab(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_showcase(sessions)
    await open_notifications(page, client)
    await page.get_by_role("tab", name="Platform alerts").click()
    await expect(page.locator("#alert-list li")).to_have_count(3)
    found = await axe_violations(page)
    assert found == [], describe(found)


async def test_rules_page(page: Page, client: Client) -> None:
    await sign_in(page, str(client.make_url("/").origin()))
    response = await page.goto("/admin/rules")
    assert response is not None and response.ok, "GET /admin/rules"
    await expect(page.get_by_text("product-import-failed").first).to_be_visible()
    found = await axe_violations(page)
    assert found == [], describe(found)
