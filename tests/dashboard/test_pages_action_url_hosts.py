"""The allowed action-URL hosts reach the pages in a meta tag (no inline script), escaped."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dashboard.views import template_environment
from tests.dashboard.browser import ADMIN, PASSWORD

Client = TestClient[Any, Any]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def client(make_client: Any, admin: int) -> Client:
    hosts = " Shop.Example.com,*.corp.example , tools.example:8443,"
    return await make_client(action_url_hosts=hosts)  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/admin/notifications", "/admin/rules"])
async def test_signed_in_page_carries_the_allowed_hosts(
    client: Client, csrf_token: str, path: str
) -> None:
    """Every signed-in page names the configured hosts, checked and lower-cased, once."""
    resp = await client.get(path)
    assert resp.status == 200
    html = await resp.text()
    hosts = "shop.example.com,*.corp.example,tools.example:8443"
    meta = f'<meta name="action-url-hosts" content="{hosts}">'
    assert html.count(meta) == 1


async def test_default_is_an_empty_list(make_client: Any, admin: int) -> None:
    """Without the setting the tag is there and empty: links to this site only."""
    client = await make_client()
    resp = await client.post(
        "/api/v1/auth/login",
        json={"email": ADMIN, "password": PASSWORD},
        headers={"Origin": str(client.make_url("/").origin())},
    )
    assert resp.status == 200
    html = await (await client.get("/admin/notifications")).text()
    assert '<meta name="action-url-hosts" content="">' in html


async def test_login_page_has_no_host_list(client: Client) -> None:
    """The sign-in page shows no notification, so it carries no list."""
    html = await (await client.get("/admin/login")).text()
    assert "action-url-hosts" not in html


def test_meta_content_is_escaped() -> None:
    """Settings refuse such a host; were one to get through, autoescape keeps it an attribute."""
    html = (
        template_environment()
        .get_template("base.html")
        .render(
            title="t",
            user=None,
            csrf_token=None,
            action_url_hosts='a.example"><script>alert(1)</script>',
        )
    )
    assert (
        '<meta name="action-url-hosts" '
        'content="a.example&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">' in html
    )
    assert "<script>alert(1)" not in html
