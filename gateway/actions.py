"""Steps 4-5 of the pipeline: turn rule drafts into service calls inside one transaction.

Repeated alert occurrences within a batch are folded into one row per fingerprint (occurrence
count N), and the folds of several fingerprints into one multi-row upsert, which keeps an
alert storm to one statement per group; a `resolve` for the same fingerprint ends the fold so
that event order is respected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.services.admin_notification_service import (
    AlertRecord,
    NotificationRecord,
    admin_notification_service,
    platform_alert_service,
)
from rules.actions import DeferredAlertDraft
from rules.outcomes import AlertDraft, Draft, NotificationDraft, ResolveDraft
from rules.vocabulary import Severity

AlertOccurrence = AlertDraft | DeferredAlertDraft
"""An alert occurrence as rules give it: rendered, or with its text rendered on first read."""

_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


@dataclass(slots=True)
class AlertFold:
    """Several occurrences of one fingerprint, merged in arrival order.

    `draft` is the latest occurrence (its title, description and metadata win) and
    `severity` the highest seen. Folding keeps references instead of building a merged
    draft per occurrence: a storm folds hundreds of occurrences per batch. With deferred
    drafts, only the latest occurrence's text is ever rendered, when the fold is written.
    """

    draft: AlertOccurrence
    severity: Severity
    count: int = 1
    stores: dict[str, None] = field(default_factory=dict)
    systems: dict[str, None] = field(default_factory=dict)

    @classmethod
    def first(cls, draft: AlertOccurrence) -> AlertFold:
        return cls(
            draft=draft,
            severity=draft.severity,
            stores=dict.fromkeys(draft.affected_stores),
            systems=dict.fromkeys(draft.affected_systems),
        )

    def add(self, draft: AlertOccurrence) -> None:
        if draft.severity != self.severity:
            self.severity = _higher(self.severity, draft.severity)
        self.draft = draft
        self.count += 1
        for store in draft.affected_stores:
            self.stores[store] = None
        for system in draft.affected_systems:
            self.systems[system] = None

    def merged(self, later: AlertFold) -> AlertFold:
        """Return one fold holding this fold's occurrences followed by `later`'s."""
        return AlertFold(
            draft=later.draft,
            severity=_higher(self.severity, later.severity),
            count=self.count + later.count,
            stores={**self.stores, **later.stores},
            systems={**self.systems, **later.systems},
        )


def _higher(a: Severity, b: Severity) -> Severity:
    return b if _SEVERITY_RANK[b] > _SEVERITY_RANK[a] else a


Op = NotificationDraft | AlertFold | ResolveDraft


def plan(drafts: Iterable[Draft | DeferredAlertDraft]) -> list[Op]:
    """Order the writes a batch needs, folding repeated alert occurrences."""
    ops: list[Op] = []
    open_folds: dict[str, AlertFold] = {}
    for draft in drafts:
        if isinstance(draft, AlertDraft | DeferredAlertDraft):
            fold = open_folds.get(draft.fingerprint)
            if fold is None:
                fold = AlertFold.first(draft)
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


def one_statement(planned: Sequence[Planned]) -> bool:
    """Whether `apply` writes these as a single statement: alert folds on distinct
    fingerprints only, which go out as one multi-row upsert."""
    fingerprints = set()
    for item in planned:
        if not isinstance(item.op, AlertFold):
            return False
        fingerprints.add(item.op.draft.fingerprint)
    return len(fingerprints) == len(planned)


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
    """Execute the planned writes in `db`'s open transaction; the caller commits.

    Consecutive alert folds on distinct fingerprints go to the database as one multi-row
    upsert, and consecutive notifications as one multi-row claim of their dedup windows and
    one multi-row insert, in the planned (lock) order: a group is then a few statements
    whatever the number of its writes.
    """
    out = Applied(per_job=[[0, 0, 0] for _ in range(jobs)])
    # Fingerprint -> (fold, source) of the folds not yet written, in planned order.
    run: dict[str, tuple[AlertFold, str]] = {}
    notes: list[Planned] = []
    for item in planned:
        op = item.op
        if isinstance(op, AlertFold):
            if notes:
                await _notify(db, notes, out)
                notes.clear()
            if op.draft.fingerprint in run:
                await _record_alerts(db, list(run.values()), out)
                run.clear()
            run[op.draft.fingerprint] = (op, item.source)
            continue
        if run:
            await _record_alerts(db, list(run.values()), out)
            run.clear()
        if isinstance(op, NotificationDraft):
            notes.append(item)
            continue
        if notes:
            await _notify(db, notes, out)
            notes.clear()
        await _resolve(db, op, out, out.per_job[item.job])
    if run:
        await _record_alerts(db, list(run.values()), out)
    if notes:
        await _notify(db, notes, out)
    return out


async def _notify(db: AsyncSession, items: Sequence[Planned], out: Applied) -> None:
    drafts = [cast(NotificationDraft, item.op) for item in items]
    created = await admin_notification_service.record_notifications(
        db,
        [
            NotificationRecord(
                notification_type=op.type,
                priority=op.priority,
                title=op.title,
                message=op.message,
                action_required=op.action_required,
                action_url=op.action_url,
                metadata=op.metadata,
                rule=op.rule,
                source=item.source,
                dedup_key=op.dedup_key,
                dedup_window=op.dedup_window,
            )
            for op, item in zip(drafts, items, strict=True)
        ],
    )
    for op, item, notification in zip(drafts, items, created, strict=True):
        counts = out.per_job[item.job]
        if notification is None:
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
                {
                    "id": notification.id,
                    "type": notification.type,
                    "priority": notification.priority,
                },
            )
        )


async def _record_alerts(
    db: AsyncSession, folds: Sequence[tuple[AlertFold, str]], out: Applied
) -> None:
    occurrences = await platform_alert_service.record_alert_occurrences(
        db,
        [
            AlertRecord(
                alert_type=fold.draft.alert_type,
                severity=fold.severity,
                title=fold.draft.title,
                description=fold.draft.description,
                fingerprint=fold.draft.fingerprint,
                affected_stores=tuple(fold.stores),
                affected_systems=tuple(fold.systems),
                metadata=fold.draft.metadata,
                rule=fold.draft.rule,
                source=source,
                count=fold.count,
            )
            for fold, source in folds
        ],
    )
    for (fold, _), occurrence in zip(folds, occurrences, strict=True):
        d = fold.draft
        out.alerts += fold.count
        kind = "alert.created" if occurrence.created else "alert.incremented"
        # A new alert is one creation and count - 1 increments; an open one, count increments.
        opened = int(occurrence.created)
        if opened:
            out.count("alert.created", d.alert_type, fold.severity)
        if fold.count > opened:
            out.count("alert.incremented", d.alert_type, fold.severity, fold.count - opened)
        out.changes.append(
            (
                kind,
                {
                    "id": occurrence.alert_id,
                    "occurrence_count": occurrence.occurrence_count,
                    "severity": fold.severity,
                },
            )
        )


async def _resolve(db: AsyncSession, op: ResolveDraft, out: Applied, counts: list[int]) -> None:
    resolved = await platform_alert_service.resolve_open(db, op.fingerprint, notes=op.notes or None)
    if resolved is not None:
        out.resolved += 1
        counts[2] += 1
        out.count("alert.resolved", resolved.alert_type, resolved.severity)
        out.changes.append(("alert.resolved", {"id": resolved.id}))
