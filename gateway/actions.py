"""Steps 4-5 of the pipeline: turn rule drafts into service calls inside one transaction.

Repeated alert occurrences within a batch are folded into one statement per fingerprint
(occurrence count N), which keeps an alert storm to a handful of writes; a `resolve` for the
same fingerprint ends the fold so that event order is respected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.services.admin_notification_service import (
    admin_notification_service,
    platform_alert_service,
)
from rules.outcomes import AlertDraft, Draft, NotificationDraft, ResolveDraft
from rules.vocabulary import Severity

_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


@dataclass(slots=True)
class AlertFold:
    """Several occurrences of one fingerprint, merged in arrival order."""

    draft: AlertDraft
    count: int = 1
    stores: dict[str, None] = field(default_factory=dict)
    systems: dict[str, None] = field(default_factory=dict)

    def add(self, draft: AlertDraft) -> None:
        severity = max(self.draft.severity, draft.severity, key=_SEVERITY_RANK.__getitem__)
        self.draft = AlertDraft(
            rule=draft.rule,
            alert_type=draft.alert_type,
            severity=severity,
            title=draft.title,
            description=draft.description,
            fingerprint=draft.fingerprint,
            metadata=draft.metadata,
        )
        self.count += 1
        self.stores.update(dict.fromkeys(draft.affected_stores))
        self.systems.update(dict.fromkeys(draft.affected_systems))

    def merged(self, later: AlertFold) -> AlertFold:
        """Return one fold holding this fold's occurrences followed by `later`'s."""
        severity = max(self.draft.severity, later.draft.severity, key=_SEVERITY_RANK.__getitem__)
        return AlertFold(
            draft=AlertDraft(
                rule=later.draft.rule,
                alert_type=later.draft.alert_type,
                severity=severity,
                title=later.draft.title,
                description=later.draft.description,
                fingerprint=later.draft.fingerprint,
                metadata=later.draft.metadata,
            ),
            count=self.count + later.count,
            stores={**self.stores, **later.stores},
            systems={**self.systems, **later.systems},
        )


Op = NotificationDraft | AlertFold | ResolveDraft


def plan(drafts: Iterable[Draft]) -> list[Op]:
    """Order the writes a batch needs, folding repeated alert occurrences."""
    ops: list[Op] = []
    open_folds: dict[str, AlertFold] = {}
    for draft in drafts:
        if isinstance(draft, AlertDraft):
            fold = open_folds.get(draft.fingerprint)
            if fold is None:
                fold = AlertFold(
                    draft=draft,
                    stores=dict.fromkeys(draft.affected_stores),
                    systems=dict.fromkeys(draft.affected_systems),
                )
                open_folds[draft.fingerprint] = fold
                ops.append(fold)
            else:
                fold.add(draft)
        else:
            if isinstance(draft, ResolveDraft):
                open_folds.pop(draft.fingerprint, None)
            ops.append(draft)
    # Concurrent batches touching the same rows must lock them in one global order, or two
    # batches holding each other's rows deadlock. The sort is stable, so operations on one
    # fingerprint (occurrence, resolve, occurrence) keep their event order.
    ops.sort(key=lock_order)
    return ops


def lock_order(op: Op) -> tuple[int, str]:
    """Sort key: dedup rows by key, then alert rows by fingerprint; plain inserts first."""
    if isinstance(op, AlertFold):
        return (2, op.draft.fingerprint)
    if isinstance(op, ResolveDraft):
        return (2, op.fingerprint)
    if op.dedup_key:
        return (1, op.dedup_key)
    return (0, "")


def occurrences(ops: Iterable[Op]) -> int:
    """Count the alert occurrences a planned batch records."""
    return sum(op.count for op in ops if isinstance(op, AlertFold))


@dataclass(slots=True)
class Planned:
    """One write of a group, with the batch (job) it answers to and that batch's source."""

    op: Op
    job: int
    source: str


