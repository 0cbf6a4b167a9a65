"""Step 5 of the pipeline: one writer per process commits concurrent batches together.

Batches that arrive while a transaction is running wait for the next one, which takes them
all: an alert storm from many clients becomes a few upserts and one commit per round instead
of one transaction per request, and rows are always locked in one order, so writers in other
processes cannot deadlock with this one. A batch is never delayed on purpose: an idle writer
starts on the first batch at once.

Each batch still stands alone: if a group's transaction fails, its batches are retried one by
one, so a batch that cannot be written fails without taking the others with it. When the
database itself is unavailable (unreachable, or no answer within `timeout`) the whole group
fails at once instead: retrying each batch against a dead database would only multiply the
wait. A failed write never stops the writer; the next batch tries the database again.

Two group shapes skip the transaction: a group with nothing to write (no line matched) does
not touch the database, and on PostgreSQL a group that is one statement (an alert storm's
multi-row upsert) is sent without BEGIN and COMMIT, which it does not need to be atomic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway import actions
from gateway.publish.hub import Hub
from gateway.publish.metrics import Metrics
from gateway.services.delivery_service import record_delivery
from gateway.storage.engine import is_postgres


@dataclass(frozen=True, slots=True)
class Written:
    """What one batch's writes came to."""

    notifications: int = 0
    suppressed: int = 0
    resolved: int = 0
    duplicate: bool = False


@dataclass(slots=True)
class _Job:
    ops: Sequence[actions.Op]
    source: str
    delivery_id: str | None
    done: asyncio.Future[Written] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


# A transaction that takes longer is abandoned and its batches answered 503: a database that
# stopped answering must not hold ingestion slots (and the callers) indefinitely.
DEFAULT_WRITE_TIMEOUT_SECONDS = 10.0


class WriterClosed(RuntimeError):
    """The gateway is shutting down and takes no new writes."""


class WriteTimeout(OperationalError):
    """The database did not finish a group's transaction in time; nothing of it is assumed."""

    def __init__(self, seconds: float) -> None:
        message = f"the database did not commit within {seconds:g}s"
        super().__init__(None, None, TimeoutError(message))
        self.message = message

    def __str__(self) -> str:
        return self.message


T = TypeVar("T")
CLEANUP_GRACE_SECONDS = 0.25


async def run_within(work: Coroutine[Any, Any, T], seconds: float) -> T:
    """Await `work` for at most `seconds`; then cancel it and raise TimeoutError.

    A database call cancelled by `asyncio.timeout` still rolls back or closes its connection
    before the timeout lets go, and against a server that stopped answering that cleanup
    waits as long as the server does. Here the cancelled call gets `CLEANUP_GRACE_SECONDS`,
    then finishes its cleanup in the background (holding its pooled connection until then)
    while the caller moves on. Used by the writer and by the health checks.
    """
    if seconds <= 0:
        work.close()  # no time at all: not even started, so nothing is left half-done
        raise TimeoutError(f"no answer within {seconds:g}s")
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task}, timeout=CLEANUP_GRACE_SECONDS)
        raise
    if task in done:
        return task.result()
    task.cancel()
    # A database that is merely slow rolls back at once; only a silent one is left behind.
    await asyncio.wait({task}, timeout=CLEANUP_GRACE_SECONDS)
    if not task.done():
        _abandoned.add(task)
        task.add_done_callback(_forget)
    else:
        _forget(task)
    raise TimeoutError(f"no answer within {seconds:g}s")


# Cancelled calls still cleaning up; kept so they are not garbage-collected mid-cleanup.
_abandoned: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so the loop does not report it as never retrieved


