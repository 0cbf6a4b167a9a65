"""The actions a matched rule runs: each renders its templates into one draft.

An action is a small stage with one method, `draft(rule, context)`; what the gateway does with
the draft (dedup, store, publish) is not the rules' business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rules.outcomes import AlertDraft, NotificationDraft, ResolveDraft
from rules.templates import RenderContext, Template, Value
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

Metadata = tuple[tuple[str, Value], ...]


@dataclass(frozen=True, slots=True)
class NotifyAction:
    """Render an admin notification."""

    type: NotificationType
    priority: Priority
    title: Template
    message: Template
    action_required: bool
    action_url: Template | None
    metadata: Metadata
    dedup_key: Template | None
    dedup_window: timedelta | None

    def draft(self, rule: str, context: RenderContext) -> NotificationDraft:
        """Render this notification for the event in `context`."""
        return NotificationDraft(
            rule=rule,
            type=self.type,
            priority=self.priority,
            title=self.title.render(context),
            message=self.message.render(context),
            action_required=self.action_required,
            action_url=safe_url(self.action_url.render(context)) if self.action_url else None,
            metadata=_metadata(self.metadata, context),
            # A key that renders empty would merge unrelated events: no dedup then.
            dedup_key=(self.dedup_key.render(context) or None) if self.dedup_key else None,
            dedup_window=self.dedup_window,
        )


@dataclass(frozen=True, slots=True)
class AlertAction:
    """Render one occurrence of a platform alert."""

    alert_type: AlertType
    severity: Severity
    title: Template
    description: Template
    fingerprint: Template
    affected_stores: tuple[Template, ...]
    affected_systems: tuple[Template, ...]
    metadata: Metadata

    def draft(self, rule: str, context: RenderContext) -> AlertDraft:
        """Render this alert occurrence for the event in `context`."""
        return AlertDraft(
            rule=rule,
            alert_type=self.alert_type,
            severity=self.severity,
            title=self.title.render(context),
            description=self.description.render(context),
            fingerprint=self.fingerprint.render(context),
            affected_stores=_scope(self.affected_stores, context),
            affected_systems=_scope(self.affected_systems, context),
            metadata=_metadata(self.metadata, context),
        )

    def deferred(self, rule: str, context: RenderContext) -> DeferredAlertDraft:
        """Render what folding needs now; title, description and metadata on first use."""
        return DeferredAlertDraft(
            self,
            rule,
            context,
            self.fingerprint.render(context),
            _scope(self.affected_stores, context),
            _scope(self.affected_systems, context),
        )


class DeferredAlertDraft:
    """An alert occurrence whose title, description and metadata are rendered when read.

    When a batch folds many occurrences of one fingerprint, only the latest one's text is
    stored: rendering the others would be wasted. Reading a field renders it exactly as
    `AlertAction.draft` would have (the event is the caller's and is not changed meanwhile);
    it is kept, so a second read costs nothing. `RenderContext.missing` is not meaningful
    here: rule tests and dry runs, which report it, use `AlertAction.draft`.
    """

    __slots__ = (
        "_action",
        "_context",
        "_description",
        "_metadata",
        "_title",
        "affected_stores",
        "affected_systems",
        "fingerprint",
        "rule",
    )

    def __init__(
        self,
        action: AlertAction,
        rule: str,
        context: RenderContext,
        fingerprint: str,
        affected_stores: tuple[str, ...],
        affected_systems: tuple[str, ...],
    ) -> None:
        self._action = action
        self._context = context
        self.rule = rule
        self.fingerprint = fingerprint
        self.affected_stores = affected_stores
        self.affected_systems = affected_systems
        self._title: str | None = None
        self._description: str | None = None
        self._metadata: dict[str, Any] | None = None

    @property
    def alert_type(self) -> AlertType:
        return self._action.alert_type

    @property
    def severity(self) -> Severity:
        return self._action.severity

    @property
    def title(self) -> str:
        if self._title is None:
            self._title = self._action.title.render(self._context)
        return self._title

    @property
    def description(self) -> str:
        if self._description is None:
            self._description = self._action.description.render(self._context)
        return self._description

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = _metadata(self._action.metadata, self._context)
        return self._metadata

    def rendered(self) -> AlertDraft:
        """Return the occurrence as the `AlertDraft` that `AlertAction.draft` renders."""
        return AlertDraft(
            rule=self.rule,
            alert_type=self.alert_type,
            severity=self.severity,
            title=self.title,
            description=self.description,
            fingerprint=self.fingerprint,
            affected_stores=self.affected_stores,
            affected_systems=self.affected_systems,
            metadata=self.metadata,
        )

    def __repr__(self) -> str:
        return f"<DeferredAlertDraft {self.rule} {self.fingerprint!r}>"


@dataclass(frozen=True, slots=True)
class ResolveAction:
    """Render the resolution of an open platform alert."""

    fingerprint: Template
    notes: Template

    def draft(self, rule: str, context: RenderContext) -> ResolveDraft:
        """Render this resolution for the event in `context`."""
        return ResolveDraft(
            rule=rule,
            fingerprint=self.fingerprint.render(context),
            notes=self.notes.render(context),
        )


Action = NotifyAction | AlertAction | ResolveAction


def safe_url(url: str) -> str | None:
    """Keep a rendered link only if it is a site-relative path or an http(s) URL.

    Event fields end up in links: this keeps `javascript:` and the like out of the dashboard.
    """
    url = url.strip()
    if url.startswith("/"):
        return None if url.startswith(("//", "/\\")) else url
    if url[:8].lower() == "https://" or url[:7].lower() == "http://":
        return url
    return None


def _metadata(values: Metadata, context: RenderContext) -> dict[str, Any]:
    return {key: value.value(context) for key, value in values}


def _scope(templates: Sequence[Template], context: RenderContext) -> tuple[str, ...]:
    if not templates:
        return ()
    seen: dict[str, None] = {}
    for template in templates:
        text = template.render(context).strip()
        if text:
            seen[text] = None
    return tuple(seen)
