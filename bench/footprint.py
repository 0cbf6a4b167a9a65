"""The gateway's footprint: time from process start to ready, and resident memory.

- Ready: from just before `python -m gateway serve --migrate` is spawned to the first 200 from
  `/readyz` (or `/healthz` where there is no `/readyz`), with the bundled rules on SQLite:
  once on a new database (the migration runs) and once more on the migrated one (a restart).
- Idle RSS: the restarted process, a second after it became ready (0.2 s at --size tiny),
  before any traffic; and its peak while starting (VmHWM).
- RSS under load: sampled every 50 ms while the ingestion benchmark's workload (1,000-line
  NDJSON batches, 1 % matching, 28 rules, 4 clients) is sent; the peak is reported, and the
  RSS once the load is over.

Targets: ready within 1.5 s, idle RSS <= 80 MB, <= 200 MB under load (MB = 10^6 bytes).

    python -m bench.footprint --size small
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness
from bench.harness import GatewayProcess, Size, Target
from bench.ingest_throughput import SEED, make_workload
from bench.workload import write_bench_rules

NAME = "footprint"
READY_GOAL_S = 1.5
IDLE_GOAL_MB = 80.0
LOAD_GOAL_MB = 200.0
LOAD_BUDGET_S = 120.0


@dataclass(frozen=True)
class Plan:
    starts: int
    load_batches: int
    settle_s: float
    """How long the process is left alone before (and after) a measure of its idle RSS."""
    clients: int = 4


PLANS = {
    Size.TINY: Plan(starts=1, load_batches=8, settle_s=0.2),
    Size.SMALL: Plan(starts=3, load_batches=60, settle_s=1.0),
    Size.FULL: Plan(starts=5, load_batches=200, settle_s=1.0),
}


async def one_start(
    number: int, plan: Plan, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Start on a new database, stop, start again on it; time both, measure the idle RSS."""
    async with harness.temporary_database(
        "sqlite", postgres_url=args.postgres_url, workdir=workdir
    ) as url:
        log = args.out_dir / "logs" / f"{NAME}-start.log"
        cold = GatewayProcess(database_url=url, log_path=log)
        async with cold:
            pass
        warm = GatewayProcess(database_url=url, log_path=log)
        async with warm:
            await asyncio.sleep(plan.settle_s)
            idle = harness.rss_bytes(warm.pid)
            idle_hwm = harness.peak_rss_bytes(warm.pid)
    assert cold.ready_seconds is not None and warm.ready_seconds is not None
    return {
        "start": number,
        "ready_new_database_s": cold.ready_seconds,
        "ready_restart_s": warm.ready_seconds,
        "ready_path": warm.ready_path,
        "idle_rss_mb": idle / harness.MB,
        "start_peak_rss_mb": idle_hwm / harness.MB,
    }


