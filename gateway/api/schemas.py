"""The admin API's request and response models; the OpenAPI document is generated from them.

Request models forbid unknown fields. Bodies are validated strictly as JSON (`"true"` is not a
boolean); query parameters arrive as text and are converted (`?is_read=true`, `?limit=20`).
Every text that may be stored is checked to be storable on both backends: no NUL characters,
valid Unicode, and metadata of bounded depth holding finite numbers only.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from gateway.storage.models import AdminNotification, PlatformAlert
from rules.actions import safe_url
from rules.templates import Bound
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

MAX_ID = 2**63 - 1
"""The largest id either backend stores (a signed 64-bit integer)."""
MAX_METADATA_DEPTH = 16
MAX_SCOPE_ITEMS = 100
MAX_BULK_IDS = 1000


def _storable(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("text", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text", "must be valid Unicode text") from None
    return value


def _storable_json(value: Any, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise PydanticCustomError(
            "metadata", "must not nest deeper than {depth} levels", {"depth": MAX_METADATA_DEPTH}
        )
    if isinstance(value, str):
        _storable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("metadata", "must hold finite numbers only")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item, depth + 1)


def _storable_metadata(value: dict[str, Any]) -> dict[str, Any]:
    _storable_json(value)
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime", "is outside the representable range") from None


def _site_url(value: str) -> str:
    url = safe_url(value)
    if url is None:
        raise PydanticCustomError(
            "url", "must be a site-relative path (/admin/...) or an http(s) URL"
        )
    return url


def _length(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Title = Annotated[str, _length(Bound.TITLE), AfterValidator(_storable)]
Message = Annotated[str, _length(Bound.TEXT), AfterValidator(_storable)]
Name = Annotated[str, _length(Bound.KEY), AfterValidator(_storable)]
ShortText = Annotated[str, _length(200), AfterValidator(_storable)]
Url = Annotated[str, StringConstraints(max_length=Bound.URL), AfterValidator(_site_url)]
Metadata = Annotated[dict[str, Any], AfterValidator(_storable_metadata)]
UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Request(BaseModel):
    """A request body: unknown fields are errors, and nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters: unknown ones are errors; text is converted to the declared types."""

    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    """A response body."""


# -- notifications -----------------------------------------------------------------------------


class Notification(Response):
    """An admin notification."""

    id: int
    type: str = Field(description="a NotificationType value, e.g. import_failure")
    priority: str = Field(description="low, normal, high or critical")
    title: str
    message: str
    is_read: bool
    read_at: datetime | None
    read_by_user_id: int | None = Field(
        description="the admin user who read it; null when read with an API token"
    )
    action_required: bool
    action_url: str | None
    metadata: dict[str, Any]
    rule: str | None = Field(description="the rule that produced it; null when made by hand")
    source: str | None = Field(description="logs, a webhook source, api or service")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AdminNotification) -> Notification:
        """Describe a stored notification."""
        return cls(
            id=row.id,
            type=row.type,
            priority=row.priority,
            title=row.title,
            message=row.message,
            is_read=row.is_read,
            read_at=row.read_at,
            read_by_user_id=row.read_by_user_id,
            action_required=row.action_required,
            action_url=row.action_url,
            metadata=row.notification_metadata,
            rule=row.rule,
            source=row.source,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class PageInfo(Response):
    """What every list page says about itself besides its items."""

    total: int = Field(
        description="how many match the filters (ignoring the page); exact up to 10,000, "
        "above that PostgreSQL's estimate (see total_exact)"
    )
    total_exact: bool = Field(description="false when total is an estimate")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class NotificationPage(PageInfo):
    """One page of notifications, newest first."""

    items: list[Notification]


class RecentNotifications(Response):
    """The newest unread notifications, for the header dropdown."""

    items: list[Notification]
    unread_count: int


class UnreadCount(Response):
    """The unread badge: the total and the count per priority (zeros included)."""

    unread_count: int
    by_priority: dict[str, int]


class Marked(Response):
    """How many notifications a bulk operation marked read (those already read not counted)."""

    marked: int


class Deleted(Response):
    """How many notifications a bulk delete removed (ids that did not exist not counted)."""

    deleted: int


class NotificationQuery(Query):
    """Filters and page of the notification list."""

    priority: list[Priority] | None = Field(None, description="repeatable")
    type: list[NotificationType] | None = Field(None, description="repeatable")
    is_read: bool | None = None
    since: UtcDateTime | None = Field(None, description="created at or after (ISO-8601)")
    until: UtcDateTime | None = Field(None, description="created before (ISO-8601)")
    q: ShortText | None = Field(None, description="text in the title or the message")
    store_id: Name | None = Field(None, description="store_id in the metadata")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_ID)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


class RecentQuery(Query):
    """How many recent unread notifications to return."""

    limit: int = Field(5, ge=1, le=20)


class NotificationCreate(Request):
    """A notification made by hand; validated like a rule's output."""

    type: NotificationType
    priority: Priority = Priority.NORMAL
    title: Title
    message: Message
    action_required: bool = False
    action_url: Url | None = None
    metadata: Metadata = Field(default_factory=dict)


