"""Webhook replay protection: remember each (source, delivery id) pair seen."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage import dialects
from gateway.storage.models import WebhookDelivery
from gateway.storage.types import utcnow

_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_MAX_ID_LENGTH = 255


def _stored_id(delivery_id: str) -> str:
    # Senders choose the id; one longer than the column keeps its identity as a digest.
    if len(delivery_id) <= _MAX_ID_LENGTH:
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode()).hexdigest()


async def record_delivery(db: AsyncSession, *, source: str, delivery_id: str) -> bool:
    """Remember a delivery; return True the first time it is seen, False for a replay.

    One INSERT ... ON CONFLICT DO NOTHING, so concurrent deliveries of the same id cannot both
    count as first.
    """
    stmt = (
        dialects.insert(db, _DELIVERIES)
        .values(source=source, delivery_id=_stored_id(delivery_id), received_at=utcnow())
        .on_conflict_do_nothing(index_elements=[_DELIVERIES.c.source, _DELIVERIES.c.delivery_id])
        .returning(_DELIVERIES.c.delivery_id)
    )
    return (await db.execute(stmt)).first() is not None


async def prune_deliveries(db: AsyncSession, older_than: datetime) -> int:
    """Forget deliveries received before `older_than`; return how many were forgotten."""
    result = await db.execute(
        delete(WebhookDelivery).where(WebhookDelivery.received_at < older_than)
    )
    return int(cast(CursorResult[Any], result).rowcount)
