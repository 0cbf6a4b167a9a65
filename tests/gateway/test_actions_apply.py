"""Applying a planned batch: folds go out as multi-row upserts, event order still holds."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.actions import apply, merge_jobs, plan
from gateway.storage.models import PlatformAlert
from rules.outcomes import AlertDraft, ResolveDraft
from rules.vocabulary import AlertType, Severity


def alert(fp: str, severity: Severity = Severity.WARNING, title: str = "t") -> AlertDraft:
    return AlertDraft(
        rule="r",
        alert_type=AlertType.INTEGRATION,
        severity=severity,
        title=title,
        description="d",
        fingerprint=fp,
        affected_stores=(f"store-{fp}",),
    )


async def test_occurrence_resolve_occurrence_across_fingerprints(db: AsyncSession) -> None:
    """a, b, resolve b, b: b's second fold opens a new alert after the resolve."""
    ops = plan([alert("a"), alert("b"), alert("a"), ResolveDraft("r", "b"), alert("b")])
    applied = await apply(db, merge_jobs([(ops, "logs")]))
    assert (applied.alerts, applied.resolved) == (4, 1)
    assert [kind for kind, _ in applied.changes] == [
        "alert.created",
        "alert.created",
        "alert.resolved",
        "alert.created",
    ]
    rows = (
        await db.execute(
            select(
                PlatformAlert.fingerprint, PlatformAlert.occurrence_count, PlatformAlert.is_resolved
            ).order_by(PlatformAlert.id)
        )
    ).all()
    assert sorted(rows) == [("a", 2, False), ("b", 1, False), ("b", 1, True)]


async def test_fold_keeps_highest_severity_and_latest_text(db: AsyncSession) -> None:
    """The fold escalates severity and takes the newest title, as the upsert does."""
    drafts = [
        alert("a", Severity.ERROR, "first"),
        alert("a", Severity.WARNING, "second"),
        replace(alert("a", Severity.INFO, "third"), affected_stores=("store-x",)),
    ]
    applied = await apply(db, merge_jobs([(plan(drafts), "logs")]))
    assert applied.tally == {
        ("alert.created", "integration", "error"): 1,
        ("alert.incremented", "integration", "error"): 2,
    }
    row = (await db.scalars(select(PlatformAlert))).one()
    assert (row.occurrence_count, row.severity, row.title) == (3, "error", "third")
    assert row.affected_stores == ["store-a", "store-x"]
