"""`GET /metrics` in Prometheus text format, and the timing of every ingestion request.

The registry served is the application's own (`keys.METRICS`). With a metrics token set, the
scrape must carry it as a bearer token; without one the endpoint is open, like a Prometheus
exporter on a private port.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from gateway import keys
from gateway.http.auth import bearer_token
from gateway.http.problem import problem

INGEST_PREFIX = "/api/v1/ingest/"


def observe_ingest_request(request: web.Request, status: int, seconds: float) -> None:
    """Time an answered request into the histogram when it went to an ingestion route.

    Called by the request middleware (`gateway.http.access_log`) with the final status, that
    of the problem response an exception became.
    """
    resource = request.match_info.route.resource
    if resource is None:
        return
    canonical = resource.canonical
    if canonical.startswith(INGEST_PREFIX):
        # The route's pattern, not the path: a webhook source name never becomes a label.
        request.app[keys.METRICS].ingest_request_duration(canonical, f"{status // 100}xx").observe(
            seconds
        )


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