class MarkAllRead(Request):
    """Which unread notifications to mark read; bound it to what the reader saw."""

    priority: list[Priority] | None = None
    type: list[NotificationType] | None = None
    up_to_id: Id | None = Field(None, description="only notifications with id <= this")
    up_to: UtcDateTime | None = Field(None, description="only those created at or before this")


class BulkIds(Request):
    """The notifications to act on (mark read, delete); ids that do not exist are skipped."""

    ids: list[Id] = Field(min_length=1, max_length=MAX_BULK_IDS)


# -- platform alerts ---------------------------------------------------------------------------


class Alert(Response):
    """A platform alert; recurring occurrences of one fingerprint increment it."""

    id: int
    alert_type: str = Field(description="an AlertType value, e.g. integration")
    severity: str = Field(description="info, warning, error or critical")
    title: str
    description: str | None
    affected_stores: list[str]
    affected_systems: list[str]
    occurrence_count: int
    first_occurred_at: datetime
    last_occurred_at: datetime
    is_resolved: bool
    resolved_at: datetime | None
    resolved_by_user_id: int | None = Field(
        description="the admin user who resolved it; null when resolved with an API token "
        "or by a rule"
    )
    resolution_notes: str | None
    fingerprint: str | None
    metadata: dict[str, Any]
    rule: str | None
    source: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: PlatformAlert) -> Alert:
        """Describe a stored alert."""
        return cls(
            id=row.id,
            alert_type=row.alert_type,
            severity=row.severity,
            title=row.title,
            description=row.description,
            affected_stores=row.affected_stores,
            affected_systems=row.affected_systems,
            occurrence_count=row.occurrence_count,
            first_occurred_at=row.first_occurred_at,
            last_occurred_at=row.last_occurred_at,
            is_resolved=row.is_resolved,
            resolved_at=row.resolved_at,
            resolved_by_user_id=row.resolved_by_user_id,
            resolution_notes=row.resolution_notes,
            fingerprint=row.fingerprint,
            metadata=row.alert_metadata,
            rule=row.rule,
            source=row.source,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class AlertPage(PageInfo):
    """One page of alerts, latest activity first."""

    items: list[Alert]


class AlertStats(Response):
    """The figures of the statistics cards."""

    unread: int = Field(description="unread notifications")
    active_alerts: int = Field(description="unresolved alerts")
    critical: int = Field(
        description="unresolved critical alerts plus unread critical notifications"
    )
    resolved_today: int = Field(description="alerts resolved since 00:00 UTC")
    by_severity: dict[str, int] = Field(description="unresolved alerts per severity")
    by_type: dict[str, int] = Field(description="unresolved alerts per alert type")


class AlertQuery(Query):
    """Filters and page of the alert list."""

    severity: list[Severity] | None = Field(None, description="repeatable")
    alert_type: list[AlertType] | None = Field(None, description="repeatable")
    is_resolved: bool | None = None
    store_id: Name | None = Field(None, description="one of the affected stores")
    system: Name | None = Field(None, description="one of the affected systems")
    since: UtcDateTime | None = Field(None, description="last occurred at or after (ISO-8601)")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_ID)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


