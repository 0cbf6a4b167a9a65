"""The rules page in real Chromium: the rules in force, their counts, dry runs, reloads.

The gateway runs on loopback with a private copy of the bundled rules.yaml (`rules_file`),
on SQLite. Any JavaScript dialog and any console error fails the test (the `page` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from rules.loader import load_ruleset
from tests.dashboard.browser import (
    ADMIN,
    LIVE_MS,
    PASSWORD,
    XSS,
    Client,
    import_failed,
    ingest,
    sign_in,
    unread_count,
)

TRY_EVENT = {
    "event": "product_import.failed",
    "store_id": 5,
    "store_name": "Acme",
    "job_id": 1,
    "error_message": "x",
}
HOSTILE_EVENT = "<b>hostile</b>"
HOSTILE_RULES = f"""\
version: 1
rules:
  - name: {json.dumps(XSS[0])}
    description: {json.dumps(XSS[1])}
    source: logs
    match: {{event: {json.dumps(HOSTILE_EVENT)}}}
    notify:
      type: store_issue
      priority: low
      title: "{{{{ store_name }}}}"
      message: "<i>{{{{ message }}}}</i>"
"""
BROKEN_RULES = """\
version: 1
rules:
  - name: broken
    match: {event: x}
    notify: {type: outage, priority: high, title: t, message: m}
