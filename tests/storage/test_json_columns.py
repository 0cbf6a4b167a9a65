"""JSON columns are written with orjson and read back exactly, with json's reach kept."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.services.admin_notification_service import admin_notification_service
from gateway.storage.engine import dump_json, load_json
from gateway.storage.models import AdminNotification


class TestSerialisers:
    def test_what_json_dumps_accepts_is_still_written(self) -> None:
        assert load_json(dump_json({1: "int key", "big": 2**70, "nested": [1.5, None]})) == {
            "1": "int key",
            "big": 2**70,
            "nested": [1.5, None],
        }

    def test_a_value_written_earlier_by_json_dumps_still_reads(self) -> None:
        assert load_json('{"ratio": NaN, "a": [1, 2]}')["a"] == [1, 2]

    def test_compact_output(self) -> None:
        assert dump_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'


class TestRoundTrip:
    async def test_metadata_round_trip(self, db: AsyncSession) -> None:
        metadata = {"store_id": 7, "unicode": "Lëtzebuerg ✓", "deep": {"list": [1, {"x": None}]}}
        created = await admin_notification_service.create_notification(
            db, notification_type="store_issue", title="t", message="m", metadata=metadata
        )
        await db.commit()
        assert created is not None
        db.expunge_all()
        row = await db.get(AdminNotification, created.id)
        assert row is not None
        assert row.notification_metadata == metadata
        assert row.store_id == "7"
