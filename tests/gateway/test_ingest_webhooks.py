"""POST /api/v1/ingest/webhooks/{source}: signatures, replay, Alertmanager, unknown sources."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.ingest.signatures import sign_hmac_sha256, sign_standard_webhook
from gateway.storage.engine import session_factory
from gateway.storage.models import PlatformAlert

LETZSHOP_SECRET = "letzshop-test-secret"
ALERTMANAGER_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETZSHOP_WEBHOOK_SECRET", LETZSHOP_SECRET)
    monkeypatch.setenv("ALERTMANAGER_WEBHOOK_SECRET", ALERTMANAGER_SECRET)


async def count(engine: AsyncEngine, model: Any) -> int:
    async with session_factory(engine)() as db:
        return len(list(await db.scalars(select(model))))


def letzshop_headers(body: bytes, secret: str = LETZSHOP_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Letzshop-Signature": sign_hmac_sha256(secret, body, "hex", "sha256="),
    }


API_ERROR = {
    "type": "letzshop.api_error",
    "store_id": 3,
    "store_name": "Boutique",
    "operation": "fetch_orders",
    "status_code": 502,
    "error_message": "Bad gateway",
}


class TestHmacWebhooks:
    async def test_signed_webhook_is_processed(self, client: Any, engine: AsyncEngine) -> None:
        """A correctly signed Letzshop webhook opens the store's integration alert."""
        body = orjson.dumps(API_ERROR)
        resp = await client.post(
            "/api/v1/ingest/webhooks/letzshop", data=body, headers=letzshop_headers(body)
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["alerts"] == 1
        async with session_factory(engine)() as db:
            [alert] = list(await db.scalars(select(PlatformAlert)))
        assert (alert.alert_type, alert.severity) == ("integration", "error")
        assert alert.source == "letzshop"

    @pytest.mark.parametrize(
        "headers",
        [
            {"Content-Type": "application/json"},
            {"Content-Type": "application/json", "X-Letzshop-Signature": "sha256=00"},
            {"Content-Type": "application/json", "X-Letzshop-Signature": "nonsense"},
        ],
        ids=["missing", "wrong", "malformed"],
    )
    async def test_bad_signature_is_401_and_stores_nothing(
        self, client: Any, engine: AsyncEngine, headers: dict[str, str]
    ) -> None:
        """Missing, wrong or malformed signatures are refused before anything is stored."""
        body = orjson.dumps(API_ERROR)
        resp = await client.post("/api/v1/ingest/webhooks/letzshop", data=body, headers=headers)
        assert resp.status == 401
        assert resp.content_type == "application/problem+json"
        assert await count(engine, PlatformAlert) == 0

    async def test_body_tampered_after_signing(self, client: Any, engine: AsyncEngine) -> None:
        """A signature over another body does not pass."""
        headers = letzshop_headers(orjson.dumps(API_ERROR))
        tampered = orjson.dumps({**API_ERROR, "store_id": 4})
        resp = await client.post("/api/v1/ingest/webhooks/letzshop", data=tampered, headers=headers)
        assert resp.status == 401
        assert await count(engine, PlatformAlert) == 0


class TestUnknownSources:
    async def test_unknown_source_is_404(self, client: Any) -> None:
        """A source not declared in rules.yaml is 404."""
        resp = await client.post("/api/v1/ingest/webhooks/nope", data=b"{}")
        assert resp.status == 404
        assert "nope" in (await resp.json())["detail"]

    async def test_source_without_secret_is_disabled(
        self, make_client: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A declared source whose secret is unset answers 404 'not enabled'."""
        monkeypatch.delenv("LETZSHOP_WEBHOOK_SECRET")
        client = await make_client()
        body = orjson.dumps(API_ERROR)
        resp = await client.post(
            "/api/v1/ingest/webhooks/letzshop", data=body, headers=letzshop_headers(body)
        )
        assert resp.status == 404
        assert "not enabled" in (await resp.json())["detail"]


def alertmanager_payload(status: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "gateway",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {"summary": "p99 latency above 2s"},
        "externalURL": "http://alertmanager.local:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighLatency", "severity": "critical", "job": "shop"},
                "annotations": {"summary": "p99 latency above 2s"},
                "startsAt": "2026-11-25T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": "c0ffee1234",
            }
        ],
    }


def standard_headers(body: bytes, webhook_id: str, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard_webhook(ALERTMANAGER_SECRET, body, webhook_id, ts),
    }


class TestAlertmanagerWebhooks:
    async def test_firing_then_resolved(self, client: Any, engine: AsyncEngine) -> None:
        """A firing alert opens a system alert; its resolution resolves it by fingerprint."""
        url = "/api/v1/ingest/webhooks/alertmanager"
        body = orjson.dumps(alertmanager_payload("firing"))
        resp = await client.post(url, data=body, headers=standard_headers(body, "msg_1"))
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["alerts"] == 1
        body = orjson.dumps(alertmanager_payload("resolved"))
        resp = await client.post(url, data=body, headers=standard_headers(body, "msg_2"))
        assert (await resp.json())["resolved"] == 1
        async with session_factory(engine)() as db:
            [alert] = list(await db.scalars(select(PlatformAlert)))
        assert alert.is_resolved
        assert alert.fingerprint == "alertmanager:c0ffee1234"

    async def test_replayed_webhook_id_is_not_processed_twice(
        self, client: Any, engine: AsyncEngine
    ) -> None:
        """The same webhook-id delivered twice counts one occurrence."""
        url = "/api/v1/ingest/webhooks/alertmanager"
        body = orjson.dumps(alertmanager_payload("firing"))
        headers = standard_headers(body, "msg_replay")
        first = await client.post(url, data=body, headers=headers)
        second = await client.post(url, data=body, headers=headers)
        assert (await first.json())["duplicate"] is False
        assert (await second.json())["duplicate"] is True
        async with session_factory(engine)() as db:
            [alert] = list(await db.scalars(select(PlatformAlert)))
        assert alert.occurrence_count == 1

    async def test_stale_timestamp_is_refused(self, client: Any, engine: AsyncEngine) -> None:
        """A signature with a timestamp outside the tolerance is 401."""
        body = orjson.dumps(alertmanager_payload("firing"))
        headers = standard_headers(body, "msg_old", ts=int(time.time()) - 3600)
        resp = await client.post("/api/v1/ingest/webhooks/alertmanager", data=body, headers=headers)
        assert resp.status == 401
        assert "tolerance" in (await resp.json())["detail"]
        assert await count(engine, PlatformAlert) == 0

    async def test_not_an_alertmanager_payload_is_422(self, client: Any) -> None:
        """A signed body of the wrong shape is refused with the failing field named."""
        body = orjson.dumps({"hello": "world"})
        resp = await client.post(
            "/api/v1/ingest/webhooks/alertmanager",
            data=body,
            headers=standard_headers(body, "msg_bad"),
        )
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
