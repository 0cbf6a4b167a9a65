"""Admission to ingestion: how many batches, and how many body bytes, are in the gateway at once.

A request is admitted before its body is read, so the bound covers the bodies themselves,
not only the work done on them. Two budgets apply together: a number of batches (which also
bounds the writer's queue) and a number of body bytes. Weighing by bytes is what lets many
small requests in at once: an alert storm of one-line requests fills a write group instead of
queueing behind a batch count sized for the largest bodies, while a few bodies at the size
limit still cannot together take more than the byte budget.

Waiters are served in arrival order: a large body at the head is not overtaken by a stream
of small ones, which would starve it. A body larger than the whole byte budget is admitted
when nothing else is in, so the budget never refuses a body the size limit allows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import NamedTuple


class _Waiter(NamedTuple):
    size: int
    granted: asyncio.Future[None]


class Admission:
    """A FIFO semaphore over two budgets: batches and body bytes."""

    def __init__(self, max_batches: int, max_bytes: int) -> None:
        if max_batches < 1 or max_bytes < 1:
            raise ValueError("both budgets must be at least 1")
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self.batches = 0
        self.bytes = 0
        self._waiters: deque[_Waiter] = deque()

    def _fits(self, size: int) -> bool:
        if self.batches >= self.max_batches:
            return False
        return self.bytes == 0 or self.bytes + size <= self.max_bytes

    def full(self, size: int = 0) -> bool:
        """Whether a request of `size` bytes would have to wait now."""
        return bool(self._waiters) or not self._fits(size)

    def try_acquire(self, size: int = 0) -> bool:
        """Take room for `size` bytes if it is free now and nobody is waiting before."""
        if self.full(size):
            return False
        self.batches += 1
        self.bytes += size
        return True

    async def acquire(self, size: int = 0) -> None:
        """Wait for room for one batch of `size` bytes (bound the wait with asyncio.timeout)."""
        if self.try_acquire(size):
            return
        waiter = _Waiter(size, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await waiter.granted
        except BaseException:
            if waiter.granted.done() and not waiter.granted.cancelled():
                # Granted in the same moment as the timeout or cancellation: give it back.
                self.release(size)
            else:
                waiter.granted.cancel()
                self._remove(waiter)
                self._wake()  # this waiter may have been what held the others back
            raise

    def release(self, size: int = 0) -> None:
        """Give back what one `acquire(size)` took."""
        self.batches -= 1
        self.bytes -= size
        self._wake()

    def _remove(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _wake(self) -> None:
        while self._waiters:
            head = self._waiters[0]
            if head.granted.done():  # cancelled by its own timeout, not yet removed
                self._waiters.popleft()
                continue
            if not self._fits(head.size):
                return
            self._waiters.popleft()
            self.batches += 1
            self.bytes += head.size
            head.granted.set_result(None)
