"""Who may call the admin API: every route against every kind of credential."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.http.auth import ADMIN_PREFIX
from gateway.storage.models import ApiToken
from tests.api.conftest import SeedAlert, SeedNotification, Tokens, bearer

N = "/api/v1/admin/notifications"
# A body each write accepts, so that the admin column of the matrix shows success.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", N): {"type": "system_info", "title": "t", "message": "m"},
    ("PUT", N + "/read"): {"ids": [2]},
    ("POST", N + "/delete"): {"ids": [2]},
    ("PUT", N + "/mark-all-read"): {"up_to_id": 2},
    ("POST", N + "/alerts"): {"alert_type": "system", "severity": "info", "title": "t"},
    ("PUT", N + "/alerts/{id}/resolve"): {"resolution_notes": "done"},
    ("POST", "/api/v1/admin/rules/test"): {"event": {"event": "x"}},
}


def admin_routes(client: TestClient[Any, Any]) -> list[tuple[str, str]]:
    """Every (method, path) the router serves under the admin prefix; deletes last."""
    routes = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(ADMIN_PREFIX + "/")
        and route.method != "HEAD"
    }
    return sorted(routes, key=lambda r: (r[0] == "DELETE", r[1], r[0]))


async def status_of(
    client: TestClient[Any, Any], method: str, path: str, headers: dict[str, str]
) -> tuple[int, Any]:
    """Call a route with `headers`; return the status and the response headers.

    The body is read unless it is an endless event stream.
    """
    body = BODIES.get((method, path))
    url = path.replace("{id}", "1")
    async with client.request(method, url, json=body, headers=headers) as resp:
        if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
            await resp.read()
        return resp.status, resp.headers


class TestAuthorizationMatrix:
    async def test_every_route_by_credential(
        self,
        client: TestClient[Any, Any],
        tokens: Tokens,
        seed_notification: SeedNotification,
        seed_alert: SeedAlert,
    ) -> None:
        """No or revoked credentials 401, ingest 403, read 403 on writes, admin succeeds."""
        for _ in range(2):
            await seed_notification()
        await seed_alert()
        routes = admin_routes(client)
        assert len(routes) >= 19
        for method, path in routes:
            writes = method != "GET"
            status, headers = await status_of(client, method, path, {})
            assert status == 401, (method, path)
            assert headers["WWW-Authenticate"].startswith('Bearer realm="admin"')
            status, headers = await status_of(client, method, path, bearer(tokens["revoked"]))
            assert status == 401, (method, path)
            assert 'error="invalid_token"' in headers["WWW-Authenticate"]
            status, _ = await status_of(client, method, path, bearer(tokens["ingest"]))
            assert status == 403, (method, path)
            status, headers = await status_of(client, method, path, bearer(tokens["read"]))
            assert status == (403 if writes else 200), (method, path)
            if writes:
                assert 'scope="admin"' in headers["WWW-Authenticate"]
            status, _ = await status_of(client, method, path, bearer(tokens["admin"]))
            assert 200 <= status < 300, (method, path, status)


class TestCredentials:
    async def test_malformed_authorization_is_401(
        self, client: TestClient[Any, Any], tokens: Tokens
    ) -> None:
        """Other schemes, empty or unknown tokens are 401; the scheme's case does not matter."""
        path = N + "/unread-count"
        for header in (
            "Basic YWRtaW46YWRtaW4=",
            "Bearer",
            "Bearer    ",
            "Bearer gw_not-a-real-token",
            "Bearer not-even-prefixed",
            tokens["admin"],
        ):
            resp = await client.get(path, headers={"Authorization": header})
            assert resp.status == 401, header
            assert resp.content_type == "application/problem+json"
        resp = await client.get(path, headers={"Authorization": f"bearer  {tokens['read']}"})
        assert resp.status == 200

    async def test_unknown_admin_paths_need_credentials_first(
        self, client: TestClient[Any, Any], tokens: Tokens
    ) -> None:
        """An unknown admin path is 401 without a token and 404 (or 405) with one."""
        assert (await client.get(ADMIN_PREFIX + "/secret")).status == 401
        assert (await client.get(ADMIN_PREFIX)).status == 401
        resp = await client.get(ADMIN_PREFIX + "/secret", headers=bearer(tokens["read"]))
        assert resp.status == 404 and resp.content_type == "application/problem+json"
        resp = await client.patch(N, headers=bearer(tokens["admin"]))
        assert resp.status == 405

    async def test_documentation_is_public(self, client: TestClient[Any, Any]) -> None:
        """The OpenAPI document, the docs page and its stylesheet need no token."""
        for path in ("/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs.css"):
            assert (await client.get(path)).status == 200, path

    async def test_use_is_recorded_on_the_token(
        self,
        client: TestClient[Any, Any],
        tokens: Tokens,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        """A successful call stamps the token's last_used_at."""
        assert (await client.get(N, headers=bearer(tokens["read"]))).status == 200
        async with sessions() as db:
            token = await db.scalar(select(ApiToken).where(ApiToken.name == "test-read"))
        assert token is not None and token.last_used_at is not None