class AlertCreate(Request):
    """An alert raised by hand; with a fingerprint it counts an occurrence of the open one."""

    alert_type: AlertType
    severity: Severity
    title: Title
    description: Message | None = None
    affected_stores: list[Name] = Field(default_factory=list, max_length=MAX_SCOPE_ITEMS)
    affected_systems: list[Name] = Field(default_factory=list, max_length=MAX_SCOPE_ITEMS)
    fingerprint: Name | None = None
    metadata: Metadata = Field(default_factory=dict)


class Resolve(Request):
    """How the alert was resolved."""

    resolution_notes: Message | None = None


# -- rules -------------------------------------------------------------------------------------


class RuleOutput(Response):
    """What one action of a rule produces, as the file declares it."""

    kind: Literal["notify", "alert", "resolve"]
    type: str | None = Field(description="notification type (notify) or alert type (alert)")
    priority: str | None = Field(description="notify only")
    severity: str | None = Field(description="alert only")
    title: str | None = Field(description="the title template (notify, alert)")
    fingerprint: str | None = Field(description="the fingerprint template (alert, resolve)")


class RuleInfo(Response):
    """A loaded rule and how often it matched since the gateway started."""

    name: str
    description: str | None
    sources: list[str] | None = Field(description="the sources it listens to; null: all")
    actions: list[Literal["notify", "alert", "resolve"]]
    stop: bool
    line: int = Field(description="where the rule starts in the rules file")
    matches: int
    last_matched_at: datetime | None
    match: dict[str, Any] = Field(description="the rule's match, as the file writes it")
    produces: list[RuleOutput]
    enabled: bool = Field(
        description="false when every source the rule listens to is a disabled webhook source"
    )


class ReloadInfo(Response):
    """The latest load of the rules file."""

    ok: bool
    at: datetime
    error: str | None
    issues: list[RuleIssueOut] = Field(description="the file's positioned errors, when not ok")
    last_success_at: datetime | None


class WebhookSources(Response):
    """The webhook sources the rules file declares."""

    enabled: list[str]
    disabled: dict[str, str] = Field(description="name: why it is disabled")


class RulesOverview(Response):
    """The rules in force."""

    file: str
    rules: list[RuleInfo]
    sources: WebhookSources
    reload: ReloadInfo | None
    counting_since: datetime = Field(description="when match counting started")


class RuleTest(Request):
    """An event to evaluate against the rules in force, as they see it."""

    event: dict[str, Any]
    source: Name = Field("logs", description="logs, or a webhook source's name")


class RuleTestResult(Response):
    """What the event would produce; nothing is written."""

    source: str
    matched_rules: list[str]
    missing_fields: int = Field(description="template fields the event lacked")
    outcomes: list[dict[str, dict[str, Any]]] = Field(
        description="one {kind: fields} per outcome, in the form the rules file's tests use"
    )


class ReloadResult(Response):
    """A successful reload."""

    ok: bool
    at: datetime
    rules: int
    warnings: list[str]


# -- errors ------------------------------------------------------------------------------------


class FieldError(Response):
    """One invalid field of a request."""

    field: str = Field(description="the query parameter or body field; nested as a.b[2]")
    message: str


class RuleIssueOut(Response):
    """One problem in the rules file, at its position."""

    file: str
    line: int
    column: int
    message: str


class Problem(Response):
    """An RFC 9457 problem document (application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(None, description="invalid fields, when validating")
    issues: list[RuleIssueOut] | None = Field(None, description="rules file errors, on reload")
