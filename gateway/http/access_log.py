"""The request middleware: request id, one access log line and ingestion timing per request.

These three used to be separate middlewares; each layer cost a coroutine frame and aiohttp's
wrapper on every request, which showed on the one-line-per-request ingestion path.

The request id (see `gateway.http.request_id`) is bound to the log context for the whole
request and echoed in the `X-Request-ID` response header. The access line logs only the path:
never the query string, headers (Authorization among them) or bodies, which may carry tokens
or customer data. Probes and scrapes are logged at debug level so they do not drown the rest.
Ingestion requests are timed into `gateway_ingest_request_duration_seconds`.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from aiohttp import web
from aiohttp.typedefs import Handler
from structlog import get_logger
from structlog.contextvars import bind_contextvars, reset_contextvars

from gateway.http.metrics import observe_ingest_request
from gateway.http.request_id import HEADER, request_id_for

log = get_logger("gateway.access")

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
CLIENT_GONE = 499
"""The status logged when the client went away before the answer."""


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_for(request.headers.get(HEADER))
    # Bind and reset by token: `bound_contextvars` reads the whole context twice per request.
    tokens = bind_contextvars(request_id=request_id)
    started = perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[HEADER] = request_id
        raise
    except asyncio.CancelledError:
        status = CLIENT_GONE
        raise
    finally:
        elapsed = perf_counter() - started
        path = request.path
        write = log.debug if path in QUIET_PATHS else log.info
        write(
            "request",
            method=request.method,
            path=path,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )
        # Nobody got an answer to a cancelled request: nothing to time.
        if status != CLIENT_GONE:
            observe_ingest_request(request, status, elapsed)
        reset_contextvars(**tokens)
    response.headers[HEADER] = request_id
    return response


def setup_access_log(app: web.Application) -> None:
    # Add it first (outermost), before the error middleware, so it sees the status of the
    # problem response an exception became and problem bodies carry the request id.
    if request_middleware not in app.middlewares:
        app.middlewares.append(request_middleware)
