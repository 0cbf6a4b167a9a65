"""Deterministic workloads: structlog-style log lines, Letzshop API error storms, rules files.

Everything here is generated from a seeded `random.Random`, so a run can be repeated exactly.
Lines look like structlog's JSONRenderer output (`event` first, then the call's fields, then
`level`, `logger` and `timestamp`), which is what the platform's apps ship.

Of the log lines, a fixed share (1 % by default) is drawn from events the benchmark rules act
on (bundled vocabulary, docs/events.md, plus bench/extra_rules.yaml); the rest is everyday noise
(requests, queries, cache misses, logins...) that some rules look at but none fires on.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench.harness import BUNDLED_RULES, REPO

EXTRA_RULES = REPO / "bench" / "extra_rules.yaml"
MIN_RULES = 20

Event = dict[str, Any]
Factory = Callable[[random.Random], Event]

STORES: tuple[tuple[int, str], ...] = tuple(
    (store_id, name)
    for store_id, name in enumerate(
        (
            "Acme Corp",
            "Maison Verte",
            "Bio Shop",
            "Luxembourg Wines",
            "Atelier Nord",
            "Velo Plus",
            "Kachen & Co",
            "Papeterie Moderne",
            "Grand Duchy Tea",
            "Moselle Ceramics",
            "Urban Roots",
            "Petit Bazar",
        ),
        start=1,
    )
)
PATHS = (
    "/",
    "/api/v1/products",
    "/api/v1/orders",
    "/api/v1/cart",
    "/checkout",
    "/search",
    "/static/app.js",
    "/account",
)
NOISE_STATUSES = (200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404)
OPERATIONS = ("fetch_orders", "ack_order", "update_stock", "fetch_products", "confirm_shipment")
API_ERRORS = (
    (500, "Internal Server Error"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
    (504, "Gateway Timeout"),
    (429, "Too Many Requests"),
)


def _store(rng: random.Random) -> tuple[int, str]:
    return rng.choice(STORES)


def _request_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


# --- everyday noise: no rule fires on these ---------------------------------------------------


def _http_request(rng: random.Random) -> Event:
    store_id, _ = _store(rng)
    return {
        "event": "http.request",
        "method": rng.choice(("GET", "GET", "GET", "POST", "PUT")),
        "path": rng.choice(PATHS),
        "status": rng.choice(NOISE_STATUSES),
        "duration_ms": round(rng.expovariate(1 / 40), 1),
        "store_id": store_id,
        "request_id": _request_id(rng),
        "client_ip": f"198.51.100.{rng.randrange(1, 255)}",
        "tags": ["web", rng.choice(("checkout", "catalog", "account"))],
    }


def _db_query(rng: random.Random) -> Event:
    return {
        "event": "db.query",
        "statement": rng.choice(("select", "insert", "update")),
        "table": rng.choice(("orders", "products", "customers", "stock")),
        "duration_ms": round(rng.expovariate(1 / 3), 2),
        "rows": rng.randrange(0, 500),
        "request_id": _request_id(rng),
    }


def _cache(rng: random.Random) -> Event:
    return {
        "event": rng.choice(("cache.hit", "cache.hit", "cache.miss")),
        "key": f"product:{rng.randrange(100_000)}",
        "ttl_s": 300,
    }


def _order_created(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    return {
        "event": "order.created",
        "store_id": store_id,
        "store_name": store_name,
        "order_id": rng.randrange(10**6),
        "total_cents": rng.randrange(500, 50_000),
        "currency": "EUR",
        "items": rng.randrange(1, 8),
    }


def _product_updated(rng: random.Random) -> Event:
    store_id, _ = _store(rng)
    return {
        "event": "product.updated",
        "store_id": store_id,
        "product_id": rng.randrange(10**6),
        "fields": rng.sample(["price", "stock", "title", "images", "ean"], 2),
    }


def _task(rng: random.Random) -> Event:
    return {
        "event": rng.choice(("task.started", "task.finished")),
        "task": rng.choice(("sync_stock", "send_emails", "rebuild_search_index", "export")),
        "task_id": _request_id(rng),
        "duration_ms": rng.randrange(5, 20_000),
    }


def _login(rng: random.Random) -> Event:
    if rng.random() < 0.8:
        return {"event": "auth.login_succeeded", "user_id": rng.randrange(10_000)}
    return {
        "event": "auth.login_failed",
        "user": f"user{rng.randrange(10_000)}@example.com",
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "attempts": rng.randrange(1, 4),
    }


def _letzshop_call(rng: random.Random) -> Event:
    store_id, _ = _store(rng)
    return {
        "event": "letzshop.api_call",
        "store_id": store_id,
        "operation": rng.choice(OPERATIONS),
        "status_code": 200,
        "duration_ms": rng.randrange(40, 900),
    }


def _handled_error(rng: random.Random) -> Event:
    return {
        "event": "checkout.payment_declined",
        "error_message": rng.choice(("card declined", "insufficient funds", "3DS failed")),
        "order_id": rng.randrange(10**6),
    }


NOISE: tuple[tuple[Factory, int, str, str], ...] = (
    # factory, weight, level, logger
    (_http_request, 40, "info", "shop.web.access"),
    (_db_query, 15, "debug", "shop.db"),
    (_cache, 12, "debug", "shop.cache"),
    (_order_created, 8, "info", "shop.orders"),
    (_product_updated, 8, "info", "shop.catalog"),
    (_task, 7, "info", "shop.tasks"),
    (_login, 5, "info", "shop.auth"),
    (_letzshop_call, 4, "info", "shop.letzshop"),
    (_handled_error, 1, "warning", "payments.checkout"),
)


# --- events the rules act on ----------------------------------------------------------------


def letzshop_api_error(rng: random.Random, store: tuple[int, str] | None = None) -> Event:
    store_id, store_name = store or _store(rng)
    status, message = rng.choice(API_ERRORS)
    return {
        "event": "letzshop.api_error",
        "store_id": store_id,
        "store_name": store_name,
        "operation": rng.choice(OPERATIONS),
        "status_code": status,
        "error_message": message,
    }


def _product_import_failed(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    return {
        "event": "product_import.failed",
        "store_id": store_id,
        "store_name": store_name,
        "job_id": rng.randrange(10**6),
        "error_message": "CSV parsing failed: invalid column format",
    }


def _product_import_completed(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    return {
        "event": "product_import.completed",
        "store_id": store_id,
        "store_name": store_name,
        "job_id": rng.randrange(10**6),
        "error_count": rng.randrange(5, 60),
        "imported_count": rng.randrange(100, 5000),
    }


def _order_import_failed(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    return {
        "event": "order_import.failed",
        "store_id": store_id,
        "store_name": store_name,
        "job_id": rng.randrange(10**6),
        "error_message": "Letzshop answered 503",
        "reason": rng.choice(("api_error", "exception")),
    }


def _order_sync_failed(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    return {
        "event": "order_sync.failed",
        "store_id": store_id,
        "store_name": store_name,
        "error_message": "timeout after 30s",
    }


def _order_sync_succeeded(rng: random.Random) -> Event:
    return {"event": "order_sync.succeeded", "store_id": _store(rng)[0]}


def _order_exception(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    order_id = rng.randrange(10**6)
    return {
        "event": "order.exception",
        "store_id": store_id,
        "store_name": store_name,
        "order_id": order_id,
        "order_number": f"LZ-2026-{order_id}",
        "unmatched_products": [f"EAN 400638{rng.randrange(10**7):07d}"],
    }


def _store_issue(rng: random.Random) -> Event:
    store_id, store_name = _store(rng)
    return {
        "event": "store.issue",
        "store_id": store_id,
        "store_name": store_name,
        "issue": rng.choice(("payout_blocked", "kyc_expired", "stock_feed_stale")),
        "message": "Needs an administrator's review",
    }


def _security_alert(rng: random.Random) -> Event:
    return {
        "event": "security.alert",
        "category": rng.choice(("brute_force", "token_leak")),
        "message": "42 failed admin logins in 60 s",
        "ip": f"203.0.113.{rng.randrange(1, 20)}",
        "user": "admin@example.com",
    }


def _system_critical(rng: random.Random) -> Event:
    return {
        "event": "system.critical_error",
        "component": rng.choice(("payment-worker", "search-indexer", "mailer")),
        "error_message": "worker crashed: out of memory",
    }


def _slow_request(rng: random.Random) -> Event:
    event = _http_request(rng)
    event["duration_ms"] = float(rng.randrange(30_000, 90_000))
    return event


def _login_brute_force(rng: random.Random) -> Event:
    event = _login(rng)
    event.update(
        event="auth.login_failed",
        user="admin@example.com",
        ip=f"203.0.113.{rng.randrange(1, 255)}",
        attempts=rng.randrange(10, 50),
    )
    return event


def _disk_full(rng: random.Random) -> Event:
    return {
        "event": "backup.failed",
        "host": rng.choice(("db-1", "db-2", "files-1")),
        "error_message": "[Errno 28] No space left on device",
    }


MATCHING: tuple[tuple[Factory, int, str, str], ...] = (
    (letzshop_api_error, 30, "error", "shop.letzshop"),
    (_product_import_failed, 10, "error", "shop.imports"),
    (_product_import_completed, 5, "warning", "shop.imports"),
    (_order_import_failed, 5, "error", "shop.letzshop"),
    (_order_sync_failed, 10, "error", "shop.letzshop"),
    (_order_sync_succeeded, 5, "info", "shop.letzshop"),
    (_order_exception, 8, "warning", "shop.orders"),
    (_store_issue, 8, "warning", "shop.stores"),
    (_security_alert, 3, "critical", "shop.security"),
    (_system_critical, 3, "critical", "shop.workers"),
    (_slow_request, 5, "warning", "shop.web.access"),
    (_login_brute_force, 3, "warning", "shop.auth"),
    (_disk_full, 2, "error", "shop.backup"),
)


def _timestamp(index: int) -> str:
    # 8:00 UTC plus 1 ms per line, as "2026-11-25T08:00:00.000000Z" (cheap to produce).
    seconds, millis = divmod(index, 1000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"2026-11-25T{(8 + hours) % 24:02d}:{minute:02d}:{second:02d}.{millis:03d}000Z"


def _render(event: Event, level: str, logger: str, index: int) -> bytes:
    event["level"] = level
    event["logger"] = logger
    event["timestamp"] = _timestamp(index)
    return orjson.dumps(event)


@dataclass(frozen=True)
class LogLines:
    """Generated log lines and which of them some rule fires on."""

    lines: list[bytes]
    matching_at: frozenset[int]
    """Indexes of the lines some rule fires on."""

    @property
    def matching(self) -> int:
        return len(self.matching_at)

    def matching_in(self, lines: range) -> int:
        """How many of the lines with these indexes some rule fires on."""
        return sum(1 for index in lines if index in self.matching_at)


def log_lines(rng: random.Random, count: int, match_ratio: float = 0.01) -> LogLines:
    """Return `count` structlog lines, `round(count * match_ratio)` of them acted on by rules."""
    matching_at = set(rng.sample(range(count), round(count * match_ratio)))
    noise_factories = [entry for entry in NOISE]
    noise_weights = [entry[1] for entry in NOISE]
    match_weights = [entry[1] for entry in MATCHING]
    lines: list[bytes] = []
    for index in range(count):
        table = MATCHING if index in matching_at else noise_factories
        weights = match_weights if index in matching_at else noise_weights
        factory, _weight, level, logger = rng.choices(table, weights)[0]
        lines.append(_render(factory(rng), level, logger, index))
    return LogLines(lines, frozenset(matching_at))


@dataclass(frozen=True)
class Storm:
    """Generated `letzshop.api_error` lines and the store each one is about."""

    lines: list[bytes]
    stores: list[int]

    def per_store(self, line_ranges: Iterable[range]) -> Counter[int]:
        """Count the lines per store within the given ranges of line indexes."""
        counts: Counter[int] = Counter()
        for lines in line_ranges:
            counts.update(self.stores[lines.start : lines.stop])
        return counts


def letzshop_storm(rng: random.Random, count: int, stores: int) -> Storm:
    """Return `count` `letzshop.api_error` lines spread at random over `stores` stores."""
    chosen = STORES[:stores]
    if len(chosen) < stores:
        raise ValueError(f"at most {len(STORES)} stores")
    lines: list[bytes] = []
    store_ids: list[int] = []
    for index in range(count):
        store = chosen[rng.randrange(stores)]
        store_ids.append(store[0])
        lines.append(_render(letzshop_api_error(rng, store), "error", "shop.letzshop", index))
    return Storm(lines, store_ids)


def body_ranges(count: int, per_body: int) -> list[range]:
    """The line indexes of each body that `ndjson_bodies` makes of `count` lines."""
    return [range(start, min(start + per_body, count)) for start in range(0, count, per_body)]


def ndjson_bodies(lines: Sequence[bytes], per_body: int) -> list[bytes]:
    """Join lines into NDJSON bodies of `per_body` lines each (the last may be shorter)."""
    return [
        b"\n".join(lines[start : start + per_body]) + b"\n"
        for start in range(0, len(lines), per_body)
    ]


def write_bench_rules(out_dir: Path) -> Path:
    """Write the bundled rules plus bench/extra_rules.yaml to `out_dir/bench_rules.yaml`.

    The bundled file's rule tests are left out (they test the bundled rules, not these). The
    result is checked with the gateway's own loader and must hold at least MIN_RULES rules.
    """
    from rules.loader import load_ruleset

    bundled = yaml.safe_load(BUNDLED_RULES.read_text())
    extra = yaml.safe_load(EXTRA_RULES.read_text())
    document = {
        "version": bundled["version"],
        "sources": bundled.get("sources") or {},
        "rules": [*bundled["rules"], *extra],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench_rules.yaml"
    header = (
        "# Generated by bench/workload.py from rules.yaml and bench/extra_rules.yaml.\n"
        "# Do not edit: edit those and run a benchmark again.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, width=100))
    ruleset = load_ruleset(path, {})
    if len(ruleset.rules) < MIN_RULES:
        raise RuntimeError(f"{path} has {len(ruleset.rules)} rules, fewer than {MIN_RULES}")
    return path
