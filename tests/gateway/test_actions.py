"""Planning a batch's writes: folding, order of events, and a global lock order."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.actions import AlertFold, plan
from gateway.storage.engine import session_factory
from gateway.storage.models import PlatformAlert
from rules.outcomes import AlertDraft, NotificationDraft, ResolveDraft
from rules.vocabulary import AlertType, NotificationType, Priority, Severity


def alert(fp: str) -> AlertDraft:
    return AlertDraft(
        rule="r",
        alert_type=AlertType.INTEGRATION,
        severity=Severity.ERROR,
        title="t",
        description="d",
        fingerprint=fp,
    )


def note(key: str | None) -> NotificationDraft:
    return NotificationDraft(
        rule="r",
        type=NotificationType.STORE_ISSUE,
        priority=Priority.NORMAL,
        title="t",
        message="m",
        dedup_key=key,
    )


class TestPlan:
    def test_rows_are_locked_in_one_global_order(self) -> None:
        """Dedup keys then fingerprints, each sorted, whatever the event order."""
        ops = plan([alert("b"), note("k2"), alert("a"), note(None), note("k1")])
        described = [
            ("alert", op.draft.fingerprint)
            if isinstance(op, AlertFold)
            else ("note", op.dedup_key)
            if isinstance(op, NotificationDraft)
            else ("resolve", op.fingerprint)
            for op in ops
        ]
        assert described == [
            ("note", None),
            ("note", "k1"),
            ("note", "k2"),
            ("alert", "a"),
            ("alert", "b"),
        ]

    def test_event_order_kept_within_a_fingerprint(self) -> None:
        """Occurrence, resolve, occurrence of one fingerprint stay in that order."""
        ops = plan([alert("z"), alert("z"), ResolveDraft(rule="r", fingerprint="z"), alert("z")])
        assert [type(op).__name__ for op in ops] == ["AlertFold", "ResolveDraft", "AlertFold"]
        assert [op.count for op in ops if isinstance(op, AlertFold)] == [2, 1]


class TestConcurrentBatches:
    async def test_batches_in_opposite_orders_do_not_deadlock(
        self, client: Any, engine: AsyncEngine
    ) -> None:
        """Concurrent batches over the same fingerprints in shuffled orders all commit."""
        rng = random.Random(7)
        bodies = []
        for _ in range(12):
            stores = list(range(1, 9))
            rng.shuffle(stores)
            events = [
                {
                    "event": "letzshop.api_error",
                    "store_id": s,
                    "store_name": f"S{s}",
                    "operation": "sync",
                    "status_code": 502,
                    "error_message": "x",
                }
                for s in stores
            ]
            bodies.append(b"\n".join(orjson.dumps(e) for e in events))
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/ingest/logs",
                    data=body,
                    headers={"Content-Type": "application/x-ndjson"},
                )
                for body in bodies
            )
        )
        assert [r.status for r in responses] == [200] * len(bodies)
        async with session_factory(engine)() as db:
            total = await db.scalar(select(func.sum(PlatformAlert.occurrence_count)))
            alerts = await db.scalar(select(func.count()).select_from(PlatformAlert))
        assert (alerts, total) == (8, 8 * len(bodies))
