"""The admin API at scale: latency of its read endpoints over 1,000,000 notifications.

A PostgreSQL database of its own (`gateway_bench_api_<size>` beside `--postgres-url`) is seeded
server-side (`INSERT ... SELECT FROM generate_series`, values from `hashint8extended`, so the
same size always gives the same rows) with, at full size, 1,000,000 notifications and 100,000
alerts spread over 90 days:

- notifications: ids in time order; about 3 % unread (2 % of the old ones, half of the last
  2 %); priorities low 30 %, normal 50 %, high 15 %, critical 5 %; seven types, from
  order_sync_failure (30 %) down to security_alert (3 %); `store_id` in the metadata, skewed
  towards the first of 200 stores (the `store_id` column, generated from the metadata since
  migration 0004, is filled by PostgreSQL as the rows are inserted);
- alerts: about 10 % unresolved (5 % of the old ones, 45 % of the last tenth); six types and
  four severities, skewed; one affected store and system each; distinct fingerprints.

The seeded database is kept: a later run whose row counts and seed version match reuses it
(`bench_seed` holds them), migrating it to the newest revision if needed (0004 rewrites the
notifications, generating `store_id` for the kept rows; 0005 counts the unread ones into
`notification_unread_counts`, which its triggers keep from then on, the seeding's INSERT
included); `--reseed` forces a new one. After seeding or migrating, `VACUUM ANALYZE`, as
autovacuum would have done on a table that old. The counts check that every row's `store_id`
column reads as its metadata's, and that the unread counter equals the unread rows counted.

A real gateway process serves it; an admin API token authenticates a keep-alive aiohttp client
that sends each request alone (latency, not throughput): a few unmeasured requests first, then
`requests` timed ones per endpoint and round, endpoint after endpoint. Per round p50 and p99
(nearest rank) per endpoint; reported: the medians over the rounds. Deep pages are taken at
`deep_offset` rows, once by `offset` and once by the `cursor` of the page before.

Targets, at full size: p99 <= 10 ms for unread-count and recent, <= 50 ms for the filtered
lists (notifications and alerts). The statistics cards (`alerts/stats`) have no target and are
reported beside them.

`--profile` is accepted, as by every benchmark, and ignored: the time goes to PostgreSQL.

    python -m bench.api_scale --size small [--reseed] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench import harness
from bench.harness import GatewayProcess, Size, Target

NAME = "api_scale"
SEED_VERSION = 1
"""Raise when the seeding SQL changes, so kept databases are seeded again."""
DATABASE_PREFIX = "gateway_bench_api"
BADGE_GOAL_MS = 10.0
LIST_GOAL_MS = 50.0
WARMUP_REQUESTS = 3
SECONDS_IN_90_DAYS = 90 * 86_400
API = "/api/v1/admin/notifications"


@dataclass(frozen=True)
class Plan:
    notifications: int
    alerts: int
    requests: int
    """Timed requests per endpoint and round."""
    rounds: int
    deep_offset: int
    """Rows skipped by the deep pages."""


PLANS = {
    Size.TINY: Plan(notifications=2_000, alerts=200, requests=10, rounds=1, deep_offset=100),
    Size.SMALL: Plan(
        notifications=100_000, alerts=10_000, requests=50, rounds=3, deep_offset=2_000
    ),
    Size.FULL: Plan(
        notifications=1_000_000, alerts=100_000, requests=100, rounds=3, deep_offset=10_000
    ),
}


@dataclass(frozen=True)
class Endpoint:
    """One request measured: a path with its query, and the p99 it must stay under."""

    name: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    goal_ms: float | None = None
    cursor_at: int | None = None
    """Fetch the page ending at this many rows first and request the page after it by cursor."""


def endpoints(plan: Plan) -> list[Endpoint]:
    deep = str(plan.deep_offset)
    return [
        Endpoint("unread-count", f"{API}/unread-count", goal_ms=BADGE_GOAL_MS),
        Endpoint("recent", f"{API}/recent", goal_ms=BADGE_GOAL_MS),
        Endpoint("list, no filter, first page", API, goal_ms=LIST_GOAL_MS),
        Endpoint(
            "list critical unread, first page",
            API,
            {"priority": "critical", "is_read": "false"},
            LIST_GOAL_MS,
        ),
        Endpoint(
            "list unread, first page",
            API,
            {"is_read": "false"},
            LIST_GOAL_MS,
        ),
        Endpoint(
            f"list type=order_sync_failure, offset {plan.deep_offset:,}",
            API,
            {"type": "order_sync_failure", "offset": deep},
            LIST_GOAL_MS,
        ),
        Endpoint(
            f"list type=order_sync_failure, cursor at {plan.deep_offset:,}",
            API,
            {"type": "order_sync_failure"},
            LIST_GOAL_MS,
            cursor_at=plan.deep_offset,
        ),
        Endpoint(
            "list store_id=7, first page",
            API,
            {"store_id": "7"},
            LIST_GOAL_MS,
        ),
        Endpoint(
            "alerts unresolved critical, first page",
            f"{API}/alerts",
            {"is_resolved": "false", "severity": "critical"},
            LIST_GOAL_MS,
        ),
        Endpoint(
            "alerts unresolved, first page",
            f"{API}/alerts",
            {"is_resolved": "false"},
            LIST_GOAL_MS,
        ),
        Endpoint(
            f"alerts type=integration, offset {plan.deep_offset // 10:,}",
            f"{API}/alerts",
            {"alert_type": "integration", "offset": str(plan.deep_offset // 10)},
            LIST_GOAL_MS,
        ),
        Endpoint("alert stats", f"{API}/alerts/stats"),
    ]


# --- seeding --------------------------------------------------------------------------------


def _u(column: str, salt: int) -> str:
    """SQL for a uniform value in [0, 1) drawn from `column` and `salt`, the same every time."""
    return f"((hashint8extended({column}::bigint, {salt}) & 1048575)::float8 / 1048576)"


def notifications_sql(count: int) -> str:
    """One INSERT ... SELECT writing `count` notifications, newest at `now()`."""
    return f"""
