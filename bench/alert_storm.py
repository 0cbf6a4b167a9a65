"""An alert storm: 100,000 `letzshop.api_error` events for 10 stores into PostgreSQL.

Each event is one more occurrence of its store's Letzshop alert (fingerprint
`letzshop:store:<id>`), so the storm must end with exactly one open alert per store whose
occurrence_count is the number of events sent for it. 32 concurrent clients send the events to
the NDJSON endpoint in two shapes: 100 lines per request, and one line per request.

Each run has its own database and gateway process, which gets the storm in each shape in
turn (the alerts table emptied in between). Measured per run and shape: events/s, the gateway's
CPU time per 1,000 events (from /proc), the client's CPU time, and the CPU time of the
machine's postgres processes (approximate on a shared machine). After each run the database is
queried and the counts must be exact. Then the same storm, with the same clients, goes to a bare
aiohttp server that only parses the lines (`bench/bare_server.py`): its events/s is the floor
this machine's HTTP server and client allow in this run, and the gateway's share of it is the
ratio least moved by the machine's other load. Targets: >= 50,000 events/s with 100-line requests,
>= 8,000 events/s with one line per request, <= 40 ms gateway CPU per 1,000 events.

Each shape has a time budget (120 s at full size, `--budget`): requests not accepted by then are
not sent, the rates cover what was, and the counts are checked against exactly those events.

    python -m bench.alert_storm --size small [--database sqlite] [--shapes single]
                                [--clients 1] [--budget 30] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness, profiling
from bench.harness import Backend, GatewayProcess, Size, Target
from bench.workload import Storm, body_ranges, letzshop_storm, ndjson_bodies

NAME = "alert_storm"
STORES = 10
SEED = 424242
SHAPES: dict[str, int] = {"batch100": 100, "single": 1}
"""Shape name -> lines per request."""
GOALS = {"batch100": 50_000.0, "single": 8_000.0}
CPU_GOAL_MS = 40.0
FINGERPRINT = "letzshop:store:{}"


@dataclass(frozen=True)
class Plan:
    events: int
    runs: int
    clients: int
    budget_s: float
    """Time allowed to each shape's warm-up and to its measured part: what is not accepted
    by then is not sent, and the figures cover what was."""


PLANS = {
    Size.TINY: Plan(events=200, runs=1, clients=2, budget_s=20),
    Size.SMALL: Plan(events=20_000, runs=2, clients=32, budget_s=60),
    Size.FULL: Plan(events=100_000, runs=3, clients=32, budget_s=120),
}


def postgres_cpu_seconds() -> float:
    """Sum the CPU time of every process named `postgres` (the server and its backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += harness.cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return total


async def check_alerts(url: str, per_store: Counter[int]) -> dict[str, Any]:
    """Read the alerts back: one open alert per store, each with its exact count."""
    rows = await harness.query_rows(
        url, "SELECT fingerprint, occurrence_count, is_resolved FROM platform_alerts"
    )
    expected = {FINGERPRINT.format(store): count for store, count in per_store.items()}
    open_rows = [(fp, count) for fp, count, resolved in rows if not resolved]
    found = dict(open_rows)
    return {
        "alerts": len(rows),
        "open_alerts": len(open_rows),
        "stores": len(expected),
        "occurrence_sum": sum(count for _fp, count in open_rows),
        "events_sent": sum(per_store.values()),
        "per_fingerprint_exact": found == expected and len(open_rows) == len(expected),
        "one_open_alert_per_store": len(open_rows) == len(expected) == len(found),
        "exact": found == expected and len(rows) == len(expected),
    }


async def _storm_warmed(
    url: str, shape: str, number: int, plan: Plan, budget_s: float
) -> tuple[Storm, list[bytes], list[range], int, harness.IngestTotals]:
    """Build run `number`'s storm in `shape` and send its warm-up part to `url`.

    The first 2 % of requests (at least one per client) warm the server up, unmeasured; their
    events count in the totals checked afterwards like all others. Returns the storm, its
    bodies, each body's line range, how many bodies the warm-up took, and its totals.
    """
    per_request = SHAPES[shape]
    storm = letzshop_storm(random.Random(SEED + number), plan.events, STORES)
    bodies = ndjson_bodies(storm.lines, per_request)
    ranges = body_ranges(len(storm.lines), per_request)
    warm = min(len(bodies) // 2, max(plan.clients, len(bodies) // 50))
    totals = await harness.post_batches(url, bodies[:warm], clients=plan.clients, budget_s=budget_s)
    return storm, bodies, ranges, warm, totals


async def one_shape(
    gateway: GatewayProcess,
    url: str,
    backend: Backend,
    shape: str,
    number: int,
    plan: Plan,
    budget_s: float,
    *,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """Send one storm in one shape to a running gateway whose alerts table is empty."""
    per_request = SHAPES[shape]
    storm, bodies, ranges, warm, warm_totals = await _storm_warmed(
        gateway.ingest_url, shape, number, plan, budget_s
    )
    measured_bodies = bodies[warm:]
    pg_before = postgres_cpu_seconds() if backend == "postgresql" else 0.0
    user_before, sys_before = harness.cpu_times(gateway.pid)
    client_before = time.process_time()
    start = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        profiler = None
        if profile_to is not None:
            profiler = await stack.enter_async_context(profiling.Profiler(gateway.pid, profile_to))
        totals = await harness.post_batches(
            gateway.ingest_url, measured_bodies, clients=plan.clients, budget_s=budget_s
        )
    wall = time.perf_counter() - start
    user_after, sys_after = harness.cpu_times(gateway.pid)
    server_cpu = user_after + sys_after - user_before - sys_before
    client_cpu = time.process_time() - client_before
    pg_cpu = postgres_cpu_seconds() - pg_before if backend == "postgresql" else None

    accepted = [ranges[i] for i in warm_totals.accepted]
    accepted += [ranges[warm + i] for i in totals.accepted]
    per_store = storm.per_store(accepted)
    check = await check_alerts(url, per_store)
    answered_alerts = warm_totals.alerts + totals.alerts
    check["answered_alerts"] = answered_alerts
    check["exact"] = bool(check["exact"]) and answered_alerts == check["events_sent"]
    events = sum(len(ranges[warm + i]) for i in totals.accepted)
    return {
        "shape": shape,
        "run": number,
        "lines_per_request": per_request,
        "planned_events": plan.events,
        "requests": len(totals.accepted),
        "events": events,
        "cut_short": warm_totals.cut_short or totals.cut_short,
        "seconds": wall,
        "events_per_s": events / wall,
        "requests_per_s": len(totals.accepted) / wall,
        "server_cpu_ms_per_1000": 1e6 * server_cpu / max(events, 1),
        "server_cpu_utilisation": server_cpu / wall,
        "server_system_cpu_share": (sys_after - sys_before) / server_cpu if server_cpu else 0.0,
        "client_cpu_ms_per_1000": 1e6 * client_cpu / max(events, 1),
        "postgres_cpu_ms_per_1000": None if pg_cpu is None else 1e6 * pg_cpu / max(events, 1),
        "server_peak_rss_mb": harness.peak_rss_bytes(gateway.pid) / harness.MB,
        "retries": warm_totals.retries + totals.retries,
        "statuses": dict(warm_totals.statuses + totals.statuses),
        "check": check,
        "profile": None if profiler is None else profiler.summary(),
    }


async def bare_shape(
    server: harness.BareServerProcess, shape: str, number: int, plan: Plan, budget_s: float
) -> dict[str, Any]:
    """Send the same storm, the same way, to the bare server: the HTTP floor of this run."""
    _, bodies, ranges, warm, _ = await _storm_warmed(
        server.ingest_url, shape, number, plan, budget_s
    )
    user_before, sys_before = harness.cpu_times(server.pid)
    client_before = time.process_time()
    start = time.perf_counter()
    totals = await harness.post_batches(
        server.ingest_url, bodies[warm:], clients=plan.clients, budget_s=budget_s
    )
    wall = time.perf_counter() - start
    user_after, sys_after = harness.cpu_times(server.pid)
    events = sum(len(ranges[warm + i]) for i in totals.accepted)
    return {
        "events": events,
        "seconds": wall,
        "events_per_s": events / wall,
        "server_cpu_ms_per_1000": 1e6
        * (user_after + sys_after - user_before - sys_before)
        / max(events, 1),
        "client_cpu_ms_per_1000": 1e6 * (time.process_time() - client_before) / max(events, 1),
    }


async def one_run(
    backend: Backend,
    shapes: Sequence[str],
    number: int,
    plan: Plan,
    args: argparse.Namespace,
    workdir: Path,
    *,
    budget_s: float,
    profile: bool = False,
) -> list[dict[str, Any]]:
    """Start a gateway on a new database and send it the storm in each shape in turn.

    The alerts table is emptied between shapes, so each shape's counts are checked alone.
    """
    results = []
    async with harness.temporary_database(
        backend, postgres_url=args.postgres_url, workdir=workdir
    ) as url:
        gateway = GatewayProcess(
            database_url=url, log_path=args.out_dir / "logs" / f"{NAME}-{backend}-{number}.log"
        )
        async with gateway:
            for index, shape in enumerate(shapes):
                if index:
                    await harness.execute(url, "DELETE FROM platform_alerts")
                out = args.out_dir / f"{NAME}-{backend}-{shape}.pyspy.txt" if profile else None
                result = await one_shape(
                    gateway, url, backend, shape, number, plan, budget_s, profile_to=out
                )
                results.append(result)
                if profile:
                    profiling.print_profile(f"server profile, {shape}", result["profile"])
                else:
                    print(
                        f"  run {number}/{plan.runs}, {shape}: "
                        f"{result['check']['events_sent']:,} events"
                        f"{' (cut short)' if result['cut_short'] else ''}, "
                        f"{result['events_per_s']:,.0f} events/s, "
                        f"{result['server_cpu_ms_per_1000']:.1f} ms server CPU per 1,000 "
                        f"events, counts exact: {result['check']['exact']}",
                        flush=True,
                    )
    if profile:
        return results
    bare = harness.BareServerProcess(
        database_url="", log_path=args.out_dir / "logs" / f"{NAME}-bare-{number}.log"
    )
    async with bare:
        for result in results:
            floor = await bare_shape(bare, result["shape"], number, plan, budget_s)
            result["bare"] = floor
            result["ratio_to_bare"] = result["events_per_s"] / floor["events_per_s"]
            print(
                f"  run {number}/{plan.runs}, {result['shape']}, bare aiohttp server: "
                f"{floor['events_per_s']:,.0f} events/s, "
                f"{floor['server_cpu_ms_per_1000']:.1f} ms server CPU per 1,000 events; "
                f"the gateway made {result['ratio_to_bare']:.2f}x of it",
                flush=True,
            )
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = PLANS[args.size]
    if args.clients is not None:
        plan = dataclasses.replace(plan, clients=args.clients)
    backend: Backend = args.database
    shapes = [shape for shape in SHAPES if shape in args.shapes]
    budget_s = plan.budget_s if args.budget is None else args.budget
    print(
        f"{NAME}: {plan.events:,} letzshop.api_error events over {STORES} stores, "
        f"{plan.clients} clients, {plan.runs} run(s) per shape, {backend}",
        flush=True,
    )
    if backend == "postgresql":
        reason = await harness.postgres_unavailable(args.postgres_url)
        if reason is not None:
            raise SystemExit(f"{NAME}: {reason}; it needs PostgreSQL (or --database sqlite)")
    workdir = harness.scratch_dir()
    runs: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    try:
        for number in range(1, plan.runs + 1):
            runs += await one_run(backend, shapes, number, plan, args, workdir, budget_s=budget_s)
        if args.profile:
            # An extra run under py-spy, left out of the medians.
            profiled = await one_run(
                backend, shapes, 0, plan, args, workdir, budget_s=budget_s, profile=True
            )
            for result in profiled:
                profiles[result["shape"]] = result["profile"]
    finally:
        harness.remove_tree(workdir)

    medians: dict[str, dict[str, Any]] = {}
    for shape in shapes:
        mine = [r for r in runs if r["shape"] == shape]
        medians[shape] = {
            key: harness.median(float(r[key]) for r in mine)
            for key in (
                "events_per_s",
                "requests_per_s",
                "server_cpu_ms_per_1000",
                "server_cpu_utilisation",
                "server_system_cpu_share",
                "client_cpu_ms_per_1000",
                "server_peak_rss_mb",
            )
        }
        pg = [
            r["postgres_cpu_ms_per_1000"] for r in mine if r["postgres_cpu_ms_per_1000"] is not None
        ]
        medians[shape]["postgres_cpu_ms_per_1000"] = harness.median(pg) if pg else None
        medians[shape]["bare_events_per_s"] = harness.median(
            float(r["bare"]["events_per_s"]) for r in mine
        )
        medians[shape]["bare_server_cpu_ms_per_1000"] = harness.median(
            float(r["bare"]["server_cpu_ms_per_1000"]) for r in mine
        )
        medians[shape]["ratio_to_bare"] = harness.median(float(r["ratio_to_bare"]) for r in mine)
    targets: list[Target] = []
    for shape in shapes:
        targets.append(
            Target(
                f"storm events/s, {SHAPES[shape]} line(s)/request",
                medians[shape]["events_per_s"],
                GOALS[shape],
                "events/s",
                higher_is_better=True,
            )
        )
        targets.append(
            Target(
                f"storm server CPU, {SHAPES[shape]} line(s)/request",
                medians[shape]["server_cpu_ms_per_1000"],
                CPU_GOAL_MS,
                "ms/1000 events",
                higher_is_better=False,
            )
        )
    summary = []
    for shape in shapes:
        m = medians[shape]
        label = f"{SHAPES[shape]} line(s)/request"
        summary += [
            [f"storm events/s, {label}", m["events_per_s"], "events/s"],
            [f"storm server CPU, {label}", m["server_cpu_ms_per_1000"], "ms/1000 events"],
            [f"bare aiohttp server events/s, {label}", m["bare_events_per_s"], "events/s"],
            [f"storm / bare server, {label}", m["ratio_to_bare"], "x"],
        ]
    payload = {
        "size": str(args.size),
        "options": harness.options(args),
        "params": {
            "events": plan.events,
            "stores": STORES,
            "clients": plan.clients,
            "runs": plan.runs,
            "database": backend,
            "budget_s": budget_s,
            "shapes": {shape: SHAPES[shape] for shape in shapes},
            "seed": SEED,
        },
        "runs": runs,
        "median": medians,
        "counts_exact": all(r["check"]["exact"] for r in runs),
        "profiles": profiles,
        "summary": summary,
        "targets": [t.as_dict() for t in targets],
    }
    report(payload)
    harness.write_json(args.out_dir, NAME, payload)
    return payload


def report(payload: dict[str, Any]) -> None:
    rows = []
    for shape, m in payload["median"].items():
        rows.append(
            [
                f"{payload['params']['shapes'][shape]} line(s)/request",
                m["events_per_s"],
                m["requests_per_s"],
                m["server_cpu_ms_per_1000"],
                m["server_cpu_utilisation"],
                m["client_cpu_ms_per_1000"],
                m["postgres_cpu_ms_per_1000"],
                m["bare_events_per_s"],
                m["bare_server_cpu_ms_per_1000"],
                m["ratio_to_bare"],
            ]
        )
    harness.print_table(
        f"{NAME} (medians of {payload['params']['runs']} run(s), {payload['params']['database']})",
        [
            "shape",
            "events/s",
            "requests/s",
            "server CPU ms/1000",
            "server CPU use",
            "client CPU ms/1000",
            "postgres CPU ms/1000",
            "bare server events/s",
            "bare server CPU ms/1000",
            "gateway / bare",
        ],
        rows,
    )
    for r in payload["runs"]:
        check = r["check"]
        cut = (
            f" (cut short by the {payload['params']['budget_s']:g} s budget)"
            if r["cut_short"]
            else ""
        )
        print(
            f"{r['shape']} run {r['run']}: {check['events_sent']:,} of {r['planned_events']:,} "
            f"events sent{cut}, {r['retries']:,} retried requests (503), "
            f"{check['open_alerts']} open alerts for {check['stores']} stores, "
            f"occurrence sum {check['occurrence_sum']:,}, exact: {check['exact']}"
        )
    harness.print_targets(Target.from_dict(t) for t in payload["targets"])


def build_parser() -> argparse.ArgumentParser:
    parser = harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=list(SHAPES),
        default=list(SHAPES),
        help="which request shapes to run (default both)",
    )
    parser.add_argument(
        "--clients", type=int, help="concurrent clients (default by size: 2, 32, 32)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds allowed to each shape's measured part (default by size: 20, 60, 120); "
        "a storm not through by then is cut short and its figures cover what was sent",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
