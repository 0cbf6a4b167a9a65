"""Step 1 of the pipeline: the ingestion endpoints for log lines and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError
from structlog import get_logger

from gateway import keys
from gateway.http.auth import authenticate_ingest
from gateway.http.problem import problem
from gateway.ingest.alertmanager import AlertmanagerPayloadError, alertmanager_events
from gateway.ingest.bodies import BodyDecoder, BodyTooLarge, CorruptBody, UnsupportedEncoding
from gateway.ingest.formats import UnsupportedMediaType, parse_log_body
from gateway.ingest.signatures import (
    SignatureError,
    verify_hmac_sha256,
    verify_standard_webhook,
)
from gateway.pipeline import BatchResult
from gateway.publish.metrics import INPUT_LOGS, INPUT_WEBHOOK
from gateway.writer import WriterClosed
from rules.engine import WebhookSource

log = get_logger(__name__)

LOG_CONTENT_TYPES = (
    "application/x-ndjson",
    "application/jsonl",
    "application/json",
    "text/plain",
)
# Parsing a large body takes long enough to stall other requests; hand it to a thread.
_INLINE_PARSE_LIMIT = 256 * 1024
RETRY_AFTER_SECONDS = "2"
BODY_READ_TIMEOUT_SECONDS = 30.0


async def ingest_logs(request: web.Request) -> web.Response:
    """Accept NDJSON, JSON or logfmt lines and answer once their results are committed."""
    settings = request.app[keys.SETTINGS]
    await authenticate_ingest(request, required=settings.ingest_requires_token)
    content_type = request.headers.get("Content-Type")
    if not content_type or content_type.split(";")[0].strip().lower() not in LOG_CONTENT_TYPES:
        raise problem(
            415,
            f"unsupported content type {content_type!r}; "
            f"send one of {', '.join(LOG_CONTENT_TYPES)}",
        )
    size = admitted_size(request)
    async with ingest_slot(request, size):
        body = await read_body(request)
        try:
            if len(body) > _INLINE_PARSE_LIMIT:
                parsed = await asyncio.to_thread(
                    parse_log_body, body, content_type, settings.limits
                )
            else:
                parsed = parse_log_body(body, content_type, settings.limits)
        except UnsupportedMediaType as exc:
            raise problem(415, f"unsupported content type {content_type!r}") from exc
        del body  # the events are what is kept from here on
        events = [line.event for line in parsed.events]
        metrics = request.app[keys.METRICS]
        if parsed.errors:
            metrics.rejected(e.error for e in parsed.errors)
        metrics.received(INPUT_LOGS, "logs", len(events))
        result = await run_batch(request, events, source="logs")
    payload = result.as_dict()
    payload["received"] = parsed.received
    payload["errors"] = [{"line": e.line, "error": e.error} for e in parsed.errors]
    return json_response(payload)


async def ingest_webhook(request: web.Request) -> web.Response:
    """Verify a signed webhook from a declared source and process its payload."""
    source_name = request.match_info["source"]
    ruleset = request.app[keys.RULES].current
    source = ruleset.sources.get(source_name)
    if source is None:
        if source_name in ruleset.disabled_sources:
            raise problem(404, f"webhook source {source_name!r} is not enabled")
        raise problem(404, f"unknown webhook source {source_name!r}")
    settings = request.app[keys.SETTINGS]
    if source.signature is None:
        # An unsigned source is only as safe as the listener: it needs the ingest token.
        await authenticate_ingest(request, required=settings.ingest_requires_token)
    async with ingest_slot(request, admitted_size(request)):
        body = await read_body(request)
        delivery_id = verify_signature(source, body, request)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise problem(400, f"body is not valid JSON: {exc}") from exc
        events = webhook_events(source, payload)
        # source.name comes from rules.yaml: an unknown source was refused above, unlabelled.
        request.app[keys.METRICS].received(INPUT_WEBHOOK, source.name, len(events))
        result = await run_batch(request, events, source=source.name, delivery_id=delivery_id)
    out = result.as_dict()
    out["duplicate"] = result.duplicate
    return json_response(out)


def verify_signature(source: WebhookSource, body: bytes, request: web.Request) -> str | None:
    """Check the source's signature scheme; return the delivery id where the scheme has one."""
    spec = source.signature
    if spec is None:
        return None
    try:
        if spec.scheme == "standard-webhooks":
            return verify_standard_webhook(
                spec.secret,
                body,
                request.headers,
                tolerance=spec.tolerance,
                now=datetime.now(UTC),
            )
        verify_hmac_sha256(
            spec.secret,
            body,
            request.headers.get(spec.header),
            encoding=spec.encoding,
            prefix=spec.prefix,
        )
        return None
    except SignatureError as exc:
        log.warning("webhook_signature_rejected", source=source.name, reason=str(exc))
        request.app[keys.METRICS].signature_rejections(source.name).inc()
        raise problem(401, f"webhook signature rejected: {exc}") from exc


