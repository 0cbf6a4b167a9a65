"""In-process fan-out of committed changes to live listeners, with bounded queues.

Every change gets a sequence number in this process and is kept in a short replay buffer, so
a listener that reconnects with `Last-Event-ID` misses nothing that is still buffered; one
that fell further behind is told to resynchronise instead. Changes committed by other
processes arrive through a relay (`gateway.publish.pg_relay`) and are fanned out the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: `kind` like `notification.created`, with its JSON-able data."""

    id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    origin: str = ""


class Subscription:
    """A listener's bounded queue; a listener that falls behind is marked lagged, not waited on."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize)
        self.lagged = False

    def offer(self, change: Change | None) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            # Publishing must never block ingestion; the listener resynchronises instead.
            self.lagged = True

    def close(self) -> None:
        """Wake the listener with end-of-stream, even when its queue is full."""
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.lagged = True


Listener = Callable[[Change], None]


class Hub:
    """Deliver changes to every subscriber without ever blocking the publisher."""

    def __init__(self, queue_size: int = 256, replay_size: int = 1024) -> None:
        self.instance = secrets.token_hex(6)
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)
        self._recent: deque[Change] = deque(maxlen=replay_size)
        self._local_listeners: list[Listener] = []
        self._all_listeners: list[Listener] = []
        self.closed = False

    def subscribe(self) -> Subscription:
        sub = Subscription(self._queue_size)
        if self.closed:
            sub.close()
        else:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def last_id(self) -> int:
        return self._recent[-1].id if self._recent else 0

    def on_local_change(self, listener: Listener) -> None:
        """Call `listener` for each change committed by this process (e.g. to relay it)."""
        self._local_listeners.append(listener)

    def on_change(self, listener: Listener) -> None:
        """Call `listener` for every change, local or relayed from another process."""
        self._all_listeners.append(listener)

    def publish(self, kind: str, data: dict[str, Any], *, origin: str | None = None) -> Change:
        """Fan a committed change out; `origin` is set for changes relayed from elsewhere."""
        change = Change(id=next(self._ids), kind=kind, data=data, origin=origin or self.instance)
        self._recent.append(change)
        for sub in self._subscribers:
            sub.offer(change)
        if origin is None:
            for listener in self._local_listeners:
                listener(change)
        for listener in self._all_listeners:
            listener(change)
        return change

    def replay_after(self, last_id: int) -> list[Change] | None:
        """Return the buffered changes after `last_id`, or None when some were dropped."""
        if last_id >= self.last_id:
            return []
        if not self._recent or self._recent[0].id > last_id + 1:
            return None
        return [c for c in self._recent if c.id > last_id]

    def close(self) -> None:
        """End every live stream (on shutdown)."""
        self.closed = True
        for sub in self._subscribers:
            sub.close()
        self._subscribers.clear()
