"""Send a realistic stream of the platform's events to a running gateway (`gateway demo`).

The stream covers every event of docs/events.md, from a few stores, as the platform's
background tasks log them: NDJSON lines posted to the log ingestion endpoint, a batch at a
time, spread over about 45 seconds (`speed` scales that; 0 sends everything at once). Its
story: imports fail and succeed, an order needs matching, a component crashes, someone guesses
passwords, and one store's Letzshop connection breaks down in a burst of API errors (the
store's alert counts each one) until its order sync succeeds again and resolves the alert.

Alertmanager's events are not sent: the bundled rules only accept them through the signed
`alertmanager` webhook, never as log lines. Letzshop's events go in as log lines, which the
rules accept from either source.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import aiohttp

DEFAULT_URL = "http://127.0.0.1:8080"
INGEST_PATH = "/api/v1/ingest/logs"
DEFAULT_BURST = 8
REQUEST_TIMEOUT = 30.0

Event = dict[str, Any]


class DemoError(Exception):
    """The gateway could not be reached or refused a batch."""


@dataclass(frozen=True, slots=True)
class Store:
    id: int
    name: str


STORES = (
    Store(5, "Acme Corp"),
    Store(8, "Maison Verte"),
    Store(12, "Bio Shop Luxembourg"),
    Store(17, "Librairie du Centre"),
)
COMPONENTS = ("payment-worker", "invoice-renderer", "search-indexer")
IMPORT_ERRORS = (
    "CSV parsing failed: invalid column format",
    "CSV parsing failed: missing column 'ean'",
    "image download timed out after 30s",
)
LETZSHOP_ERRORS = ((502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout"))
LETZSHOP_OPERATIONS = ("fetch_orders", "confirm_inventory", "ack_shipment")


@dataclass(frozen=True, slots=True)
class Batch:
    """Events sent in one request, `at` seconds after the start (at speed 1)."""

    at: float
    label: str
    events: tuple[Event, ...]


@dataclass(slots=True)
class DemoSummary:
    """What a run sent and what the gateway said it produced."""

    batches: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    """How many events of each name were sent."""
    produced: Counter[str] = field(default_factory=Counter)
    """The gateway's totals: matched, notifications, suppressed, alerts, resolved."""


def scenario(rng: random.Random, *, burst: int = DEFAULT_BURST) -> list[Batch]:
    """Return one round of the demo: batches in time order, their details drawn from `rng`."""
    if burst < 1:
        raise ValueError("the burst needs at least one Letzshop API error")
    stores = list(STORES)
    rng.shuffle(stores)
    troubled, importer, seller, other = stores
    job = rng.randrange(1000, 9000)
    order_id = rng.randrange(10000, 99999)
    ip = f"203.0.113.{rng.randrange(2, 250)}"
    component = rng.choice(COMPONENTS)
    year = datetime.now(UTC).year

    batches = [
        Batch(
            0.0,
            f"clean product import for {importer.name}",
            (
                _event(
                    "product_import.completed",
                    "info",
                    importer,
                    job_id=job,
                    error_count=rng.randrange(0, 4),
                    imported_count=rng.randrange(800, 2500),
                ),
            ),
        ),
        Batch(
            3.0,
            f"product import failed for {importer.name}",
            (
                _event(
                    "product_import.failed",
                    "error",
                    importer,
                    job_id=job + 1,
                    error_message=rng.choice(IMPORT_ERRORS),
                ),
            ),
        ),
        Batch(
            6.0,
            f"product import with rejected rows for {seller.name}",
            (
                _event(
                    "product_import.completed",
                    "warning",
                    seller,
                    job_id=job + 2,
                    error_count=rng.randrange(5, 40),
                    imported_count=rng.randrange(300, 1900),
                ),
            ),
        ),
        Batch(
            9.0,
            f"order with unmatched products at {seller.name}",
            (
                _event(
                    "order.exception",
                    "warning",
                    seller,
                    order_id=order_id,
                    order_number=f"LZ-{year}-{order_id}",
                    unmatched_products=[
                        f"EAN {rng.randrange(4000000000000, 4999999999999)}",
                        f"SKU {seller.name.split()[0].upper()}-{rng.randrange(10, 99)}",
                    ],
                ),
            ),
        ),
        Batch(
            12.0,
            f"store issue at {other.name}",
            (
                _event(
                    "store.issue",
                    "warning",
                    other,
                    issue="payout_blocked",
                    message="Bank account verification expired",
                ),
            ),
        ),
        Batch(
            14.0,
            f"order sync failing for {troubled.name}",
            (
                _event(
                    "order_sync.failed",
                    "error",
                    troubled,
                    error_message="Letzshop answered 503 Service Unavailable",
                ),
            ),
        ),
    ]
    # The burst: the same store's Letzshop calls fail again and again; its alert counts them.
    for index in range(burst):
        status_code, reason = rng.choice(LETZSHOP_ERRORS)
        batches.append(
            Batch(
                16.0 + index * 14.0 / burst,
                f"Letzshop API error {index + 1}/{burst} for {troubled.name}",
                (
                    _event(
                        "letzshop.api_error",
                        "error",
                        troubled,
                        operation=rng.choice(LETZSHOP_OPERATIONS),
                        status_code=status_code,
                        error_message=reason,
                    ),
                ),
            )
        )
    batches += [
        Batch(
            22.0,
            f"order sync still failing for {troubled.name} (deduplicated)",
            (
                _event(
                    "order_sync.failed",
                    "error",
                    troubled,
                    error_message="timeout after 30s",
                ),
            ),
        ),
        Batch(
            26.0,
            f"order import failed on the Letzshop API for {other.name}",
            (
                _event(
                    "order_import.failed",
                    "error",
                    other,
                    job_id=job + 3,
                    error_message="Letzshop answered 503",
                    reason="api_error",
                ),
            ),
        ),
        Batch(
            31.0,
            f"critical error in {component}",
            (_system("system.critical_error", component=component, error_message=_crash(rng)),),
        ),
        Batch(
            35.0,
            f"failed admin logins from {ip}",
            tuple(
                _system(
                    "security.alert",
                    category="brute_force",
                    message=f"{attempts} failed admin logins in 60 s",
                    ip=ip,
                    user="admin@example.com",
                )
                for attempts in (12, 27, 42)
            ),
        ),
        Batch(
            40.0,
            f"order import failed on an exception for {seller.name}",
            (
                _event(
                    "order_import.failed",
                    "error",
                    seller,
                    job_id=job + 4,
                    error_message="KeyError: 'sku'",
                    reason="exception",
                ),
            ),
        ),
        Batch(
            45.0,
            f"order sync recovered for {troubled.name} (resolves its Letzshop alert)",
            (_event("order_sync.succeeded", "info", troubled),),
        ),
    ]
    return sorted(batches, key=lambda batch: batch.at)


