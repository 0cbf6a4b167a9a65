"""Liveness (`/healthz`) and readiness (`/readyz`) probes.

`/healthz` answers as long as the event loop does; it touches nothing else, so a slow or
unreachable database never gets the process restarted. `/readyz` says whether this process
should be sent traffic: the database answers within `DATABASE_TIMEOUT_SECONDS`, its schema is
at the revision this code needs, and rules are loaded. It answers 200 or 503 with every check.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog import get_logger

from gateway import keys
from gateway.live_rules import LiveRules
from gateway.storage.migrate import head_revision, read_revision
from gateway.writer import run_within

log = get_logger(__name__)

DATABASE_TIMEOUT_SECONDS = 2.0

# The newest revision is a property of the installed code; read the scripts once, not per probe.
expected_revision = functools.cache(head_revision)


async def healthz(request: web.Request) -> web.Response:
    """Answer that the process is alive."""
    return _json({"status": "ok"}, 200)


async def readyz(request: web.Request) -> web.Response:
    """Answer whether the database, its schema and the rules are ready, check by check."""
    database, schema = await check_database(request.app[keys.ENGINE])
    checks = {"database": database, "schema": schema, "rules": check_rules(request.app[keys.RULES])}
    ready = all(check["ok"] for check in checks.values())
    return _json(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )


async def check_database(
    engine: AsyncEngine, within: float = DATABASE_TIMEOUT_SECONDS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the database check (reachable, round-trip latency) and the schema check."""
    expected = expected_revision()
    try:
        latency_ms, current = await run_within(_probe(engine), within)
    except TimeoutError:
        reason = f"no answer within {within:g}s"
    except (SQLAlchemyError, OSError) as exc:
        # The class only: driver messages can name hosts and users, and this is unauthenticated.
        reason = type(exc).__name__
        log.warning("readiness_database_failed", error=str(exc).splitlines()[0])
    else:
        database = {"ok": True, "latency_ms": latency_ms}
        return database, {"ok": current == expected, "current": current, "expected": expected}
    unreachable = {"ok": False, "expected": expected, "error": "database unreachable"}
    return {"ok": False, "error": reason}, unreachable


async def ping_database(
    engine: AsyncEngine, within: float = DATABASE_TIMEOUT_SECONDS
) -> str | None:
    """Run `SELECT 1` within `within` seconds; return None, or why the database did not answer.

    The self-monitoring job calls this every few seconds, so a failure is not logged here.
    """
    try:
        await run_within(_probe(engine, revision=False), within)
    except TimeoutError:
        return f"no answer within {within:g}s"
    except (SQLAlchemyError, OSError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def check_rules(live: LiveRules) -> dict[str, Any]:
    """Return the rules check: rules in force, when they were loaded, how the last load went."""
    loaded_at = live.last_success_at
    out: dict[str, Any] = {"ok": loaded_at is not None, "loaded_at": _iso(loaded_at)}
    if loaded_at is not None:
        out["rules"] = len(live.current.rules)
    status = live.last_status
    if status is not None:
        last: dict[str, Any] = {"ok": status.ok, "at": _iso(status.at)}
        if status.error:
            # The first positioned error says enough here; the admin API has the whole list.
            last["error"] = status.error.splitlines()[0]
        out["last_reload"] = last
    return out


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def _probe(engine: AsyncEngine, *, revision: bool = True) -> tuple[float, str | None]:
    """Return the round trip of `SELECT 1` in milliseconds and, if asked, the schema revision."""
    started = time.perf_counter()
    async with engine.connect() as connection:
        # On SQLite a deferred BEGIN never queues behind the writer (see storage.engine).
        await connection.execution_options(sqlite_begin="DEFERRED")
        await connection.execute(text("SELECT 1"))
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        current = await connection.run_sync(_read_revision) if revision else None
    return latency_ms, current


def _read_revision(connection: Connection) -> str | None:
    return read_revision(connection)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _json(payload: dict[str, Any], status: int) -> web.Response:
    # Probes must never be cached by anything between the gateway and the prober.
    return web.Response(
        body=orjson.dumps(payload),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
