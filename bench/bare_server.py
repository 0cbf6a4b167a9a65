"""The floor for the HTTP benchmarks: an aiohttp server that parses NDJSON and stores nothing.

It answers `POST /api/v1/ingest/logs` the way the gateway does (200 with the batch's counts,
every line counted as one alert occurrence) after reading the body and `orjson.loads` of each
line, and `GET /healthz` with 200. Run on the same loop policy as the gateway (uvloop where
installed) and driven by the same client with the same bodies, it tells what the HTTP server
and client alone cost on this machine in this run: the gateway's events/s as a share of it is
a ratio the shared machine's noise does not move much.

    python -m bench.bare_server --port 8099

With `bench/wrk_storm.lua`, wrk drives the same one-line storm at this server and at a
gateway without a Python client's CPU cost on the same machine (see that file).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import orjson
from aiohttp import web

from bench.harness import INGEST_PATH, LOOPBACK


async def ingest(request: web.Request) -> web.Response:
    body = await request.read()
    lines = [orjson.loads(line) for line in body.splitlines() if line.strip()]
    n = len(lines)
    answer = {
        "received": n,
        "matched": n,
        "notifications": 0,
        "suppressed": 0,
        "alerts": n,
        "resolved": 0,
        "errors": [],
    }
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post(INGEST_PATH, ingest)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(args.port))
    return 0


async def _serve(port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