INSERT INTO admin_notifications (
    type, priority, title, message, is_read, read_at, read_by_user_id, action_required,
    action_url, notification_metadata, rule, source, dedup_key, created_at, updated_at)
SELECT
    type, priority,
    initcap(replace(type, '_', ' ')) || ' at store ' || store || ' (#' || i || ')',
    'Generated by the API scale benchmark: ' || type || ' at store ' || store
        || ', job ' || i || '. Check the import log and retry.',
    NOT unread,
    CASE WHEN unread THEN NULL ELSE read_at END,
    CASE WHEN unread THEN NULL ELSE 1 END,
    priority IN ('high', 'critical'),
    '/admin/stores/' || store,
    jsonb_build_object('store_id', store, 'job_id', i),
    'bench.' || type, 'bench', NULL,
    created_at,
    CASE WHEN unread THEN created_at ELSE read_at END
FROM (
    SELECT
        i,
        created_at,
        LEAST(created_at + interval '1 minute' * (5 + 1200 * u3), anchor) AS read_at,
        CASE WHEN u1 < 0.05 THEN 'critical' WHEN u1 < 0.20 THEN 'high'
             WHEN u1 < 0.70 THEN 'normal' ELSE 'low' END AS priority,
        CASE WHEN u2 < 0.30 THEN 'order_sync_failure' WHEN u2 < 0.55 THEN 'import_failure'
             WHEN u2 < 0.75 THEN 'order_exception' WHEN u2 < 0.87 THEN 'store_issue'
             WHEN u2 < 0.92 THEN 'critical_error' WHEN u2 < 0.97 THEN 'system_info'
             ELSE 'security_alert' END AS type,
        (u4 < 0.02 OR (i > {count} * 0.98 AND u4 < 0.5)) AS unread,
        1 + floor(200 * u5 * u5)::int AS store
    FROM (
        SELECT
            i,
            anchor,
            anchor - make_interval(secs => ({count} - i) * {SECONDS_IN_90_DAYS}.0 / {count})
                AS created_at,
            {_u("i", 1)} AS u1, {_u("i", 2)} AS u2, {_u("i", 3)} AS u3,
            {_u("i", 4)} AS u4, {_u("i", 5)} AS u5
        FROM generate_series(1, {count}) AS g(i),
             (SELECT date_trunc('second', now()) AS anchor) AS a
    ) AS draws
) AS rows
"""


def alerts_sql(count: int) -> str:
    """One INSERT ... SELECT writing `count` alerts, the latest occurring at `now()`."""
    return f"""
