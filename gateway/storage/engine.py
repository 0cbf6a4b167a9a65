"""Engine and session construction for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite transactions
-------------------
Python's sqlite3 driver (and aiosqlite on top of it) does not emit BEGIN before a SELECT, so
reads run outside any transaction and SAVEPOINTs misbehave. Following SQLAlchemy's documented
recipe, the driver's own transaction handling is switched off (`isolation_level = None`) and
SQLAlchemy's `begin` event emits BEGIN itself.

It emits `BEGIN IMMEDIATE`, not a plain (deferred) BEGIN. A deferred transaction starts as a
reader and upgrades to a writer at its first write; if another connection, possibly in
another process, committed in between, SQLite cannot upgrade the stale snapshot and fails at
once with "database is locked" (SQLITE_BUSY) without consulting `busy_timeout`. IMMEDIATE takes
the write lock at BEGIN, where SQLite does wait up to `busy_timeout`, so concurrent writers,
in this process or another, queue instead of failing. It also makes a read-then-write
transaction (a migration checking its revision, a service checking a row) see no write slip in
between. The cost: every transaction, even a read-only one, takes its turn for the write lock.
Transactions here are a few statements long, so the queue is short; work that only reads and
may run long can ask for a deferred BEGIN, which in WAL mode never waits for the writer, with
the execution option `sqlite_begin="DEFERRED"` (`engine.execution_options(...)`).

Each SQLite connection also gets WAL journaling (readers and one writer proceed together),
`synchronous=NORMAL` (durable across application crashes, the usual pairing with WAL),
foreign keys on and a 10 s busy timeout.

A SQLite connection that fails to open (an unopenable path, a cancelled connect) is not
reported until aiosqlite's worker thread has ended; see `_open_sqlite`.
"""

from __future__ import annotations

import asyncio
import json
from threading import Thread
from typing import Any

import aiosqlite
import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
POSTGRES_POOL_RECYCLE_S = 300
"""Seconds after which a pooled PostgreSQL connection is replaced rather than reused."""
SQLITE_WORKER_STOP_WAIT_S = 1.0
"""How long a failed SQLite open waits for aiosqlite's worker thread to end."""

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def database_url(url: str | URL) -> URL:
    """Parse a database URL, choosing the async driver when the URL names none.

    `sqlite:///gateway.db` and `postgresql://...` are accepted as well as their explicit
    `sqlite+aiosqlite` and `postgresql+asyncpg` forms; any other driver is refused.
    """
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        shown = parsed.render_as_string(hide_password=True)
        raise ValueError(
            f"unsupported database URL {shown!r}: use sqlite+aiosqlite:///PATH "
            "or postgresql+asyncpg://USER@HOST/DB"
        )
    return parsed.set(drivername=driver)


def dump_json(value: Any) -> str:
    """Serialise a JSON column's value: orjson, several times cheaper than `json.dumps`.

    Every alert upsert and notification insert writes three JSON values. What orjson refuses
    (an integer beyond 64 bits, say) still goes through `json.dumps`, as before.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def load_json(text: str | bytes) -> Any:
    """Read a JSON column's value; `json.loads` for what orjson refuses (NaN written earlier)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_engine(url: str | URL, **kw: Any) -> AsyncEngine:
    """Create an async engine for `url`, configured for the backend it names."""
    parsed = database_url(url)
    kw.setdefault("json_serializer", dump_json)
    kw.setdefault("json_deserializer", load_json)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed, **kw)
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip on every checkout, that is on every write group.
    # A connection lost meanwhile fails its transaction instead; SQLAlchemy then discards
    # every pooled connection (a disconnect invalidates the pool), the request gets a 503 and
    # the next one connects afresh. Recycling bounds how long an idle connection is trusted.
    kw.setdefault("pool_recycle", POSTGRES_POOL_RECYCLE_S)
    return create_async_engine(parsed, **kw)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory the application uses: objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    """Tell whether `engine` talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def on_do_connect(
        _dialect: Any, _record: ConnectionPoolEntry, _cargs: Any, cparams: dict[str, Any]
    ) -> None:
        # SQLAlchemy's aiosqlite dialect awaits this in place of `aiosqlite.connect`, with the
        # same arguments.
        cparams.setdefault("async_creator_fn", _open_sqlite)

    @event.listens_for(sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the driver; `on_begin` below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so that switching to WAL waits for other connections.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")).upper()
        if mode not in SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(SQLITE_BEGIN_MODES)}")
        connection.exec_driver_sql(f"BEGIN {mode}")


async def _open_sqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """Open an aiosqlite connection; if that fails, wait for its worker thread to end first.

    When opening fails, aiosqlite queues the stop of its worker thread and raises at once; the
    thread then hands the stop's outcome to the event loop. Had that loop closed meanwhile, as
    `asyncio.run` does right after a command fails on an unopenable database, the thread died
    with "RuntimeError: Event loop is closed" printed on stderr.
    """
    connection = aiosqlite.connect(*args, **kwargs)
    # Before aiosqlite 0.22 the connection is itself the worker thread.
    worker = connection if isinstance(connection, Thread) else connection._thread
    # As SQLAlchemy's dialect does: a connection left open must not keep the process alive.
    worker.daemon = True
    try:
        return await connection
    except BaseException:
        if worker.is_alive():
            # Bounded: a worker stuck opening a file must not hold the error back indefinitely.
            await asyncio.to_thread(worker.join, SQLITE_WORKER_STOP_WAIT_S)
        raise
