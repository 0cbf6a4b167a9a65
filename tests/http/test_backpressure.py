"""Load shedding: beyond the ingestion slots, requests answer 503 at once instead of queueing."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from gateway import keys
from gateway.ingest.signatures import sign_hmac_sha256

LOGS = "/api/v1/ingest/logs"
NDJSON = {"Content-Type": "application/x-ndjson"}
LINE = orjson.dumps(
    {"event": "store.issue", "store_id": 1, "store_name": "A", "issue": "i", "message": "m"}
)
SECRET = "backpressure-secret"


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETZSHOP_WEBHOOK_SECRET", SECRET)


async def post_webhook(client: TestClient[Any, Any]) -> Any:
    body = orjson.dumps({"type": "letzshop.api_error", "store_id": 3, "store_name": "B"})
    headers = {
        "Content-Type": "application/json",
        "X-Letzshop-Signature": sign_hmac_sha256(SECRET, body, "hex", "sha256="),
    }
    return await client.post("/api/v1/ingest/webhooks/letzshop", data=body, headers=headers)


class TestLoadShedding:
    async def test_requests_beyond_capacity_get_503_with_retry_after(
        self, make_client: Any
    ) -> None:
        """With the only slot held, concurrent requests get 503, Retry-After and a problem body."""
        client = await make_client(ingest_concurrency=1, ingest_queue_timeout=0)
        slots = client.app[keys.INGEST_SLOTS]
        registry = client.app[keys.METRICS].registry
        await slots.acquire()  # the batch "in progress" that holds the only slot
        try:
            responses = await asyncio.gather(
                *(client.post(LOGS, data=LINE, headers=NDJSON) for _ in range(4)),
                post_webhook(client),
            )
            for resp in responses:
                assert resp.status == 503
                assert resp.headers["Retry-After"].isdigit()
                assert resp.content_type == "application/problem+json"
                problem = await resp.json()
                assert problem["status"] == 503
                assert "capacity" in problem["detail"]
        finally:
            slots.release()
        assert registry.get_sample_value("gateway_ingest_load_shed_total") == 5
        shed = {"endpoint": LOGS, "status_class": "5xx"}
        assert registry.get_sample_value("gateway_ingest_request_duration_seconds_count", shed) == 4
        labels = {"input": "logs", "source": "logs"}
        assert registry.get_sample_value("gateway_events_received_total", labels) is None

    async def test_slot_freed_means_requests_are_served_again(self, make_client: Any) -> None:
        """Once the slot is free again the same request is processed and nothing more is shed."""
        client = await make_client(ingest_concurrency=1, ingest_queue_timeout=0)
        slots = client.app[keys.INGEST_SLOTS]
        await slots.acquire()
        shed = await client.post(LOGS, data=LINE, headers=NDJSON)
        slots.release()
        served = await client.post(LOGS, data=LINE, headers=NDJSON)
        assert (shed.status, served.status) == (503, 200)
        assert (await served.json())["notifications"] == 1
        registry = client.app[keys.METRICS].registry
        assert registry.get_sample_value("gateway_ingest_load_shed_total") == 1
        assert registry.get_sample_value("gateway_ingest_batches_in_progress") == 0
