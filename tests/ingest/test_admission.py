"""Admission: two budgets (batches and body bytes), served in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from gateway.ingest.admission import Admission


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class TestBudgets:
    def test_batches_budget(self) -> None:
        admission = Admission(max_batches=2, max_bytes=1_000)
        assert admission.try_acquire(1) and admission.try_acquire(1)
        assert not admission.try_acquire(1)
        admission.release(1)
        assert admission.try_acquire(1)

    def test_bytes_budget(self) -> None:
        admission = Admission(max_batches=10, max_bytes=1_000)
        assert admission.try_acquire(600)
        assert not admission.try_acquire(500)
        assert admission.try_acquire(400)  # exactly fills the budget
        assert (admission.batches, admission.bytes) == (2, 1_000)

    def test_body_larger_than_the_budget_is_admitted_alone(self) -> None:
        admission = Admission(max_batches=10, max_bytes=1_000)
        assert admission.try_acquire(5_000)
        assert not admission.try_acquire(0)  # nothing else while it is in
        admission.release(5_000)
        assert (admission.batches, admission.bytes) == (0, 0)

    def test_many_small_batches_fit_where_few_large_ones_do(self) -> None:
        admission = Admission(max_batches=64, max_bytes=32 * 1024 * 1024)
        assert all(admission.try_acquire(200) for _ in range(64))
        assert not admission.try_acquire(200)
        large = Admission(max_batches=64, max_bytes=32 * 1024 * 1024)
        ten_mib = 10 * 1024 * 1024
        assert [large.try_acquire(ten_mib) for _ in range(4)] == [True, True, True, False]

    def test_budgets_must_be_positive(self) -> None:
        with pytest.raises(ValueError):
            Admission(0, 10)
        with pytest.raises(ValueError):
            Admission(1, 0)


class TestWaiting:
    async def test_waiters_are_served_in_arrival_order(self) -> None:
        """A large body at the head is not overtaken by small ones that would fit."""
        admission = Admission(max_batches=10, max_bytes=1_000)
        assert admission.try_acquire(800)
        order: list[str] = []

        async def wait(name: str, size: int) -> None:
            await admission.acquire(size)
            order.append(name)

        large = asyncio.create_task(wait("large", 900))
        await settle()
        small = asyncio.create_task(wait("small", 100))
        await settle()
        assert order == []  # the small one fits, but the large one arrived first
        assert not admission.try_acquire(1)  # nor may a newcomer jump the queue
        admission.release(800)
        await asyncio.gather(large, small)
        assert order == ["large", "small"]
        assert (admission.batches, admission.bytes) == (2, 1_000)

    async def test_a_timed_out_waiter_leaves_and_lets_the_next_in(self) -> None:
        admission = Admission(max_batches=10, max_bytes=1_000)
        assert admission.try_acquire(500)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await admission.acquire(900)
        # The waiter that gave up no longer holds back one that fits now.
        async with asyncio.timeout(1):
            await admission.acquire(400)
        assert (admission.batches, admission.bytes) == (2, 900)

    async def test_a_grant_that_races_a_cancellation_is_given_back(self) -> None:
        admission = Admission(max_batches=1, max_bytes=1_000)
        assert admission.try_acquire(10)
        waiter = asyncio.create_task(admission.acquire(20))
        await settle()
        admission.release(10)  # grants the waiter: its future is resolved...
        waiter.cancel()  # ...and it is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (admission.batches, admission.bytes) == (0, 0)
        assert admission.try_acquire(30)

    async def test_release_wakes_every_waiter_that_now_fits(self) -> None:
        admission = Admission(max_batches=10, max_bytes=1_000)
        assert admission.try_acquire(1_000)
        waiters = [asyncio.create_task(admission.acquire(300)) for _ in range(4)]
        await settle()
        admission.release(1_000)
        await settle()
        assert [w.done() for w in waiters] == [True, True, True, False]
        admission.release(300)
        await asyncio.wait_for(waiters[3], 1)
        assert (admission.batches, admission.bytes) == (3, 900)