def webhook_events(source: WebhookSource, payload: Any) -> list[dict[str, Any]]:
    """Turn a webhook payload into events for the rules."""
    if source.format == "alertmanager":
        try:
            return alertmanager_events(payload)
        except AlertmanagerPayloadError as exc:
            raise problem(422, f"not an Alertmanager webhook payload: {exc}") from exc
    items = payload if isinstance(payload, list) else [payload]
    events: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise problem(422, f"item {index} of the payload is not a JSON object")
        event = dict(item)
        if source.event_field is not None and source.event_field in item:
            event["event"] = item[source.event_field]
        events.append(event)
    return events


def admitted_size(request: web.Request) -> int:
    """Return the body bytes a request is admitted for; 413 at once if it declares too many.

    A plain body of a declared length takes that length. A compressed body, or one without
    a length, takes the decoded size limit: what it inflates to is known only once read.
    """
    limit = request.app[keys.SETTINGS].limits.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    if length is not None and request.headers.get("Content-Encoding") is None:
        return length
    return limit


async def read_body(request: web.Request) -> bytes:
    """Read the body, inflating gzip/deflate, stopping as soon as it passes the size limit.

    The read is bounded in time as well: an admitted request holds room in the ingestion
    budget, and a client that stops sending must not keep it.
    """
    limits = request.app[keys.SETTINGS].limits
    length = request.content_length
    plain = length is not None and request.headers.get("Content-Encoding") is None
    if plain and request.content.is_eof():
        # The whole body arrived with the headers, as small ones do: nothing to wait for,
        # so no timer to arm and cancel.
        return await _read_exactly(request, length or 0)
    try:
        async with asyncio.timeout(BODY_READ_TIMEOUT_SECONDS):
            if plain:
                # A plain body of a declared length within the limit: aiohttp's parser
                # delivers exactly that many bytes, so there is nothing to count or inflate.
                return await _read_exactly(request, length or 0)
            decoder = BodyDecoder(request.headers.get("Content-Encoding"), limits.max_body_bytes)
            async for chunk in request.content.iter_chunked(64 * 1024):
                decoder.feed(chunk)
            return decoder.finish()
    except TimeoutError as exc:
        raise problem(
            408, f"the body did not arrive within {BODY_READ_TIMEOUT_SECONDS:g} seconds"
        ) from exc
    except BodyTooLarge as exc:
        raise _too_large(limits.max_body_bytes) from exc
    except UnsupportedEncoding as exc:
        raise problem(415, f"unsupported content encoding: {exc}") from exc
    except CorruptBody as exc:
        raise problem(400, f"body could not be decoded: {exc}") from exc


async def _read_exactly(request: web.Request, length: int) -> bytes:
    try:
        return await request.content.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise problem(400, "the body ended before its Content-Length") from exc


def _too_large(limit: int) -> web.HTTPException:
    return problem(413, f"body is larger than {limit} bytes (counted after decompression)")


@contextlib.asynccontextmanager
async def ingest_slot(request: web.Request, size: int) -> AsyncIterator[None]:
    """Wait briefly for room for a batch of `size` body bytes; shed load with 503 rather than
    queue without bound (gateway.ingest.admission)."""
    admission = request.app[keys.INGEST_ADMISSION]
    metrics = request.app[keys.METRICS]
    # A free slot is taken without waiting: no timer to arm and cancel per request.
    if not admission.try_acquire(size):
        timeout = request.app[keys.SETTINGS].ingest_queue_timeout
        try:
            if timeout <= 0:
                raise TimeoutError("no room for this batch")
            async with asyncio.timeout(timeout):
                await admission.acquire(size)
        except TimeoutError as exc:
            metrics.load_shed.inc()
            raise problem(
                503,
                "ingestion is at capacity; retry later",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            ) from exc
    metrics.batches_in_progress.inc()
    try:
        yield
    finally:
        metrics.batches_in_progress.dec()
        admission.release(size)


async def run_batch(
    request: web.Request,
    events: list[dict[str, Any]],
    *,
    source: str,
    delivery_id: str | None = None,
) -> BatchResult:
    """Run the pipeline; a database failure becomes 503 with nothing half-written."""
    pipeline = request.app[keys.PIPELINE]
    try:
        return await pipeline.process(events, source=source, delivery_id=delivery_id)
    except (OperationalError, DBAPIError, OSError, WriterClosed) as exc:
        log.error("ingest_store_failed", source=source, error=str(exc).splitlines()[0])
        raise problem(
            503,
            "the database is unavailable; nothing from this request was stored",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from exc


def json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def add_ingest_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/ingest/logs", ingest_logs)
    app.router.add_post("/api/v1/ingest/webhooks/{source}", ingest_webhook)