INSERT INTO platform_alerts (
    alert_type, severity, title, description, affected_stores, affected_systems,
    occurrence_count, first_occurred_at, last_occurred_at, is_resolved, resolved_at,
    resolved_by_user_id, resolution_notes, fingerprint, alert_metadata, rule, source,
    created_at, updated_at)
SELECT
    alert_type, severity,
    initcap(alert_type) || ' trouble at store ' || store || ' (#' || i || ')',
    'Generated by the API scale benchmark.',
    jsonb_build_array(store::text),
    jsonb_build_array(system),
    occurrences,
    first_at, last_at,
    NOT open,
    CASE WHEN open THEN NULL ELSE resolved_at END,
    CASE WHEN open THEN NULL ELSE 1 END,
    CASE WHEN open THEN NULL ELSE 'fixed upstream' END,
    'bench:' || alert_type || ':' || i,
    jsonb_build_object('store_id', store),
    'bench.' || alert_type, 'bench',
    first_at,
    CASE WHEN open THEN last_at ELSE resolved_at END
FROM (
    SELECT
        i,
        last_at,
        last_at - interval '1 minute' * floor(600 * u4) AS first_at,
        LEAST(last_at + interval '1 minute' * (5 + 300 * u4), anchor) AS resolved_at,
        CASE WHEN u1 < 0.40 THEN 'integration' WHEN u1 < 0.60 THEN 'performance'
             WHEN u1 < 0.75 THEN 'system' WHEN u1 < 0.85 THEN 'database'
             WHEN u1 < 0.95 THEN 'capacity' ELSE 'security' END AS alert_type,
        CASE WHEN u2 < 0.20 THEN 'info' WHEN u2 < 0.65 THEN 'warning'
             WHEN u2 < 0.93 THEN 'error' ELSE 'critical' END AS severity,
        CASE WHEN u3 < 0.5 THEN 'letzshop' WHEN u3 < 0.8 THEN 'payment-worker'
             ELSE 'search-indexer' END AS system,
        1 + floor(40 * u3 * u3)::int AS occurrences,
        (u5 < 0.06 OR (i > {count} * 0.9 AND u5 < 0.45)) AS open,
        1 + floor(200 * u6 * u6)::int AS store
    FROM (
        SELECT
            i,
            anchor,
            anchor - make_interval(secs => ({count} - i) * {SECONDS_IN_90_DAYS}.0 / {count})
                AS last_at,
            {_u("i", 11)} AS u1, {_u("i", 12)} AS u2, {_u("i", 13)} AS u3,
            {_u("i", 14)} AS u4, {_u("i", 15)} AS u5, {_u("i", 16)} AS u6
        FROM generate_series(1, {count}) AS g(i),
             (SELECT date_trunc('second', now()) AS anchor) AS a
    ) AS draws
) AS rows
"""


def database_url(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _database_exists(admin_url: str, name: str) -> bool:
    rows = await harness.query_rows(
        admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"
    )
    return bool(rows)


async def _marker(url: str) -> tuple[int, int, int, str] | None:
    try:
        rows = await harness.query_rows(
            url, "SELECT notifications, alerts, version, revision FROM bench_seed"
        )
    except Exception:
        return None  # not a database this benchmark seeded
    if len(rows) != 1:
        return None
    notifications, alerts, version, revision = rows[0]
    return int(notifications), int(alerts), int(version), str(revision)


async def _vacuum_analyze(url: str) -> None:
    from sqlalchemy import text

    engine = harness._engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for table in ("admin_notifications", "platform_alerts", "notification_unread_counts"):
                await connection.execute(text(f"VACUUM ANALYZE {table}"))
    finally:
        await engine.dispose()


SEED_LOCK_KEY = 7_461_776_761_105_649_101
"""Runs beside each other (two smoke tests, say) take turns to check and seed the database."""


async def ensure_seeded(admin_url: str, name: str, plan: Plan, *, reseed: bool) -> dict[str, Any]:
    """Make `name` hold the plan's rows at the newest schema; reuse it when it already does."""
    from sqlalchemy import text

    engine = harness._engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as lock:
            await lock.execute(text(f"SELECT pg_advisory_lock({SEED_LOCK_KEY})"))
            try:
                return await _ensure_seeded(admin_url, name, plan, reseed=reseed)
            finally:
                await lock.execute(text(f"SELECT pg_advisory_unlock({SEED_LOCK_KEY})"))
    finally:
        await engine.dispose()


