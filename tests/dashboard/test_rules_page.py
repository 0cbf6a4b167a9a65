"""The rules page over plain HTTP: session required, layout, reload offered to admins only."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.http.headers import CONTENT_SECURITY_POLICY
from gateway.services.admin_user_service import create_user
from tests.dashboard.conftest import CHEAP

Client = TestClient[Any, Any]
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
VIEWER = "viewer@example.com"
VIEWER_PASSWORD = "a viewer's long password"


class TestRulesPage:
    async def test_redirects_to_login_without_a_session(self, client: Client) -> None:
        """Without a session the rules page sends the visitor to sign in, then back."""
        resp = await client.get("/admin/rules", allow_redirects=False)
        assert resp.status == 302
        assert resp.headers["Location"] == "/admin/login?next=/admin/rules"

    async def test_renders_in_the_layout_with_a_session(
        self, client: Client, csrf_token: str
    ) -> None:
        """A signed-in admin gets the page in the base layout: bell, navigation, reload button."""
        resp = await client.get("/admin/rules")
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        html = await resp.text()
        assert "<title>Rules</title>" in html
        assert f'<meta name="csrf-token" content="{csrf_token}">' in html
        assert 'id="bell"' in html
        assert '<a href="/admin/rules" aria-current="page">Rules</a>' in html
        assert '<a href="/admin/notifications">Notifications</a>' in html
        for part in ('id="rules-list"', 'id="try-form"', 'id="try-input"', 'id="rules-reload"'):
            assert part in html, part
        tags = SCRIPT_TAG.findall(html)
        assert '<script type="module" src="/static/rules.js">' in tags
        assert all('src="/static/' in tag for tag in tags), tags
        assert "<style" not in html.lower()
        assert not re.search(r"\sstyle=", html, re.IGNORECASE)
        assert not re.search(r"\son[a-z]+=", html, re.IGNORECASE)

    async def test_notifications_page_links_to_rules(self, client: Client, csrf_token: str) -> None:
        """The header's navigation reaches the rules page from the notifications page."""
        html = await (await client.get("/admin/notifications")).text()
        assert '<a href="/admin/rules">Rules</a>' in html
        assert '<a href="/admin/notifications" aria-current="page">Notifications</a>' in html

    async def test_viewer_is_not_offered_reload(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A viewer sees the rules but no reload button (the API refuses a viewer's reload)."""
        async with sessions() as db, db.begin():
            await create_user(
                db, email=VIEWER, password=VIEWER_PASSWORD, role="viewer", passwords=CHEAP
            )
        origin = str(client.make_url("/").origin())
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": VIEWER, "password": VIEWER_PASSWORD},
            headers={"Origin": origin},
        )
        assert login.status == 200
        csrf = (await login.json())["csrf_token"]
        html = await (await client.get("/admin/rules")).text()
        assert 'id="rules-list"' in html and 'id="try-form"' in html
        assert 'id="rules-reload"' not in html
        refused = await client.post(
            "/api/v1/admin/rules/reload", headers={"Origin": origin, "X-CSRF-Token": csrf}
        )
        assert refused.status == 403
        # The dry run is a POST too: the page disables it rather than offer a refusal.
        assert '<button type="submit" id="try-submit" disabled>' in html
        overview = await client.get("/api/v1/admin/rules")
        assert overview.status == 200


class TestRulesScript:
    async def test_served_as_javascript_that_never_writes_html(self, client: Client) -> None:
        """rules.js is served with its type and inserts text nodes only."""
        resp = await client.get("/static/rules.js")
        assert resp.status == 200
        assert resp.content_type == "text/javascript"
        source = await resp.text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, sink
