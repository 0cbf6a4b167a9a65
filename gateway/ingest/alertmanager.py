"""Turn a Prometheus Alertmanager webhook (payload version "4") into one event per alert.

The payload is validated strictly for the fields we read, with no type coercion; fields we do
not read are allowed, since Alertmanager adds fields from release to release.
"""

import hashlib
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.ingest.formats import json_type_name

AlertStatus = Literal["firing", "resolved"]

_MAX_REPORTED_ERRORS = 3


class AlertmanagerPayloadError(ValueError):
    """The payload is not an Alertmanager version 4 webhook; the message names the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class Alert(_Model):
    """One alert of the group, as Alertmanager's `template.Alert` serialises it."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: str = Field(alias="startsAt")
    ends_at: str = Field(default="", alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""


class WebhookPayload(_Model):
    """The body of an Alertmanager `webhook_config` delivery."""

    version: Literal["4"]
    receiver: str
    status: AlertStatus
    alerts: list[Alert]
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")


def alertmanager_events(payload: Any) -> list[dict[str, Any]]:
    """Validate a decoded Alertmanager webhook body and return an event for each alert."""
    if not isinstance(payload, dict):
        raise AlertmanagerPayloadError(
            f"payload: expected an object, got {json_type_name(payload)}"
        )
    try:
        parsed = WebhookPayload.model_validate(payload)
    except ValidationError as exc:
        raise AlertmanagerPayloadError(_describe(exc)) from None
    return [_alert_event(parsed, alert) for alert in parsed.alerts]


def label_fingerprint(labels: dict[str, str]) -> str:
    """Return a stable fingerprint of a label set: SHA-256 of its key-sorted JSON form."""
    return hashlib.sha256(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _alert_event(payload: WebhookPayload, alert: Alert) -> dict[str, Any]:
    annotations = alert.annotations
    return {
        "event": f"alertmanager.{alert.status}",
        "status": alert.status,
        "alertname": alert.labels.get("alertname", ""),
        "fingerprint": alert.fingerprint or label_fingerprint(alert.labels),
        "severity": alert.labels.get("severity", ""),
        "summary": annotations.get("summary") or annotations.get("description") or "",
        "labels": dict(alert.labels),
        "annotations": dict(annotations),
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "receiver": payload.receiver,
        "external_url": payload.external_url,
    }


def _describe(exc: ValidationError) -> str:
    """Name the offending fields by their JSON path (`alerts.0.status`), not their values."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:_MAX_REPORTED_ERRORS]:
        path = ".".join(str(part) for part in error["loc"]) or "payload"
        problems.append(f"{path}: {error['msg']}")
    if exc.error_count() > _MAX_REPORTED_ERRORS:
        problems.append(f"and {exc.error_count() - _MAX_REPORTED_ERRORS} more")
    return "; ".join(problems)
