"""Shared pieces of the dashboard's browser tests: launching Chromium and talking to the gateway.

Runs Debian's Chromium through Playwright (never a downloaded build). Without a browser the
tests are skipped with the reason printed, except under CI=true, where they fail. A page
opened here records any JavaScript dialog, console error and uncaught exception, so a test
can fail on hostile content that managed to run.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ADMIN = "ops@example.com"
PASSWORD = "correct horse battery"
LIVE_MS = 1000  # the badge and the list follow a commit within a second
XSS = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]

Client = TestClient[Any, Any]

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - reported by require_browser
    async_playwright = None  # type: ignore[assignment]


def require_browser() -> None:
    """Skip (fail under CI=true) when Playwright or Chromium is missing."""
    if async_playwright is None:
        reason = "the playwright package is not installed (pip install playwright)"
    elif not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. CI=true requires the browser tests to run.")
    print(f"\nskipping browser tests: {reason}")
    pytest.skip(reason)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed afterwards."""
    require_browser()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def watched_page(browser: Browser, base_url: str) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page in a fresh context, and the list of problems it records (dialogs, JS errors)."""
    problems: list[str] = []
    context = await browser.new_context(base_url=base_url.rstrip("/"))
    page = await context.new_page()

    async def on_dialog(dialog: Any) -> None:
        problems.append(f"dialog opened: {dialog.type} {dialog.message!r}")
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    try:
        yield page, problems
    finally:
        await context.close()


async def ingest(client: Client, *events: dict[str, Any]) -> None:
    """Send `events` as NDJSON through the ingestion API; each must make one notification."""
    body = "\n".join(json.dumps(event) for event in events)
    resp = await client.post(
        "/api/v1/ingest/logs", data=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["notifications"] == len(events)


def import_failed(job_id: int, store_name: str = "Acme Corp") -> dict[str, Any]:
    return {
        "event": "product_import.failed",
        "store_id": 5,
        "store_name": store_name,
        "job_id": job_id,
        "error_message": "CSV parsing failed",
    }


async def sign_in(page: Page, origin: str) -> None:
    """Sign in over the API from the page's context (the cookie lands in the browser)."""
    resp = await page.request.post(
        "/api/v1/auth/login",
        data={"email": ADMIN, "password": PASSWORD},
        headers={"Origin": origin},
    )
    assert resp.ok, await resp.text()


async def unread_count(page: Page) -> int:
    resp = await page.request.get("/api/v1/admin/notifications/unread-count")
    return int((await resp.json())["unread_count"])
