"""What a rules file may say: strict pydantic models of its parts.

These models describe the file, not what runs: `rules.compiler` turns them into the
`rules.engine` types. Every model forbids unknown keys and coerces nothing (a quoted `"5"` is
not a number). Where one mapping or a list of them is allowed (`notify: {...}` or
`notify: [{...}, {...}]`), the single mapping is wrapped into a list before validation.

The `match` mappings are kept as plain values here; `rules.match` validates and compiles them,
and `rules.templates` compiles the template strings, both with positions from the file.

File layout (the full description, with an example, is in `rules.loader`)::

    version: 1
    sources:  {NAME: SourceConfig, ...}
    rules:    [RuleConfig, ...]
    tests:    [RuleTestConfig, ...]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rules.durations import DurationError, parse_duration
from rules.errors import quote
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

ActionKind = Literal["notify", "alert", "resolve"]
ACTION_KINDS: tuple[ActionKind, ...] = ("notify", "alert", "resolve")
"""The keys of a rule that name actions."""

_E = TypeVar("_E")


def custom_error(message: str) -> PydanticCustomError:
    """Build a validation error whose text is `message`, verbatim."""
    # The message goes through the context so braces in quoted values are not placeholders.
    return PydanticCustomError("rules", "{message}", {"message": message})


def _choice(what: str, values: Iterable[str], convert: Callable[[str], _E]) -> Callable[[Any], _E]:
    allowed = tuple(values)

    def check(value: Any) -> _E:
        if isinstance(value, str) and value in allowed:
            return convert(value)
        raise custom_error(f"unknown {what} {quote(value)}; expected one of: {', '.join(allowed)}")

    return check


def _enum(cls: type[StrEnum], what: str) -> BeforeValidator:
    return BeforeValidator(_choice(what, (member.value for member in cls), cls))


def _literal(what: str, *allowed: str) -> BeforeValidator:
    return BeforeValidator(_choice(what, allowed, str))


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise custom_error(f"invalid duration {quote(value)}: {exc}") from None


def one_or_many(value: Any) -> Any:
    """Wrap a single mapping or string into a list; leave anything else as it is."""
    return [value] if isinstance(value, dict | str) else value


def _metadata_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise custom_error(
        f"a metadata value must be a template string, a number, true/false or null, "
        f"got {quote(value)}"
    )


def _version(value: Any) -> int:
    if value == 1 and type(value) is int:
        return 1
    raise custom_error(f"unsupported version {quote(value)}; this gateway reads version 1")


NAME_MAX_LENGTH = 200
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH)]
Text = Annotated[str, StringConstraints(min_length=1)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Metadata = dict[str, Annotated[Any, AfterValidator(_metadata_value)]]
TemplateList = Annotated[list[str], BeforeValidator(one_or_many)]

NotificationTypeField = Annotated[NotificationType, _enum(NotificationType, "notification type")]
PriorityField = Annotated[Priority, _enum(Priority, "priority")]
AlertTypeField = Annotated[AlertType, _enum(AlertType, "alert type")]
SeverityField = Annotated[Severity, _enum(Severity, "severity")]
FormatField = Annotated[Literal["json", "alertmanager"], _literal("format", "json", "alertmanager")]
SchemeField = Annotated[
    Literal["hmac-sha256", "standard-webhooks"],
    _literal("signature scheme", "hmac-sha256", "standard-webhooks"),
]
EncodingField = Annotated[Literal["hex", "base64"], _literal("encoding", "hex", "base64")]


class Strict(BaseModel):
    """Base of every model: unknown keys are errors, values are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    what: ClassVar[str] = "mapping"
    """How error messages name this part of the file."""


# --- the file -------------------------------------------------------------------------------


class FileConfig(Strict):
    """The top level; sources, rules and tests are validated one by one afterwards."""

    what: ClassVar[str] = "the file"

    version: Annotated[int, BeforeValidator(_version)]
    sources: dict[str, Any] | None = None
    rules: list[Any]
    tests: list[Any] | None = None


# --- webhook sources ------------------------------------------------------------------------


class SignatureConfig(Strict):
    """How a webhook source proves a delivery is genuine."""

    what: ClassVar[str] = "signature"

    scheme: SchemeField
    secret: str
    header: Text | None = None
    encoding: EncodingField | None = None
    prefix: str | None = None
    tolerance: Duration | None = None


class SourceConfig(Strict):
    """A webhook sender: `POST /api/v1/ingest/webhooks/{name}`."""

    what: ClassVar[str] = "source"

    format: FormatField = "json"
    event_field: Text | None = None
    signature: SignatureConfig | None = None


# --- rules and their actions ----------------------------------------------------------------


class DedupConfig(Strict):
    """Suppress a repeat of the same notification (same rendered key) within `window`."""

    what: ClassVar[str] = "dedup"

    key: Text
    window: Duration


