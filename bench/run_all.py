"""Run every benchmark, then print one summary table with each target met or missed.

    python -m bench.run_all [--size tiny|small|full] [--skip alert_storm] [--profile]
                            [--ingest-database sqlite|postgresql|both]
    make bench [BENCH_SIZE=tiny] [BENCH_ARGS="--skip footprint"]

Each benchmark writes bench/out/<name>.json as when run alone; the summary goes to
bench/out/summary.json. Without a reachable PostgreSQL the alert storm and the API at scale are
skipped, and the live latency runs on SQLite alone, with the reason printed, except under
CI=true, where that is an error. The exit status is 1 if a benchmark failed (not if a target
was missed).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import time
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from bench import (
    alert_storm,
    api_scale,
    footprint,
    harness,
    ingest_throughput,
    live_latency,
    parse_formats,
)
from bench.harness import Target

BENCHMARKS: dict[str, ModuleType] = {
    parse_formats.NAME: parse_formats,
    ingest_throughput.NAME: ingest_throughput,
    alert_storm.NAME: alert_storm,
    footprint.NAME: footprint,
    api_scale.NAME: api_scale,
    live_latency.NAME: live_latency,
}
NEEDS_POSTGRES = (alert_storm.NAME, api_scale.NAME)
"""Benchmarks that run on PostgreSQL alone (live_latency judges for itself)."""
NAME = "summary"


def module_args(module: ModuleType, args: argparse.Namespace) -> argparse.Namespace:
    """Parse the shared options for one benchmark, with its own defaults for the rest."""
    argv = [
        "--size",
        str(args.size),
        "--out-dir",
        str(args.out_dir),
        "--postgres-url",
        args.postgres_url,
    ]
    if args.profile:
        argv.append("--profile")
    if module is ingest_throughput:
        argv += ["--database", args.ingest_database]
    build: Callable[[], argparse.ArgumentParser] = module.build_parser
    return build().parse_args(argv)


async def run_one(module: ModuleType, args: argparse.Namespace) -> dict[str, Any]:
    result = module.run(module_args(module, args))
    if inspect.isawaitable(result):
        result = await result
    return dict(result)


async def run(args: argparse.Namespace) -> int:
    selected = [name for name in BENCHMARKS if name not in args.skip]
    if args.only:
        selected = [name for name in selected if name in args.only]
    skipped: dict[str, str] = {name: "--skip" for name in BENCHMARKS if name not in selected}
    needing = [name for name in NEEDS_POSTGRES if name in selected]
    if needing:
        reason = await harness.postgres_unavailable(args.postgres_url)
        if reason is not None:
            if os.environ.get("CI") == "true":
                raise SystemExit(f"{reason}; CI=true requires {', '.join(needing)} to run")
            for name in needing:
                print(f"skipping {name}: {reason}")
                selected.remove(name)
                skipped[name] = reason

    payloads: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    durations: dict[str, float] = {}
    for name in selected:
        print(f"\n=== {name} ({args.size}) ===", flush=True)
        start = time.perf_counter()
        try:
            payloads[name] = await run_one(BENCHMARKS[name], args)
        except (Exception, SystemExit) as exc:
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}"
        durations[name] = time.perf_counter() - start

    rows: list[list[object]] = []
    targets: list[dict[str, Any]] = []
    for name, payload in payloads.items():
        for metric, value, unit in payload["summary"]:
            rows.append([name, metric, value, unit])
        targets.extend(payload["targets"])
    print(f"\n=== summary ({args.size}; machine: {harness.machine_info()['cpu_model']}) ===")
    harness.print_table("figures (medians)", ["benchmark", "measure", "value", "unit"], rows)
    harness.print_targets(Target.from_dict(t) for t in targets)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    for name, error in failures.items():
        print(f"FAILED {name}: {error}")
    exact = {name: payload.get("counts_exact") for name, payload in payloads.items()}
    harness.write_json(
        args.out_dir,
        NAME,
        {
            "size": str(args.size),
            "options": harness.options(args),
            "benchmarks": list(payloads),
            "seconds": durations,
            "skipped": skipped,
            "failed": failures,
            "counts_exact": exact,
            "summary": rows,
            "targets": targets,
        },
    )
    write_markdown(args, rows, targets, skipped, failures)
    return 1 if failures else 0


def write_markdown(
    args: argparse.Namespace,
    rows: list[list[object]],
    targets: list[dict[str, Any]],
    skipped: dict[str, str],
    failures: dict[str, str],
) -> None:
    """Write the summary as Markdown tables (bench/out/summary.md), ready for RESULTS.md."""
    machine = harness.machine_info()
    load = ", ".join(f"{value:.2f}" for value in machine["load_average"])
    lines = [
        f"- machine: {machine['nproc']} CPUs, {machine['cpu_model']}, "
        f"{machine['memory_gib']} GiB memory; load average at the end {load}",
        f"- date: {machine['date']}; commit: {machine['commit']}; Python {machine['python']}",
        f"- command: `python -m bench.run_all --size {args.size}`",
        "",
        "| benchmark | measure | value | unit |",
        "|---|---|---:|---|",
        *(f"| {b} | {m} | {_md_number(v)} | {u} |" for b, m, v, u in rows),
        "",
        "| target | value | goal | verdict |",
        "|---|---:|---:|---|",
        *(
            f"| {t['name']} | {_md_number(t['value'])} {t['unit']} | "
            f"{t['relation']} {_md_number(t['goal'])} {t['unit']} | {t['verdict']} |"
            for t in targets
        ),
    ]
    lines += [f"- skipped {name}: {reason}" for name, reason in skipped.items()]
    lines += [f"- FAILED {name}: {error}" for name, error in failures.items()]
    path = args.out_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n")


def _md_number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--skip", nargs="+", default=[], choices=list(BENCHMARKS), help="benchmarks to leave out"
    )
    parser.add_argument(
        "--only", nargs="+", default=[], choices=list(BENCHMARKS), help="run only these"
    )
    parser.add_argument(
        "--ingest-database",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="database(s) of the ingestion benchmark (default sqlite)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(build_parser().parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
