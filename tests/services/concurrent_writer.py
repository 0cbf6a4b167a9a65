"""One process of the cross-process concurrency tests: many writers, one fingerprint or key.

Usage: python concurrent_writer.py (alert|notification) DATABASE_URL PROCESS_INDEX TASKS

Opens its own engine with one pooled connection per task, prints "ready" once they are all
open, waits for a line on stdin (so that every process starts writing at the same moment),
runs the tasks concurrently, each in its own session, and prints their outcomes as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from gateway.storage.engine import create_engine, session_factory

FINGERPRINT = "concurrency-fingerprint"
DEDUP_KEY = "concurrency-key"
BASE_TIME = datetime(2024, 6, 1, tzinfo=UTC)
STORES = 7
CRITICAL_WRITER = 17


async def write_alert(sessions: async_sessionmaker[AsyncSession], writer: int) -> dict[str, Any]:
    async with sessions() as db:
        occurrence = await platform_alert_service.create_or_increment_alert(
            db,
            alert_type="system",
            severity="critical" if writer == CRITICAL_WRITER else "warning",
            title=f"title-{writer}",
            fingerprint=FINGERPRINT,
            affected_stores=[f"store-{writer % STORES}"],
            affected_systems=["api"],
            occurred_at=BASE_TIME + timedelta(seconds=writer),
        )
        await db.commit()
    return {
        "alert_id": occurrence.alert_id,
        "occurrence_count": occurrence.occurrence_count,
        "created": occurrence.created,
    }


async def write_notification(
    sessions: async_sessionmaker[AsyncSession], writer: int
) -> dict[str, Any]:
    async with sessions() as db:
        notification = await admin_notification_service.create_notification(
            db,
            notification_type="store_issue",
            title=f"title-{writer}",
            message="m",
            dedup_key=DEDUP_KEY,
            dedup_window=timedelta(hours=1),
        )
        await db.commit()
    return {"created": notification is not None}


async def main(mode: str, url: str, process_index: int, tasks: int) -> None:
    engine = create_engine(url, pool_size=tasks, max_overflow=0)
    try:
        connections = await asyncio.gather(*(engine.connect() for _ in range(tasks)))
        for connection in connections:
            await connection.execute(text("SELECT 1"))
            await connection.close()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        sessions = session_factory(engine)
        write = write_alert if mode == "alert" else write_notification
        writers = range(process_index * tasks, (process_index + 1) * tasks)
        results = await asyncio.gather(*(write(sessions, writer) for writer in writers))
        print(json.dumps(results), flush=True)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
