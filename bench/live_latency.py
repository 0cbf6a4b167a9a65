"""Live latency: from a notification's commit to its SSE event at a dashboard's client.

Each database runs on one of its own:

- SQLite, one gateway: events are ingested by the gateway whose stream is read;
- PostgreSQL, two gateways A and B: events are ingested by B, and streams are read from both.
  B's listeners give the one-process latency, A's the latency across processes (B -> NOTIFY ->
  A's LISTEN relay -> A's stream), for the same events at the same moment.

`listeners` SSE clients per gateway hold `GET /api/v1/admin/notifications/stream` open (admin
API token).
One `store.issue` line at a time is POSTed to the NDJSON endpoint at a modest pace
(`interval`), each with its own issue so that no dedup window suppresses it; the next line
waits until every listener has its `notification.created` event (or 5 s). Per event and
listener, with the machine's one clock:

- commit -> received: from the notification's `created_at` (stamped by the gateway just before
  its transaction commits; read back from the database afterwards) to the moment the client
  has parsed the event. It includes the commit itself, so it is an upper bound of what the
  target asks;
- response -> received: from the ingestion answer (sent after the commit) to the event; it can
  be negative, the event overtaking the answer;
- request -> received: from just before the POST.

Per round and path (SQLite; PostgreSQL in one process; across two) p50 and p99 (nearest rank)
over events x listeners; reported: medians of the rounds. Target: commit -> received p99
<= 100 ms on each path.

`--profile` is accepted, as by every benchmark, and ignored: the gateways are mostly idle.

    python -m bench.live_latency --size small [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import harness
from bench.harness import Backend, GatewayProcess, Size, Target

NAME = "live_latency"
STREAM_PATH = "/api/v1/admin/notifications/stream"
LATENCY_GOAL_MS = 100.0
EVENT_TIMEOUT_S = 5.0
WARMUP_EVENTS = 3
DATABASES: tuple[Backend, ...] = ("sqlite", "postgresql")
LABELS = {
    "sqlite": "one process, SQLite",
    "postgresql": "one process, PostgreSQL",
    "two-processes": "two processes, PostgreSQL",
}
"""Path name -> label. On PostgreSQL the ingesting gateway's listeners are one process."""


@dataclass(frozen=True)
class Plan:
    events: int
    """Measured events per round."""
    rounds: int
    listeners: int
    interval_s: float
    """Pause between one event's arrival everywhere and the next POST."""


PLANS = {
    Size.TINY: Plan(events=10, rounds=1, listeners=1, interval_s=0.01),
    Size.SMALL: Plan(events=100, rounds=2, listeners=2, interval_s=0.05),
    Size.FULL: Plan(events=200, rounds=3, listeners=3, interval_s=0.05),
}


@dataclass
class Listener:
    """One open SSE stream; `created` gets (arrival wall time, notification id) per event."""

    path: str
    response: aiohttp.ClientResponse
    created: asyncio.Queue[tuple[float, int]] = field(default_factory=asyncio.Queue)
    frames: int = 0

    async def pump(self) -> None:
        while True:
            raw = await self.response.content.readuntil(b"\n\n")
            arrived = time.time()
            self.frames += 1
            kind = data = None
            for line in raw.decode().splitlines():
                name, _, value = line.partition(": ")
                if name == "event":
                    kind = value
                elif name == "data":
                    data = value
            if kind == "notification.created" and data is not None:
                self.created.put_nowait((arrived, int(orjson.loads(data)["id"])))

    async def wait_hello(self) -> None:
        while True:
            raw = await asyncio.wait_for(self.response.content.readuntil(b"\n\n"), 10)
            if b"event: hello" in raw:
                return


