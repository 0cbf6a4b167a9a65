"""Liveness (`/healthz`) and readiness (`/readyz`) probes.

`/healthz` answers as long as the event loop does; it touches nothing else, so a slow or
unreachable database never gets the process restarted. `/readyz` says whether this process
should be sent traffic: the database answers within `DATABASE_TIMEOUT_SECONDS`, its schema is
at the revision this code needs, and rules are loaded. It answers 200 or 503 with every check.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog import get_logger

from gateway import keys
from gateway.live_rules import LiveRules
from gateway.storage.migrate import head_revision

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
    started = time.perf_counter()
    try:
        async with asyncio.timeout(within), engine.connect() as connection:
            # On SQLite a deferred BEGIN never queues behind the writer (see storage.engine).
            await connection.execution_options(sqlite_begin="DEFERRED")
            await connection.execute(text("SELECT 1"))
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            current = await connection.run_sync(_read_revision)
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


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


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
