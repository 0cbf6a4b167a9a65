"""JSON replies from response models, and weak ETags for the cheap polling endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.helpers import ETAG_ANY

from gateway.api.schemas import Response

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def reply(
    model: Response, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Serialise a response model as JSON."""
    return web.Response(
        body=model.model_dump_json().encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def unread_etag(marker: tuple[int, int, datetime | None]) -> str:
    """Return the weak ETag of the unread views for (unread count, max id, max updated_at)."""
    unread, highest, updated = marker
    stamp = 0 if updated is None else (updated - _EPOCH) // _MICROSECOND
    return f'W/"u{unread}-{highest}-{stamp}"'


def not_modified(request: web.Request, etag: str) -> bool:
    """Tell whether the client's If-None-Match already names `etag` (weak comparison)."""
    candidates = request.if_none_match
    if not candidates:
        return False
    value = etag.removeprefix("W/").strip('"')
    return any(tag.value in (value, ETAG_ANY) for tag in candidates)


def cached_reply(model: Response, etag: str) -> web.Response:
    """Reply with `etag`, asking clients to revalidate before reusing the body."""
    return reply(model, headers=_cache_headers(etag))


def not_modified_reply(etag: str) -> web.Response:
    """Answer 304: the client's copy is current."""
    return web.Response(status=304, headers=_cache_headers(etag))


def _cache_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": "private, no-cache"}
