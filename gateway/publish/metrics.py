"""Prometheus metrics of one gateway process, kept in the registry the application passes in.

Every label value is bounded: inputs are `logs` or `webhook`; sources and rule names come from
`rules.yaml`, never from request data; notification and alert labels come from the typed
vocabulary; rejection reasons are the fixed set in `REJECT_REASONS`. Labelled children are
looked up once and cached, so the ingestion path pays one dict lookup per increment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Generic, Protocol, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from rules.vocabulary import AlertType, NotificationType, Priority, Severity

DISTRIBUTION = "admin-notification-gateway"

INPUT_LOGS = "logs"
INPUT_WEBHOOK = "webhook"

REJECT_REASONS = (
    "invalid_json",
    "too_long",
    "too_deep",
    "not_object",
    "invalid_utf8",
    "too_many_lines",
    "other",
)
# The parser's line errors (gateway.ingest.formats) start with these words; anything else,
# such as a logfmt syntax error, counts as "other".
_REASON_BY_PREFIX = (
    ("invalid JSON", "invalid_json"),
    ("line is ", "too_long"),
    ("nesting deeper than", "too_deep"),
    ("expected a JSON object", "not_object"),
    ("invalid UTF-8", "invalid_utf8"),
    ("too many lines", "too_many_lines"),
)

# Outcomes of the writes a batch made, as tallied by gateway.actions.
NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_SUPPRESSED = "notification.suppressed"
ALERT_CREATED = "alert.created"
ALERT_INCREMENTED = "alert.incremented"
ALERT_RESOLVED = "alert.resolved"
WriteTally = Mapping[tuple[str, str, str], int]
"""(outcome, notification or alert type, priority or severity) -> how many."""

# From a millisecond to ten seconds: an ingestion answer waits for the batch's commit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

M = TypeVar("M", bound=MetricWrapperBase)


class ReloadOutcome(Protocol):
    """What the metrics read from a rules load attempt (`gateway.live_rules.ReloadStatus`)."""

    @property
    def ok(self) -> bool: ...


class Children(Generic[M]):
    """The labelled children of one metric, each looked up once and then served from a dict."""

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


def rejection_reason(error: str) -> str:
    """Map a parser's line error message to one of `REJECT_REASONS`."""
    for prefix, reason in _REASON_BY_PREFIX:
        if error.startswith(prefix):
            return reason
    return "other"