async def _ensure_seeded(admin_url: str, name: str, plan: Plan, *, reseed: bool) -> dict[str, Any]:
    from gateway.storage.migrate import head_revision, upgrade

    url = database_url(admin_url, name)
    head = head_revision()
    started = time.perf_counter()
    if not reseed and await _database_exists(admin_url, name):
        marker = await _marker(url)
        if marker is not None and marker[:3] == (plan.notifications, plan.alerts, SEED_VERSION):
            if marker[3] != head:
                # A newer migration (new indexes, say) runs on the kept rows, as in production.
                await upgrade(url)
                await harness.execute(url, f"UPDATE bench_seed SET revision = '{head}'")
                await _vacuum_analyze(url)
            return {
                "database": name,
                "reused": True,
                "migrated_from": None if marker[3] == head else marker[3],
                "seconds": time.perf_counter() - started,
            }
    await harness._admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await harness._admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    await upgrade(url)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    await harness.execute(url, notifications_sql(plan.notifications))
    timings["notifications_s"] = time.perf_counter() - start
    start = time.perf_counter()
    await harness.execute(url, alerts_sql(plan.alerts))
    timings["alerts_s"] = time.perf_counter() - start
    start = time.perf_counter()
    await _vacuum_analyze(url)
    timings["vacuum_analyze_s"] = time.perf_counter() - start
    await harness.execute(
        url,
        "CREATE TABLE bench_seed (notifications integer, alerts integer, version integer, "
        "revision text, seeded_at timestamptz DEFAULT now())",
    )
    await harness.execute(
        url,
        f"INSERT INTO bench_seed (notifications, alerts, version, revision) "
        f"VALUES ({plan.notifications}, {plan.alerts}, {SEED_VERSION}, '{head}')",
    )
    return {
        "database": name,
        "reused": False,
        "migrated_from": None,
        "seconds": time.perf_counter() - started,
        **timings,
    }


