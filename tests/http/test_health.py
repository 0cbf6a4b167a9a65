"""GET /healthz (alive, no database) and GET /readyz (database, schema, rules), both listeners."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import keys
from gateway.app import create_ingest_app
from gateway.health import check_database, healthz
from gateway.storage.engine import create_engine
from gateway.storage.migrate import head_revision
from tests.conftest import GatewayTestServer


class TestHealthz:
    async def test_alive(self, client: TestClient[Any, Any]) -> None:
        """/healthz answers 200 {"status": "ok"}."""
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
        assert resp.headers["Cache-Control"] == "no-store"

    async def test_never_touches_the_database(self) -> None:
        """/healthz answers on an app that has no engine, sessions or rules at all."""
        resp = await healthz(make_mocked_request("GET", "/healthz", app=web.Application()))
        assert resp.status == 200


class TestReadyz:
    async def test_ready_lists_every_check(self, client: TestClient[Any, Any]) -> None:
        """With the database up, the schema current and rules loaded, /readyz is 200."""
        resp = await client.get("/readyz")
        assert resp.status == 200
        body = await resp.json()
        assert body["status"] == "ready"
        checks = body["checks"]
        assert checks["database"]["ok"] is True
        assert checks["database"]["latency_ms"] >= 0
        head = head_revision()
        assert checks["schema"] == {"ok": True, "current": head, "expected": head}
        rules = checks["rules"]
        assert rules["ok"] is True and rules["rules"] > 0
        assert rules["loaded_at"] == rules["last_reload"]["at"]
        assert rules["last_reload"]["ok"] is True

    async def test_outdated_schema_is_not_ready(
        self, client: TestClient[Any, Any], engine: AsyncEngine
    ) -> None:
        """A database at another revision makes /readyz 503, naming both revisions."""
        head = head_revision()
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        try:
            resp = await client.get("/readyz")
            body = await resp.json()
        finally:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE alembic_version SET version_num = :head"), {"head": head}
                )
        assert resp.status == 503
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["schema"] == {"ok": False, "current": "older", "expected": head}

    async def test_failed_reload_is_reported_but_old_rules_keep_it_ready(
        self, client: TestClient[Any, Any], rules_file: Path
    ) -> None:
        """A bad rules file shows in last_reload; the rules still in force keep it ready."""
        rules_file.write_text("version: 1\nrules: [oops\n")
        st = rules_file.stat()
        os.utime(rules_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        await client.app[keys.RULES].load()
        resp = await client.get("/readyz")
        assert resp.status == 200
        rules = (await resp.json())["checks"]["rules"]
        assert rules["last_reload"]["ok"] is False
        assert "rules.yaml" in rules["last_reload"]["error"]
        assert rules["loaded_at"] != rules["last_reload"]["at"]

    async def test_both_listeners_answer_the_probes(
        self, make_client: Any, aiohttp_client: Any
    ) -> None:
        """With a separate ingestion listener, it serves /healthz and /readyz too."""
        main = await make_client(ingest_host="127.0.0.1", ingest_port=0)
        ingest = await aiohttp_client(GatewayTestServer(create_ingest_app(main.app)))
        for client in (main, ingest):
            assert (await client.get("/healthz")).status == 200
            resp = await client.get("/readyz")
            assert resp.status == 200
            assert (await resp.json())["status"] == "ready"


class TestCheckDatabase:
    @pytest.fixture
    def database_url(self, sqlite_url: str) -> str:
        """These checks build engines of their own; the fixture database is unused."""
        return sqlite_url

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
            "sqlite+aiosqlite:////nonexistent-directory/gateway.db",
        ],
        ids=["postgresql-refused", "sqlite-unopenable"],
    )
    async def test_unreachable_database_is_reported_without_details(self, url: str) -> None:
        """An unreachable database fails both checks, naming only the error's class."""
        engine = create_engine(url)
        try:
            database, schema = await check_database(engine)
        finally:
            await engine.dispose()
        assert database["ok"] is False
        assert "127.0.0.1" not in database["error"] and "nonexistent" not in database["error"]
        assert schema == {"ok": False, "expected": head_revision(), "error": "database unreachable"}

    async def test_slow_database_times_out(self, sqlite_url: str) -> None:
        """A database that does not answer within the limit is reported as not ready."""
        engine = create_engine(sqlite_url)
        try:
            database, _schema = await check_database(engine, within=0)
        finally:
            await engine.dispose()
        assert database == {"ok": False, "error": "no answer within 0s"}
