"""Relay committed changes between gateway processes sharing one PostgreSQL (LISTEN/NOTIFY).

Each process sends the changes it commits as NOTIFY payloads on one channel and fans out the
changes other processes send into its own hub, so a dashboard connected to instance A hears
about an event ingested by instance B. Sending never blocks the pipeline: changes wait in a
bounded queue; if the relay falls behind or its connection drops, listeners are told to
resynchronise rather than being fed a silent gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import make_url
from structlog import get_logger

from gateway.publish.hub import Change, Hub

log = get_logger(__name__)

CHANNEL = "gateway_changes"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7800
RESYNC = "resync"


def asyncpg_dsn(database_url: str) -> str:
    """Turn a SQLAlchemy `postgresql+asyncpg://` URL into a plain libpq DSN."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def pack(origin: str, changes: list[Change]) -> list[str]:
    """Pack changes into as few NOTIFY payloads as fit; a change too large on its own is cut
    down to its kind and id, which still tells listeners to refetch."""
    payloads: list[str] = []
    batch: list[Any] = []
    size = 0
    for change in changes:
        item: list[Any] = [change.kind, change.data]
        encoded = len(orjson.dumps(item))
        if encoded > MAX_PAYLOAD_BYTES - 64:
            item = [change.kind, {"id": change.data.get("id"), "truncated": True}]
            encoded = len(orjson.dumps(item))
        if batch and size + encoded + 1 > MAX_PAYLOAD_BYTES - 64:
            payloads.append(orjson.dumps({"o": origin, "c": batch}).decode())
            batch, size = [], 0
        batch.append(item)
        size += encoded + 1
    if batch:
        payloads.append(orjson.dumps({"o": origin, "c": batch}).decode())
    return payloads


class PgRelay:
    """Send local changes to, and receive remote changes from, the other gateway processes."""

    def __init__(self, database_url: str, hub: Hub, *, queue_size: int = 10_000) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._hub = hub
        self._outbox: asyncio.Queue[Change] = asyncio.Queue(queue_size)
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        hub.on_local_change(self._enqueue)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-relay")
        # Start-up waits briefly so that changes from the first requests are relayed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    def _enqueue(self, change: Change) -> None:
        try:
            self._outbox.put_nowait(change)
        except asyncio.QueueFull:
            log.warning("relay_outbox_full", dropped_kind=change.kind)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._connect()
                backoff = 0.5
                await self._send_forever()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("relay_disconnected", error=str(exc).splitlines()[0])
            await self._close()
            # Whatever was sent meanwhile by others is lost to us: tell listeners to refetch.
            self._hub.publish(RESYNC, {"reason": "relay reconnect"}, origin=self._hub.instance)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=10)
        await conn.add_listener(CHANNEL, self._received)
        self._conn = conn
        self.connected.set()
        log.info("relay_listening", channel=CHANNEL)

    async def _send_forever(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            first = await self._outbox.get()
            changes = [first]
            while not self._outbox.empty() and len(changes) < 500:
                changes.append(self._outbox.get_nowait())
            for payload in pack(self._hub.instance, changes):
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            origin = str(message["o"])
            items = message["c"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("relay_payload_ignored")
            return
        if origin == self._hub.instance:
            return
        for kind, data in items:
            self._hub.publish(str(kind), data if isinstance(data, dict) else {}, origin=origin)

    async def _close(self) -> None:
        self.connected.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