async def seeded_counts(url: str) -> dict[str, int]:
    """What the seeded database holds, for the JSON (and a sanity check of the mix)."""
    [row] = await harness.query_rows(
        url,
        "SELECT (SELECT count(*) FROM admin_notifications),"
        " (SELECT count(*) FROM admin_notifications WHERE NOT is_read),"
        " (SELECT count(*) FROM admin_notifications WHERE NOT is_read AND priority = 'critical'),"
        " (SELECT count(*) FROM admin_notifications WHERE type = 'order_sync_failure'),"
        " (SELECT count(*) FROM platform_alerts),"
        " (SELECT count(*) FROM platform_alerts WHERE NOT is_resolved),"
        " (SELECT count(*) FROM admin_notifications WHERE store_id = '7'),"
        " (SELECT count(*) FROM admin_notifications"
        "  WHERE store_id IS DISTINCT FROM notification_metadata ->> 'store_id'),"
        # Priorities whose counter (migration 0005) differs from the unread rows counted.
        " (SELECT count(*) FROM (SELECT priority, count(*) AS n FROM admin_notifications"
        "  WHERE NOT is_read GROUP BY priority) AS counted FULL JOIN"
        "  (SELECT priority, sum(unread) AS n FROM notification_unread_counts"
        "  GROUP BY priority HAVING sum(unread) <> 0) AS kept USING (priority)"
        "  WHERE counted.n IS DISTINCT FROM kept.n)",
    )
    keys = (
        "notifications",
        "unread",
        "unread_critical",
        "order_sync_failure",
        "alerts",
        "unresolved_alerts",
        "store_7",
        "store_id_mismatches",
        "unread_counter_mismatches",
    )
    return {key: int(value) for key, value in zip(keys, row, strict=True)}


async def admin_token(url: str) -> str:
    """Create an admin API token in the database the gateway serves; return its plaintext."""
    # Only old ones: a run going on beside this one still uses its token.
    await harness.execute(
        url,
        "DELETE FROM api_tokens WHERE name LIKE 'bench-api-scale-%' "
        "AND created_at < now() - interval '1 day'",
    )
    return await harness.create_admin_token(url, "bench-api-scale")


# --- measuring ------------------------------------------------------------------------------


async def _get(session: aiohttp.ClientSession, url: str, params: Mapping[str, str]) -> Any:
    async with session.get(url, params=params) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(
                f"GET {url} {dict(params)} answered {response.status}: {body[:300]!r}"
            )
        return body


async def resolve_params(
    session: aiohttp.ClientSession, base_url: str, endpoint: Endpoint
) -> dict[str, str]:
    """The query to send; for a cursor page, read the page before it (unmeasured) first."""
    params = dict(endpoint.params)
    if endpoint.cursor_at is None:
        return params
    import orjson

    before = {**params, "offset": str(endpoint.cursor_at - 50), "limit": "50"}
    page = orjson.loads(await _get(session, base_url + endpoint.path, before))
    cursor = page["next_cursor"]
    if cursor is None:
        raise RuntimeError(f"{endpoint.name}: fewer than {endpoint.cursor_at} rows match")
    params["cursor"] = str(cursor)
    return params


