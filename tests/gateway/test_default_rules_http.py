"""Every event of docs/events.md, shipped as a log line through HTTP, against the bundled rules."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.engine import session_factory
from gateway.storage.models import AdminNotification, PlatformAlert

NDJSON = {"Content-Type": "application/x-ndjson"}
ACME = {"store_id": 5, "store_name": "Acme Corp"}

# event -> (notifications as (type, priority, action_required), alerts as (type, severity, fp))
CASES: list[tuple[dict[str, Any], list[tuple[str, str, bool]], list[tuple[str, str, str]]]] = [
    (
        {"event": "product_import.failed", **ACME, "job_id": 1, "error_message": "bad csv"},
        [("import_failure", "high", True)],
        [],
    ),
    (
        {
            "event": "product_import.completed",
            **ACME,
            "job_id": 2,
            "error_count": 5,
            "imported_count": 10,
        },
        [("import_failure", "high", False)],
        [],
    ),
    (
        {
            "event": "product_import.completed",
            **ACME,
            "job_id": 3,
            "error_count": 4,
            "imported_count": 10,
        },
        [],
        [],
    ),
    (
        {
            "event": "order_import.failed",
            **ACME,
            "job_id": 4,
            "error_message": "503",
            "reason": "api_error",
        },
        [("import_failure", "high", True)],
        [("integration", "error", "letzshop:store:5")],
    ),
    (
        {
            "event": "order_import.failed",
            **ACME,
            "job_id": 5,
            "error_message": "KeyError",
            "reason": "exception",
        },
        [("import_failure", "high", True)],
        [],
    ),
    (
        {
            "event": "letzshop.api_error",
            **ACME,
            "operation": "fetch_orders",
            "status_code": 502,
            "error_message": "Bad Gateway",
        },
        [],
        [("integration", "error", "letzshop:store:5")],
    ),
    (
        {"event": "order_sync.failed", **ACME, "error_message": "timeout"},
        [("order_sync_failure", "high", False)],
        [],
    ),
    (
        {
            "event": "order.exception",
            **ACME,
            "order_id": 9,
            "order_number": "LZ-9",
            "unmatched_products": ["EAN 1"],
        },
        [("order_exception", "high", True)],
        [],
    ),
    (
        {"event": "system.critical_error", "component": "payments", "error_message": "OOM"},
        [("critical_error", "critical", True)],
        [("system", "critical", "system:payments")],
    ),
    (
        {"event": "store.issue", **ACME, "issue": "payout_blocked", "message": "bank expired"},
        [("store_issue", "normal", False)],
        [],
    ),
    (
        {
            "event": "security.alert",
            "category": "brute_force",
            "message": "42 failed logins",
            "ip": "203.0.113.7",
            "user": "admin@example.com",
        },
        [("security_alert", "critical", True)],
        [("security", "critical", "security:brute_force:203.0.113.7")],
    ),
]


class TestDefaultRulesOverHttp:
    @pytest.mark.parametrize(
        ("event", "expected_notifications", "expected_alerts"),
        CASES,
        ids=[f"{c[0]['event']}-{i}" for i, c in enumerate(CASES)],
    )
    async def test_event_outcome(
        self,
        client: Any,
        engine: AsyncEngine,
        event: dict[str, Any],
        expected_notifications: list[tuple[str, str, bool]],
        expected_alerts: list[tuple[str, str, str]],
    ) -> None:
        """The event produces exactly the notifications and alerts the contract names."""
        resp = await client.post("/api/v1/ingest/logs", data=orjson.dumps(event), headers=NDJSON)
        assert resp.status == 200
        async with session_factory(engine)() as db:
            notes = list(await db.scalars(select(AdminNotification)))
            alerts = list(await db.scalars(select(PlatformAlert)))
        assert [(n.type, n.priority, n.action_required) for n in notes] == expected_notifications
        assert [(a.alert_type, a.severity, a.fingerprint) for a in alerts] == expected_alerts
        for n in notes:
            assert n.rule and n.source == "logs"

    async def test_letzshop_storm_then_recovery(self, client: Any, engine: AsyncEngine) -> None:
        """Repeated API errors count on one alert per store; a successful sync resolves it."""
        errors = [
            {
                "event": "letzshop.api_error",
                "store_id": s,
                "store_name": f"S{s}",
                "operation": "fetch_orders",
                "status_code": 503,
                "error_message": "down",
            }
            for s in (1, 2)
            for _ in range(25)
        ]
        body = b"\n".join(orjson.dumps(e) for e in errors)
        resp = await client.post("/api/v1/ingest/logs", data=body, headers=NDJSON)
        assert (await resp.json())["alerts"] == 50
        resp = await client.post(
            "/api/v1/ingest/logs",
            data=orjson.dumps({"event": "order_sync.succeeded", "store_id": 1}),
            headers=NDJSON,
        )
        assert (await resp.json())["resolved"] == 1
        async with session_factory(engine)() as db:
            alerts = list(await db.scalars(select(PlatformAlert).order_by(PlatformAlert.id)))
        assert [(a.fingerprint, a.occurrence_count, a.is_resolved) for a in alerts] == [
            ("letzshop:store:1", 25, True),
            ("letzshop:store:2", 25, False),
        ]
        assert alerts[0].affected_stores == ["1"]
        # The next error after the resolution opens a new alert.
        resp = await client.post(
            "/api/v1/ingest/logs", data=orjson.dumps(errors[0]), headers=NDJSON
        )
        async with session_factory(engine)() as db:
            open_alerts = list(
                await db.scalars(
                    select(PlatformAlert).where(
                        PlatformAlert.fingerprint == "letzshop:store:1",
                        PlatformAlert.is_resolved.is_(False),
                    )
                )
            )
        assert [a.occurrence_count for a in open_alerts] == [1]

    async def test_resolve_and_reopen_in_one_batch(self, client: Any, engine: AsyncEngine) -> None:
        """Event order holds within a batch: error, recovery, error leaves one closed, one open."""
        err = {
            "event": "letzshop.api_error",
            "store_id": 9,
            "store_name": "N",
            "operation": "x",
            "status_code": 500,
            "error_message": "e",
        }
        ok = {"event": "order_sync.succeeded", "store_id": 9}
        body = b"\n".join(orjson.dumps(e) for e in (err, err, ok, err))
        resp = await client.post("/api/v1/ingest/logs", data=body, headers=NDJSON)
        assert (await resp.json())["resolved"] == 1
        async with session_factory(engine)() as db:
            alerts = list(await db.scalars(select(PlatformAlert).order_by(PlatformAlert.id)))
        assert [(a.occurrence_count, a.is_resolved) for a in alerts] == [(2, True), (1, False)]
