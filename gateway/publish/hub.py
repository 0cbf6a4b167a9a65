"""In-process fan-out of committed changes to live listeners, with bounded queues."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: `kind` like `notification.created`, with its JSON-able data."""

    id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """A listener's bounded queue; a listener that falls behind is marked lagged, not waited on."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Change] = asyncio.Queue(maxsize)
        self.lagged = False

    def offer(self, change: Change) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            # Publishing must never block ingestion; the listener resynchronises instead.
            self.lagged = True


class Hub:
    """Deliver changes to every subscriber without ever blocking the publisher."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)

    def subscribe(self) -> Subscription:
        sub = Subscription(self._queue_size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> Change:
        change = Change(id=next(self._ids), kind=kind, data=data)
        for sub in self._subscribers:
            sub.offer(change)
        return change