async def measure(
    session: aiohttp.ClientSession,
    base_url: str,
    endpoint: Endpoint,
    params: Mapping[str, str],
    requests: int,
) -> list[float]:
    """Send WARMUP_REQUESTS unmeasured requests, then `requests` timed ones; return ms each."""
    url = base_url + endpoint.path
    for _ in range(WARMUP_REQUESTS):
        await _get(session, url, params)
    samples: list[float] = []
    for _ in range(requests):
        start = time.perf_counter()
        await _get(session, url, params)
        samples.append(1000 * (time.perf_counter() - start))
    return samples


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = PLANS[args.size]
    name = args.database_name or f"{DATABASE_PREFIX}_{args.size}"
    print(
        f"{NAME}: {plan.notifications:,} notifications, {plan.alerts:,} alerts in PostgreSQL "
        f"({name}); {plan.requests} sequential requests per endpoint, {plan.rounds} round(s)",
        flush=True,
    )
    reason = await harness.postgres_unavailable(args.postgres_url)
    if reason is not None:
        raise SystemExit(f"{NAME}: {reason}; it needs PostgreSQL")
    seed = await ensure_seeded(args.postgres_url, name, plan, reseed=args.reseed)
    action = "reused" if seed["reused"] else "seeded"
    print(f"  database {action} in {seed['seconds']:.1f} s", flush=True)
    url = database_url(args.postgres_url, name)
    counts = await seeded_counts(url)
    token = await admin_token(url)
    gateway = GatewayProcess(database_url=url, log_path=args.out_dir / "logs" / f"{NAME}.log")
    chosen = endpoints(plan)
    per_round: dict[str, list[dict[str, float]]] = {e.name: [] for e in chosen}
    async with gateway, harness.loopback_session(1) as session:
        session.headers["Authorization"] = f"Bearer {token}"
        params = {e.name: await resolve_params(session, gateway.base_url, e) for e in chosen}
        for number in range(1, plan.rounds + 1):
            for endpoint in chosen:
                samples = await measure(
                    session, gateway.base_url, endpoint, params[endpoint.name], plan.requests
                )
                per_round[endpoint.name].append(
                    {
                        "p50_ms": harness.percentile(samples, 0.50),
                        "p99_ms": harness.percentile(samples, 0.99),
                        "max_ms": max(samples),
                    }
                )
            print(f"  round {number}/{plan.rounds} done", flush=True)
        server_rss = harness.peak_rss_bytes(gateway.pid) / harness.MB
    explain = await explain_queries(url, plan) if args.explain else {}

    results: list[dict[str, Any]] = []
    targets: list[Target] = []
    summary: list[list[object]] = []
    for endpoint in chosen:
        rounds = per_round[endpoint.name]
        p50 = harness.median(r["p50_ms"] for r in rounds)
        p99 = harness.median(r["p99_ms"] for r in rounds)
        results.append(
            {
                "endpoint": endpoint.name,
                "path": endpoint.path,
                "params": {k: v for k, v in params[endpoint.name].items() if k != "cursor"},
                "by_cursor": endpoint.cursor_at is not None,
                "p50_ms": p50,
                "p99_ms": p99,
                "goal_ms": endpoint.goal_ms,
                "rounds": rounds,
            }
        )
        summary.append([f"api p99, {endpoint.name}", p99, "ms"])
        if endpoint.goal_ms is not None:
            targets.append(Target(f"api p99, {endpoint.name}", p99, endpoint.goal_ms, "ms", False))
    payload = {
        "size": str(args.size),
        "options": harness.options(args),
        "params": {
            "notifications": plan.notifications,
            "alerts": plan.alerts,
            "requests": plan.requests,
            "rounds": plan.rounds,
            "deep_offset": plan.deep_offset,
            "warmup_requests": WARMUP_REQUESTS,
            "seed_version": SEED_VERSION,
        },
        "seed": seed,
        "counts": counts,
        "counts_exact": counts["notifications"] == plan.notifications
        and counts["alerts"] == plan.alerts
        and counts["store_id_mismatches"] == 0
        and counts["unread_counter_mismatches"] == 0,
        "server_peak_rss_mb": server_rss,
        "results": results,
        "explain": explain,
        "summary": summary,
        "targets": [t.as_dict() for t in targets],
    }
    report(payload)
    harness.write_json(args.out_dir, NAME, payload)
    return payload


