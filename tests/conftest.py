"""Database fixtures shared by the whole suite: real SQLite and real PostgreSQL, migrated.

- `backend` runs a test once per backend ("sqlite", "postgresql").
- `database_url` is a fresh, migrated, empty database for one test on that backend.
- `engine`, `sessions` and `db` open it; `sqlite_url` and `postgres_url` pin one backend;
  `unmigrated_database_url` is a database no migration has touched.

PostgreSQL is reached through $GATEWAY_TEST_POSTGRES_URL (an account allowed to create
databases). One database per test session is created and migrated once, and every test starts
from TRUNCATE ... RESTART IDENTITY. When the server is unreachable the PostgreSQL tests are
skipped, unless CI=true, where they fail: CI must not pass without them. Each SQLite test gets
a copy of one file migrated once per session.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.app import SERVER_KWARGS, create_app
from gateway.services.passwords import HashParameters
from gateway.settings import Settings
from gateway.storage.engine import create_engine, session_factory
from gateway.storage.engine import database_url as parse_database_url
from gateway.storage.migrate import upgrade
from gateway.storage.models import Base

POSTGRES_URL_ENV = "GATEWAY_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def url_string(url: URL) -> str:
    """Render a URL with its password, as a string engines and subprocesses accept."""
    return url.render_as_string(hide_password=False)


async def _ping(url: URL) -> None:
    engine = create_engine(url, connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def create_postgres_database(admin_url: URL, name: str) -> URL:
    """Create an empty database `name` beside `admin_url`'s and return its URL."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return admin_url.set(database=name)


async def drop_postgres_database(admin_url: URL, name: str) -> None:
    """Drop the database `name`, disconnecting whoever still uses it."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def new_database_name() -> str:
    """Return a database name no other test run uses."""
    return f"gw_test_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> URL:
    """The PostgreSQL URL tests create their databases with; skip (or fail on CI) if down."""
    url = parse_database_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
    try:
        asyncio.run(_ping(url))
    except Exception as exc:
        reason = (
            f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}: {exc}); set {POSTGRES_URL_ENV} to test against PostgreSQL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI=true requires the PostgreSQL tests to run.")
        print(f"\nskipping PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def _postgres_database(postgres_admin_url: URL) -> Iterator[URL]:
    """One migrated PostgreSQL database for the whole test session, dropped at the end."""
    name = new_database_name()
    url = asyncio.run(create_postgres_database(postgres_admin_url, name))
    try:
        asyncio.run(upgrade(url_string(url)))
        yield url
    finally:
        asyncio.run(drop_postgres_database(postgres_admin_url, name))


@pytest.fixture
async def postgres_url(_postgres_database: URL) -> str:
    """The session's PostgreSQL database, emptied for this test (ids restart at 1)."""
    url = url_string(_postgres_database)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "gateway.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A new SQLite database file for this test, migrated to the newest revision."""
    # Copying the migrated file is ~50x cheaper than running the migrations again.
    target = tmp_path / "gateway.db"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on; tests using it run once per backend."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated, empty database on `backend` for this test."""
    return str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url"))


@pytest.fixture
def unmigrated_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A database on `backend` that no migration has touched (PostgreSQL: its own database)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    admin_url: URL = request.getfixturevalue("postgres_admin_url")
    name = new_database_name()
    url = asyncio.run(create_postgres_database(admin_url, name))
    try:
        yield url_string(url)
    finally:
        asyncio.run(drop_postgres_database(admin_url, name))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url`, disposed after the test."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The application's session factory on `engine`."""
    return session_factory(engine)


@pytest.fixture
async def db(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session on the test database; the test commits what it wants to keep."""
    async with sessions() as session:
        yield session


# -- the application, on a real server on loopback ------------------------------------------

REPO = Path(__file__).resolve().parents[1]
BUNDLED_RULES = REPO / "rules.yaml"

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]

# argon2id at its lowest cost: production parameters take a noticeable fraction of a second
# per hash, and every app start hashes the first admin's password.
CHEAP_HASHING = HashParameters(time_cost=1, memory_cost=8, parallelism=1)


class GatewayTestServer(TestServer):
    """A loopback server with the same runner options `gateway serve` uses."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return web.AppRunner(self.app, **kwargs, **SERVER_KWARGS)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """A private copy of the bundled rules, so a test may rewrite it."""
    target = tmp_path / "rules.yaml"
    shutil.copy(BUNDLED_RULES, target)
    return target


@pytest.fixture
def make_client(aiohttp_client: Any, database_url: str, rules_file: Path) -> MakeClient:
    """Start the gateway (create_app) on loopback against the test database."""

    async def make(**overrides: Any) -> TestClient[Any, Any]:
        fields: dict[str, Any] = {
            "config_path": rules_file,
            "database_url": database_url,
            "reload_interval": 0,
            "password_hashing": CHEAP_HASHING,
        }
        fields.update(overrides)
        app = create_app(Settings(**fields))
        return await aiohttp_client(GatewayTestServer(app))  # type: ignore[no-any-return]

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()
