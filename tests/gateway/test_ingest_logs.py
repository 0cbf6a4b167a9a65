"""POST /api/v1/ingest/logs through a real server into a real database."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.engine import session_factory
from gateway.storage.models import AdminNotification, PlatformAlert

LOGS = "/api/v1/ingest/logs"
NDJSON = {"Content-Type": "application/x-ndjson"}

IMPORT_FAILED = {
    "event": "product_import.failed",
    "level": "error",
    "store_id": 5,
    "store_name": "Acme Corp",
    "job_id": 123,
    "error_message": "CSV parsing failed: invalid column format",
}


def ndjson(*events: Any) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


async def notifications(engine: AsyncEngine) -> list[AdminNotification]:
    async with session_factory(engine)() as db:
        rows = await db.scalars(select(AdminNotification).order_by(AdminNotification.id))
        return list(rows)


async def alerts(engine: AsyncEngine) -> list[PlatformAlert]:
    async with session_factory(engine)() as db:
        rows = await db.scalars(select(PlatformAlert).order_by(PlatformAlert.id))
        return list(rows)


class TestLogIngestion:
    async def test_import_failure_line_becomes_notification(
        self, client: TestClient[Any, Any], engine: AsyncEngine
    ) -> None:
        """A product_import.failed line creates a high, action-required import_failure."""
        resp = await client.post(LOGS, data=ndjson(IMPORT_FAILED), headers=NDJSON)
        assert resp.status == 200
        body = await resp.json()
        assert body == {
            "received": 1,
            "matched": 1,
            "notifications": 1,
            "suppressed": 0,
            "alerts": 0,
            "resolved": 0,
            "errors": [],
        }
        [n] = await notifications(engine)
        assert (n.type, n.priority, n.action_required) == ("import_failure", "high", True)
        assert "Acme Corp" in n.title
        assert n.source == "logs"
        assert n.rule
        assert n.notification_metadata["store_id"] == 5
        assert n.action_url == "/admin/stores/5/imports/123"

    async def test_duplicate_delivery_notifies_once(
        self, client: TestClient[Any, Any], engine: AsyncEngine
    ) -> None:
        """The same line delivered twice (at-least-once shipping) creates one notification."""
        for _ in range(2):
            resp = await client.post(LOGS, data=ndjson(IMPORT_FAILED), headers=NDJSON)
            assert resp.status == 200
        body = await resp.json()
        assert body["suppressed"] == 1
        assert len(await notifications(engine)) == 1

    async def test_invalid_lines_reported_valid_ones_processed(
        self, client: TestClient[Any, Any], engine: AsyncEngine
    ) -> None:
        """Bad lines come back by line number while the good ones are stored."""
        body = (
            b'{"event": "store.issue", "store_id": 1, "store_name": "A", "issue": "x", '
            b'"message": "m"}\n'
            b"{not json}\n"
            b"[1, 2]\n"
            b'{"event": "order_sync.failed", "store_id": 2, "store_name": "B", '
            b'"error_message": "e"}\n'
        )
        resp = await client.post(LOGS, data=body, headers=NDJSON)
        assert resp.status == 200
        result = await resp.json()
        assert result["received"] == 4
        assert result["notifications"] == 2
        assert [e["line"] for e in result["errors"]] == [2, 3]
        assert {n.type for n in await notifications(engine)} == {
            "store_issue",
            "order_sync_failure",
        }

    async def test_unmatched_lines_store_nothing(
        self, client: TestClient[Any, Any], engine: AsyncEngine
    ) -> None:
        """Lines no rule matches are counted as received, not matched."""
        resp = await client.post(
            LOGS, data=ndjson({"event": "http.request", "path": "/"}), headers=NDJSON
        )
        assert (await resp.json())["matched"] == 0
        assert await notifications(engine) == []

    async def test_json_array_and_logfmt(
        self, client: TestClient[Any, Any], engine: AsyncEngine
    ) -> None:
        """application/json arrays and text/plain logfmt are accepted."""
        resp = await client.post(
            LOGS,
            data=orjson.dumps([IMPORT_FAILED]),
            headers={"Content-Type": "application/json"},
        )
        assert (await resp.json())["notifications"] == 1
        resp = await client.post(
            LOGS,
            data=b"event=store.issue store_id=7 "
            b'store_name="Shop Seven" issue=stock message="low stock"\n',
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        assert (await resp.json())["notifications"] == 1
        titles = [n.title for n in await notifications(engine)]
        assert any("Shop Seven" in t for t in titles)

    async def test_gzip_body(self, client: TestClient[Any, Any], engine: AsyncEngine) -> None:
        """A gzip-encoded body is inflated before parsing."""
        resp = await client.post(
            LOGS,
            data=gzip.compress(ndjson(IMPORT_FAILED)),
            headers={**NDJSON, "Content-Encoding": "gzip"},
        )
        assert resp.status == 200
        assert (await resp.json())["notifications"] == 1


class TestLogIngestionLimits:
    async def test_unsupported_content_type_is_415(self, client: TestClient[Any, Any]) -> None:
        """An unknown content type is refused with a problem document."""
        resp = await client.post(LOGS, data=b"<xml/>", headers={"Content-Type": "application/xml"})
        assert resp.status == 415
        assert resp.content_type == "application/problem+json"
        assert "application/xml" in (await resp.json())["detail"]

    async def test_oversized_body_is_413(self, make_client: Any, engine: AsyncEngine) -> None:
        """A body over the limit is refused whole; nothing is stored."""
        from gateway.ingest.limits import IngestLimits

        client = await make_client(limits=IngestLimits(max_body_bytes=1024))
        resp = await client.post(LOGS, data=ndjson(*[IMPORT_FAILED] * 50), headers=NDJSON)
        assert resp.status == 413
        assert resp.content_type == "application/problem+json"
        assert await notifications(engine) == []

    async def test_gzip_bomb_is_413(self, make_client: Any, engine: AsyncEngine) -> None:
        """A small gzip body that inflates past the limit is stopped while inflating."""
        from gateway.ingest.limits import IngestLimits

        client = await make_client(limits=IngestLimits(max_body_bytes=1024 * 1024))
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = b"0" * (1024 * 1024)
        bomb = b"".join(compressor.compress(zeros) for _ in range(64)) + compressor.flush()
        assert len(bomb) < 200_000
        resp = await client.post(LOGS, data=bomb, headers={**NDJSON, "Content-Encoding": "gzip"})
        assert resp.status == 413
        assert "after decompression" in (await resp.json())["detail"]

    async def test_problem_carries_request_id(self, client: TestClient[Any, Any]) -> None:
        """Error responses carry the request id and the security headers."""
        resp = await client.post(
            LOGS, data=b"x", headers={"Content-Type": "image/png", "X-Request-ID": "abc-123"}
        )
        assert resp.headers["X-Request-ID"] == "abc-123"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


class TestIngestTokens:
    async def test_token_required_off_loopback(self, make_client: Any, engine: AsyncEngine) -> None:
        """Bound beyond loopback, ingestion refuses a request without an ingest token."""
        client = await make_client(host="0.0.0.0")
        resp = await client.post(LOGS, data=ndjson(IMPORT_FAILED), headers=NDJSON)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert await notifications(engine) == []

    async def test_ingest_token_accepted_other_scopes_refused(
        self, make_client: Any, engine: AsyncEngine
    ) -> None:
        """An ingest token is accepted; a read token gets 403; a revoked one 401."""
        from gateway.services.token_service import create_token, revoke_token

        async with session_factory(engine)() as db, db.begin():
            _, ingest = await create_token(db, name="shipper", scope="ingest")
            _, read = await create_token(db, name="reader", scope="read")
        client = await make_client(host="0.0.0.0")
        ok = await client.post(
            LOGS,
            data=ndjson(IMPORT_FAILED),
            headers={**NDJSON, "Authorization": f"Bearer {ingest}"},
        )
        assert ok.status == 200
        wrong = await client.post(
            LOGS, data=ndjson(IMPORT_FAILED), headers={**NDJSON, "Authorization": f"Bearer {read}"}
        )
        assert wrong.status == 403
        async with session_factory(engine)() as db, db.begin():
            await revoke_token(db, "shipper")
        revoked = await client.post(
            LOGS,
            data=ndjson(IMPORT_FAILED),
            headers={**NDJSON, "Authorization": f"Bearer {ingest}"},
        )
        assert revoked.status == 401
        assert len(await notifications(engine)) == 1
