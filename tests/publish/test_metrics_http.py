"""Metrics after real ingestion over HTTP, and GET /metrics with and without its token."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from gateway import keys
from gateway.ingest.signatures import sign_hmac_sha256

LOGS = "/api/v1/ingest/logs"
LETZSHOP = "/api/v1/ingest/webhooks/letzshop"
NDJSON = {"Content-Type": "application/x-ndjson"}
LETZSHOP_SECRET = "letzshop-metrics-secret"

IMPORT_FAILED = {
    "event": "product_import.failed",
    "store_id": 5,
    "store_name": "Acme Corp",
    "job_id": 123,
    "error_message": "CSV parsing failed",
}
API_ERROR = {"type": "letzshop.api_error", "store_id": 3, "store_name": "B", "error_message": "x"}
SYNC_OK = {"type": "order_sync.succeeded", "store_id": 3, "store_name": "B"}


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETZSHOP_WEBHOOK_SECRET", LETZSHOP_SECRET)


def registry(client: TestClient[Any, Any]) -> CollectorRegistry:
    return client.app[keys.METRICS].registry  # type: ignore[no-any-return]


def ndjson(*lines: Any) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )


async def post_letzshop(
    client: TestClient[Any, Any], payload: Any, secret: str = LETZSHOP_SECRET
) -> int:
    body = orjson.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        "X-Letzshop-Signature": sign_hmac_sha256(secret, body, "hex", "sha256="),
    }
    resp = await client.post(LETZSHOP, data=body, headers=headers)
    return resp.status


class TestIngestionMetrics:
    async def test_log_lines_count_received_rejected_matched_and_created(
        self, client: TestClient[Any, Any]
    ) -> None:
        """One batch counts its events, its rejected lines by reason, matches and notifications."""
        body = ndjson(IMPORT_FAILED, IMPORT_FAILED, b"not json", b"[1]", {"event": "nothing.known"})
        resp = await client.post(LOGS, data=body, headers=NDJSON)
        assert resp.status == 200, await resp.text()
        value = registry(client).get_sample_value
        assert value("gateway_events_received_total", {"input": "logs", "source": "logs"}) == 3
        assert value("gateway_lines_rejected_total", {"reason": "invalid_json"}) == 1
        assert value("gateway_lines_rejected_total", {"reason": "not_object"}) == 1
        assert value("gateway_rule_matches_total", {"rule": "product-import-failed"}) == 2
        import_failure = {"type": "import_failure", "priority": "high"}
        # The same store and job within the dedup window: the second is suppressed.
        assert value("gateway_notifications_created_total", import_failure) == 1
        assert value("gateway_notifications_suppressed_total", import_failure) == 1
        assert value("gateway_db_write_duration_seconds_count") == 1
        assert value("gateway_ingest_batches_in_progress") == 0

    async def test_request_duration_is_labelled_by_route_and_status_class(
        self, client: TestClient[Any, Any]
    ) -> None:
        """Ingestion requests are timed under their route pattern and status class."""
        await client.post(LOGS, data=ndjson(IMPORT_FAILED), headers=NDJSON)
        await client.post(LOGS, data=b"x", headers={"Content-Type": "image/png"})
        value = registry(client).get_sample_value
        name = "gateway_ingest_request_duration_seconds_count"
        assert value(name, {"endpoint": LOGS, "status_class": "2xx"}) == 1
        assert value(name, {"endpoint": LOGS, "status_class": "4xx"}) == 1

    async def test_webhook_alerts_created_incremented_and_resolved(
        self, client: TestClient[Any, Any]
    ) -> None:
        """Three occurrences open one alert and add two; a success resolves it, all labelled."""
        assert await post_letzshop(client, [API_ERROR, API_ERROR, API_ERROR]) == 200
        assert await post_letzshop(client, SYNC_OK) == 200
        value = registry(client).get_sample_value
        webhook = {"input": "webhook", "source": "letzshop"}
        assert value("gateway_events_received_total", webhook) == 4
        integration = {"type": "integration", "severity": "error"}
        assert value("gateway_alerts_created_total", integration) == 1
        assert value("gateway_alerts_incremented_total", integration) == 2
        assert value("gateway_alerts_resolved_total", integration) == 1
        name = "gateway_ingest_request_duration_seconds_count"
        pattern = "/api/v1/ingest/webhooks/{source}"
        assert value(name, {"endpoint": pattern, "status_class": "2xx"}) == 2

    async def test_bad_signature_counts_by_source(self, client: TestClient[Any, Any]) -> None:
        """A webhook whose signature fails counts a rejection for its declared source."""
        assert await post_letzshop(client, API_ERROR, secret="wrong") == 401
        value = registry(client).get_sample_value
        assert value("gateway_webhook_signature_rejections_total", {"source": "letzshop"}) == 1
        assert (
            value("gateway_events_received_total", {"input": "webhook", "source": "letzshop"})
            is None
        )

    async def test_unknown_source_creates_no_label(self, client: TestClient[Any, Any]) -> None:
        """Posting to a source rules.yaml does not declare leaves no trace in any label."""
        resp = await client.post(
            "/api/v1/ingest/webhooks/made-up-source",
            data=b"{}",
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 404
        for family in registry(client).collect():
            for sample in family.samples:
                assert "made-up-source" not in sample.labels.values(), sample

    async def test_sse_clients_follow_the_hub(self, client: TestClient[Any, Any]) -> None:
        """The SSE gauge reads the live hub's subscriber count at scrape time."""
        hub = client.app[keys.HUB]
        value = registry(client).get_sample_value
        assert value("gateway_sse_clients") == 0
        subscription = hub.subscribe()
        assert value("gateway_sse_clients") == 1
        hub.unsubscribe(subscription)
        assert value("gateway_sse_clients") == 0


