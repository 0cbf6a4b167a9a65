"""Log lines per second through the gateway's NDJSON endpoint, against a bare orjson loop.

Workload: batches of 1,000 structlog-style lines, 1 % of them acted on by some rule, evaluated
against the bundled rules plus bench/extra_rules.yaml (28 rules). One gateway process serves a
database of its own (SQLite by default; `--database postgresql` or `both`).

Each round uses fresh lines and measures, back to back:

- the bare loop: `orjson.loads` over the round's lines (the floor: no split, no checks);
- HTTP: every batch POSTed by `--clients` concurrent clients; lines/s, the server's CPU time;
- in process, without HTTP or database: `parse_log_body` per batch, then `RuleSet.collect`
  per event (what the server's pipeline runs), to show how the server's time divides.

Ratios are taken within a round (same lines, same moment of a noisy machine) and the medians of
the rounds are reported. Target: HTTP lines/s at least 0.5x the bare loop. Each round's HTTP
part has a time budget (120 s at full size); batches not accepted by then are not sent.

    python -m bench.ingest_throughput --size small [--database both] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import harness, profiling
from bench.harness import Backend, GatewayProcess, IngestTotals, Size, Target
from bench.workload import LogLines, body_ranges, log_lines, ndjson_bodies, write_bench_rules

NAME = "ingest_throughput"
LINES_PER_BATCH = 1000
MATCH_RATIO = 0.01
RATIO_GOAL = 0.5
SEED = 20261125


@dataclass(frozen=True)
class Plan:
    batches: int
    """Batches of LINES_PER_BATCH lines per round."""
    rounds: int
    warmup_batches: int
    budget_s: float
    """Time allowed to each round's HTTP part; batches not accepted by then are not sent."""


PLANS = {
    Size.TINY: Plan(batches=8, rounds=2, warmup_batches=2, budget_s=30),
    Size.SMALL: Plan(batches=60, rounds=3, warmup_batches=5, budget_s=60),
    Size.FULL: Plan(batches=200, rounds=5, warmup_batches=20, budget_s=120),
}


@dataclass(frozen=True)
class Workload:
    """One round's lines, cut into bodies of LINES_PER_BATCH lines."""

    generated: LogLines
    bodies: list[bytes]
    ranges: list[range]
    """The line indexes of each body."""

    @property
    def lines(self) -> list[bytes]:
        return self.generated.lines

    @property
    def matching(self) -> int:
        return self.generated.matching

    def sent(self, accepted: Sequence[int]) -> tuple[int, int]:
        """Lines in the accepted bodies, and how many of them some rule fires on."""
        lines = sum(len(self.ranges[i]) for i in accepted)
        return lines, sum(self.generated.matching_in(self.ranges[i]) for i in accepted)


def make_workload(rng: random.Random, batches: int) -> Workload:
    generated = log_lines(rng, batches * LINES_PER_BATCH, MATCH_RATIO)
    return Workload(
        generated,
        ndjson_bodies(generated.lines, LINES_PER_BATCH),
        body_ranges(len(generated.lines), LINES_PER_BATCH),
    )


def bare_loop(lines: Sequence[bytes]) -> float:
    """Seconds for `orjson.loads` over every line: the floor any parser is measured against."""
    loads = orjson.loads
    start = time.perf_counter()
    for line in lines:
        loads(line)
    return time.perf_counter() - start


@dataclass(frozen=True)
class InProcess:
    """Where the time of one round goes without HTTP and without a database."""

    split_loads_s: float
    parse_s: float
    evaluate_s: float
    events: int
    matched: int


def in_process(bodies: Sequence[bytes], rules_path: Path) -> InProcess:
    """Time parse_log_body and RuleSet.collect body by body, as the server meets them.

    Each body's events are dropped before the next body, as in the server; the benchmark's
    own data (every line of the round) is frozen out of the garbage collector meanwhile, so
    that collections walk no more than they would in the server.
    """
    from gateway.ingest.formats import parse_log_body
    from gateway.ingest.limits import IngestLimits
    from rules.loader import load_ruleset

    collect = load_ruleset(rules_path, {}).collect
    limits = IngestLimits()
    loads = orjson.loads
    clock = time.perf_counter
    split_loads = parse = evaluate_s = 0.0
    events = matched = 0
    gc.collect()
    gc.freeze()
    try:
        for body in bodies:
            start = clock()
            for line in body.split(b"\n"):
                if line:
                    loads(line)
            split_loads += clock() - start

            start = clock()
            parsed = parse_log_body(body, "application/x-ndjson", limits)
            middle = clock()
            # One pair of lists per body, as the pipeline keeps per batch.
            drafts: list[Any] = []
            matched_rules: list[str] = []
            for record in parsed.events:
                if collect(record.event, "logs", drafts, matched_rules):
                    matched += 1
            end = clock()
            parse += middle - start
            evaluate_s += end - middle
            events += len(parsed.events)
    finally:
        gc.unfreeze()
    return InProcess(split_loads, parse, evaluate_s, events, matched)


