"""What a started gateway keeps out of memory, and the PostgreSQL relay it still starts.

Every module imported stays resident for the life of the process: asyncpg and the relay are
about 3 MB a SQLite gateway never uses, alembic and mako are needed only to migrate, rich and
pygments only for console logs. The probe runs in a fresh interpreter, as `gateway serve`
does, and starts every resource of the app (database, rules, pipeline, relay, self-monitoring,
first admin) before it lists the loaded modules.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import CHEAP_HASHING, REPO, GatewayTestServer

PROBE = """
import asyncio
import sys
from pathlib import Path

from gateway.log import keep_rich_out

keep_rich_out("json")  # as `gateway serve` does, before anything imports structlog

import gateway.cli
import gateway.serve
from aiohttp import web

from gateway.app import SERVER_KWARGS, create_app
from gateway.log import setup_logging
from gateway.services.passwords import HashParameters
from gateway.settings import Settings


async def main() -> None:
    setup_logging("json", "warning")
    settings = Settings(
        config_path=Path(sys.argv[1]),
        database_url=sys.argv[2],
        reload_interval=0,
        log_format="json",
        password_hashing=HashParameters(time_cost=1, memory_cost=8, parallelism=1),
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, **SERVER_KWARGS)
    await runner.setup()
    try:
        print("started", len(app[gateway.keys.RULES].current.rules) > 0)
        print("modules", " ".join(sorted(name for name, m in sys.modules.items() if m)))
    finally:
        await runner.cleanup()


asyncio.run(main())
"""

KEPT_OUT = ("asyncpg", "gateway.publish.pg_relay", "alembic", "mako", "rich", "pygments")


def _loaded_modules(rules_file: Path, database_url: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(rules_file), database_url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines.get("started") == "True", done.stdout
    return set(lines["modules"].split())


def test_started_sqlite_gateway_keeps_unused_packages_out(
    rules_file: Path, sqlite_url: str
) -> None:
    """On a migrated SQLite database, serving loads no PostgreSQL driver, migration or rich."""
    loaded = _loaded_modules(rules_file, sqlite_url)
    # The probe did start the app on SQLite: its driver and the pipeline are there.
    assert {"aiosqlite", "gateway.pipeline", "gateway.app"} <= loaded
    unexpected = sorted(
        name for name in loaded if any(name == p or name.startswith(p + ".") for p in KEPT_OUT)
    )
    assert unexpected == []


@pytest.mark.postgres
async def test_postgres_gateways_relay_changes_to_each_other(
    aiohttp_client: Any, postgres_url: str, rules_file: Path
) -> None:
    """The relay, imported only on PostgreSQL, still carries a change from one app to another."""
    apps = []
    for _ in range(2):
        settings = Settings(
            config_path=rules_file,
            database_url=postgres_url,
            reload_interval=0,
            self_check_interval=0,
            password_hashing=CHEAP_HASHING,
        )
        client = await aiohttp_client(GatewayTestServer(create_app(settings)))
        apps.append(client.app)
    sender, receiver = apps
    subscription = receiver[keys.HUB].subscribe()
    sent = sender[keys.HUB].publish("notification.created", {"id": 4242})
    async with asyncio.timeout(30):
        while True:
            change = await subscription.queue.get()
            assert change is not None
            if change.kind == "notification.created" and change.data == {"id": 4242}:
                break
    assert change.origin == sent.origin == sender[keys.HUB].instance
