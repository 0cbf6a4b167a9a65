"""The dashboard's pages and static files over plain HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dashboard.views import local_path
from gateway.http.headers import CONTENT_SECURITY_POLICY

Client = TestClient[Any, Any]
PAGES = ["/admin/login", "/admin/notifications", "/admin/notifications?tab=alerts"]
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


class TestSessionRequired:
    async def test_notifications_redirects_to_login_without_a_session(self, client: Client) -> None:
        """A page that shows data sends a visitor without a session to the login page."""
        resp = await client.get("/admin/notifications?tab=alerts", allow_redirects=False)
        assert resp.status == 302
        assert resp.headers["Location"] == ("/admin/login?next=/admin/notifications?tab%3Dalerts")

    @pytest.mark.parametrize("path", ["/admin", "/admin/"])
    async def test_root_redirects_to_notifications(self, client: Client, path: str) -> None:
        """The dashboard's root is the notifications page."""
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302
        assert resp.headers["Location"] == "/admin/notifications"

    async def test_signed_in_page_carries_csrf_token_and_bell(
        self, client: Client, csrf_token: str
    ) -> None:
        """A signed-in page has the session's CSRF token in a meta tag and the header bell."""
        token = csrf_token
        resp = await client.get("/admin/notifications")
        assert resp.status == 200
        html = await resp.text()
        assert f'<meta name="csrf-token" content="{token}">' in html
        assert 'id="bell"' in html and 'aria-controls="bell-panel"' in html
        assert resp.headers["Cache-Control"] == "no-store"


class TestPageSafety:
    @pytest.mark.parametrize("path", PAGES)
    async def test_csp_and_no_inline_script_or_style(
        self, client: Client, csrf_token: str, path: str
    ) -> None:
        """Every page is under the strict CSP and has no inline script, handler or style."""
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        html = await resp.text()
        tags = SCRIPT_TAG.findall(html)
        assert tags, "every page loads its script"
        assert all('src="/static/' in tag for tag in tags), tags
        assert "<style" not in html.lower()
        assert not re.search(r"\sstyle=", html, re.IGNORECASE)
        assert not re.search(r"\son[a-z]+=", html, re.IGNORECASE)

    @pytest.mark.parametrize(
        "next_value",
        ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
    )
    async def test_login_refuses_foreign_next(self, client: Client, next_value: str) -> None:
        """The login page follows only a local path; anything else falls back to the home."""
        resp = await client.get("/admin/login", params={"next": next_value})
        html = await resp.text()
        assert 'data-next="/admin/notifications"' in html
        assert "evil.example" not in html

    async def test_login_keeps_local_next_escaped(self, client: Client) -> None:
        """A local `next` reaches the form, escaped by the template."""
        resp = await client.get("/admin/login", params={"next": '/admin/notifications?a="b"&c'})
        html = await resp.text()
        assert 'data-next="/admin/notifications?a=&#34;b&#34;&amp;c"' in html

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("/admin/notifications", "/admin/notifications"),
            ("/admin/x?y=1#z", "/admin/x?y=1#z"),
            ("//evil.example", None),
            ("///evil.example", None),
            ("/\\evil.example", None),
            ("https://evil.example", None),
            ("admin", None),
            ("/admin\nx", None),
            ("", None),
            (None, None),
        ],
    )
    def test_local_path(self, value: str | None, expected: str | None) -> None:
        """Only a path on this site is accepted as a place to return to."""
        assert local_path(value) == expected


class TestStatic:
    @pytest.mark.parametrize(
        ("name", "content_type"),
        [
            ("dashboard.css", "text/css"),
            ("bell.js", "text/javascript"),
            ("api.js", "text/javascript"),
            ("login.js", "text/javascript"),
            ("notifications.js", "text/javascript"),
            ("favicon.svg", "image/svg+xml"),
        ],
    )
    async def test_served_with_its_type(self, client: Client, name: str, content_type: str) -> None:
        """Scripts and styles are served with their content type, without a session."""
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200
        assert resp.content_type == content_type
        assert resp.charset == ("utf-8" if content_type.startswith("text/") else None)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"

    @pytest.mark.parametrize("name", ["missing.js", "..%2Fviews.py", "__init__.py"])
    async def test_unknown_files_are_404(self, client: Client, name: str) -> None:
        """Only the dashboard's own static files are served."""
        resp = await client.get(f"/static/{name}")
        assert resp.status == 404

    async def test_scripts_never_write_html(self, client: Client) -> None:
        """The scripts insert text nodes and elements only, never HTML strings."""
        for name in ("api.js", "bell.js", "login.js", "notifications.js"):
            source = await (await client.get(f"/static/{name}")).text()
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
                assert sink not in source, (name, sink)
