"""One structured access log line per request: method, path, status and duration.

The request id comes from the request id middleware's bound context. Only the path is logged:
never the query string, headers (Authorization among them) or bodies, which may carry tokens
or customer data. Probes and scrapes are logged at debug level so they do not drown the rest.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from structlog import get_logger

log = get_logger("gateway.access")

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away before the answer
        raise
    finally:
        write = log.debug if request.path in QUIET_PATHS else log.info
        write(
            "request",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )


def setup_access_log(app: web.Application) -> None:
    # Add it after the request id middleware (so lines carry the id) and before the error
    # middleware (so it sees the status of the problem response an exception became).
    app.middlewares.append(access_log_middleware)