"""


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


async def test_rules_counts_and_try_an_event(page: Page, client: Client, rules_file: Path) -> None:
    """The bundled rules are listed; a matching event counts; a dry run shows its outcome."""
    bundled = load_ruleset(rules_file)
    await sign_in(page, str(client.make_url("/").origin()))
    await page.goto("/admin/rules")
    rows = page.locator("#rules-list tr")
    await expect(rows).to_have_count(len(bundled.rules))
    await expect(rows.locator(".rule-name strong")).to_have_text(
        [rule.name for rule in bundled.rules]
    )
    await expect(page.locator("#rules-path")).to_have_text(str(rules_file))
    await expect(page.locator("#rules-reload-status")).to_contain_text("succeeded")

    failed = page.locator("#rules-list tr[data-rule='product-import-failed']")
    await expect(failed.locator(".conditions")).to_have_text("event = product_import.failed")
    await expect(failed.locator(".outputs")).to_have_text("High import failure notification")
    await expect(failed.locator(".rule-matches")).to_have_text("0")
    await expect(failed.locator(".rule-last")).to_have_text("never")
    await expect(failed).to_contain_text("Enabled")
    # Its only source (the Alertmanager webhook) has no secret in the test environment.
    alertmanager = page.locator("#rules-list tr[data-rule='alertmanager-firing-critical']")
    await expect(alertmanager).to_contain_text("Disabled")
    resolve = page.locator("#rules-list tr[data-rule='order-sync-succeeded']")
    await expect(resolve.locator(".outputs")).to_have_text(
        "resolves alert letzshop:store:{{ store_id }}"
    )

    await ingest(client, import_failed(1))
    await page.locator("#rules-refresh").click()
    await expect(failed.locator(".rule-matches")).to_have_text("1", timeout=LIVE_MS)
    await expect(failed.locator(".rule-last")).to_have_text("just now")

    await page.fill("#try-input", json.dumps(TRY_EVENT))
    await page.locator("#try-submit").click()
    result = page.locator("#try-results > li")
    await expect(result).to_have_count(1)
    await expect(result.locator(".try-summary")).to_have_text(
        "Event: matched product-import-failed"
    )
    outcome = result.locator(".outcome")
    await expect(outcome).to_have_count(1)
    await expect(outcome.locator(".prio")).to_have_text("High")
    await expect(outcome.locator(".kind")).to_have_text("notification: import failure")
    await expect(outcome.locator(".row-title")).to_have_text("Product import failed for Acme")
    await expect(outcome.locator(".row-message")).to_have_text("Import job 1 failed: x")
    await expect(page.locator("#try-errors")).to_be_hidden()
    # A dry run stores nothing and counts no match.
    assert await unread_count(page) == 1
    await page.locator("#rules-refresh").click()
    await page.wait_for_timeout(200)
    await expect(failed.locator(".rule-matches")).to_have_text("1")

    errors = page.locator("#try-errors li")
    await page.fill("#try-input", '{"event": "product_import.failed",')
    await page.locator("#try-submit").click()
    await expect(errors).to_have_count(1)
    await expect(errors).to_contain_text("Line 1: invalid JSON")
    await expect(page.locator("#try-results > li")).to_have_count(0)

    await page.fill("#try-input", json.dumps(TRY_EVENT) + "\nnot json\n[1]")
    await page.locator("#try-submit").click()
    await expect(errors).to_have_count(2)
    await expect(errors.nth(0)).to_contain_text("Line 2: invalid JSON")
    await expect(errors.nth(1)).to_have_text("Line 3: expected a JSON object")

    unknown = {"event": "user.logged_in", "user": "admin"}
    await page.fill("#try-input", json.dumps(TRY_EVENT) + "\n\n" + json.dumps(unknown))
    await page.locator("#try-submit").click()
    await expect(page.locator("#try-results .try-summary")).to_have_text(
        [
            "Line 1: matched product-import-failed",
            "Line 3: no rule matched: nothing would be produced",
        ]
    )
    await expect(errors).to_have_count(0)


async def test_reloads_and_hostile_rules_are_text(
    page: Page, client: Client, rules_file: Path
) -> None:
    """A failed reload shows its positioned error; hostile rules and events stay inert text."""
    origin = str(client.make_url("/").origin())
    login = await page.request.post(
        "/api/v1/auth/login",
        data={"email": ADMIN, "password": PASSWORD},
        headers={"Origin": origin},
    )
    csrf = (await login.json())["csrf_token"]
    # Reloaded over the API, not the button: the browser logs a 422 answer as a console error.
    rules_file.write_text(BROKEN_RULES)
    failed = await page.request.post(
        "/api/v1/admin/rules/reload", headers={"Origin": origin, "X-CSRF-Token": csrf}
    )
    assert failed.status == 422
    await page.goto("/admin/rules")
    await expect(page.locator("#rules-reload-status")).to_contain_text("failed")
    issue = page.locator("#rules-reload-issues li")
    await expect(issue).to_have_count(1)
    await expect(issue).to_contain_text(f"{rules_file}:5:")
    await expect(issue).to_contain_text("outage")
    await expect(page.locator("#rules-list tr[data-rule='product-import-failed']")).to_have_count(1)

    rules_file.write_text(HOSTILE_RULES)
    await page.locator("#rules-reload").click()
    await expect(page.locator("#rules-reload-result")).to_have_text("Reloaded: 1 rules in force.")
    await expect(page.locator("#rules-reload-status")).to_contain_text("succeeded")
    await expect(page.locator("#rules-reload-issues")).to_be_hidden()
    row = page.locator("#rules-list tr")
    await expect(row).to_have_count(1)
    await expect(row.locator(".rule-name strong")).to_have_text(XSS[0])
    await expect(row.locator(".rule-name .notes")).to_have_text(XSS[1])
    await expect(row.locator(".conditions")).to_have_text(f"event = {HOSTILE_EVENT}")

    event = {"event": HOSTILE_EVENT, "store_name": XSS[0], "message": XSS[1]}
    await page.fill("#try-input", json.dumps(event))
    await page.locator("#try-submit").click()
    await expect(page.locator("#try-results .try-summary")).to_have_text(f"Event: matched {XSS[0]}")
    outcome = page.locator("#try-results .outcome")
    await expect(outcome.locator(".row-title")).to_have_text(XSS[0])
    await expect(outcome.locator(".row-message")).to_have_text(f"<i>{XSS[1]}</i>")
    # Nothing of it became markup.
    assert await page.locator("main img, main script, main b, main i").count() == 0
