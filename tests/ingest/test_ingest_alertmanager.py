"""alertmanager_events: Alertmanager's webhook payloads to events; malformed payloads refused."""

import copy
import hashlib
from typing import Any

import orjson
import pytest

from gateway.ingest.alertmanager import (
    AlertmanagerPayloadError,
    alertmanager_events,
    label_fingerprint,
)


def example_payload() -> dict[str, Any]:
    """Return a version 4 payload as Alertmanager sends it: one firing and one resolved alert."""
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "gateway",
        "groupLabels": {"alertname": "ProbeFailure"},
        "commonLabels": {"alertname": "ProbeFailure", "job": "http_checks"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "ProbeFailure",
                    "instance": "https://shop.example.org",
                    "job": "http_checks",
                    "severity": "critical",
                },
                "annotations": {
                    "summary": "Probe failure: https://shop.example.org",
                    "description": "Down for over 5m.",
                },
                "startsAt": "2024-05-01T12:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success",
                "fingerprint": "1a30ba71cca2921f",
            },
            {
                "status": "resolved",
                "labels": {"alertname": "ProbeFailure", "instance": "https://api.example.org"},
                "annotations": {"description": "Was down for 7m."},
                "startsAt": "2024-05-01T11:00:00Z",
                "endsAt": "2024-05-01T11:07:00Z",
                "generatorURL": "",
                "fingerprint": "",
            },
        ],
    }


def without(key: str) -> dict[str, Any]:
    payload = example_payload()
    del payload[key]
    return payload


def changed(**fields: Any) -> dict[str, Any]:
    return {**example_payload(), **fields}


def alert_changed(index: int, **fields: Any) -> dict[str, Any]:
    payload = example_payload()
    payload["alerts"][index].update(fields)
    return payload


def alert_without(index: int, key: str) -> dict[str, Any]:
    payload = example_payload()
    del payload["alerts"][index][key]
    return payload


HOSTILE: dict[str, tuple[Any, str]] = {
    "not an object": ([example_payload()], "payload: expected an object, got array"),
    "null": (None, "payload: expected an object, got null"),
    "missing version": (without("version"), "version: Field required"),
    "other version": (changed(version="3"), "version: Input should be '4'"),
    "version as a number": (changed(version=4), "version: Input should be '4'"),
    "missing receiver": (without("receiver"), "receiver: Field required"),
    "unknown status": (
        changed(status="pending"),
        "status: Input should be 'firing' or 'resolved'",
    ),
    "alerts not a list": (changed(alerts={"0": {}}), "alerts: Input should be a valid list"),
    "alert status unknown": (
        alert_changed(1, status="silenced"),
        "alerts.1.status: Input should be 'firing' or 'resolved'",
    ),
    "label value not a string": (
        alert_changed(0, labels={"alertname": "X", "severity": 5}),
        "alerts.0.labels.severity: Input should be a valid string",
    ),
    "annotations not an object": (
        alert_changed(0, annotations=["x"]),
        "alerts.0.annotations: Input should be a valid dictionary",
    ),
    "alert without startsAt": (
        alert_without(0, "startsAt"),
        "alerts.0.startsAt: Field required",
    ),
    "negative truncatedAlerts": (
        changed(truncatedAlerts=-1),
        "truncatedAlerts: Input should be greater than or equal to 0",
    ),
    "truncatedAlerts as text is not coerced": (
        changed(truncatedAlerts="0"),
        "truncatedAlerts: Input should be a valid integer",
    ),
    "externalURL null": (
        changed(externalURL=None),
        "externalURL: Input should be a valid string",
    ),
}


