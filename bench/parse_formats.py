"""parse_log_body on structlog lines against a bare `orjson.loads` loop, in process.

The bare loop is the floor: it splits nothing, checks nothing and builds no records (a second
row adds the split, which parse_log_body must also do). The body is parsed as NDJSON, as a JSON
array and as logfmt. The NDJSON body is clean (no blank, invalid or over-limit line), so it
takes the whole-body path that most production bodies take; a body with any such line goes
line by line (tests/ingest/test_fast_ndjson.py holds the two to the same results). Rounds
alternate between the measures so that drifting machine load affects them alike; the median
round of each is reported (the best one too), and the ratios are taken between medians.

    python -m bench.parse_formats --size small
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bench import harness
from bench.harness import Size
from gateway.ingest.formats import parse_log_body
from gateway.ingest.limits import IngestLimits

NAME = "parse_formats"


@dataclass(frozen=True)
class Plan:
    lines: int
    rounds: int


PLANS = {
    Size.TINY: Plan(lines=2_000, rounds=5),
    Size.SMALL: Plan(lines=10_000, rounds=20),
    Size.FULL: Plan(lines=10_000, rounds=60),
}


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


def alternate(rounds: int, measures: Sequence[Callable[[], object]]) -> list[list[float]]:
    """Run each callable once per round, alternating; return each one's times."""
    times: list[list[float]] = [[] for _ in measures]
    for _ in range(rounds):
        for slot, measure in enumerate(measures):
            times[slot].append(harness.timed(measure))
    return times


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = PLANS[args.size]
    lines = [structlog_line(index) for index in range(plan.lines)]
    body = b"\n".join(lines) + b"\n"
    limits = IngestLimits()
    loads = orjson.loads
    parsed = parse_log_body(body, "application/x-ndjson", limits)
    if len(parsed.events) != plan.lines or parsed.errors:
        raise RuntimeError(f"parse_log_body accepted {len(parsed.events)} of {plan.lines} lines")

    array = b"[" + b",".join(lines) + b"]"
    logfmt = b"".join(
        b'event="order sync failed" level=error timestamp=2024-05-01T12:00:00Z store_id=%d '
        b'order_id=ord_%08x attempt=3 error="upstream timeout"\n' % (4211 + n % 7, n)
        for n in range(plan.lines)
    )
    stages: list[tuple[str, Callable[[], object]]] = [
        ("bare orjson.loads loop", lambda: [loads(line) for line in lines]),
        ("same, splitting the body too", lambda: [loads(x) for x in body.split(b"\n") if x]),
        ("parse_log_body, ndjson", lambda: parse_log_body(body, "application/x-ndjson", limits)),
        ("parse_log_body, json array", lambda: parse_log_body(array, "application/json", limits)),
        ("parse_log_body, logfmt", lambda: parse_log_body(logfmt, "text/plain", limits)),
    ]
    print(f"{NAME}: {plan.lines:,} lines, {plan.rounds} rounds", flush=True)
    times = alternate(plan.rounds, [measure for _name, measure in stages])
    medians = [harness.median(t) for t in times]
    results = [
        {
            "stage": name,
            "median_ms": 1e3 * med,
            "best_ms": 1e3 * min(t),
            "lines_per_s": plan.lines / med,
            "ratio_to_bare": medians[0] / med,
        }
        for (name, _measure), med, t in zip(stages, medians, times, strict=True)
    ]
    ratio = medians[0] / medians[2]
    ratio_split = medians[1] / medians[2]
    payload = {
        "size": str(args.size),
        "options": harness.options(args),
        "params": {"lines": plan.lines, "rounds": plan.rounds},
        "results": results,
        "ndjson_ratio_to_bare": ratio,
        "ndjson_ratio_to_bare_with_split": ratio_split,
        "summary": [["parse_log_body ndjson / bare orjson loop (in process)", ratio, "x"]],
        "targets": [],
    }
    harness.print_table(
        f"{NAME} (median of {plan.rounds} alternating rounds)",
        ["stage", "median ms", "best ms", "lines/s", "ratio"],
        [
            [r["stage"], r["median_ms"], r["best_ms"], r["lines_per_s"], r["ratio_to_bare"]]
            for r in results
        ],
    )
    print(f"ndjson ratio (ours / bare loop, lines/s): {ratio:.2f}")
    print(f"ndjson ratio (ours / bare loop with split): {ratio_split:.2f}")
    harness.write_json(args.out_dir, NAME, payload)
    return payload


def build_parser() -> argparse.ArgumentParser:
    return harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
