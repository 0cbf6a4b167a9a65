"""A request id on every response and on every log line written while handling it."""

from __future__ import annotations

import re
import secrets

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

HEADER = "X-Request-ID"
# A caller-supplied id is kept only when it cannot smuggle anything into logs or headers.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    supplied = request.headers.get(HEADER, "")
    request_id = supplied if _SAFE_ID.fullmatch(supplied) else secrets.token_hex(8)
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers[HEADER] = request_id
            raise
        response.headers[HEADER] = request_id
        return response


def setup_request_id(app: web.Application) -> None:
    app.middlewares.append(request_id_middleware)