async def measure_http(
    gateway: GatewayProcess, bodies: Sequence[bytes], clients: int, budget_s: float
) -> tuple[float, float, float, IngestTotals]:
    """POST the bodies; return wall seconds, server CPU seconds, client CPU seconds, totals."""
    cpu_before = harness.cpu_seconds(gateway.pid)
    client_before = time.process_time()
    start = time.perf_counter()
    totals = await harness.post_batches(
        gateway.ingest_url, bodies, clients=clients, budget_s=budget_s
    )
    wall = time.perf_counter() - start
    client_cpu = time.process_time() - client_before
    return wall, harness.cpu_seconds(gateway.pid) - cpu_before, client_cpu, totals


async def run_backend(
    backend: Backend, args: argparse.Namespace, rules_path: Path, workdir: Path
) -> dict[str, Any]:
    plan = PLANS[args.size]
    rng = random.Random(SEED)
    warmup = make_workload(rng, plan.warmup_batches)
    rounds_out: list[dict[str, Any]] = []
    in_process_expected = 0
    async with harness.temporary_database(
        backend, postgres_url=args.postgres_url, workdir=workdir
    ) as url:
        gateway = GatewayProcess(
            database_url=url,
            config=rules_path,
            log_path=args.out_dir / "logs" / f"{NAME}-{backend}.log",
        )
        async with gateway:
            totals = await harness.post_batches(
                gateway.ingest_url, warmup.bodies, clients=args.clients, budget_s=plan.budget_s
            )
            warm_lines, warm_matching = warmup.sent(totals.accepted)
            sent, received, matched = warm_lines, totals.received, totals.matched
            expected, line_errors = warm_matching, totals.line_errors
            cut_short = totals.cut_short
            for number in range(1, plan.rounds + 1):
                work = make_workload(rng, plan.batches)
                bare = bare_loop(work.lines)
                wall, server_cpu, client_cpu, totals = await measure_http(
                    gateway, work.bodies, args.clients, plan.budget_s
                )
                local = in_process(work.bodies, rules_path)
                lines = len(work.lines)
                # Rates over HTTP count what the gateway accepted (all of it unless the time
                # budget cut the round short); the bare loop and in-process ones, every line.
                http_lines, http_matching = work.sent(totals.accepted)
                sent += http_lines
                received += totals.received
                matched += totals.matched
                expected += http_matching
                line_errors += totals.line_errors
                cut_short = cut_short or totals.cut_short
                in_process_expected += work.matching
                rounds_out.append(
                    {
                        "round": number,
                        "lines": lines,
                        "http_lines": http_lines,
                        "bare_lines_per_s": lines / bare,
                        "http_lines_per_s": http_lines / wall,
                        "ratio_http_to_bare": (http_lines / wall) / (lines / bare),
                        "http_seconds": wall,
                        "server_cpu_seconds": server_cpu,
                        "server_cpu_us_per_line": 1e6 * server_cpu / max(http_lines, 1),
                        "server_cpu_utilisation": server_cpu / wall,
                        "client_cpu_seconds": client_cpu,
                        "split_loads_lines_per_s": lines / local.split_loads_s,
                        "parse_lines_per_s": lines / local.parse_s,
                        "parse_evaluate_lines_per_s": lines / (local.parse_s + local.evaluate_s),
                        "ratio_parse_to_bare": bare / local.parse_s,
                        "ratio_parse_evaluate_to_bare": bare / (local.parse_s + local.evaluate_s),
                        "parse_us_per_line": 1e6 * local.parse_s / lines,
                        "evaluate_us_per_line": 1e6 * local.evaluate_s / lines,
                        "bare_us_per_line": 1e6 * bare / lines,
                        "in_process_matched": local.matched,
                        "answers": totals.as_dict(),
                    }
                )
                print(
                    f"  {backend} round {number}/{plan.rounds}: "
                    f"{http_lines / wall:,.0f} lines/s over HTTP, "
                    f"{(http_lines / wall) / (lines / bare):.2f}x the bare loop"
                    f"{' (cut short by the time budget)' if totals.cut_short else ''}",
                    flush=True,
                )
            profile = None
            if args.profile:
                work = make_workload(rng, plan.batches)
                with_profile = args.out_dir / f"{NAME}-{backend}.pyspy.txt"
                async with profiling.Profiler(gateway.pid, with_profile) as profiler:
                    await harness.post_batches(
                        gateway.ingest_url, work.bodies, clients=args.clients, budget_s=60
                    )
                profile = profiler.summary()
                profiling.print_profile(f"server profile, {backend}", profile)
            idle_rss = harness.rss_bytes(gateway.pid)
            peak_rss = harness.peak_rss_bytes(gateway.pid)

    def med(key: str) -> float:
        return harness.median(float(r[key]) for r in rounds_out)

    medians = {
        key: med(key)
        for key in rounds_out[0]
        if key not in ("round", "lines", "http_lines", "answers", "in_process_matched")
    }
    return {
        "backend": backend,
        "rounds": rounds_out,
        "median": medians,
        "counts": {
            "lines_sent": sent,
            "received": received,
            "matched": matched,
            "expected_matched": expected,
            "line_errors": line_errors,
            "in_process_lines": sum(r["lines"] for r in rounds_out),
            "in_process_matched": sum(r["in_process_matched"] for r in rounds_out),
            "in_process_expected": in_process_expected,
        },
        "cut_short": cut_short,
        "counts_exact": received == sent
        and matched == expected
        and line_errors == 0
        and sum(r["in_process_matched"] for r in rounds_out) == in_process_expected,
        "server_rss_mb_after": idle_rss / harness.MB,
        "server_peak_rss_mb": peak_rss / harness.MB,
        "profile": profile,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = PLANS[args.size]
    backends: list[Backend] = (
        ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    )
    rules_path = write_bench_rules(args.out_dir)
    from rules.loader import load_ruleset

    rule_count = len(load_ruleset(rules_path, {}).rules)
    print(
        f"{NAME}: {plan.rounds} rounds x {plan.batches} batches x {LINES_PER_BATCH} lines, "
        f"{MATCH_RATIO:.0%} matching, {rule_count} rules, {args.clients} clients",
        flush=True,
    )
    workdir = harness.scratch_dir()
    results: dict[str, dict[str, Any]] = {}
    try:
        for backend in backends:
            results[backend] = await run_backend(backend, args, rules_path, workdir)
    finally:
        harness.remove_tree(workdir)

    targets = [
        Target(
            f"ingest HTTP / bare orjson loop ({backend})",
            result["median"]["ratio_http_to_bare"],
            RATIO_GOAL,
            "x",
            higher_is_better=True,
        )
        for backend, result in results.items()
    ]
    summary = []
    for name, result in results.items():
        m = result["median"]
        summary += [
            [f"HTTP lines/s ({name})", m["http_lines_per_s"], "lines/s"],
            [f"bare orjson.loads lines/s ({name} run)", m["bare_lines_per_s"], "lines/s"],
            [f"HTTP / bare ratio ({name})", m["ratio_http_to_bare"], "x"],
            [f"server CPU per line ({name})", m["server_cpu_us_per_line"], "us"],
            [
                f"parse+collect / bare ratio ({name} run)",
                m["ratio_parse_evaluate_to_bare"],
                "x",
            ],
        ]
    payload = {
        "size": str(args.size),
        "options": harness.options(args),
        "params": {
            "lines_per_batch": LINES_PER_BATCH,
            "batches_per_round": plan.batches,
            "rounds": plan.rounds,
            "warmup_batches": plan.warmup_batches,
            "match_ratio": MATCH_RATIO,
            "clients": args.clients,
            "rules": rule_count,
            "seed": SEED,
        },
        "results": results,
        "summary": summary,
        "targets": [t.as_dict() for t in targets],
    }
    report(payload)
    harness.write_json(args.out_dir, NAME, payload)
    return payload


def report(payload: dict[str, Any]) -> None:
    rows = []
    for backend, result in payload["results"].items():
        m = result["median"]
        rows += [
            [backend, "bare orjson.loads loop", m["bare_lines_per_s"], m["bare_us_per_line"], 1.0],
            [
                backend,
                "split + orjson.loads",
                m["split_loads_lines_per_s"],
                1e6 / m["split_loads_lines_per_s"],
                m["split_loads_lines_per_s"] / m["bare_lines_per_s"],
            ],
            [
                backend,
                "parse_log_body",
                m["parse_lines_per_s"],
                m["parse_us_per_line"],
                m["ratio_parse_to_bare"],
            ],
            [
                backend,
                "parse_log_body + RuleSet.collect",
                m["parse_evaluate_lines_per_s"],
                m["parse_us_per_line"] + m["evaluate_us_per_line"],
                m["ratio_parse_evaluate_to_bare"],
            ],
            [backend, "  RuleSet.collect alone", None, m["evaluate_us_per_line"], None],
            [
                backend,
                "HTTP, whole gateway (wall)",
                m["http_lines_per_s"],
                1e6 / m["http_lines_per_s"],
                m["ratio_http_to_bare"],
            ],
            [
                backend,
                "  server CPU time",
                None,
                m["server_cpu_us_per_line"],
                None,
            ],
        ]
    harness.print_table(
        f"{NAME} (medians of {payload['params']['rounds']} rounds; ratio = x the bare loop's "
        "lines/s in the same round)",
        ["database", "stage", "lines/s", "us/line", "ratio"],
        rows,
    )
    for backend, result in payload["results"].items():
        counts = result["counts"]
        print(
            f"{backend}: {counts['lines_sent']:,} lines sent, {counts['received']:,} received, "
            f"{counts['matched']:,} matched (expected {counts['expected_matched']:,}); "
            f"counts exact: {result['counts_exact']}"
        )
    harness.print_targets(Target.from_dict(t) for t in payload["targets"])


def build_parser() -> argparse.ArgumentParser:
    parser = harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
