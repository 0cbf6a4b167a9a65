"""Measure parse_log_body on 10,000 structlog lines against a bare `orjson.loads` loop.

Run: .venv/bin/python tests/ingest/bench_formats.py   (not collected by pytest)

The bare loop is the floor: it splits nothing, checks nothing and builds no records (a second
row adds the split, which parse_log_body must also do). Rounds
alternate between the two so that drifting machine load affects both alike; the best round
of each is compared.
"""

import time
from collections.abc import Callable

import orjson

from gateway.ingest.formats import parse_log_body
from gateway.ingest.limits import IngestLimits

LINES = 10_000
ROUNDS = 60


def structlog_line(index: int) -> bytes:
    """Return one line as structlog's JSONRenderer writes it, with a few varying fields."""
    return orjson.dumps(
        {
            "event": "order sync failed",
            "level": "error",
            "timestamp": "2024-05-01T12:00:00.123456Z",
            "logger": "shop.orders.sync",
            "store_id": 4211 + index % 7,
            "order_id": f"ord_{index:08x}",
            "attempt": 3,
            "error": "upstream timeout after 30s",
            "request_id": "5b1e0c6a-4f7e-4c1b-9b8e-2d2f0f3c9a11",
        }
    )


def best_of(rounds: list[Callable[[], object]]) -> list[float]:
    """Run each callable once per round, alternating; return each one's fastest time."""
    best = [float("inf")] * len(rounds)
    for _ in range(ROUNDS):
        for slot, run in enumerate(rounds):
            start = time.perf_counter()
            run()
            best[slot] = min(best[slot], time.perf_counter() - start)
    return best


def main() -> None:
    lines = [structlog_line(index) for index in range(LINES)]
    body = b"\n".join(lines) + b"\n"
    limits = IngestLimits()
    loads = orjson.loads
    parsed = parse_log_body(body, "application/x-ndjson", limits)
    assert len(parsed.events) == LINES and not parsed.errors

    array = b"[" + b",".join(lines) + b"]"
    logfmt = b"".join(
        b'event="order sync failed" level=error timestamp=2024-05-01T12:00:00Z store_id=%d '
        b'order_id=ord_%08x attempt=3 error="upstream timeout"\n' % (4211 + n % 7, n)
        for n in range(LINES)
    )
    bare, split_too, ours, as_array, as_logfmt = best_of(
        [
            lambda: [loads(line) for line in lines],
            lambda: [loads(line) for line in body.split(b"\n") if line],
            lambda: parse_log_body(body, "application/x-ndjson", limits),
            lambda: parse_log_body(array, "application/json", limits),
            lambda: parse_log_body(logfmt, "text/plain", limits),
        ]
    )
    print(f"{'':<30}{'ms':>8}{'lines/s':>12}")
    for name, seconds in [
        ("bare orjson.loads loop", bare),
        ("same, splitting the body too", split_too),
        ("parse_log_body, ndjson", ours),
        ("parse_log_body, json array", as_array),
        ("parse_log_body, logfmt", as_logfmt),
    ]:
        print(f"{name:<30}{seconds * 1e3:>8.2f}{LINES / seconds:>12,.0f}")
    print(f"ndjson ratio (ours / bare loop, lines/s): {bare / ours:.2f}")
    print(f"ndjson ratio (ours / bare loop with split): {split_too / ours:.2f}")


if __name__ == "__main__":
    main()
