"""What evaluating an event produces: drafts of records, not records.

The gateway turns drafts into rows; rules never see storage.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rules.vocabulary import AlertType, NotificationType, Priority, Severity


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    """A notification a rule asks for; `dedup_key` + `dedup_window` suppress repeats."""

    rule: str
    type: NotificationType
    priority: Priority
    title: str
    message: str
    action_required: bool = False
    action_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None
    dedup_window: timedelta | None = None


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """One occurrence of a platform alert, deduplicated by `fingerprint` while unresolved."""

    rule: str
    alert_type: AlertType
    severity: Severity
    title: str
    description: str
    fingerprint: str
    affected_stores: tuple[str, ...] = ()
    affected_systems: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResolveDraft:
    """Resolve the open alert with `fingerprint`, if there is one."""

    rule: str
    fingerprint: str
    notes: str = ""


Draft = NotificationDraft | AlertDraft | ResolveDraft
