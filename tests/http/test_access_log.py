"""The access log middleware on a bare app: one line per request, and nothing secret in it."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from gateway.http.access_log import setup_access_log
from gateway.http.errors import setup_errors
from gateway.http.problem import problem
from gateway.http.request_id import HEADER, setup_request_id


async def ok(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True})


async def refused(request: web.Request) -> web.Response:
    raise problem(403, "no")


async def broken(request: web.Request) -> web.Response:
    raise RuntimeError("boom")


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient[Any, Any]:
    app = web.Application()
    setup_request_id(app)
    setup_access_log(app)
    setup_errors(app)
    app.router.add_route("*", "/things", ok)
    app.router.add_get("/healthz", ok)
    app.router.add_get("/refused", refused)
    app.router.add_get("/broken", broken)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def logged(
    client: TestClient[Any, Any], method: str, path: str, **kw: Any
) -> MutableMapping[str, Any]:
    """Send one request and return the single access log entry it produced."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as entries:
        resp = await client.request(method, path, **kw)
        await resp.read()
    [entry] = [e for e in entries if e["event"] == "request"]
    entry["response_request_id"] = resp.headers[HEADER]
    return entry


class TestAccessLog:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/things", 200),
            ("POST", "/things", 200),
            ("GET", "/refused", 403),
            ("GET", "/broken", 500),
            ("GET", "/no-such-page", 404),
            ("DELETE", "/refused", 405),
        ],
    )
    async def test_one_line_per_request(
        self, client: TestClient[Any, Any], method: str, path: str, status: int
    ) -> None:
        """Each request logs its method, path, final status, duration and request id."""
        entry = await logged(client, method, path)
        assert entry["log_level"] == "info"
        assert (entry["method"], entry["path"], entry["status"]) == (method, path, status)
        assert entry["duration_ms"] >= 0
        assert entry["request_id"] == entry["response_request_id"]

    async def test_caller_request_id_is_kept(self, client: TestClient[Any, Any]) -> None:
        """A safe X-Request-ID from the caller is the id the line carries."""
        entry = await logged(client, "GET", "/things", headers={HEADER: "trace-42"})
        assert entry["request_id"] == "trace-42"

    async def test_probes_log_at_debug(self, client: TestClient[Any, Any]) -> None:
        """Health probes and scrapes do not fill the log at info level."""
        entry = await logged(client, "GET", "/healthz")
        assert entry["log_level"] == "debug"

    @pytest.mark.parametrize(
        ("path", "kw"),
        [
            ("/things?token=gw_query_secret", {}),
            ("/things", {"headers": {"Authorization": "Bearer gw_header_secret"}}),
            ("/things", {"headers": {"Cookie": "session=cookie_secret"}}),
            ("/things", {"data": b"password=body_secret"}),
        ],
        ids=["query", "authorization", "cookie", "body"],
    )
    async def test_never_logs_query_headers_or_body(
        self, client: TestClient[Any, Any], path: str, kw: dict[str, Any]
    ) -> None:
        """Query strings, headers and bodies stay out of the line: only the path is logged."""
        entry = await logged(client, "POST", path, **kw)
        assert entry["path"] == "/things"
        assert "secret" not in repr(entry)