def merge_jobs(jobs: Sequence[tuple[Sequence[Op], str]]) -> list[Planned]:
    """Plan several batches as one transaction (group commit).

    All writes are sorted into the global lock order (stable, so batches keep their arrival
    order on any one row), and occurrences of one fingerprint from one source that end up
    side by side become a single upsert.
    """
    planned = [Planned(op, job, source) for job, (ops, source) in enumerate(jobs) for op in ops]
    planned.sort(key=lambda p: lock_order(p.op))
    merged: list[Planned] = []
    for item in planned:
        last = merged[-1] if merged else None
        if (
            last is not None
            and isinstance(item.op, AlertFold)
            and isinstance(last.op, AlertFold)
            and last.op.draft.fingerprint == item.op.draft.fingerprint
            and last.source == item.source
        ):
            last.op = last.op.merged(item.op)
            continue
        merged.append(item)
    return merged


@dataclass(slots=True)
class Applied:
    """What a batch wrote, for the ingestion response and for live listeners."""

    notifications: int = 0
    suppressed: int = 0
    alerts: int = 0
    resolved: int = 0
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Per batch of a group: [notifications, suppressed, resolved].
    per_job: list[list[int]] = field(default_factory=list)
    # (outcome, type, priority or severity) -> count, for the metrics (gateway.publish.metrics).
    tally: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def count(self, outcome: str, kind: str, level: str, n: int = 1) -> None:
        key = (outcome, kind, level)
        self.tally[key] = self.tally.get(key, 0) + n


async def apply(db: AsyncSession, planned: Iterable[Planned], *, jobs: int = 1) -> Applied:
    """Execute the planned writes in `db`'s open transaction; the caller commits."""
    out = Applied(per_job=[[0, 0, 0] for _ in range(jobs)])
    for item in planned:
        op, source, counts = item.op, item.source, out.per_job[item.job]
        if isinstance(op, NotificationDraft):
            created = await admin_notification_service.create_notification(
                db,
                notification_type=op.type,
                priority=op.priority,
                title=op.title,
                message=op.message,
                action_required=op.action_required,
                action_url=op.action_url,
                metadata=op.metadata,
                rule=op.rule,
                source=source,
                dedup_key=op.dedup_key,
                dedup_window=op.dedup_window,
            )
            if created is None:
                out.suppressed += 1
                counts[1] += 1
                out.count("notification.suppressed", op.type, op.priority)
                continue
            out.notifications += 1
            counts[0] += 1
            out.count("notification.created", op.type, op.priority)
            out.changes.append(
                (
                    "notification.created",
                    {"id": created.id, "type": created.type, "priority": created.priority},
                )
            )
        elif isinstance(op, AlertFold):
            d = op.draft
            occurrence = await platform_alert_service.create_or_increment_alert(
                db,
                alert_type=d.alert_type,
                severity=d.severity,
                title=d.title,
                description=d.description,
                fingerprint=d.fingerprint,
                affected_stores=tuple(op.stores),
                affected_systems=tuple(op.systems),
                metadata=d.metadata,
                rule=d.rule,
                source=source,
                count=op.count,
            )
            out.alerts += op.count
            kind = "alert.created" if occurrence.created else "alert.incremented"
            # A new alert is one creation and count - 1 increments; an open one, count increments.
            opened = int(occurrence.created)
            if opened:
                out.count("alert.created", d.alert_type, d.severity)
            if op.count > opened:
                out.count("alert.incremented", d.alert_type, d.severity, op.count - opened)
            out.changes.append(
                (
                    kind,
                    {
                        "id": occurrence.alert_id,
                        "occurrence_count": occurrence.occurrence_count,
                        "severity": d.severity,
                    },
                )
            )
        else:
            resolved = await platform_alert_service.resolve_by_fingerprint(
                db, op.fingerprint, notes=op.notes or None
            )
            if resolved is not None:
                out.resolved += 1
                counts[2] += 1
                out.count("alert.resolved", resolved.alert_type, resolved.severity)
                out.changes.append(("alert.resolved", {"id": resolved.id}))
    return out
