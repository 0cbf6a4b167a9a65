"""GET /api/v1/admin/notifications/stream: live changes as Server-Sent Events."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.services.token_service import create_token
from gateway.storage.engine import session_factory

STREAM = "/api/v1/admin/notifications/stream"
NDJSON = {"Content-Type": "application/x-ndjson"}
ISSUE = {"event": "store.issue", "store_id": 1, "store_name": "A", "issue": "i", "message": "m"}


async def admin_headers(engine: AsyncEngine) -> dict[str, str]:
    async with session_factory(engine)() as db, db.begin():
        _, token = await create_token(db, name=f"live-{id(engine)}", scope="admin")
    return {"Authorization": f"Bearer {token}"}


async def next_event(resp: ClientResponse, timeout: float = 5.0) -> dict[str, Any]:
    """Read SSE frames until one with an event name; return its id, event and data."""
    while True:
        raw = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), timeout)
        fields: dict[str, Any] = {}
        for line in raw.decode().splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            fields["data"] = orjson.loads(fields["data"])
            return fields


async def events_until(resp: ClientResponse, kind: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        event = await next_event(resp)
        seen.append(event)
        if event["event"] == kind:
            return seen


class TestLiveStream:
    async def test_ingested_line_arrives_live(self, client: Any, engine: AsyncEngine) -> None:
        """A committed notification reaches an open stream, then the new unread count."""
        headers = await admin_headers(engine)
        async with client.get(STREAM, headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            hello = await next_event(resp)
            assert hello["event"] == "hello"
            assert hello["data"]["unread_count"] == 0
            await client.post("/api/v1/ingest/logs", data=orjson.dumps(ISSUE), headers=NDJSON)
            created = await next_event(resp)
            assert created["event"] == "notification.created"
            assert created["data"]["type"] == "store_issue"
            counted = await events_until(resp, "unread_count")
            assert counted[-1]["data"]["unread_count"] == 1
            assert counted[-1]["data"]["by_priority"]["normal"] == 1

    async def test_reconnect_replays_missed_changes(self, client: Any, engine: AsyncEngine) -> None:
        """With Last-Event-ID from this process, changes made while away are replayed."""
        headers = await admin_headers(engine)
        async with client.get(STREAM, headers=headers) as resp:
            last_id = (await next_event(resp))["id"]
        await client.post("/api/v1/ingest/logs", data=orjson.dumps(ISSUE), headers=NDJSON)
        async with client.get(STREAM, headers={**headers, "Last-Event-ID": last_id}) as resp:
            assert (await next_event(resp))["event"] == "hello"
            replayed = await next_event(resp)
            assert replayed["event"] == "notification.created"

    async def test_unknown_last_event_id_asks_for_resync(
        self, client: Any, engine: AsyncEngine
    ) -> None:
        """An id from another process (or a restart) gets a resync event."""
        headers = await admin_headers(engine)
        async with client.get(STREAM, headers={**headers, "Last-Event-ID": "elsewhere:42"}) as resp:
            assert (await next_event(resp))["event"] == "hello"
            assert (await next_event(resp))["event"] == "resync"


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
class TestAcrossProcesses:
    async def test_change_on_one_instance_reaches_the_other(
        self, make_client: Any, engine: AsyncEngine
    ) -> None:
        """An event ingested by instance B reaches a stream on instance A (LISTEN/NOTIFY)."""
        a = await make_client()
        b = await make_client()
        headers = await admin_headers(engine)
        async with a.get(STREAM, headers=headers) as resp:
            assert (await next_event(resp))["event"] == "hello"
            await b.post("/api/v1/ingest/logs", data=orjson.dumps(ISSUE), headers=NDJSON)
            created = await next_event(resp)
            assert created["event"] == "notification.created"
            counted = await events_until(resp, "unread_count")
            assert counted[-1]["data"]["unread_count"] == 1