def database_unavailable(exc: BaseException) -> bool:
    """Tell a failure of the database itself from one batch's bad data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError)


class GroupWriter:
    """Serialise this process's writes into group transactions."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hub: Hub,
        metrics: Metrics,
        *,
        max_group: int = 64,
        timeout: float = DEFAULT_WRITE_TIMEOUT_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._hub = hub
        self._metrics = metrics
        self._max_group = max_group
        self.timeout = timeout
        # SQLite gains nothing (no round trips) and keeps its BEGIN IMMEDIATE everywhere.
        bind = sessions.kw.get("bind")
        self._single_statement_autocommit = bool(
            isinstance(bind, AsyncEngine) and is_postgres(bind)
        )
        # None asks the writer to stop once everything before it is written.
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def write(
        self, ops: Sequence[actions.Op], *, source: str, delivery_id: str | None = None
    ) -> Written:
        """Queue a batch's writes and wait until they are committed (or have failed)."""
        if self._closed:
            raise WriterClosed("the gateway is shutting down")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-writer")
        job = _Job(ops, source, delivery_id)
        self._queue.put_nowait(job)
        return await job.done

    async def close(self) -> None:
        """Finish every queued batch, then stop."""
        self._closed = True
        if self._task is None or self._task.done():
            return
        self._queue.put_nowait(None)
        await self._task

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self._max_group and not self._queue.empty():
                job = self._queue.get_nowait()
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            await self._write_group(jobs)
            if stop:
                return

    async def _write_group(self, jobs: list[_Job]) -> None:
        try:
            try:
                results, applied = await run_within(self._commit(jobs), self.timeout)
            except TimeoutError as exc:
                raise WriteTimeout(self.timeout) from exc
        except Exception as exc:
            if len(jobs) == 1 or database_unavailable(exc):
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)
                return
            for job in jobs:
                await self._write_group([job])
            return
        self._metrics.written(applied.tally)
        # Listeners hear only about what is committed.
        for kind, data in applied.changes:
            self._hub.publish(kind, data)
        for job, result in zip(jobs, results, strict=True):
            if not job.done.done():  # the request may have been cancelled meanwhile
                job.done.set_result(result)

    async def _commit(self, jobs: list[_Job]) -> tuple[list[Written], actions.Applied]:
        fresh = [True] * len(jobs)
        if all(job.delivery_id is None for job in jobs):
            # No delivery to record first: the plan is known before the transaction starts.
            planned = actions.merge_jobs([(job.ops, job.source) for job in jobs])
            if not planned:
                # Nothing matched: no transaction to open, nothing to wait for.
                nothing = actions.Applied(per_job=[[0, 0, 0] for _ in jobs])
                return _results(nothing, fresh), nothing
            if self._single_statement_autocommit and actions.one_statement(planned):
                return await self._commit_one_statement(jobs, planned)
            with self._metrics.db_write_duration.time():
                async with self._sessions() as db, db.begin():
                    applied = await actions.apply(db, planned, jobs=len(jobs))
            return _results(applied, fresh), applied
        with self._metrics.db_write_duration.time():
            async with self._sessions() as db, db.begin():
                for i, job in enumerate(jobs):
                    if job.delivery_id is not None:
                        fresh[i] = await record_delivery(
                            db, source=job.source, delivery_id=job.delivery_id
                        )
                planned = actions.merge_jobs(
                    [
                        (job.ops, job.source) if ok else ((), job.source)
                        for job, ok in zip(jobs, fresh, strict=True)
                    ]
                )
                applied = await actions.apply(db, planned, jobs=len(jobs))
        return _results(applied, fresh), applied

    async def _commit_one_statement(
        self, jobs: list[_Job], planned: list[actions.Planned]
    ) -> tuple[list[Written], actions.Applied]:
        """Write a group that is one statement (an alert storm's upsert) without BEGIN/COMMIT.

        A single statement is atomic on its own: PostgreSQL runs it in a transaction of its
        own and commits it before answering. Leaving out the explicit BEGIN and COMMIT saves
        two of the three round trips, and their work on both sides, for every group.
        """
        with self._metrics.db_write_duration.time():
            async with self._sessions() as db:
                await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                applied = await actions.apply(db, planned, jobs=len(jobs))
        return _results(applied, [True] * len(jobs)), applied


def _results(applied: actions.Applied, fresh: Sequence[bool]) -> list[Written]:
    """Each batch's own counts; a delivery seen before is answered as a duplicate."""
    return [
        Written(
            notifications=applied.per_job[i][0],
            suppressed=applied.per_job[i][1],
            resolved=applied.per_job[i][2],
        )
        if ok
        else Written(duplicate=True)
        for i, ok in enumerate(fresh)
    ]
