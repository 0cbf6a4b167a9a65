"""Load shedding: beyond the ingestion slots, requests answer 503 at once instead of queueing."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import make_url

from gateway import keys
from gateway.ingest import handlers
from gateway.ingest.limits import IngestLimits
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
        slots = client.app[keys.INGEST_ADMISSION]
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
        slots = client.app[keys.INGEST_ADMISSION]
        await slots.acquire()
        shed = await client.post(LOGS, data=LINE, headers=NDJSON)
        slots.release()
        served = await client.post(LOGS, data=LINE, headers=NDJSON)
        assert (shed.status, served.status) == (503, 200)
        assert (await served.json())["notifications"] == 1
        registry = client.app[keys.METRICS].registry
        assert registry.get_sample_value("gateway_ingest_load_shed_total") == 1
        assert registry.get_sample_value("gateway_ingest_batches_in_progress") == 0


class TestAdmissionBudgets:
    async def test_a_body_that_does_not_fit_the_byte_budget_is_shed(self, make_client: Any) -> None:
        """The byte budget decides: a larger body is shed while a smaller one still fits."""
        client = await make_client(ingest_buffer_bytes=1_000, ingest_queue_timeout=0)
        admission = client.app[keys.INGEST_ADMISSION]
        await admission.acquire(1_000 - len(LINE) + 1)  # one byte short of room for LINE
        try:
            shed = await client.post(LOGS, data=LINE, headers=NDJSON)
            small = orjson.dumps({"event": "store.issue", "store_id": 2, "store_name": "B"})
            assert len(small) < len(LINE)
            served = await client.post(LOGS, data=small, headers=NDJSON)
        finally:
            admission.release(1_000 - len(LINE) + 1)
        assert (shed.status, served.status) == (503, 200)
        assert shed.headers["Retry-After"].isdigit()
        assert (admission.batches, admission.bytes) == (0, 0)

    async def test_the_byte_budget_is_reported_when_scraped(self, make_client: Any) -> None:
        client = await make_client(ingest_buffer_bytes=5_000)
        admission = client.app[keys.INGEST_ADMISSION]
        registry = client.app[keys.METRICS].registry
        await admission.acquire(1_234)
        held = registry.get_sample_value("gateway_ingest_body_bytes_in_progress")
        admission.release(1_234)
        assert held == 1_234
        assert registry.get_sample_value("gateway_ingest_body_bytes_in_progress") == 0
        assert registry.get_sample_value("gateway_ingest_body_bytes_budget") == 5_000
        scraped = await (await client.get("/metrics")).text()
        assert "gateway_ingest_body_bytes_budget 5000.0" in scraped

    async def test_a_compressed_body_counts_as_the_size_limit(self, make_client: Any) -> None:
        """What a compressed body inflates to is unknown until read: it takes max_body_bytes."""
        limits = IngestLimits(max_body_bytes=10_000)
        client = await make_client(
            limits=limits, ingest_buffer_bytes=20_000, ingest_queue_timeout=0
        )
        admission = client.app[keys.INGEST_ADMISSION]
        await admission.acquire(15_000)
        try:
            gzipped = await client.post(
                LOGS, data=gzip.compress(LINE), headers={**NDJSON, "Content-Encoding": "gzip"}
            )
            plain = await client.post(LOGS, data=LINE, headers=NDJSON)
        finally:
            admission.release(15_000)
        assert (gzipped.status, plain.status) == (503, 200)
        again = await client.post(
            LOGS, data=gzip.compress(LINE), headers={**NDJSON, "Content-Encoding": "gzip"}
        )
        assert again.status == 200

    async def test_one_line_requests_wait_together_for_a_locked_database(
        self, make_client: Any, database_url: str
    ) -> None:
        """Forty one-line requests are all admitted while the database is locked, then written
        in few transactions: the batch budget no longer caps a write group at a handful."""
        client = await make_client()
        registry = client.app[keys.METRICS].registry
        lines = [
            orjson.dumps({"event": "store.issue", "store_id": i, "store_name": f"S{i}"})
            for i in range(40)
        ]
        async with hold_write_lock(database_url):
            posts = [
                asyncio.create_task(client.post(LOGS, data=line, headers=NDJSON)) for line in lines
            ]
            async with asyncio.timeout(10):
                while registry.get_sample_value("gateway_ingest_batches_in_progress") < 40:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # let the admitted batches reach the writer's queue
        responses = await asyncio.gather(*posts)
        assert [r.status for r in responses] == [200] * 40
        assert sum([(await r.json())["notifications"] for r in responses]) == 40
        groups = registry.get_sample_value("gateway_db_write_duration_seconds_count")
        assert groups is not None and groups <= 3, groups

    async def test_a_body_that_stops_arriving_is_answered_408_and_frees_its_room(
        self, make_client: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(handlers, "BODY_READ_TIMEOUT_SECONDS", 0.2)
        client = await make_client()
        admission = client.app[keys.INGEST_ADMISSION]
        reader, writer = await asyncio.open_connection(client.host, client.port)
        try:
            writer.write(
                b"POST /api/v1/ingest/logs HTTP/1.1\r\nHost: gateway\r\n"
                b"Content-Type: application/x-ndjson\r\nContent-Length: 100\r\n\r\n"
                b'{"event": '
            )
            await writer.drain()
            async with asyncio.timeout(5):
                status_line = await reader.readline()
        finally:
            writer.close()
        assert status_line.split()[1] == b"408"
        assert (admission.batches, admission.bytes) == (0, 0)
        served = await client.post(LOGS, data=LINE, headers=NDJSON)
        assert served.status == 200


@contextlib.asynccontextmanager
async def hold_write_lock(database_url: str) -> AsyncIterator[None]:
    """Keep every writer of the notifications table waiting until the block ends."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # aiosqlite, not sqlite3: waiting for the lock must not block the gateway's own loop.
        async with aiosqlite.connect(url.database or "", timeout=10, isolation_level=None) as db:
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                await db.execute("ROLLBACK")
        return
    pg = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    transaction = pg.transaction()
    await transaction.start()
    await pg.execute("LOCK TABLE admin_notifications IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await pg.close()
