"""Run the gateway until SIGTERM/SIGINT; SIGHUP reloads the rules."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable

from aiohttp import web
from structlog import get_logger

from gateway import keys
from gateway.app import SERVER_KWARGS, StartupError, create_app, create_ingest_app
from gateway.errors import SchemaOutdated
from gateway.log import setup_logging
from gateway.settings import Settings

log = get_logger(__name__)
GC_YOUNG_THRESHOLD = 20_000
"""Net new objects between collections of the youngest generation while serving."""


def run(settings: Settings) -> int:
    """Serve in a new event loop, uvloop's where it is installed; return the exit status."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(serve(settings))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    # uvloop's loop costs less per request and per socket read than asyncio's; it is a
    # dependency only where it builds (not on Windows), so its absence is no error.
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(settings: Settings) -> int:
    """Serve until asked to stop; return the process exit status."""
    setup_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    # shutdown_timeout is how long in-flight requests get to finish once listeners close.
    runner = web.AppRunner(
        app, shutdown_timeout=settings.shutdown_grace, access_log=None, **SERVER_KWARGS
    )
    try:
        await runner.setup()
    except (StartupError, SchemaOutdated) as exc:
        log.error("startup_failed", error=str(exc))
        print(f"error: {exc}")
        return 2
    runners = [runner]
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info("listening", url=f"http://{settings.host}:{settings.port}", side="admin")
        if settings.separate_ingest_listener:
            ingest_runner = web.AppRunner(
                create_ingest_app(app),
                shutdown_timeout=settings.shutdown_grace,
                access_log=None,
                **SERVER_KWARGS,
            )
            await ingest_runner.setup()
            runners.insert(0, ingest_runner)
            await web.TCPSite(
                ingest_runner, settings.ingest_bind_host, settings.ingest_port
            ).start()
            log.info(
                "listening",
                url=f"http://{settings.ingest_bind_host}:{settings.ingest_port}",
                side="ingest",
            )
        if settings.ingest_requires_token:
            log.info("ingest_tokens_required", reason="ingestion is not bound to loopback only")
        # What start-up built lives as long as the process: out of the collector's reach, it
        # is no longer walked by each full collection, which a body of a thousand parsed
        # lines can set off.
        gc.freeze()
        # A parsed 1,000-line body is tens of thousands of new objects, almost none in cycles:
        # with the default threshold (700) the collector runs dozens of times per body for
        # nothing. Parsing and matching took 10 to 40 % less CPU per line with this threshold,
        # in process on the ingestion benchmark's workload; cyclic garbage is collected after
        # 20,000 net allocations instead, a bounded delay.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
        await _wait_for_stop(app)
    finally:
        # Ingestion closes first so nothing new arrives while the admin side drains.
        for r in runners:
            await r.cleanup()
    log.info("stopped")
    return 0


async def _wait_for_stop(app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[object]] = set()

    def reload() -> None:
        task = loop.create_task(app[keys.RULES].load())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    await stop.wait()
    log.info("stopping", grace_seconds=app[keys.SETTINGS].shutdown_grace)
