"""The `store_id` column: generated from the metadata on every write path, used by the filter."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_notification_service import admin_notification_service as service
from gateway.services.token_service import create_token
from gateway.storage import dialects
from gateway.storage.models import STORE_ID_MAX_LENGTH, AdminNotification

N = "/api/v1/admin/notifications"
LOGS = "/api/v1/ingest/logs"
NDJSON = {"Content-Type": "application/x-ndjson"}


def issue(store_id: Any, name: str) -> dict[str, Any]:
    """A store.issue log line; `name` keeps the dedup keys of the lines apart."""
    return {
        "event": "store.issue",
        "store_id": store_id,
        "store_name": f"Shop {name}",
        "issue": name,
        "message": "needs a look",
    }


async def admin_headers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessions() as db, db.begin():
        _, token = await create_token(db, name="test-store-id", scope="admin")
    return {"Authorization": f"Bearer {token}"}


async def listed(client: TestClient[Any, Any], headers: dict[str, str], store_id: str) -> Any:
    resp = await client.get(N, params={"store_id": store_id}, headers=headers)
    assert resp.status == 200
    return await resp.json()


async def create(db: AsyncSession, metadata: dict[str, Any]) -> AdminNotification:
    row = await service.create_notification(
        db, notification_type="store_issue", title="t", message="m", metadata=metadata
    )
    assert row is not None
    return row


class TestThroughTheApi:
    async def test_ingested_and_hand_made_notifications_are_found_by_store(
        self,
        client: TestClient[Any, Any],
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        """Store 7 as a number or a string, by rule or by hand, answers ?store_id=7 only."""
        headers = await admin_headers(sessions)
        lines = [issue(7, "seven-int"), issue("7", "seven-str"), issue(70, "seventy")]
        body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
        resp = await client.post(LOGS, data=body, headers=NDJSON)
        assert resp.status == 200
        assert (await resp.json())["notifications"] == 3
        made: dict[str, int] = {}
        for key, store_id in (("hand-int", 7), ("hand-str", "7"), ("hand-8", 8)):
            payload = {
                "type": "store_issue",
                "title": key,
                "message": "m",
                "metadata": {"store_id": store_id},
            }
            resp = await client.post(N, json=payload, headers=headers)
            assert resp.status == 201
            made[key] = (await resp.json())["id"]

        page = await listed(client, headers, "7")
        titles = sorted(item["title"] for item in page["items"])
        ingested = ["Shop seven-int: seven-int", "Shop seven-str: seven-str"]
        assert titles == [*ingested, "hand-int", "hand-str"]
        assert page["total"] == 4
        assert {item["metadata"]["store_id"] for item in page["items"]} == {7, "7"}
        assert [item["id"] for item in page["items"]][:2] == [made["hand-str"], made["hand-int"]]

        assert [item["title"] for item in (await listed(client, headers, "8"))["items"]] == [
            "hand-8"
        ]
        seventy = await listed(client, headers, "70")
        assert [item["title"] for item in seventy["items"]] == ["Shop seventy: seventy"]
        for other in ("07", "7.0", "77", "9"):
            assert (await listed(client, headers, other))["total"] == 0


class TestColumn:
    async def test_created_notifications_carry_the_generated_store_id(
        self, db: AsyncSession
    ) -> None:
        """create_notification's object has the store_id the database generated."""
        numeric = await create(db, {"store_id": 7})
        textual = await create(db, {"store_id": "s-1"})
        absent = await create(db, {"job_id": 3})
        assert (numeric.store_id, textual.store_id, absent.store_id) == ("7", "s-1", None)
        await db.commit()
        stored = await db.scalars(select(AdminNotification.store_id).order_by(AdminNotification.id))
        assert list(stored) == ["7", "s-1", None]

    async def test_orm_constructed_notification_is_filled_too(self, db: AsyncSession) -> None:
        """A notification added through the ORM gets its store_id without being given one."""
        row = AdminNotification(
            type="store_issue",
            priority="normal",
            title="t",
            message="m",
            notification_metadata={"store_id": 12},
        )
        db.add(row)
        await db.flush()
        assert row.store_id == "12"
        rows, total = await service.get_notifications(db, store_id=12)
        assert [r.id for r in rows] == [row.id] and total == 1

    @pytest.mark.parametrize(
        "value",
        [7, "7", -3, 2**62, 7.5, 7.0, True, None, "", " 7", "Ünïcode", [7], {"id": 7}],
        ids=repr,
    )
    async def test_column_reads_as_the_json_filter_did(self, db: AsyncSession, value: Any) -> None:
        """For any JSON value the column holds what `metadata ->> 'store_id'` gave the filter."""
        row = await create(db, {"store_id": value})
        field = dialects.json_field_text(AdminNotification.notification_metadata, "store_id")
        [(column, expression)] = (
            await db.execute(
                select(AdminNotification.store_id, field).where(AdminNotification.id == row.id)
            )
        ).all()
        assert column == expression
        assert row.store_id == expression
        if expression is not None:
            rows, total = await service.get_notifications(db, store_id=expression)
            assert [r.id for r in rows] == [row.id] and total == 1

    async def test_overlong_store_id_is_still_found(self, db: AsyncSession) -> None:
        """A store_id too long for the column stays out of it, and the filter still finds it."""
        long_id = "s" * (STORE_ID_MAX_LENGTH + 1)
        longest = await create(db, {"store_id": "s" * STORE_ID_MAX_LENGTH})
        overlong = await create(db, {"store_id": long_id})
        await create(db, {"store_id": long_id + "x"})
        assert longest.store_id == "s" * STORE_ID_MAX_LENGTH
        assert overlong.store_id is None
        rows, total = await service.get_notifications(db, store_id=long_id)
        assert [r.id for r in rows] == [overlong.id] and total == 1
        rows, _ = await service.get_notifications(db, store_id="s" * STORE_ID_MAX_LENGTH)
        assert [r.id for r in rows] == [longest.id]

    async def test_store_filter_combines_with_the_others_and_pages(self, db: AsyncSession) -> None:
        """The store filter keeps newest-first order, other filters and the keyset cursor."""
        made = [await create(db, {"store_id": 7 if i % 2 else "7"}) for i in range(5)]
        await create(db, {"store_id": 8})
        rows, total = await service.get_notifications(db, store_id="7", limit=2)
        assert [r.id for r in rows] == [made[4].id, made[3].id] and total == 5
        after = await service.get_notifications(db, store_id=7, before_id=made[3].id, limit=2)
        assert [r.id for r in after[0]] == [made[2].id, made[1].id]
        unread, _ = await service.get_notifications(db, store_id=7, is_read=True)
        assert unread == []