class TestRulesReloadMetrics:
    @pytest.fixture
    def database_url(self, sqlite_url: str) -> str:
        """The database does not matter here: SQLite only."""
        return sqlite_url

    async def test_reloads_count_success_and_failure(
        self, client: TestClient[Any, Any], rules_file: Path
    ) -> None:
        """Start-up and reloads count by result; a bad file clears the last-reload gauge."""
        value = registry(client).get_sample_value
        live = client.app[keys.RULES]
        assert value("gateway_rules_reloads_total", {"result": "success"}) == 1
        started = value("gateway_rules_last_reload_success_timestamp_seconds")
        assert started is not None and started > 0
        rules_file.write_text("version: 1\nrules: [oops\n")
        st = rules_file.stat()
        os.utime(rules_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert not (await live.load()).ok
        assert value("gateway_rules_reloads_total", {"result": "failure"}) == 1
        assert value("gateway_rules_last_reload_successful") == 0
        assert value("gateway_rules_last_reload_success_timestamp_seconds") == started


class TestMetricsEndpoint:
    @pytest.fixture
    def database_url(self, sqlite_url: str) -> str:
        """The database does not matter here: SQLite only."""
        return sqlite_url

    async def test_serves_the_apps_registry_as_prometheus_text(
        self, client: TestClient[Any, Any]
    ) -> None:
        """GET /metrics answers the Prometheus text format with the gateway's metrics."""
        await client.post(LOGS, data=ndjson(IMPORT_FAILED), headers=NDJSON)
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(await resp.text())
            for sample in family.samples
        }
        [build] = [key for key in samples if key[0] == "gateway_build_info"]
        assert samples[build] == 1 and dict(build[1])["version"]
        logs = (("input", "logs"), ("source", "logs"))
        assert samples["gateway_events_received_total", logs] == 1

    async def test_openmetrics_on_request(self, client: TestClient[Any, Any]) -> None:
        """A scraper asking for OpenMetrics gets it, as client_python negotiates."""
        resp = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await resp.text()).endswith("# EOF\n")

    @pytest.mark.parametrize(
        "authorization",
        [None, "Bearer wrong-token", "Basic c2NyYXBlOnM=", "Bearer "],
        ids=["missing", "wrong", "basic", "empty"],
    )
    async def test_token_is_required_when_set(
        self, make_client: Any, authorization: str | None
    ) -> None:
        """With a metrics token set, a scrape without it is 401 problem+json."""
        client = await make_client(metrics_token="scrape-me")
        headers = {} if authorization is None else {"Authorization": authorization}
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 401
        assert resp.content_type == "application/problem+json"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    async def test_token_opens_the_endpoint(self, make_client: Any) -> None:
        """The right bearer token reads the metrics."""
        client = await make_client(metrics_token="scrape-me")
        resp = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert resp.status == 200
        assert "gateway_build_info" in await resp.text()