class NotifyConfig(Strict):
    """Create an admin notification."""

    what: ClassVar[str] = "notify"

    type: NotificationTypeField
    priority: PriorityField = Priority.NORMAL
    title: Text
    message: Text
    action_required: bool = False
    action_url: Text | None = None
    metadata: Metadata = Field(default_factory=dict)
    dedup: DedupConfig | None = None


class AlertConfig(Strict):
    """Record an occurrence of a platform alert, one open alert per rendered fingerprint."""

    what: ClassVar[str] = "alert"

    type: AlertTypeField
    severity: SeverityField
    title: Text
    description: str = ""
    fingerprint: Text
    affected_stores: TemplateList = Field(default_factory=list)
    affected_systems: TemplateList = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)


class ResolveConfig(Strict):
    """Resolve the open platform alert with the rendered fingerprint."""

    what: ClassVar[str] = "resolve"

    fingerprint: Text
    notes: str = ""


ActionConfig = NotifyConfig | AlertConfig | ResolveConfig


class RuleConfig(Strict):
    """A rule: when `match` holds for an event from one of `source`, run its actions."""

    what: ClassVar[str] = "rule"

    name: Name
    description: str | None = None
    source: Annotated[list[Name], BeforeValidator(one_or_many)] | None = None
    match: dict[str, Any]
    notify: Annotated[list[NotifyConfig], BeforeValidator(one_or_many)] = Field(
        default_factory=list
    )
    alert: Annotated[list[AlertConfig], BeforeValidator(one_or_many)] = Field(default_factory=list)
    resolve: Annotated[list[ResolveConfig], BeforeValidator(one_or_many)] = Field(
        default_factory=list
    )
    stop: bool = False

    _kinds_in_order: tuple[ActionKind, ...] = PrivateAttr(default=ACTION_KINDS)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_action_order(cls, data: Any, handler: Callable[[Any], RuleConfig]) -> RuleConfig:
        rule = handler(data)
        if isinstance(data, dict):
            rule._kinds_in_order = tuple(
                kind for key in data for kind in ACTION_KINDS if key == kind
            )
        return rule

    def actions(self) -> list[tuple[ActionKind, int, ActionConfig]]:
        """List (kind, index, action) in the order the file wrote the action keys."""
        out: list[tuple[ActionKind, int, ActionConfig]] = []
        for kind in self._kinds_in_order:
            items: Sequence[ActionConfig] = getattr(self, kind)
            out.extend((kind, index, item) for index, item in enumerate(items))
        return out


# --- rule tests -----------------------------------------------------------------------------


class DedupExpect(Strict):
    """Expected dedup fields of a notification (each optional)."""

    what: ClassVar[str] = "expected dedup"

    key: str | None = None
    window: Duration | None = None


class NotifyExpect(Strict):
    """Expected fields of a notification; only the fields written are compared."""

    what: ClassVar[str] = "expected notify"

    rule: str | None = None
    type: NotificationTypeField | None = None
    priority: PriorityField | None = None
    title: str | None = None
    message: str | None = None
    action_required: bool | None = None
    action_url: str | None = None
    metadata: dict[str, Any] | None = None
    dedup: DedupExpect | None = None


class AlertExpect(Strict):
    """Expected fields of an alert occurrence; only the fields written are compared."""

    what: ClassVar[str] = "expected alert"

    rule: str | None = None
    type: AlertTypeField | None = None
    severity: SeverityField | None = None
    title: str | None = None
    description: str | None = None
    fingerprint: str | None = None
    affected_stores: list[str] | None = None
    affected_systems: list[str] | None = None
    metadata: dict[str, Any] | None = None


class ResolveExpect(Strict):
    """Expected fields of a resolution; only the fields written are compared."""

    what: ClassVar[str] = "expected resolve"

    rule: str | None = None
    fingerprint: str | None = None
    notes: str | None = None


Expected = NotifyExpect | AlertExpect | ResolveExpect


class ExpectConfig(Strict):
    """One expected outcome: exactly one of `notify`, `alert` or `resolve`."""

    what: ClassVar[str] = "expected outcome"

    notify: NotifyExpect | None = None
    alert: AlertExpect | None = None
    resolve: ResolveExpect | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ExpectConfig:
        if sum(getattr(self, kind) is not None for kind in ACTION_KINDS) != 1:
            raise custom_error(
                "an expected outcome has exactly one of the keys notify, alert or resolve"
            )
        return self

    def outcome(self) -> tuple[ActionKind, Expected]:
        """Return (kind, expected fields)."""
        for kind in ACTION_KINDS:
            expected: Expected | None = getattr(self, kind)
            if expected is not None:
                return kind, expected
        raise AssertionError("validated to have one outcome")  # pragma: no cover


class RuleTestConfig(Strict):
    """A rule test: the outcomes one event must produce, in order."""

    what: ClassVar[str] = "rule test"

    name: Name
    source: Name = "logs"
    event: dict[str, Any]
    expect: list[ExpectConfig]