def _event(name: str, level: str, store: Store, **fields: Any) -> Event:
    return {"event": name, "level": level, "store_id": store.id, "store_name": store.name, **fields}


def _system(name: str, **fields: Any) -> Event:
    return {"event": name, "level": "critical", **fields}


def _crash(rng: random.Random) -> str:
    return rng.choice(
        (
            "worker crashed: out of memory",
            "database connection pool exhausted",
            "unhandled exception in task loop",
        )
    )


async def run_demo(
    base_url: str = DEFAULT_URL,
    *,
    token: str | None = None,
    speed: float = 1.0,
    seed: int | None = None,
    repeat: int = 1,
    burst: int = DEFAULT_BURST,
    out: TextIO = sys.stdout,
) -> DemoSummary:
    """Send `repeat` rounds of the scenario to the gateway at `base_url`; raise `DemoError`."""
    if speed < 0:
        raise ValueError("speed must be 0 or more")
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    rng = random.Random(seed)
    url = base_url.rstrip("/") + INGEST_PATH
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    summary = DemoSummary()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        for round_number in range(1, repeat + 1):
            if repeat > 1:
                print(f"round {round_number}/{repeat}", file=out)
            await _send_round(http, url, scenario(rng, burst=burst), speed, summary, out)
    totals = ", ".join(f"{key} {summary.produced[key]}" for key in _ANSWER_KEYS)
    print(
        f"sent {sum(summary.sent.values())} events in {summary.batches} batches: {totals}", file=out
    )
    return summary


_ANSWER_KEYS = ("matched", "notifications", "suppressed", "alerts", "resolved")


async def _send_round(
    http: aiohttp.ClientSession,
    url: str,
    batches: Sequence[Batch],
    speed: float,
    summary: DemoSummary,
    out: TextIO,
) -> None:
    start = time.monotonic()
    for batch in batches:
        if speed > 0:
            delay = start + batch.at / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = "\n".join(json.dumps({**event, "timestamp": stamp}) for event in batch.events)
        answer = await _post(http, url, body, batch.label)
        if answer.get("errors"):
            raise DemoError(f"the gateway rejected lines of {batch.label!r}: {answer['errors']}")
        summary.batches += 1
        summary.sent.update(event["event"] for event in batch.events)
        summary.produced.update({key: int(answer.get(key, 0)) for key in _ANSWER_KEYS})
        produced = ", ".join(f"{key} {answer.get(key, 0)}" for key in _ANSWER_KEYS)
        events = f"{len(batch.events)} event{'s' if len(batch.events) > 1 else ''}"
        elapsed = time.monotonic() - start
        print(f"{elapsed:5.1f}s  {batch.label}: {events} -> {produced}", file=out, flush=True)


async def _post(http: aiohttp.ClientSession, url: str, body: str, label: str) -> dict[str, Any]:
    try:
        async with http.post(url, data=body.encode()) as response:
            text = await response.text()
            if response.status != 200:
                raise DemoError(
                    f"the gateway at {url} answered HTTP {response.status} to {label!r}: "
                    f"{_detail(text)}"
                )
    except aiohttp.ClientConnectionError as exc:
        raise DemoError(
            f"cannot reach the gateway at {url} ({exc}); is it running? Start it with `make run`"
        ) from exc
    except TimeoutError as exc:
        raise DemoError(f"the gateway at {url} did not answer within {REQUEST_TIMEOUT:g}s") from exc
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise DemoError(f"the gateway at {url} answered something other than JSON") from exc
    if not isinstance(answer, dict):
        raise DemoError(f"the gateway at {url} answered something other than a JSON object")
    return answer


def _detail(text: str) -> str:
    """Return the `detail` of a problem document, else the start of the body."""
    try:
        problem = json.loads(text)
    except ValueError:
        return text[:200] or "(empty body)"
    detail = problem.get("detail") if isinstance(problem, dict) else None
    return detail if isinstance(detail, str) else text[:200]
