"""Announce the unread count after notifications change, once per burst, not per listener."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog import get_logger

from gateway.publish.hub import Change, Hub
from gateway.services.admin_notification_service import admin_notification_service

log = get_logger(__name__)

UNREAD_COUNT = "unread_count"


async def unread_snapshot(db: AsyncSession) -> dict[str, Any]:
    """Return the badge figures: total unread and unread per priority."""
    by_priority = await admin_notification_service.get_unread_count_by_priority(db)
    return {"unread_count": sum(by_priority.values()), "by_priority": by_priority}


class UnreadAnnouncer:
    """Recount unread notifications shortly after a burst of changes, if anyone listens."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], hub: Hub, *, delay: float = 0.05
    ) -> None:
        self._sessions = sessions
        self._hub = hub
        self._delay = delay
        self._pending: asyncio.Task[None] | None = None
        self._dirty = False
        hub.on_change(self._on_change)

    def _on_change(self, change: Change) -> None:
        if not change.kind.startswith("notification") or self._hub.subscriber_count == 0:
            return
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._announce())

    async def _announce(self) -> None:
        # One count covers every change of a burst; a change that lands while counting
        # causes one more count.
        while self._dirty:
            await asyncio.sleep(self._delay)
            self._dirty = False
            try:
                async with self._sessions() as db:
                    snapshot = await unread_snapshot(db)
            except Exception as exc:  # the database may be away; listeners keep the last count
                log.warning("unread_count_failed", error=str(exc).splitlines()[0])
                return
            # Counted here, for this process's listeners: not relayed to other processes.
            self._hub.publish(UNREAD_COUNT, snapshot, origin=self._hub.instance)

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
