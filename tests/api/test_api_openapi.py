"""The OpenAPI document and the docs page: complete, and true to what the API answers."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from gateway import keys
from gateway.http.auth import ADMIN_PREFIX
from tests.api.conftest import Api, SeedAlert, SeedNotification

N = "/api/v1/admin/notifications"


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def served(client: TestClient[Any, Any]) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def check(doc: dict[str, Any], method: str, path: str, status: int, body: Any, ctype: str) -> None:
    """Validate a response against the schema the document gives for it."""
    operation = doc["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    media = ctype.split(";")[0]
    if body is None:
        assert "content" not in response, (method, path, status)
        return
    schema = response["content"][media]["schema"]
    jsonschema.validate(
        body,
        {**schema, "components": doc["components"]},
        cls=jsonschema.Draft202012Validator,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


# The document and the page do not depend on the database: one backend is enough for them.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestDocumentCoverage:
    async def test_every_admin_route_is_documented_and_vice_versa(
        self, client: TestClient[Any, Any]
    ) -> None:
        """The admin routes the router serves are exactly those the document lists."""
        doc = client.app[keys.OPENAPI]
        router = served(client)
        admin = {(m, p) for m, p in router if p.startswith(ADMIN_PREFIX + "/")}
        assert {(m, p) for m, p in documented(doc) if p.startswith(ADMIN_PREFIX)} == admin
        assert documented(doc) <= router
        assert ("GET", "/api/v1/openapi.json") in documented(doc)

    async def test_operations_declare_security_and_errors(self, api: Api) -> None:
        """Protected operations need the bearer scheme and document 401/403; ids document 404."""
        status, doc, _ = await api.get("/api/v1/openapi.json")
        assert status == 200
        assert doc["openapi"] == "3.1.0"
        assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if path.startswith(ADMIN_PREFIX):
                    assert op["security"] == [{"bearer": []}, {"session": []}], (method, path)
                    assert {"401", "403"} <= set(op["responses"])
                    assert op["x-scope"] == ("read" if method == "get" else "admin")
                else:
                    assert op["security"] == []
                if "{id}" in path:
                    assert "404" in op["responses"]
                    [param] = [p for p in op["parameters"] if p["in"] == "path"]
                    assert param["schema"]["type"] == "integer"
                for status_code, response in op["responses"].items():
                    if int(status_code) >= 400:
                        assert "application/problem+json" in response["content"]
        assert "409" in doc["paths"][N + "/alerts/{id}/resolve"]["put"]["responses"]
        params = {p["name"]: p for p in doc["paths"][N]["get"]["parameters"]}
        assert set(params) == {
            "priority", "type", "is_read", "since", "until", "q", "store_id", "limit",
            "offset", "cursor",
        }  # fmt: skip
        assert params["priority"]["schema"]["type"] == "array" and params["priority"]["explode"]
        assert params["limit"]["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 200,
            "default": 50,
        }
        for schema in doc["components"]["schemas"].values():
            jsonschema.Draft202012Validator.check_schema(schema)


class TestResponsesMatchTheDocument:
    async def test_sample_responses_validate(
        self, api: Api, seed_notification: SeedNotification, seed_alert: SeedAlert
    ) -> None:
        """Successes and problems of every kind validate against their documented schemas."""
        doc = api.client.app[keys.OPENAPI]
        await seed_notification(metadata={"store_id": 5})
        await seed_alert(stores=("5",))
        samples: list[tuple[str, str, str, Any]] = [
            ("GET", N, N, None),
            ("GET", N + "?limit=1", N, None),
            ("POST", N, N, {"type": "system_info", "title": "t", "message": "m"}),
            ("POST", N, N, {"type": "nope"}),
            ("GET", N + "?limit=0", N, None),
            ("GET", N + "/recent", N + "/recent", None),
            ("GET", N + "/unread-count", N + "/unread-count", None),
            ("GET", N + "/1", N + "/{id}", None),
            ("GET", N + "/999", N + "/{id}", None),
            ("PUT", N + "/1/read", N + "/{id}/read", None),
            ("PUT", N + "/1/unread", N + "/{id}/unread", None),
            ("PUT", N + "/read", N + "/read", {"ids": [1]}),
            ("PUT", N + "/mark-all-read", N + "/mark-all-read", {}),
            ("GET", N + "/alerts", N + "/alerts", None),
            ("POST", N + "/alerts", N + "/alerts", {"alert_type": "system", "severity": "info",
                                                   "title": "t", "fingerprint": "f"}),
            ("POST", N + "/alerts", N + "/alerts", {"alert_type": "system", "severity": "info",
                                                   "title": "t", "fingerprint": "f"}),
            ("GET", N + "/alerts/1", N + "/alerts/{id}", None),
            ("PUT", N + "/alerts/1/resolve", N + "/alerts/{id}/resolve", {}),
            ("PUT", N + "/alerts/1/resolve", N + "/alerts/{id}/resolve", {}),
            ("GET", N + "/alerts/stats", N + "/alerts/stats", None),
            ("GET", "/api/v1/admin/rules", "/api/v1/admin/rules", None),
            ("POST", "/api/v1/admin/rules/test", "/api/v1/admin/rules/test", {"event": {}}),
            ("POST", "/api/v1/admin/rules/reload", "/api/v1/admin/rules/reload", None),
            ("DELETE", N + "/1", N + "/{id}", None),
        ]  # fmt: skip
        statuses = set()
        for method, url, path, body in samples:
            status, payload, headers = await api.call(method, url, json=body)
            check(doc, method, path, status, payload, headers.get("Content-Type", ""))
            statuses.add(status)
        assert statuses == {200, 201, 204, 400, 404, 409, 422}
        async with api.client.get(N) as resp:
            assert resp.status == 401
            check(doc, "GET", N, 401, await resp.json(content_type=None), resp.content_type)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestDocsPage:
    async def test_lists_every_endpoint_and_schema(self, client: TestClient[Any, Any]) -> None:
        """The page names each path and schema, escapes text, and needs no script."""
        doc = client.app[keys.OPENAPI]
        resp = await client.get("/api/v1/docs")
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        html = await resp.text()
        for path in doc["paths"]:
            assert f"<code>{path}</code>" in html, path
        for name in doc["components"]["schemas"]:
            assert f'id="schema-{name}"' in html, name
        assert "Bearer &lt;token&gt;" in html and "<token>" not in html
        assert "<script" not in html and "style=" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)
        css = await client.get("/api/v1/docs.css")
        assert css.status == 200 and css.content_type == "text/css"