# Representative statements of the read paths, as the services issue them (same shapes, literal
# values), for `--explain`.
EXPLAINED: Mapping[str, str] = {
    "unread marker": "SELECT (SELECT coalesce(sum(unread), 0) FROM notification_unread_counts), "
    "(SELECT max(id) FROM admin_notifications), (SELECT max(updated_at) FROM admin_notifications)",
    "unread summary": "SELECT "
    + ", ".join(
        f"sum(unread) FILTER (WHERE priority = '{priority}')"
        for priority in ("low", "normal", "high", "critical")
    )
    + ", (SELECT max(id) FROM admin_notifications), "
    "(SELECT max(updated_at) FROM admin_notifications) FROM notification_unread_counts",
    "unread by priority": "SELECT priority, sum(unread) FROM notification_unread_counts "
    "GROUP BY priority",
    "recent": "SELECT * FROM admin_notifications WHERE is_read = false "
    "ORDER BY created_at DESC, id DESC LIMIT 5",
    "bounded count, no filter": "SELECT count(*) FROM (SELECT id FROM admin_notifications "
    "LIMIT 10001) AS matching",
    "bounded count, type": "SELECT count(*) FROM (SELECT id FROM admin_notifications "
    "WHERE type IN ('order_sync_failure') LIMIT 10001) AS matching",
    "critical unread page": "SELECT * FROM admin_notifications "
    "WHERE priority IN ('critical') AND is_read = false ORDER BY created_at DESC, id DESC "
    "LIMIT 51",
    "page, type, deep offset": "SELECT * FROM admin_notifications "
    "WHERE type IN ('order_sync_failure') ORDER BY created_at DESC, id DESC "
    "LIMIT 51 OFFSET {deep}",
    "bounded count, store_id": "SELECT count(*) FROM (SELECT id FROM admin_notifications "
    "WHERE store_id = '7' LIMIT 10001) AS m",
    "store_id page": "SELECT * FROM admin_notifications WHERE store_id = '7' "
    "ORDER BY created_at DESC, id DESC LIMIT 51",
    "alerts, bounded count, store_id": "SELECT count(*) FROM (SELECT id FROM platform_alerts "
    "WHERE affected_stores @> '[\"7\"]' LIMIT 10001) AS m",
    "alerts, store_id page": "SELECT * FROM platform_alerts "
    "WHERE affected_stores @> '[\"7\"]' ORDER BY last_occurred_at DESC, id DESC LIMIT 51",
    "alert stats, open": "SELECT alert_type, severity, count(*) FROM platform_alerts "
    "WHERE is_resolved = false GROUP BY alert_type, severity",
    "alert stats, resolved today": "SELECT count(*) FROM platform_alerts "
    "WHERE is_resolved = true AND resolved_at >= date_trunc('day', now())",
    "alerts, unresolved critical page": "SELECT * FROM platform_alerts "
    "WHERE severity IN ('critical') AND is_resolved = false "
    "ORDER BY last_occurred_at DESC, id DESC LIMIT 51",
}


async def explain_queries(url: str, plan: Plan) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement in EXPLAINED; the plans as text."""
    plans: dict[str, str] = {}
    for label, sql in EXPLAINED.items():
        rows = await harness.query_rows(
            url, "EXPLAIN (ANALYZE, BUFFERS) " + sql.format(deep=plan.deep_offset)
        )
        plans[label] = "\n".join(str(row[0]) for row in rows)
    return plans


def report(payload: dict[str, Any]) -> None:
    rows = [
        [
            r["endpoint"],
            r["p50_ms"],
            r["p99_ms"],
            None if r["goal_ms"] is None else r["goal_ms"],
            "-" if r["goal_ms"] is None else ("met" if r["p99_ms"] <= r["goal_ms"] else "missed"),
        ]
        for r in payload["results"]
    ]
    p = payload["params"]
    harness.print_table(
        f"{NAME} ({p['notifications']:,} notifications, {p['alerts']:,} alerts; medians of "
        f"{p['rounds']} round(s) of {p['requests']} requests per endpoint)",
        ["endpoint", "p50 ms", "p99 ms", "p99 goal ms", "verdict"],
        rows,
    )
    counts = payload["counts"]
    print(
        f"seeded: {counts['notifications']:,} notifications ({counts['unread']:,} unread, "
        f"{counts['unread_critical']:,} of them critical), {counts['alerts']:,} alerts "
        f"({counts['unresolved_alerts']:,} unresolved)"
    )
    for label, text in payload["explain"].items():
        print(f"\nEXPLAIN ANALYZE: {label}\n{text}")
    harness.print_targets(Target.from_dict(t) for t in payload["targets"])


def build_parser() -> argparse.ArgumentParser:
    parser = harness.common_parser(__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--reseed", action="store_true", help="seed the database again even if its counts match"
    )
    parser.add_argument(
        "--database-name",
        help=f"the database to seed and keep (default {DATABASE_PREFIX}_<size>)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also print EXPLAIN ANALYZE of the read statements, after the measures",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
