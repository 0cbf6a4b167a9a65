"""`GET /metrics` in Prometheus text format, and the timing of every ingestion request.

The registry served is the application's own (`keys.METRICS`). With a metrics token set, the
scrape must carry it as a bearer token; without one the endpoint is open, like a Prometheus
exporter on a private port.
"""

from __future__ import annotations

import asyncio
import hmac
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.aiohttp import make_aiohttp_handler

from gateway import keys
from gateway.http.auth import bearer_token
from gateway.http.problem import problem

INGEST_PREFIX = "/api/v1/ingest/"


@web.middleware
async def ingest_timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if resource is None or not resource.canonical.startswith(INGEST_PREFIX):
        return await handler(request)
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
        status = 0  # nobody got an answer: nothing to time
        raise
    finally:
        if status:
            # The route's pattern, not the path: a webhook source name never becomes a label.
            request.app[keys.METRICS].ingest_request_duration(
                resource.canonical, f"{status // 100}xx"
            ).observe(time.perf_counter() - started)


def setup_request_metrics(app: web.Application) -> None:
    # Add it before the error middleware, so it sees the status an exception turned into.
    app.middlewares.append(ingest_timing_middleware)


def add_metrics_route(app: web.Application) -> None:
    """Serve the app's registry at /metrics, behind the metrics token when one is set."""
    expose = make_aiohttp_handler(app[keys.METRICS].registry)

    async def metrics(request: web.Request) -> web.StreamResponse:
        expected = request.app[keys.SETTINGS].metrics_token
        if expected is not None:
            supplied = bearer_token(request) or ""
            if not hmac.compare_digest(supplied.encode(), expected.get_secret_value().encode()):
                raise problem(
                    401,
                    "a metrics token is required: Authorization: Bearer <token>",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return await expose(request)

    app.router.add_get("/metrics", metrics)