async def under_load(plan: Plan, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """RSS while the ingestion workload runs through one gateway."""
    rules_path = write_bench_rules(args.out_dir)
    work = make_workload(random.Random(SEED), plan.load_batches)
    async with harness.temporary_database(
        "sqlite", postgres_url=args.postgres_url, workdir=workdir
    ) as url:
        gateway = GatewayProcess(
            database_url=url,
            config=rules_path,
            log_path=args.out_dir / "logs" / f"{NAME}-load.log",
        )
        async with gateway:
            await asyncio.sleep(plan.settle_s)
            before = harness.rss_bytes(gateway.pid)
            async with harness.RssSampler(gateway.pid) as sampler:
                totals = await harness.post_batches(
                    gateway.ingest_url, work.bodies, clients=plan.clients, budget_s=LOAD_BUDGET_S
                )
            await asyncio.sleep(plan.settle_s)
            after = harness.rss_bytes(gateway.pid)
            peak = harness.peak_rss_bytes(gateway.pid)
    lines, matching = work.sent(totals.accepted)
    return {
        "lines": lines,
        "received": totals.received,
        "cut_short": totals.cut_short,
        "counts_exact": totals.received == lines and totals.matched == matching,
        "rss_before_load_mb": before / harness.MB,
        "rss_load_peak_mb": sampler.peak / harness.MB,
        "rss_load_median_mb": sampler.median / harness.MB,
        "rss_after_load_mb": after / harness.MB,
        "vm_hwm_mb": peak / harness.MB,
        "samples": len(sampler.samples),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = PLANS[args.size]
    print(f"{NAME}: {plan.starts} start(s), load of {plan.load_batches} batches", flush=True)
    workdir = harness.scratch_dir()
    try:
        starts = []
        for number in range(1, plan.starts + 1):
            starts.append(await one_start(number, plan, args, workdir))
            print(
                f"  start {number}/{plan.starts}: ready in "
                f"{starts[-1]['ready_new_database_s']:.2f} s (new database), "
                f"{starts[-1]['ready_restart_s']:.2f} s (restart); "
                f"idle RSS {starts[-1]['idle_rss_mb']:.1f} MB",
                flush=True,
            )
        load = await under_load(plan, args, workdir)
    finally:
        harness.remove_tree(workdir)

    medians = {
        key: harness.median(float(s[key]) for s in starts)
        for key in ("ready_new_database_s", "ready_restart_s", "idle_rss_mb", "start_peak_rss_mb")
    }
    targets = [
        Target(
            "ready, new database (migrates)",
            medians["ready_new_database_s"],
            READY_GOAL_S,
            "s",
            higher_is_better=False,
        ),
        Target(
            "ready, restart", medians["ready_restart_s"], READY_GOAL_S, "s", higher_is_better=False
        ),
        Target("idle RSS", medians["idle_rss_mb"], IDLE_GOAL_MB, "MB", higher_is_better=False),
        Target(
            "RSS under ingestion load",
            load["rss_load_peak_mb"],
            LOAD_GOAL_MB,
            "MB",
            higher_is_better=False,
        ),
    ]
    summary = [
        ["ready, new database", medians["ready_new_database_s"], "s"],
        ["ready, restart", medians["ready_restart_s"], "s"],
        ["idle RSS", medians["idle_rss_mb"], "MB"],
        ["peak RSS under ingestion load", load["rss_load_peak_mb"], "MB"],
    ]
    payload = {
        "size": str(args.size),
        "options": harness.options(args),
        "params": {
            "starts": plan.starts,
            "load_batches": plan.load_batches,
            "clients": plan.clients,
            "settle_s": plan.settle_s,
        },
        "starts": starts,
        "median": medians,
        "ready_path": starts[0]["ready_path"],
        "load": load,
        "counts_exact": bool(load["counts_exact"]),
        "summary": summary,
        "targets": [t.as_dict() for t in targets],
    }
    report(payload)
    harness.write_json(args.out_dir, NAME, payload)
    return payload


def report(payload: dict[str, Any]) -> None:
    m, load = payload["median"], payload["load"]
    harness.print_table(
        f"{NAME} (medians of {payload['params']['starts']} start(s); ready = "
        f"{payload['ready_path']} answers 200)",
        ["measure", "value", "unit"],
        [
            ["ready, new database (migrates)", m["ready_new_database_s"], "s"],
            ["ready, restart on the migrated database", m["ready_restart_s"], "s"],
            [f"idle RSS, {payload['params']['settle_s']:g} s after ready", m["idle_rss_mb"], "MB"],
            ["peak RSS while starting (VmHWM at idle)", m["start_peak_rss_mb"], "MB"],
            ["RSS before the load", load["rss_before_load_mb"], "MB"],
            ["RSS under load, peak of samples", load["rss_load_peak_mb"], "MB"],
            ["RSS under load, median of samples", load["rss_load_median_mb"], "MB"],
            ["RSS after the load", load["rss_after_load_mb"], "MB"],
            ["VmHWM of the loaded process, start-up included", load["vm_hwm_mb"], "MB"],
        ],
    )
    harness.print_targets(Target.from_dict(t) for t in payload["targets"])


def build_parser() -> argparse.ArgumentParser:
    return harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
