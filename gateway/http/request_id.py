"""A request id on every response and on every log line written while handling it."""

from __future__ import annotations

import re
from secrets import token_hex

from aiohttp import web
from aiohttp.typedefs import Handler
from structlog.contextvars import bind_contextvars, reset_contextvars

HEADER = "X-Request-ID"
# A caller-supplied id is kept only when it cannot smuggle anything into logs or headers.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    supplied = request.headers.get(HEADER)
    request_id = supplied if supplied is not None and _SAFE_ID.fullmatch(supplied) else token_hex(8)
    # Bind and reset by token: `bound_contextvars` reads the whole context twice per request.
    tokens = bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[HEADER] = request_id
        raise
    finally:
        reset_contextvars(**tokens)
    response.headers[HEADER] = request_id
    return response


def setup_request_id(app: web.Application) -> None:
    app.middlewares.append(request_id_middleware)
