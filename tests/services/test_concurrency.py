"""Deduplication holds under concurrent writers in two separate OS processes."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.models import AdminNotification, NotificationDedup, PlatformAlert

WRITER = Path(__file__).with_name("concurrent_writer.py")
PROCESSES = 2
TASKS_PER_PROCESS = 25
TOTAL = PROCESSES * TASKS_PER_PROCESS
BASE_TIME = datetime(2024, 6, 1, tzinfo=UTC)  # as in concurrent_writer.py


async def run_writers(mode: str, url: str) -> list[dict[str, Any]]:
    """Start the writer processes, release them together, and collect every outcome."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WRITER),
            mode,
            url,
            str(index),
            str(TASKS_PER_PROCESS),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for index in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            if ready.strip() != b"ready":
                _, stderr = await process.communicate()
                raise AssertionError(f"writer did not start: {ready!r} {stderr.decode()}")
        outputs = await asyncio.wait_for(
            asyncio.gather(*(process.communicate(b"go\n") for process in processes)),
            timeout=60,
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    results: list[dict[str, Any]] = []
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
        results.extend(json.loads(stdout))
    return results


class TestConcurrentAlertOccurrences:
    async def test_one_alert_counts_every_occurrence(
        self, database_url: str, db: AsyncSession
    ) -> None:
        """50 writers in 2 processes on one fingerprint make one alert counting all 50."""
        results = await run_writers("alert", database_url)

        assert len(results) == TOTAL
        assert sum(r["created"] for r in results) == 1
        assert len({r["alert_id"] for r in results}) == 1
        # Each upsert saw the previous one's effect: the returned counts are exactly 1..50.
        assert sorted(r["occurrence_count"] for r in results) == list(range(1, TOTAL + 1))

        [alert] = (await db.scalars(select(PlatformAlert))).all()
        assert alert.is_resolved is False
        assert alert.occurrence_count == TOTAL
        assert alert.first_occurred_at == BASE_TIME
        assert alert.last_occurred_at == BASE_TIME + timedelta(seconds=TOTAL - 1)
        assert alert.severity == "critical"
        assert alert.title == f"title-{TOTAL - 1}"
        assert alert.affected_stores == [f"store-{i}" for i in range(7)]
        assert alert.affected_systems == ["api"]


class TestConcurrentNotificationDedup:
    async def test_one_notification_for_one_key(self, database_url: str, db: AsyncSession) -> None:
        """50 writers in 2 processes with one dedup key create exactly one notification."""
        results = await run_writers("notification", database_url)

        assert len(results) == TOTAL
        assert sum(r["created"] for r in results) == 1
        count = await db.scalar(select(func.count()).select_from(AdminNotification))
        assert count == 1
        window = await db.get(NotificationDedup, "concurrency-key")
        assert window is not None
        assert window.suppressed_count == TOTAL - 1
        assert window.notification_id is not None
