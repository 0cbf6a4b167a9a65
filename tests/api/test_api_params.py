"""The pure parts of the admin API: cursors, request models, operations and permissions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiohttp import web
from pydantic import ValidationError

from gateway.api.operations import Operation, Reply
from gateway.api.params import decode_cursor, encode_cursor, field_errors
from gateway.api.schemas import AlertCreate, MarkAllRead, NotificationCreate, Resolve
from gateway.http.auth import Principal

AT = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


class TestCursors:
    def test_round_trip_keeps_microseconds_and_id(self) -> None:
        """A cursor decodes to the exact timestamp and id it was made from, in UTC."""
        cursor = encode_cursor("notification", AT.astimezone(timezone(timedelta(hours=2))), 42)
        assert "=" not in cursor and "/" not in cursor
        assert decode_cursor("notification", cursor) == (AT, 42)

    def test_cursors_are_bound_to_their_list(self) -> None:
        """An alert cursor is refused by the notification list, and vice versa."""
        with pytest.raises(web.HTTPException) as caught:
            decode_cursor("notification", encode_cursor("alert", AT, 1))
        assert caught.value.status == 400

    @pytest.mark.parametrize(
        "cursor",
        [
            "",
            "!!!",
            "bm90IGpzb24",  # "not json"
            "WyJuIl0",  # ["n"]
            "WyJuIiwieWVzdGVyZGF5IiwxXQ",  # ["n","yesterday",1]
            "WyJuIiwiMjAyNC0wNi0wMVQxMjowMDowMCIsMV0",  # naive timestamp
            "WyJuIiwiMjAyNC0wNi0wMVQxMjowMDowMCswMDowMCIsMF0",  # id 0
            "WyJuIiwiMjAyNC0wNi0wMVQxMjowMDowMCswMDowMCIsIjEiXQ",  # id "1"
            "WyJuIiwiOTk5OS0xMi0zMVQyMzowMDowMC0xNDowMCIsMV0",  # beyond year 9999 in UTC
        ],
    )
    def test_malformed_cursors_are_400(self, cursor: str) -> None:
        """Anything but a cursor this API made is a 400 naming the cursor field."""
        with pytest.raises(web.HTTPException) as caught:
            decode_cursor("notification", cursor)
        assert caught.value.status == 400
        assert '"field":"cursor"' in (caught.value.text or "")


class TestRequestModels:
    def test_bodies_are_strict_json(self) -> None:
        """Strings are not coerced to booleans or numbers, and unknown fields are errors."""
        with pytest.raises(ValidationError) as caught:
            NotificationCreate.model_validate_json(
                '{"type": "store_issue", "title": "t", "message": "m", '
                '"action_required": "true", "extra": 1}'
            )
        errors = field_errors(caught.value, NotificationCreate)
        assert [e["field"] for e in errors] == ["action_required", "extra"]
        assert errors[1]["message"].startswith("unknown field; allowed: type, priority")

    def test_text_is_stripped_and_urls_checked(self) -> None:
        """Titles are stripped; only site paths and http(s) links are kept as action URLs."""
        made = NotificationCreate.model_validate_json(
            '{"type": "store_issue", "title": "  t  ", "message": "m", '
            '"action_url": " /admin/stores/5 "}'
        )
        assert (made.title, made.action_url) == ("t", "/admin/stores/5")
        for url in ("javascript:alert(1)", "//evil.test", "/\\evil.test", "ftp://x", "data:,"):
            body = {"type": "store_issue", "title": "t", "message": "m", "action_url": url}
            with pytest.raises(ValidationError) as caught:
                NotificationCreate.model_validate_json(json.dumps(body))
            assert [e["loc"] for e in caught.value.errors()] == [("action_url",)], url

    def test_timestamps_need_an_offset_and_become_utc(self) -> None:
        """A timestamp without offset is refused; one with an offset is converted to UTC."""
        body = MarkAllRead.model_validate_json('{"up_to": "2024-06-01T14:00:00+02:00"}')
        assert body.up_to == datetime(2024, 6, 1, 12, tzinfo=UTC)
        assert body.up_to.tzinfo == UTC
        with pytest.raises(ValidationError):
            MarkAllRead.model_validate_json('{"up_to": "2024-06-01T14:00:00"}')

    def test_metadata_must_be_storable(self) -> None:
        """NUL characters anywhere, non-finite numbers and deep nesting are refused."""
        base = {"alert_type": "system", "severity": "info", "title": "t"}
        nested: dict[str, object] = {}
        deep = nested
        for _ in range(20):
            deep["x"] = {}
            deep = deep["x"]  # type: ignore[assignment]
        for metadata in ({"k\x00": 1}, {"k": ["a\x00"]}, {"k": float("nan")}, nested):
            with pytest.raises(ValidationError) as caught:
                AlertCreate.model_validate_json(json.dumps({**base, "metadata": metadata}))
            assert [e["loc"] for e in caught.value.errors()] == [("metadata",)]
        fine = {**base, "metadata": {"k": [1, 2.5, None, {"a": "b"}]}}
        assert AlertCreate.model_validate_json(json.dumps(fine)).metadata == fine["metadata"]

    def test_resolve_notes_are_optional(self) -> None:
        """An empty resolve body is valid; notes are bounded like messages."""
        assert Resolve.model_validate_json("{}").resolution_notes is None
        with pytest.raises(ValidationError):
            Resolve.model_validate_json(json.dumps({"resolution_notes": "x" * 10_001}))


async def _handler(request: web.Request) -> web.Response:
    return web.Response()


class TestOperations:
    def test_errors_follow_from_inputs_and_protection(self) -> None:
        """A protected write with a body and an id documents 400, 401, 403, 404 and 422."""
        op = Operation(
            "PUT",
            r"/api/v1/admin/things/{id:\d+}",
            "putThing",
            "s",
            "t",
            (Reply(200, "ok"),),
            _handler,
            body=Resolve,
        )
        assert op.openapi_path == "/api/v1/admin/things/{id}"
        assert op.path_params == ["id"]
        assert (op.protected, op.scope) == (True, "admin")
        assert list(op.error_responses()) == [400, 401, 403, 404, 422]

    def test_public_reads_have_no_scope(self) -> None:
        """A public operation needs no scope and documents no auth errors."""
        op = Operation("GET", "/api/v1/docs", "docs", "s", "t", (Reply(200, "ok"),), public=True)
        assert (op.protected, op.scope, op.error_responses()) == (False, None, {})


class TestPrincipal:
    @pytest.mark.parametrize(
        ("scope", "method", "allowed"),
        [
            ("admin", "GET", True),
            ("admin", "DELETE", True),
            ("read", "GET", True),
            ("read", "HEAD", True),
            ("read", "POST", False),
            ("read", "PUT", False),
            ("read", "DELETE", False),
            ("ingest", "GET", False),
            ("ingest", "POST", False),
        ],
    )
    def test_scope_decides_methods(self, scope: str, method: str, allowed: bool) -> None:
        """Read principals may only read; admin principals may do anything; ingest nothing."""
        assert Principal("token", "t", scope).may(method) is allowed
