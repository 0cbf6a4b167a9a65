"""`create_app(settings)`: the application factory; every resource opens and closes in pairs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from structlog import get_logger

from dashboard import setup_dashboard
from gateway import keys
from gateway.api.routes import add_api_routes
from gateway.first_admin import first_admin_ctx
from gateway.health import add_health_routes
from gateway.http.access_log import setup_access_log
from gateway.http.auth import setup_auth
from gateway.http.errors import setup_errors
from gateway.http.headers import setup_headers
from gateway.http.metrics import add_metrics_route
from gateway.http.sessions import setup_sessions
from gateway.ingest.admission import Admission
from gateway.ingest.handlers import add_ingest_routes
from gateway.live_rules import LiveRules
from gateway.pipeline import Pipeline
from gateway.publish.hub import Hub
from gateway.publish.metrics import Metrics
from gateway.publish.sse import add_stream_routes
from gateway.publish.unread import UnreadAnnouncer
from gateway.self_monitor import SelfMonitor, SelfMonitorSettings
from gateway.settings import Settings
from gateway.storage.engine import create_engine, is_postgres, session_factory
from gateway.storage.migrate import ensure_schema

log = get_logger(__name__)

# Runner options for every listener. Bodies are inflated by the ingestion handlers themselves,
# which count decompressed bytes as they go and stop a gzip bomb early.
SERVER_KWARGS: dict[str, Any] = {"auto_decompress": False}


class StartupError(Exception):
    """The gateway cannot start; the message says why and what fixes it."""


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine, migrate=settings.migrate)
        app[keys.ENGINE] = engine
        app[keys.SESSIONS] = session_factory(engine)
        yield
    finally:
        await engine.dispose()


async def rules_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    live = LiveRules(settings.config_path)
    live.on_load(app[keys.METRICS].rules_loaded)
    status = await live.load()
    if not status.ok:
        raise StartupError(f"cannot load rules:\n{status.error}")
    app[keys.RULES] = live
    watcher = None
    if settings.reload_interval > 0:
        watcher = asyncio.create_task(_watch(live, settings.reload_interval))
    yield
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _watch(live: LiveRules, interval: float) -> None:
    async for _status in live.watch(interval):
        pass  # LiveRules logs each outcome and reports it to its listeners (metrics)


async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = Hub()
    app[keys.HUB] = hub
    app[keys.PIPELINE] = Pipeline(
        app[keys.SESSIONS],
        app[keys.RULES],
        hub,
        metrics=app[keys.METRICS],
        write_timeout=app[keys.SETTINGS].db_write_timeout,
    )
    settings = app[keys.SETTINGS]
    admission = Admission(settings.ingest_concurrency, settings.ingest_buffer_bytes)
    app[keys.INGEST_ADMISSION] = admission
    app[keys.METRICS].bytes_in_progress.set_function(lambda: admission.bytes)
    app[keys.METRICS].bytes_budget.set(admission.max_bytes)
    app[keys.RULE_STATS] = app[keys.PIPELINE].rule_stats
    announcer = UnreadAnnouncer(app[keys.SESSIONS], hub)
    yield
    await app[keys.PIPELINE].close()
    await announcer.close()


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Point the metrics read at scrape time at the started hub, rules and pipeline."""
    metrics, hub, live = app[keys.METRICS], app[keys.HUB], app[keys.RULES]
    stats = app[keys.PIPELINE].rule_stats
    metrics.watch_sse_clients(lambda: hub.subscriber_count)
    metrics.watch_rule_matches(
        lambda: ((rule.name, stats.get(rule.name).count) for rule in live.current.rules)
    )
    yield


async def relay_ctx(app: web.Application) -> AsyncIterator[None]:
    """Relay live changes between processes when they share a PostgreSQL database."""
    if not is_postgres(app[keys.ENGINE]):
        yield
        return
    # Imported here: asyncpg and the relay cost about 3 MB that a SQLite gateway never uses.
    from gateway.publish.pg_relay import PgRelay

    relay = PgRelay(app[keys.SETTINGS].database_url, app[keys.HUB])
    await relay.start()
    yield
    await relay.stop()


async def self_monitor_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the self-monitoring job while the app runs; `self_check_interval` 0 turns it off."""
    settings = app[keys.SETTINGS]
    if settings.self_check_interval <= 0:
        yield
        return
    monitor = SelfMonitor(
        app[keys.ENGINE],
        app[keys.SESSIONS],
        app[keys.RULES],
        app[keys.HUB],
        app[keys.METRICS],
        SelfMonitorSettings(
            interval=settings.self_check_interval,
            db_outage_alert_after=settings.db_outage_alert_after,
            shedding_quiet_period=settings.shedding_quiet_period,
        ),
        ingest_concurrency=settings.ingest_concurrency,
    )
    app[keys.SELF_MONITOR] = monitor
    monitor.start()
    yield
    await monitor.stop()


async def close_streams(app: web.Application) -> None:
    # Runs before in-flight requests are awaited, so live streams end instead of holding
    # shutdown for the whole grace period.
    app[keys.HUB].close()


def create_app(settings: Settings) -> web.Application:
    """Build the gateway: admin side, and ingestion unless it has a listener of its own."""
    app = web.Application(client_max_size=settings.limits.max_body_bytes)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics(CollectorRegistry())
    # Order matters: the request middleware (request id, access log, timing) wraps error
    # handling, so problem bodies carry the id and the log and timing see the final status.
    setup_access_log(app)
    setup_errors(app)
    setup_headers(app)
    # Inside error handling: a failed token lookup becomes a problem response too.
    setup_auth(app)
    setup_sessions(app)
    # Opened in this order, closed in reverse: rules need nothing, the pipeline needs both.
    app.cleanup_ctx.extend([database_ctx, rules_ctx, pipeline_ctx, metrics_ctx, relay_ctx])
    # After everything it watches, so it stops first and its last writes find the pool open.
    app.cleanup_ctx.append(self_monitor_ctx)
    # Last, so the first admin's password is printed once everything else has started.
    app.cleanup_ctx.append(first_admin_ctx)
    app.on_shutdown.append(close_streams)
    add_health_routes(app)
    add_metrics_route(app)
    add_stream_routes(app)
    add_api_routes(app)
    setup_dashboard(app)
    if not settings.separate_ingest_listener:
        add_ingest_routes(app)
    return app


def create_ingest_app(main: web.Application) -> web.Application:
    """Build the separate ingestion listener; it shares the main app's started resources."""
    settings = main[keys.SETTINGS]
    app = web.Application(client_max_size=settings.limits.max_body_bytes)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = main[keys.METRICS]
    setup_access_log(app)
    setup_errors(app)
    setup_headers(app)

    async def share(ingest: web.Application) -> None:
        ingest[keys.ENGINE] = main[keys.ENGINE]
        ingest[keys.SESSIONS] = main[keys.SESSIONS]
        ingest[keys.RULES] = main[keys.RULES]
        ingest[keys.HUB] = main[keys.HUB]
        ingest[keys.PIPELINE] = main[keys.PIPELINE]
        ingest[keys.INGEST_ADMISSION] = main[keys.INGEST_ADMISSION]

    app.on_startup.append(share)
    add_health_routes(app)
    add_ingest_routes(app)
    return app