class TestAlertmanagerEvents:
    def test_firing_and_resolved_alerts(self) -> None:
        """Each alert becomes one event named for its own status, with the group's context."""
        firing, resolved = alertmanager_events(example_payload())
        assert firing == {
            "event": "alertmanager.firing",
            "status": "firing",
            "alertname": "ProbeFailure",
            "fingerprint": "1a30ba71cca2921f",
            "severity": "critical",
            "summary": "Probe failure: https://shop.example.org",
            "labels": {
                "alertname": "ProbeFailure",
                "instance": "https://shop.example.org",
                "job": "http_checks",
                "severity": "critical",
            },
            "annotations": {
                "summary": "Probe failure: https://shop.example.org",
                "description": "Down for over 5m.",
            },
            "starts_at": "2024-05-01T12:00:00.000Z",
            "ends_at": "0001-01-01T00:00:00Z",
            "generator_url": "http://prometheus.example.org:9090/graph?g0.expr=probe_success",
            "receiver": "gateway",
            "external_url": "http://alertmanager.example.org:9093",
        }
        labels = {"alertname": "ProbeFailure", "instance": "https://api.example.org"}
        assert resolved == {
            "event": "alertmanager.resolved",
            "status": "resolved",
            "alertname": "ProbeFailure",
            "fingerprint": label_fingerprint(labels),
            "severity": "",
            "summary": "Was down for 7m.",
            "labels": labels,
            "annotations": {"description": "Was down for 7m."},
            "starts_at": "2024-05-01T11:00:00Z",
            "ends_at": "2024-05-01T11:07:00Z",
            "generator_url": "",
            "receiver": "gateway",
            "external_url": "http://alertmanager.example.org:9093",
        }

    def test_events_are_plain_json(self) -> None:
        """Events hold only JSON types, so they serialise and round-trip unchanged."""
        events = alertmanager_events(example_payload())
        assert orjson.loads(orjson.dumps(events)) == events

    def test_fingerprint_fallback_is_stable(self) -> None:
        """Without a fingerprint, the SHA-256 of the sorted labels is used, whatever their order."""
        forward = {"a": "1", "b": "2"}
        backward = {"b": "2", "a": "1"}
        assert label_fingerprint(forward) == label_fingerprint(backward)
        assert label_fingerprint(forward) == hashlib.sha256(b'{"a":"1","b":"2"}').hexdigest()

    def test_extra_fields_are_allowed(self) -> None:
        """Fields Alertmanager (or Grafana) adds are accepted and ignored."""
        payload = example_payload()
        payload["orgId"] = 1
        payload["alerts"][0]["silenceURL"] = "http://grafana/silence"
        payload["alerts"][0]["values"] = {"B": 44.2}
        assert len(alertmanager_events(payload)) == 2

    def test_optional_fields_may_be_missing(self) -> None:
        """Only what the events need is required; the rest defaults to empty."""
        payload = {
            "version": "4",
            "receiver": "r",
            "status": "resolved",
            "alerts": [{"status": "resolved", "labels": {}, "startsAt": "t"}],
        }
        [event] = alertmanager_events(payload)
        assert event["alertname"] == event["severity"] == event["summary"] == ""
        assert event["annotations"] == {}
        assert event["external_url"] == event["ends_at"] == event["generator_url"] == ""

    def test_no_alerts(self) -> None:
        """A payload with an empty alert list yields no events."""
        payload = example_payload()
        payload["alerts"] = []
        assert alertmanager_events(payload) == []

    def test_payload_is_not_mutated(self) -> None:
        """Events do not share label or annotation dicts with the payload."""
        payload = example_payload()
        before = copy.deepcopy(payload)
        events = alertmanager_events(payload)
        events[0]["labels"]["injected"] = "x"
        assert payload == before

    @pytest.mark.parametrize(("payload", "message"), HOSTILE.values(), ids=HOSTILE.keys())
    def test_hostile_payloads(self, payload: Any, message: str) -> None:
        """A payload off the version 4 shape is refused, naming the offending field."""
        with pytest.raises(AlertmanagerPayloadError) as caught:
            alertmanager_events(payload)
        assert str(caught.value) == message

    def test_many_errors_are_summarised(self) -> None:
        """Only the first few problems are listed, then a count of the rest."""
        payload: dict[str, Any] = {"alerts": [{}, {}, {}]}
        with pytest.raises(AlertmanagerPayloadError, match=r"and \d+ more$"):
            alertmanager_events(payload)
