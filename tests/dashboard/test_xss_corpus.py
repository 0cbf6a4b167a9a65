"""Every string of the XSS corpus stays inert text on every view of the dashboard.

The corpus (tests/dashboard/xss_corpus.py) goes into notification titles, messages, metadata
keys and values and action URLs; into store names (through the bundled import rule, whose
template must not evaluate them again); into alert titles, descriptions, affected stores and
systems; and into rule names, descriptions, match values and literal templates. The dropdown,
the Notifications tab, the Platform alerts tab, the detail view and the rules page then must
show each string literally, create no element it spells, run nothing (any dialog, console
error or page error fails the test) and request nothing outside the gateway's own origin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Page, Request, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from tests.conftest import BUNDLED_RULES
from tests.dashboard.browser import Client, import_failed, ingest, sign_in
from tests.dashboard.xss_corpus import CORPUS, TEMPLATE_INJECTION, URLS, chunks

BELL_ITEMS = 10  # the dropdown shows the newest ten unread notifications
ALERTS = 6
STORE_NAMES = [*TEMPLATE_INJECTION, "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>"]
# Events that fire the hostile rules: notifications whose rule and title are the corpus.
FIRED_RULES = ["<script>alert(1)</script>", "{{7*7}}", "${7*7}", "<svg onload=alert(1)>", "#{7*7}"]

# Elements and attributes no stored text may produce anywhere in the document.
INJECTED = """() => {
  const found = [];
  const urlAttrs = ["href", "src", "xlink:href", "action", "formaction", "data", "srcdoc"];
  for (const node of document.querySelectorAll("*")) {
    for (const attr of node.attributes) {
      if (/^on/i.test(attr.name)) found.push(`${node.tagName} ${attr.name}=${attr.value}`);
      if (urlAttrs.includes(attr.name) && /^\\s*(javascript|data|vbscript):/i.test(attr.value)) {
        found.push(`${node.tagName} ${attr.name}=${attr.value}`);
      }
      if (attr.name === "style") found.push(`${node.tagName} style=${attr.value}`);
    }
  }
  for (const script of document.scripts) {
    if (!script.src.startsWith(location.origin + "/static/")) found.push(script.outerHTML);
  }
  const foreign = "iframe, frame, img, video, audio, source, object, embed, style, math, "
    + "body body, head ~ body ~ *, link:not(head > link), svg:not([aria-hidden=true]), "
    + "svg:not([aria-hidden=true]) *";
  for (const node of document.querySelectorAll(foreign)) found.push(node.outerHTML.slice(0, 120));
  for (const link of document.querySelectorAll("a[href]")) {
    const local = link.origin === location.origin && link.pathname.startsWith("/")
      && !link.getAttribute("href").startsWith("//");
    if (!local && !["http:", "https:"].includes(link.protocol)) found.push(link.outerHTML);
  }
  return found;
}"""


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def literal_template(text: str) -> str:
    """A rules template that renders exactly `text` (an escaped `${` for the file's variables)."""
    escaped = text.replace("${", "$${")
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return escaped
    if "endraw" in text:
        return "fixed text"
    return "{% raw %}" + escaped + "{% endraw %}"


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """The bundled rules plus one rule per corpus string, named and described by it."""
    document = yaml.safe_load(BUNDLED_RULES.read_text("utf-8"))
    for text in CORPUS:
        escaped = text.replace("${", "$${")
        document["rules"].append(
            {
                "name": escaped,
                "description": escaped,
                "source": "logs",
                "match": {"event": escaped},
                "notify": {
                    "type": "system_info",
                    "priority": "low",
                    "title": literal_template(text),
                    "message": literal_template(text),
                },
            }
        )
    target = tmp_path / "rules.yaml"
    target.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return target


async def seed(client: Client, sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """Write the corpus into the database; return the ids of the notifications that carry it.

    The first len(FIRED_RULES) notifications come from the hostile rules, in that order.
    """
    await ingest(client, *({"event": text} for text in FIRED_RULES))
    await ingest(client, *(import_failed(100 + i, name) for i, name in enumerate(STORE_NAMES)))
    ids = []
    async with sessions() as db, db.begin():
        for group, url in zip(chunks(CORPUS, BELL_ITEMS), URLS, strict=False):
            created = await admin_notification_service.create_notification(
                db,
                notification_type="store_issue",
                priority="critical",
                title=" ".join(group),
                message=" | ".join(reversed(group)),
                action_url=url,
                metadata={**{text: text for text in group}, "store_name": group[0]},
            )
            assert created is not None
            ids.append(created.id)
        for group in chunks(CORPUS, ALERTS):
            await platform_alert_service.create_alert(
                db,
                alert_type="integration",
                severity="critical",
                title=" ".join(group),
                description=" | ".join(reversed(group)),
                affected_stores=group,
                affected_systems=list(reversed(group)),
                metadata={text: text for text in group},
            )
    return ids


async def assert_inert(
    page: Page, scope: str, expected: list[str], *, only_corpus: bool = True
) -> None:
    """`scope` shows every expected string literally, and no element or handler they spell.

    With `only_corpus`, `scope` shows nothing but the corpus and the page's own words, so a
    "49" in it is a template that was evaluated.
    """
    # Times are left out: a clock may well read 16:49.
    text = await page.locator(scope).evaluate(
        """(node) => {
          const copy = node.cloneNode(true);
          for (const time of copy.querySelectorAll("time")) time.remove();
          return copy.textContent;
        }"""
    )
    missing = [item for item in expected if item not in text]
    assert missing == [], f"{scope} does not show: {missing!r}"
    if only_corpus:
        assert "49" not in text, f"{scope} shows an evaluated template: {text!r}"
    assert await page.evaluate(INJECTED) == []


async def test_corpus_is_inert_on_every_view(
    page: Page, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    origin = str(client.make_url("/").origin())
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("request", record)
    ids = await seed(client, sessions)
    await sign_in(page, origin)
    await page.goto("/admin/notifications")

    # The Notifications tab: every title, message and rendered store name.
    rows = page.locator("#notification-list li")
    await expect(rows).to_have_count(BELL_ITEMS + len(STORE_NAMES) + len(FIRED_RULES))
    stores = [f"Product import failed for {name}" for name in STORE_NAMES]
    await assert_inert(page, "#notification-list", [*CORPUS, *stores, *FIRED_RULES])

    # The dropdown: the ten newest unread carry the whole corpus in their titles.
    await page.locator("#bell").click()
    await expect(page.locator("#bell-list li")).to_have_count(BELL_ITEMS)
    await assert_inert(page, "#bell-list", CORPUS)
    titles = await page.locator("#bell-list li").all_text_contents()
    for group in chunks(CORPUS, BELL_ITEMS):
        assert any(" ".join(group) in title for title in titles), group
    await page.keyboard.press("Escape")

    # The Platform alerts tab: titles, descriptions, affected stores and systems.
    await page.get_by_role("tab", name="Platform alerts").click()
    await expect(page.locator("#alert-list li")).to_have_count(ALERTS)
    await assert_inert(page, "#alert-list", CORPUS)

    # The detail view: the title exactly, and the metadata's keys and values as data.
    for notification_id, group in zip(ids, chunks(CORPUS, BELL_ITEMS), strict=True):
        await page.goto(f"/admin/notifications?id={notification_id}")
        await expect(page.locator("#detail-dialog")).to_be_visible()
        await expect(page.locator("#detail-metadata")).not_to_be_empty()
        assert await page.locator("#detail-title").text_content() == " ".join(group)
        metadata: dict[str, Any] = json.loads(
            await page.locator("#detail-metadata").text_content() or "null"
        )
        assert metadata == {**{text: text for text in group}, "store_name": group[0]}
        assert await page.evaluate(INJECTED) == []
    # ... and for a notification a hostile rule made, its title and the rule's name.
    for notification_id, text in enumerate(FIRED_RULES, start=1):
        await page.goto(f"/admin/notifications?id={notification_id}")
        await expect(page.locator("#detail-dialog")).to_be_visible()
        await expect(page.locator("#detail-facts")).to_contain_text(text)
        assert await page.locator("#detail-title").text_content() == text
        rule = await page.locator("#detail-facts dt").evaluate_all(
            """(terms) => terms.filter((dt) => dt.textContent === "Rule")
                .map((dt) => dt.nextElementSibling.textContent)"""
        )
        assert rule == [text]
        assert await page.evaluate(INJECTED) == []

    # The rules page: each hostile rule under its own name, matching its own value.
    await page.goto("/admin/rules")
    names = page.locator("#rules-list tr td:first-child strong")
    await expect(names.first).to_be_visible()
    shown = await names.all_text_contents()
    assert sorted(set(CORPUS) - set(shown)) == []
    for text in TEMPLATE_INJECTION:  # exactly this name, not "49" in its place
        assert shown.count(text) == 1, text
    # The bundled rules' line numbers and values may well contain "49".
    matches = [f"event = {text}" for text in CORPUS]
    await assert_inert(page, "#rules-list", [*matches, *CORPUS], only_corpus=False)

    await page.wait_for_timeout(200)  # a handler or a late load would have fired by now
    foreign = [url for url in requests if not url.startswith(origin + "/")]
    assert foreign == []
