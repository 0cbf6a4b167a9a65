"""The pipeline on one screen: events -> rules -> actions -> store -> publish.

Ingestion (step 1) and parsing (step 2) happen in `gateway.ingest`; this module takes parsed
events from there. A batch's writes commit together (with other batches' writes, see
`gateway.writer`): either all its records are committed or none, and listeners hear only about
what was committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import actions
from gateway.live_rules import LiveRules
from gateway.publish.hub import Hub
from gateway.publish.metrics import Metrics
from gateway.rule_stats import RuleStats
from gateway.writer import DEFAULT_WRITE_TIMEOUT_SECONDS, GroupWriter
from rules.actions import DeferredAlertDraft
from rules.outcomes import Draft


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch of events produced."""

    received: int
    matched: int
    notifications: int
    suppressed: int
    alerts: int
    resolved: int
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "matched": self.matched,
            "notifications": self.notifications,
            "suppressed": self.suppressed,
            "alerts": self.alerts,
            "resolved": self.resolved,
        }


class Pipeline:
    """Evaluate events against the live rules and commit what they produce."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: LiveRules,
        hub: Hub,
        *,
        metrics: Metrics | None = None,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._rules = rules
        self._hub = hub
        # Without the app's metrics (a bare pipeline, as in benchmarks) count into a private
        # registry, so the hot path never has to ask whether to count.
        self._metrics = metrics or Metrics(CollectorRegistry(), process=False)
        self._writer = GroupWriter(sessions, hub, self._metrics, timeout=write_timeout)
        self.rule_stats = RuleStats()

    async def process(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        source: str,
        delivery_id: str | None = None,
    ) -> BatchResult:
        # 3. rules: one rule set for the whole batch, even if a reload lands meanwhile.
        ruleset = self._rules.current
        drafts: list[Draft | DeferredAlertDraft] = []
        matched_rules: list[str] = []
        collect = ruleset.collect
        matched = 0
        for event in events:
            if collect(event, source, drafts, matched_rules):
                matched += 1
        # Counted once per batch: the counts are the same, and a storm batch saves a clock
        # read and a call per event.
        if matched_rules:
            self.rule_stats.record(matched_rules)
        ops = actions.plan(drafts)

        # 4-5. actions -> store, committed with whatever other batches are being written.
        written = await self._writer.write(ops, source=source, delivery_id=delivery_id)
        # 6. publish: the writer announces changes once they are committed.
        if written.duplicate:
            return BatchResult(len(events), 0, 0, 0, 0, 0, duplicate=True)
        return BatchResult(
            received=len(events),
            matched=matched,
            notifications=written.notifications,
            suppressed=written.suppressed,
            alerts=actions.occurrences(ops),
            resolved=written.resolved,
        )

    async def close(self) -> None:
        """Finish the writes already queued; take no more."""
        await self._writer.close()
