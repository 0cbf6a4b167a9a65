"""The Metrics class on a registry of its own: names, bounded labels, cached children."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from gateway.ingest.formats import parse_log_body
from gateway.ingest.limits import IngestLimits
from gateway.live_rules import ReloadStatus
from gateway.publish.metrics import REJECT_REASONS, Metrics, rejection_reason

LIMITS = IngestLimits(max_line_bytes=64, max_lines=3, max_depth=3)

# Bodies the real parser rejects, and the reason each rejection must be counted under.
REJECTED_BODIES = {
    "invalid_json": (b'{"event": \n', "application/x-ndjson"),
    "too_long": (b'{"event": "' + b"x" * 100 + b'"}\n', "application/x-ndjson"),
    "too_deep": (b'{"a": {"b": {"c": {"d": 1}}}}\n', "application/x-ndjson"),
    "not_object": (b"[1, 2]\n", "application/x-ndjson"),
    "invalid_utf8": (b'{"event": "\xff"}\n', "application/x-ndjson"),
    "too_many_lines": (b"{}\n{}\n{}\n{}\n", "application/x-ndjson"),
    "other": (b'event=a key="unterminated\n', "text/plain"),
}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(registry, build="1.2.3", process=False)


class TestRejectionReason:
    @pytest.mark.parametrize("reason", sorted(REJECTED_BODIES))
    def test_parser_errors_map_to_their_reason(self, reason: str) -> None:
        """Each kind of line the parser rejects is counted under its own bounded reason."""
        body, content_type = REJECTED_BODIES[reason]
        errors = parse_log_body(body, content_type, LIMITS).errors
        assert errors, "the body was meant to be rejected"
        assert rejection_reason(errors[-1].error) == reason

    def test_unknown_messages_are_other(self) -> None:
        """A message no prefix knows falls into "other", never into a new label value."""
        assert rejection_reason("something new went wrong") == "other"

    def test_every_reason_is_exported_from_the_start(
        self, metrics: Metrics, registry: CollectorRegistry
    ) -> None:
        """All reasons exist at zero before any line is rejected, so rate() works at once."""
        for reason in REJECT_REASONS:
            assert (
                registry.get_sample_value("gateway_lines_rejected_total", {"reason": reason}) == 0
            )


class TestMetrics:
    def test_build_info_carries_the_version(self, registry: CollectorRegistry) -> None:
        """gateway_build_info is 1, labelled with the version."""
        Metrics(registry, build="1.2.3", process=False)
        assert registry.get_sample_value("gateway_build_info", {"version": "1.2.3"}) == 1

    def test_registries_are_independent(self) -> None:
        """Two apps' metrics never share values: each has its own registry."""
        a, b = CollectorRegistry(), CollectorRegistry()
        Metrics(a, process=False).received("logs", "logs", 5)
        Metrics(b, process=False)
        labels = {"input": "logs", "source": "logs"}
        assert a.get_sample_value("gateway_events_received_total", labels) == 5
        assert b.get_sample_value("gateway_events_received_total", labels) is None

    def test_process_collectors_go_to_the_given_registry(self, registry: CollectorRegistry) -> None:
        """The process metrics are registered in the app's registry, not the global one."""
        Metrics(registry)
        assert registry.get_sample_value("process_cpu_seconds_total") is not None

    def test_labelled_children_are_cached(self, metrics: Metrics) -> None:
        """A label combination is looked up once; later increments reuse the child."""
        assert metrics.events_received("logs", "logs") is metrics.events_received("logs", "logs")

    def test_rejected_counts_per_reason(
        self, metrics: Metrics, registry: CollectorRegistry
    ) -> None:
        """Rejected lines are tallied per reason and added once per batch."""
        metrics.rejected(["invalid JSON: x at column 1", "invalid JSON: y", "invalid UTF-8"])
        value = registry.get_sample_value
        assert value("gateway_lines_rejected_total", {"reason": "invalid_json"}) == 2
        assert value("gateway_lines_rejected_total", {"reason": "invalid_utf8"}) == 1

    def test_written_routes_outcomes_to_their_counters(
        self, metrics: Metrics, registry: CollectorRegistry
    ) -> None:
        """A batch's tally lands in the notification and alert counters by type and level."""
        metrics.written(
            {
                ("notification.created", "store_issue", "normal"): 2,
                ("notification.suppressed", "store_issue", "normal"): 1,
                ("alert.created", "integration", "error"): 1,
                ("alert.incremented", "integration", "error"): 4,
                ("alert.resolved", "system", "critical"): 1,
            }
        )
        value = registry.get_sample_value
        notification = {"type": "store_issue", "priority": "normal"}
        assert value("gateway_notifications_created_total", notification) == 2
        assert value("gateway_notifications_suppressed_total", notification) == 1
        integration = {"type": "integration", "severity": "error"}
        assert value("gateway_alerts_created_total", integration) == 1
        assert value("gateway_alerts_incremented_total", integration) == 4
        resolved = {"type": "system", "severity": "critical"}
        assert value("gateway_alerts_resolved_total", resolved) == 1

    def test_rules_loads_count_success_and_failure(
        self, metrics: Metrics, registry: CollectorRegistry
    ) -> None:
        """Successes set the last-success time; a failure leaves it and clears the ok gauge."""
        metrics.rules_loaded(ReloadStatus(ok=True, at=datetime.now(UTC)))
        value = registry.get_sample_value
        stamp = value("gateway_rules_last_reload_success_timestamp_seconds")
        assert stamp is not None and stamp > 0
        assert value("gateway_rules_last_reload_successful") == 1
        metrics.rules_loaded(ReloadStatus(ok=False, at=datetime.now(UTC), error="bad"))
        assert value("gateway_rules_reloads_total", {"result": "success"}) == 1
        assert value("gateway_rules_reloads_total", {"result": "failure"}) == 1
        assert value("gateway_rules_last_reload_successful") == 0
        assert value("gateway_rules_last_reload_success_timestamp_seconds") == stamp

    def test_scrape_time_values_follow_their_sources(
        self, metrics: Metrics, registry: CollectorRegistry
    ) -> None:
        """The SSE gauge and the rule match counter read their sources at each scrape."""
        clients = [0]
        matches = {"rule-a": 3}
        metrics.watch_sse_clients(lambda: clients[0])
        metrics.watch_rule_matches(lambda: matches.items())
        value = registry.get_sample_value
        assert value("gateway_sse_clients") == 0
        clients[0] = 2
        matches["rule-a"] = 5
        assert value("gateway_sse_clients") == 2
        assert value("gateway_rule_matches_total", {"rule": "rule-a"}) == 5
