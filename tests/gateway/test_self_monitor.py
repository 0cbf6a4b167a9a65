"""Self-monitoring: a failed rules reload and load shedding become `system` alerts, then clear.

The database-outage alert needs a database that really goes away; it is covered by
tests/gateway/test_outage.py against a private PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import keys
from gateway.self_monitor import LOAD_SHEDDING, RULES_RELOAD
from gateway.storage.models import PlatformAlert

LOGS = "/api/v1/ingest/logs"
NDJSON = {"Content-Type": "application/x-ndjson"}
LINE = orjson.dumps(
    {"event": "store.issue", "store_id": 1, "store_name": "A", "issue": "i", "message": "m"}
)
RULES_BAD = """\
version: 1
rules:
  - name: store-issue
    match: {event: store.issue}
    notify: {type: store_issue, priority: urgent, title: "t", message: "m"}
"""
FAST = {"self_check_interval": 0.05}


async def alerts(
    sessions: async_sessionmaker[AsyncSession], fingerprint: str
) -> list[PlatformAlert]:
    async with sessions() as db:
        rows = await db.scalars(
            select(PlatformAlert)
            .where(PlatformAlert.fingerprint == fingerprint)
            .order_by(PlatformAlert.id)
        )
        return list(rows)


async def wait_for_alerts(
    sessions: async_sessionmaker[AsyncSession],
    fingerprint: str,
    until: Callable[[list[PlatformAlert]], bool],
    within: float = 5.0,
) -> list[PlatformAlert]:
    """Poll the alerts with `fingerprint` until `until` holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await alerts(sessions, fingerprint)
        if until(found):
            return found
        assert time.monotonic() < deadline, f"{fingerprint}: still {found!r}"
        await asyncio.sleep(0.02)


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)


class TestRulesReloadAlert:
    async def test_failed_reload_opens_alert_and_good_reload_resolves_it(
        self,
        make_client: Any,
        rules_file: Path,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        """A bad file opens one positioned `system` alert; reloading a good file resolves it."""
        client: TestClient[Any, Any] = await make_client(**FAST)
        good = rules_file.read_text()
        live = client.app[keys.RULES]
        rewrite(rules_file, RULES_BAD)
        assert not (await live.load()).ok
        assert not (await live.load()).ok  # reported twice: counted on the same alert
        [alert] = await wait_for_alerts(
            sessions, RULES_RELOAD, lambda found: bool(found) and found[0].occurrence_count == 2
        )
        assert (alert.alert_type, alert.severity, alert.is_resolved) == ("system", "error", False)
        assert alert.description is not None
        assert f"{rules_file}:5:" in alert.description and "urgent" in alert.description
        assert alert.alert_metadata["path"] == str(rules_file)
        assert alert.alert_metadata["instance"] == client.app[keys.HUB].instance
        assert any(f"{rules_file}:5:" in error for error in alert.alert_metadata["errors"])
        assert alert.affected_systems == ["gateway"]

        rewrite(rules_file, good)
        assert (await live.load()).ok
        [alert] = await wait_for_alerts(sessions, RULES_RELOAD, lambda f: f[0].is_resolved)
        assert alert.resolved_by_user_id is None and alert.resolved_at is not None
        assert alert.resolution_notes is not None
        assert alert.resolution_notes.startswith("resolved automatically:")
        registry = client.app[keys.METRICS].registry
        labels = {"type": "system", "severity": "error"}
        assert registry.get_sample_value("gateway_alerts_created_total", labels) == 1
        assert registry.get_sample_value("gateway_alerts_resolved_total", labels) == 1

    async def test_healthy_reloads_write_nothing(
        self, make_client: Any, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Successful reloads open no alert."""
        client: TestClient[Any, Any] = await make_client(**FAST)
        assert (await client.app[keys.RULES].load()).ok
        await asyncio.sleep(0.2)
        assert await alerts(sessions, RULES_RELOAD) == []


class TestLoadSheddingAlert:
    async def test_shedding_opens_alert_then_quiet_period_resolves_it(
        self, make_client: Any, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """503s at capacity open a warning counting them, resolved only after the quiet period."""
        quiet = 0.6
        client: TestClient[Any, Any] = await make_client(
            ingest_concurrency=1,
            ingest_queue_timeout=0,
            shedding_quiet_period=quiet,
            **FAST,
        )
        slots = client.app[keys.INGEST_ADMISSION]
        await slots.acquire()  # the batch "in progress" that holds the only slot
        try:
            shed = await asyncio.gather(
                *(client.post(LOGS, data=LINE, headers=NDJSON) for _ in range(3))
            )
            last_shed = time.monotonic()
            assert [resp.status for resp in shed] == [503] * 3
        finally:
            slots.release()
        [alert] = await wait_for_alerts(sessions, LOAD_SHEDDING, bool)
        assert time.monotonic() - last_shed < quiet, "the check came too late to test the period"
        assert (alert.alert_type, alert.severity, alert.is_resolved) == ("system", "warning", False)
        assert alert.occurrence_count == 3
        assert alert.alert_metadata["shed"] == 3
        assert alert.alert_metadata["ingest_concurrency"] == 1
        assert "3 ingestion requests" in (alert.description or "")

        served = await client.post(LOGS, data=LINE, headers=NDJSON)
        assert served.status == 200
        [alert] = await wait_for_alerts(sessions, LOAD_SHEDDING, lambda f: f[0].is_resolved)
        assert time.monotonic() - last_shed >= quiet
        assert alert.resolved_by_user_id is None
        assert (alert.resolution_notes or "").startswith("resolved automatically:")

    async def test_shedding_again_opens_a_new_alert(
        self, make_client: Any, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """After a resolved episode, new shedding opens a fresh alert rather than reopening."""
        client: TestClient[Any, Any] = await make_client(
            ingest_concurrency=1, ingest_queue_timeout=0, shedding_quiet_period=0.1, **FAST
        )
        slots = client.app[keys.INGEST_ADMISSION]
        for episode in (1, 2):
            await slots.acquire()
            try:
                resp = await client.post(LOGS, data=LINE, headers=NDJSON)
                assert resp.status == 503
            finally:
                slots.release()
            await wait_for_alerts(
                sessions,
                LOAD_SHEDDING,
                lambda f, n=episode: len(f) == n and f[-1].is_resolved,  # type: ignore[misc]
            )
        first, second = await alerts(sessions, LOAD_SHEDDING)
        assert first.occurrence_count == second.occurrence_count == 1
