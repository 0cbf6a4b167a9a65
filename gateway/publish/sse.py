"""`GET /api/v1/admin/notifications/stream`: committed changes as Server-Sent Events.

Each event's id is `<instance>:<sequence>`. A client reconnecting with `Last-Event-ID` from
the same process gets the buffered changes it missed; otherwise (another process, or too far
behind) it gets a `resync` event and refetches. Every stream starts with a `hello` event
carrying the unread count, so a reconnect alone brings the badge up to date.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from gateway import keys
from gateway.publish.hub import Change, Hub, Subscription
from gateway.publish.unread import unread_snapshot

STREAM_PATH = "/api/v1/admin/notifications/stream"
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 3000


def encode(change: Change, instance: str) -> bytes:
    """Format a change as one SSE frame."""
    data = orjson.dumps(change.data)
    return b"id: %s:%d\nevent: %s\ndata: %s\n\n" % (
        instance.encode(),
        change.id,
        change.kind.encode(),
        data,
    )


def frame(kind: str, data: object, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def parse_last_event_id(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    instance, _, seq = value.partition(":")
    if not seq.isdigit():
        return None
    return instance, int(seq)


async def stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[keys.HUB]
    # Subscribe before reading the backlog, so nothing falls between the two.
    sub = hub.subscribe()
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        # Changes after this id reach the client through the queue, even those committed
        # while the snapshot below is being read.
        last_sent = hub.last_id
        async with request.app[keys.SESSIONS]() as db:
            snapshot = await unread_snapshot(db)
        await response.write(
            frame("hello", {"instance": hub.instance, **snapshot}, f"{hub.instance}:{last_sent}")
        )
        resume = parse_last_event_id(
            request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        )
        if resume is not None:
            await _replay(response, hub, resume)
        await _pump(response, hub, sub, skip_through=last_sent)
        return response
    finally:
        hub.unsubscribe(sub)


async def _replay(response: web.StreamResponse, hub: Hub, resume: tuple[str, int]) -> None:
    instance, seq = resume
    missed = hub.replay_after(seq) if instance == hub.instance else None
    if missed is None:
        await response.write(frame("resync", {"reason": "missed changes"}))
        return
    for change in missed:
        await response.write(encode(change, hub.instance))


async def _pump(
    response: web.StreamResponse, hub: Hub, sub: Subscription, *, skip_through: int
) -> None:
    while True:
        try:
            change = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        if change is None:  # the gateway is shutting down
            with contextlib.suppress(ConnectionResetError):
                await response.write(frame("bye", {"reason": "shutdown"}))
            return
        if sub.lagged:
            sub.lagged = False
            await response.write(frame("resync", {"reason": "listener fell behind"}))
        if change.id <= skip_through:
            continue
        await response.write(encode(change, hub.instance))


def add_stream_routes(app: web.Application) -> None:
    app.router.add_get(STREAM_PATH, stream)