def build_version() -> str:
    """Return the installed gateway's version, or "unknown" when run from a bare checkout."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """Every metric the gateway exports, registered in `registry` (never the global one)."""

    def __init__(
        self, registry: CollectorRegistry, *, build: str | None = None, process: bool = True
    ) -> None:
        self.registry = registry
        r = registry
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        Info("gateway_build", "The running gateway's version.", registry=r).info(
            {"version": build or build_version()}
        )

        # 1-2: what arrives.
        self.events_received = Children(
            Counter(
                "gateway_events_received",
                "Events handed to the rules, by input (logs, webhook) and source.",
                ("input", "source"),
                registry=r,
            )
        )
        self.lines_rejected = Children(
            Counter(
                "gateway_lines_rejected",
                "Log lines refused by the parser, by reason.",
                ("reason",),
                registry=r,
            )
        )
        self.signature_rejections = Children(
            Counter(
                "gateway_webhook_signature_rejections",
                "Webhooks refused because their signature did not verify, by source.",
                ("source",),
                registry=r,
            )
        )
        self.load_shed = Counter(
            "gateway_ingest_load_shed",
            "Ingestion requests answered 503 because every ingestion slot was busy.",
            registry=r,
        )
        self.batches_in_progress = Gauge(
            "gateway_ingest_batches_in_progress",
            "Ingestion batches holding a slot: being evaluated and written.",
            registry=r,
        )
        # Read from the admission budget when scraped (watch_admission): nothing per request.
        self.bytes_in_progress = Gauge(
            "gateway_ingest_body_bytes_in_progress",
            "Request body bytes admitted to ingestion and not yet answered "
            "(a compressed body counts as the size limit).",
            registry=r,
        )
        self.bytes_budget = Gauge(
            "gateway_ingest_body_bytes_budget",
            "Request body bytes ingestion admits at once (--ingest-buffer-bytes).",
            registry=r,
        )
        self.ingest_request_duration = Children(
            Histogram(
                "gateway_ingest_request_duration_seconds",
                "Time to answer an ingestion request, by endpoint and status class.",
                ("endpoint", "status_class"),
                buckets=LATENCY_BUCKETS,
                registry=r,
            )
        )
        self.db_write_duration = Histogram(
            "gateway_db_write_duration_seconds",
            "Time spent in a batch's database transaction.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        # 3-5: what the rules made of it.
        self._written: dict[str, Children[Counter]] = {}
        for outcome, name, help_text, labels in (
            (
                NOTIFICATION_CREATED,
                "gateway_notifications_created",
                "Admin notifications created, by type and priority.",
                ("type", "priority"),
            ),
            (
                NOTIFICATION_SUPPRESSED,
                "gateway_notifications_suppressed",
                "Notifications not created because their dedup key was claimed in its window.",
                ("type", "priority"),
            ),
            (
                ALERT_CREATED,
                "gateway_alerts_created",
                "Platform alerts opened, by type and severity.",
                ("type", "severity"),
            ),
            (
                ALERT_INCREMENTED,
                "gateway_alerts_incremented",
                "Occurrences counted on an alert already open, by type and severity.",
                ("type", "severity"),
            ),
            (
                ALERT_RESOLVED,
                "gateway_alerts_resolved",
                "Platform alerts resolved by a rule or the gateway itself, by type and severity.",
                ("type", "severity"),
            ),
        ):
            self._written[outcome] = Children(Counter(name, help_text, labels, registry=r))
        # Every combination starts at zero, so rate() and absent() work from the first scrape.
        for outcome in (NOTIFICATION_CREATED, NOTIFICATION_SUPPRESSED):
            for kind in NotificationType:
                for priority in Priority:
                    self._written[outcome](kind, priority)
        for outcome in (ALERT_CREATED, ALERT_INCREMENTED, ALERT_RESOLVED):
            for alert_type in AlertType:
                for severity in Severity:
                    self._written[outcome](alert_type, severity)
        for reason in REJECT_REASONS:
            self.lines_rejected(reason)

        # The rules file.
        self.rules_reloads = Children(
            Counter(
                "gateway_rules_reloads",
                "Attempts to load the rules file, by result (success, failure).",
                ("result",),
                registry=r,
            )
        )
        self.rules_last_success = Gauge(
            "gateway_rules_last_reload_success_timestamp_seconds",
            "When the rules file was last loaded successfully (Unix time).",
            registry=r,
        )
        self.rules_last_reload_ok = Gauge(
            "gateway_rules_last_reload_successful",
            "Whether the latest attempt to load the rules file succeeded (1) or not (0).",
            registry=r,
        )
        for result in ("success", "failure"):
            self.rules_reloads(result)

        # 6: live listeners.
        self.sse_clients = Gauge(
            "gateway_sse_clients",
            "Live (Server-Sent Events) listeners connected to this process.",
            registry=r,
        )

        # The self-monitoring job (gateway.self_monitor).
        self.database_reachable = Gauge(
            "gateway_database_reachable",
            "Whether the latest self-check reached the database (1) or not (0).",
            registry=r,
        )

    # -- recording, called from the ingestion path -----------------------------------------

    def received(self, input_: str, source: str, count: int) -> None:
        """Count `count` events handed to the rules from `source` (a name from rules.yaml)."""
        if count:
            self.events_received(input_, source).inc(count)

    def rejected(self, errors: Iterable[str]) -> None:
        """Count rejected lines by reason; `errors` are the parser's line error messages."""
        tally: dict[str, int] = {}
        for error in errors:
            reason = rejection_reason(error)
            tally[reason] = tally.get(reason, 0) + 1
        for reason, count in tally.items():
            self.lines_rejected(reason).inc(count)

    def written(self, tally: WriteTally) -> None:
        """Count what a committed batch wrote, as tallied by `gateway.actions.apply`."""
        for (outcome, kind, level), count in tally.items():
            self._written[outcome](kind, level).inc(count)

    def rules_loaded(self, status: ReloadOutcome) -> None:
        """Record one attempt to load the rules file."""
        if status.ok:
            self.rules_reloads("success").inc()
            self.rules_last_success.set_to_current_time()
            self.rules_last_reload_ok.set(1)
        else:
            self.rules_reloads("failure").inc()
            self.rules_last_reload_ok.set(0)

    def load_shed_total(self) -> float:
        """Ingestion requests shed since start, as `gateway_ingest_load_shed_total` reports."""
        for family in self.load_shed.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    return sample.value
        return 0.0

    # -- values read at scrape time --------------------------------------------------------

    def watch_sse_clients(self, count: Callable[[], int]) -> None:
        """Report `count()` (the live hub's subscriber count) as the SSE clients gauge."""
        self.sse_clients.set_function(lambda: float(count()))

    def watch_rule_matches(self, matches: Callable[[], Iterable[tuple[str, int]]]) -> None:
        """Export `matches()`, (rule name, matches so far) for the rules in force, as a counter."""
        self.registry.register(RuleMatchCollector(matches))


class RuleMatchCollector(Collector):
    """`gateway_rule_matches_total{rule}`, read at scrape time from the pipeline's counts.

    Reading the counts the pipeline already keeps costs ingestion nothing; only the rules in
    the file in force are exported, so reloads cannot grow the label set without bound.
    """

    def __init__(self, matches: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self._matches = matches

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = self._family()
        for rule, count in self._matches():
            family.add_metric([rule], count)
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "gateway_rule_matches",
            "Events each rule matched since the process started.",
            labels=("rule",),
        )