@contextlib.asynccontextmanager
async def listening(
    session: aiohttp.ClientSession, streams: Sequence[tuple[str, str]], token: str, count: int
) -> AsyncIterator[list[Listener]]:
    """Open `count` streams on each (path, base URL), wait for their `hello`, and read them in
    the background."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with contextlib.AsyncExitStack() as stack:
        listeners = []
        for path, base_url in streams:
            for _ in range(count):
                response = await stack.enter_async_context(
                    session.get(base_url + STREAM_PATH, headers=headers)
                )
                if response.status != 200:
                    raise RuntimeError(f"the stream answered {response.status}")
                listener = Listener(path, response)
                await listener.wait_hello()
                listeners.append(listener)
        tasks = [asyncio.create_task(listener.pump()) for listener in listeners]
        try:
            yield listeners
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                    await task


def issue_line(tag: str, number: int) -> bytes:
    event = {
        "event": "store.issue",
        "store_id": 1 + number % 12,
        "store_name": "Acme Corp",
        # A new issue per line: the rule's dedup key holds the issue, so none is suppressed.
        "issue": f"latency-{tag}-{number}",
        "message": "Needs an administrator's review",
        "level": "warning",
        "logger": "shop.stores",
    }
    return orjson.dumps(event) + b"\n"


@dataclass
class Sample:
    notification_id: int
    sent: float
    answered: float
    received: list[tuple[str, float]]
    """(path, arrival) per listener."""


async def send_one(
    session: aiohttp.ClientSession, url: str, body: bytes, listeners: Sequence[Listener]
) -> Sample | None:
    """POST one line, then wait for its event at every listener; None if one never came."""
    sent = time.time()
    async with session.post(url, data=body, headers=harness.NDJSON_HEADERS) as response:
        answer = await response.json(content_type=None)
        answered = time.time()
        if response.status != 200 or int(answer.get("notifications", 0)) != 1:
            raise RuntimeError(f"ingestion answered {response.status}: {answer}")
    arrivals: list[tuple[str, float]] = []
    notification_id: int | None = None
    for listener in listeners:
        try:
            arrived, got_id = await asyncio.wait_for(listener.created.get(), EVENT_TIMEOUT_S)
        except TimeoutError:
            return None
        if notification_id is not None and got_id != notification_id:
            raise RuntimeError(f"listeners disagree: notification {got_id} vs {notification_id}")
        notification_id = got_id
        arrivals.append((listener.path, arrived))
    assert notification_id is not None
    return Sample(notification_id, sent, answered, arrivals)


async def created_times(url: str, ids: Sequence[int]) -> dict[int, float]:
    """Read the notifications' created_at back, as epoch seconds."""
    from sqlalchemy import select

    from gateway.storage.models import AdminNotification

    engine = harness._engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AdminNotification.id, AdminNotification.created_at).where(
                    AdminNotification.id.in_(list(ids))
                )
            )
            found: dict[int, datetime] = {int(i): at for i, at in rows.all()}
    finally:
        await engine.dispose()
    return {i: at.timestamp() for i, at in found.items()}


def summarise(samples: Sequence[Sample], created: dict[int, float], path: str) -> dict[str, float]:
    commit: list[float] = []
    answer: list[float] = []
    request: list[float] = []
    for sample in samples:
        for where, received in sample.received:
            if where != path:
                continue
            commit.append(1000 * (received - created[sample.notification_id]))
            answer.append(1000 * (received - sample.answered))
            request.append(1000 * (received - sample.sent))
    return {
        "commit_p50_ms": harness.percentile(commit, 0.5),
        "commit_p99_ms": harness.percentile(commit, 0.99),
        "commit_max_ms": max(commit),
        "answer_p50_ms": harness.percentile(answer, 0.5),
        "answer_p99_ms": harness.percentile(answer, 0.99),
        "request_p50_ms": harness.percentile(request, 0.5),
        "request_p99_ms": harness.percentile(request, 0.99),
    }


async def run_database(
    backend: Backend, plan: Plan, args: argparse.Namespace, workdir: Path
) -> list[dict[str, Any]]:
    """Start the gateway(s) on a new database, stream and ingest; one result per path."""
    tag = secrets.token_hex(3)
    async with harness.temporary_database(
        backend, postgres_url=args.postgres_url, workdir=workdir
    ) as url:
        logs = args.out_dir / "logs"
        ingest_on = GatewayProcess(database_url=url, log_path=logs / f"{NAME}-{backend}-b.log")
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(ingest_on)
            paths: list[tuple[str, str]] = [(backend, ingest_on.base_url)]
            if backend == "postgresql":
                remote = GatewayProcess(database_url=url, log_path=logs / f"{NAME}-{backend}-a.log")
                await stack.enter_async_context(remote)
                paths.append(("two-processes", remote.base_url))
            token = await harness.create_admin_token(url, "bench-live")
            session = await stack.enter_async_context(
                harness.loopback_session(len(paths) * plan.listeners + 2)
            )
            listeners = await stack.enter_async_context(
                listening(session, paths, token, plan.listeners)
            )
            number = 0
            # Unmeasured: the first events also wait for the relay's LISTEN to be in place.
            for _ in range(WARMUP_EVENTS):
                for _attempt in range(20):
                    number += 1
                    line = issue_line(tag, number)
                    if await send_one(session, ingest_on.ingest_url, line, listeners):
                        break
                    _drain(listeners)
                else:
                    raise RuntimeError(f"{backend}: no live event arrived in 20 attempts")
            rounds: list[list[Sample]] = []
            lost = 0
            for _round in range(plan.rounds):
                samples: list[Sample] = []
                for _ in range(plan.events):
                    number += 1
                    line = issue_line(tag, number)
                    sample = await send_one(session, ingest_on.ingest_url, line, listeners)
                    if sample is None:
                        lost += 1
                        _drain(listeners)
                    else:
                        samples.append(sample)
                    await asyncio.sleep(plan.interval_s)
                rounds.append(samples)
        created = await created_times(url, [s.notification_id for r in rounds for s in r])
    results = []
    for path, _base_url in paths:
        per_round = [summarise(samples, created, path) for samples in rounds if samples]
        keys = per_round[0].keys() if per_round else ()
        median = {key: harness.median(r[key] for r in per_round) for key in keys}
        received = sum(1 for r in rounds for s in r for where, _ in s.received if where == path)
        results.append(
            {
                "path": path,
                "label": LABELS[path],
                "database": backend,
                "events": plan.events * plan.rounds,
                "lost": lost,
                "received": received,
                "counts_exact": lost == 0
                and received == plan.events * plan.rounds * plan.listeners,
                "rounds": per_round,
                "median": median,
            }
        )
    return results


