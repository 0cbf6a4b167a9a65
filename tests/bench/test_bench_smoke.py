"""Smoke test of the benchmark suite: `python -m bench.run_all --size tiny`, then its JSON.

The suite runs once for the module (about 45 s: every benchmark starts real gateway
processes). The alert storm and the API at scale need PostgreSQL ($GATEWAY_TEST_POSTGRES_URL, an
account allowed to create databases), and so do two of the live latency's three paths; without
one they are skipped, except under CI=true, where their tests fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gateway.storage.engine import create_engine

REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL_ENV = "GATEWAY_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SUITE_TIMEOUT_S = 300
# --size tiny, as set in the benchmark modules.
TINY_INGEST_LINES = 2 * 8 * 1000
TINY_WARMUP_LINES = 2 * 1000
TINY_STORM_EVENTS = 200
STORM_STORES = 10
TINY_API_NOTIFICATIONS = 2_000
TINY_API_ALERTS = 200
API_ENDPOINTS_WITH_GOALS = 11
TINY_LIVE_EVENTS = 10


@dataclass(frozen=True)
class SuiteRun:
    out: Path
    returncode: int
    output: str
    postgres_url: str
    postgres_problem: str | None

    def result(self, name: str) -> dict[str, Any]:
        path = self.out / f"{name}.json"
        assert path.exists(), f"{path} was not written\n{self.output[-4000:]}"
        document: dict[str, Any] = json.loads(path.read_text())
        return document


async def _postgres_problem(url: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"timeout": 5})
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
    except Exception as exc:
        return f"PostgreSQL unreachable at {url} ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    out = tmp_path_factory.mktemp("bench-out")
    postgres_url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    problem = asyncio.run(_postgres_problem(postgres_url))
    argv = [
        sys.executable,
        "-m",
        "bench.run_all",
        "--size",
        "tiny",
        "--out-dir",
        str(out),
        "--postgres-url",
        postgres_url,
    ]
    if problem is not None:
        argv += ["--skip", "alert_storm", "api_scale"]
    env = dict(os.environ)
    env.pop("CI", None)  # a missing PostgreSQL is judged by test_alert_storm, not by the suite
    completed = subprocess.run(
        argv,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_S,
        check=False,
    )
    return SuiteRun(
        out, completed.returncode, completed.stdout + completed.stderr, postgres_url, problem
    )


def _check_machine(document: dict[str, Any]) -> None:
    machine = document["machine"]
    assert machine["nproc"] >= 1
    assert machine["cpu_model"]
    assert machine["commit"]
    assert document["size"] == "tiny"


def _check_targets(document: dict[str, Any], expected: int) -> None:
    targets = document["targets"]
    assert len(targets) == expected
    for target in targets:
        assert target["relation"] in (">=", "<=")
        # Not > 0: a tiny run's server CPU can be under one clock tick, which reads as zero
        # give or take a float rounding error.
        assert target["value"] > -1e-6
        assert isinstance(target["met"], bool)
        assert target["verdict"].startswith("met" if target["met"] else "missed")


def test_run_all_finishes_and_summarises(suite: SuiteRun) -> None:
    assert suite.returncode == 0, suite.output[-4000:]
    summary = suite.result("summary")
    assert summary["failed"] == {}
    expected = ["parse_formats", "ingest_throughput", "footprint", "live_latency"]
    if suite.postgres_problem is None:
        expected += ["alert_storm", "api_scale"]
    assert sorted(summary["benchmarks"]) == sorted(expected)
    assert all(summary["counts_exact"][name] is not False for name in expected)
    assert len(summary["targets"]) >= 5
    assert "=== summary" in suite.output


def test_parse_formats(suite: SuiteRun) -> None:
    document = suite.result("parse_formats")
    _check_machine(document)
    stages = {row["stage"]: row for row in document["results"]}
    assert len(stages) == 5
    assert "bare orjson.loads loop" in stages
    for row in stages.values():
        assert row["lines_per_s"] > 0
        assert row["median_ms"] >= row["best_ms"] > 0
    assert document["ndjson_ratio_to_bare"] > 0


def test_ingest_throughput(suite: SuiteRun) -> None:
    document = suite.result("ingest_throughput")
    _check_machine(document)
    assert document["params"]["rules"] >= 20
    result = document["results"]["sqlite"]
    counts = result["counts"]
    assert result["cut_short"] is False
    assert counts["lines_sent"] == TINY_INGEST_LINES + TINY_WARMUP_LINES
    assert counts["received"] == counts["lines_sent"]
    assert counts["expected_matched"] == counts["lines_sent"] // 100
    assert counts["matched"] == counts["expected_matched"]
    assert counts["in_process_lines"] == TINY_INGEST_LINES
    assert counts["in_process_expected"] == TINY_INGEST_LINES // 100
    assert counts["in_process_matched"] == counts["in_process_expected"]
    assert counts["line_errors"] == 0
    assert result["counts_exact"] is True
    median = result["median"]
    for key in (
        "http_lines_per_s",
        "bare_lines_per_s",
        "ratio_http_to_bare",
        "parse_lines_per_s",
        "ratio_parse_evaluate_to_bare",
        "server_cpu_us_per_line",
    ):
        assert median[key] > 0, key
    assert len(result["rounds"]) == document["params"]["rounds"]
    _check_targets(document, 1)


@pytest.mark.postgres
def test_alert_storm(suite: SuiteRun) -> None:
    if suite.postgres_problem is not None:
        reason = f"{suite.postgres_problem}; set {POSTGRES_URL_ENV} to run the alert storm"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI=true requires it.")
        pytest.skip(reason)
    document = suite.result("alert_storm")
    _check_machine(document)
    assert document["params"]["database"] == "postgresql"
    runs = document["runs"]
    assert {run["shape"] for run in runs} == {"batch100", "single"}
    for run in runs:
        check = run["check"]
        assert check["events_sent"] == TINY_STORM_EVENTS
        assert run["cut_short"] is False
        assert check["occurrence_sum"] == TINY_STORM_EVENTS
        assert check["answered_alerts"] == TINY_STORM_EVENTS
        assert check["stores"] == STORM_STORES
        assert check["open_alerts"] == STORM_STORES
        assert check["alerts"] == STORM_STORES
        assert check["per_fingerprint_exact"] is True
        assert check["exact"] is True
        assert run["events_per_s"] > 0
        # Two 100-line requests can cost less than one clock tick (10 ms) of server CPU, which
        # reads as zero, give or take a float rounding error.
        assert run["server_cpu_ms_per_1000"] > -1e-6
        assert run["statuses"].get("200", 0) >= run["requests"]
        # The same storm through the bare server: all of it, and a ratio from the same run.
        assert run["bare"]["events"] == run["events"]
        assert run["ratio_to_bare"] == pytest.approx(
            run["events_per_s"] / run["bare"]["events_per_s"]
        )
    assert document["counts_exact"] is True
    _check_targets(document, 4)


def test_footprint(suite: SuiteRun) -> None:
    document = suite.result("footprint")
    _check_machine(document)
    assert document["ready_path"] in ("/readyz", "/healthz")
    median = document["median"]
    assert 0 < median["ready_restart_s"] < 60
    assert 0 < median["ready_new_database_s"] < 60
    assert 10 < median["idle_rss_mb"] < 2000
    load = document["load"]
    assert load["counts_exact"] is True
    assert load["samples"] >= 1
    assert load["rss_load_peak_mb"] >= load["rss_load_median_mb"] > 10
    _check_targets(document, 4)


def _require_postgres(suite: SuiteRun, what: str) -> None:
    if suite.postgres_problem is not None:
        reason = f"{suite.postgres_problem}; set {POSTGRES_URL_ENV} to run {what}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI=true requires it.")
        pytest.skip(reason)


@pytest.mark.postgres
def test_api_scale(suite: SuiteRun) -> None:
    _require_postgres(suite, "the API at scale")
    document = suite.result("api_scale")
    _check_machine(document)
    counts = document["counts"]
    assert counts["notifications"] == TINY_API_NOTIFICATIONS
    assert counts["alerts"] == TINY_API_ALERTS
    assert 0 < counts["unread"] < counts["notifications"] // 10
    assert 0 < counts["unresolved_alerts"] < counts["alerts"] // 2
    assert document["counts_exact"] is True
    assert document["seed"]["database"] == "gateway_bench_api_tiny"
    results = document["results"]
    assert len(results) == API_ENDPOINTS_WITH_GOALS + 1
    assert any(r["by_cursor"] for r in results)
    for result in results:
        assert result["p99_ms"] >= result["p50_ms"] > 0, result["endpoint"]
    _check_targets(document, API_ENDPOINTS_WITH_GOALS)


def test_live_latency(suite: SuiteRun) -> None:
    document = suite.result("live_latency")
    _check_machine(document)
    results = document["results"]
    expected = {"sqlite"}
    if suite.postgres_problem is None:
        expected |= {"postgresql", "two-processes"}
    elif os.environ.get("CI") == "true":
        pytest.fail(f"{suite.postgres_problem}. CI=true requires the PostgreSQL paths.")
    assert set(results) == expected
    for result in results.values():
        assert result["lost"] == 0
        assert result["received"] == TINY_LIVE_EVENTS * document["params"]["listeners"]
        assert result["counts_exact"] is True
        median = result["median"]
        assert median["commit_p99_ms"] >= median["commit_p50_ms"] > 0
        assert median["request_p50_ms"] > 0
    assert document["counts_exact"] is True
    _check_targets(document, len(expected))