def _drain(listeners: Sequence[Listener]) -> None:
    """Drop what is queued: it belongs to an event given up on."""
    for listener in listeners:
        while not listener.created.empty():
            listener.created.get_nowait()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = PLANS[args.size]
    databases: list[Backend] = [d for d in DATABASES if d in args.databases]
    skipped: dict[str, str] = {}
    if "postgresql" in databases:
        reason = await harness.postgres_unavailable(args.postgres_url)
        if reason is not None:
            if os.environ.get("CI") == "true":
                raise SystemExit(f"{NAME}: {reason}; CI=true requires the PostgreSQL paths")
            databases.remove("postgresql")
            skipped["postgresql"] = reason
    print(
        f"{NAME}: {plan.events} events x {plan.rounds} round(s), {plan.listeners} listener(s) "
        f"per gateway, one line per request every ~{plan.interval_s * 1000:.0f} ms; "
        f"{', '.join(databases)}",
        flush=True,
    )
    workdir = harness.scratch_dir()
    results: dict[str, dict[str, Any]] = {}
    try:
        for backend in databases:
            for result in await run_database(backend, plan, args, workdir):
                results[result["path"]] = result
                m = result["median"]
                print(
                    f"  {result['label']}: commit -> received p50 {m['commit_p50_ms']:.1f} ms, "
                    f"p99 {m['commit_p99_ms']:.1f} ms; lost {result['lost']}",
                    flush=True,
                )
    finally:
        harness.remove_tree(workdir)
    targets = [
        Target(
            f"live p99 commit -> SSE, {LABELS[s]}",
            r["median"]["commit_p99_ms"],
            LATENCY_GOAL_MS,
            "ms",
            higher_is_better=False,
        )
        for s, r in results.items()
    ]
    summary: list[list[object]] = []
    for r in results.values():
        summary += [
            [f"live p50 commit -> SSE, {r['label']}", r["median"]["commit_p50_ms"], "ms"],
            [f"live p99 commit -> SSE, {r['label']}", r["median"]["commit_p99_ms"], "ms"],
        ]
    payload = {
        "size": str(args.size),
        "options": harness.options(args),
        "params": {
            "events": plan.events,
            "rounds": plan.rounds,
            "listeners": plan.listeners,
            "interval_s": plan.interval_s,
            "warmup_events": WARMUP_EVENTS,
        },
        "results": results,
        "skipped": skipped,
        "counts_exact": all(r["counts_exact"] for r in results.values()),
        "summary": summary,
        "targets": [t.as_dict() for t in targets],
    }
    report(payload)
    harness.write_json(args.out_dir, NAME, payload)
    return payload


def report(payload: dict[str, Any]) -> None:
    rows = []
    for r in payload["results"].values():
        m = r["median"]
        rows.append(
            [
                r["label"],
                m["commit_p50_ms"],
                m["commit_p99_ms"],
                m["answer_p50_ms"],
                m["answer_p99_ms"],
                m["request_p50_ms"],
                m["request_p99_ms"],
                r["lost"],
            ]
        )
    p = payload["params"]
    harness.print_table(
        f"{NAME} (ms; medians of {p['rounds']} round(s) of {p['events']} events x "
        f"{p['listeners']} listener(s))",
        [
            "path",
            "commit p50",
            "commit p99",
            "answer p50",
            "answer p99",
            "request p50",
            "request p99",
            "lost",
        ],
        rows,
    )
    for database, reason in payload["skipped"].items():
        print(f"skipped {database}: {reason}")
    harness.print_targets(Target.from_dict(t) for t in payload["targets"])


def build_parser() -> argparse.ArgumentParser:
    parser = harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=list(DATABASES),
        default=list(DATABASES),
        help="default both; PostgreSQL is skipped, with the reason, when it is unreachable, "
        "except under CI=true",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
