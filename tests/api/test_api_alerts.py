"""The platform alert endpoints of the admin API, through a real server into a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway import keys
from tests.api.conftest import Api, SeedAlert, SeedNotification, changes_of

A = "/api/v1/admin/notifications/alerts"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NEW_ALERT = {"alert_type": "integration", "severity": "warning", "title": "Letzshop slow"}


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


class TestListAlerts:
    async def test_latest_activity_first(self, api: Api, seed_alert: SeedAlert) -> None:
        """Alerts come by last occurrence, newest first, with the page fields."""
        made = [await seed_alert(last_occurred_at=T0 + timedelta(minutes=m)) for m in range(3)]
        status, body, _ = await api.get(A)
        assert status == 200 and ids(body) == made[::-1]
        assert (body["total"], body["limit"], body["offset"], body["next_cursor"]) == (
            3,
            50,
            0,
            None,
        )
        assert body["items"][0]["last_occurred_at"] == "2024-06-01T12:02:00Z"

    async def test_filters(self, api: Api, seed_alert: SeedAlert) -> None:
        """severity (repeated), alert_type, is_resolved, store_id, system and since filter."""
        warning = await seed_alert(severity="warning", stores=("5",), last_occurred_at=T0)
        critical = await seed_alert(
            severity="critical", alert_type="security", systems=("auth",), resolved=True
        )
        error = await seed_alert(severity="error", stores=("5", "7"), systems=("db",))
        cases: list[tuple[Any, list[int]]] = [
            ([("severity", "warning"), ("severity", "critical")], [critical, warning]),
            ({"alert_type": "security"}, [critical]),
            ({"is_resolved": "true"}, [critical]),
            ({"is_resolved": "false"}, [error, warning]),
            ({"store_id": "5"}, [error, warning]),
            ({"store_id": "7"}, [error]),
            ({"system": "auth"}, [critical]),
            ({"since": "2024-06-01T12:00:01Z"}, [error, critical]),
        ]
        for params, expected in cases:
            status, body, _ = await api.get(A, params=params)
            assert status == 200 and ids(body) == expected, params
            assert body["total"] == len(expected)

    async def test_pages_by_offset_and_cursor(self, api: Api, seed_alert: SeedAlert) -> None:
        """Offset pages; the cursor keeps later pages stable when an alert recurs meanwhile."""
        made = [await seed_alert(last_occurred_at=T0 + timedelta(minutes=m)) for m in range(5)]
        _, body, _ = await api.get(A, params={"limit": "2", "offset": "2"})
        assert ids(body) == [made[2], made[1]]
        _, first, _ = await api.get(A, params={"limit": "2"})
        assert ids(first) == [made[4], made[3]]
        recur = {**NEW_ALERT, "fingerprint": "recurring"}
        await api.post(A, json=recur)
        await api.post(A, json=recur)
        _, second, _ = await api.get(A, params={"limit": "2", "cursor": first["next_cursor"]})
        assert ids(second) == [made[2], made[1]]
        _, last, _ = await api.get(A, params={"limit": "2", "cursor": second["next_cursor"]})
        assert ids(last) == [made[0]] and last["next_cursor"] is None

    async def test_rejects_invalid_query_parameters(self, api: Api) -> None:
        """Bad enums, booleans, timestamps and unknown parameters are 400 by field."""
        cases: list[tuple[Any, list[str]]] = [
            ({"severity": "fatal"}, ["severity[0]"]),
            ({"alert_type": "weather"}, ["alert_type[0]"]),
            ({"is_resolved": "perhaps"}, ["is_resolved"]),
            ({"since": "2024-13-01T00:00:00Z"}, ["since"]),
            ({"limit": "500"}, ["limit"]),
            ({"cursor": "Zm9v"}, ["cursor"]),
            ({"priority": "high"}, ["priority"]),
        ]
        for params, fields in cases:
            status, body, _ = await api.get(A, params=params)
            assert status == 400, params
            assert [e["field"] for e in body["errors"]] == fields, body


class TestSingleAlert:
    async def test_get_one(self, api: Api, seed_alert: SeedAlert) -> None:
        """An alert is fetched by id; an unknown id is a 404 problem."""
        made = await seed_alert(stores=("7", "5"))
        status, body, _ = await api.get(f"{A}/{made}")
        assert status == 200 and body["affected_stores"] == ["5", "7"]
        status, body, _ = await api.get(f"{A}/999")
        assert status == 404 and body["detail"] == "platform alert 999 not found"
        assert (await api.get(f"{A}/stats/1"))[0] == 404
        assert (await api.get(f"{A}/x"))[0] == 404


class TestCreateAlert:
    async def test_create_without_fingerprint(self, api: Api) -> None:
        """An alert without fingerprint is created each time, 201 with its Location."""
        payload = {
            **NEW_ALERT,
            "description": "p95 above 2 s",
            "affected_stores": ["5", "5", "3"],
            "affected_systems": ["letzshop"],
            "metadata": {"p95_ms": 2300},
        }
        status, body, headers = await api.post(A, json=payload)
        assert status == 201 and headers["Location"] == f"{A}/{body['id']}"
        assert body["affected_stores"] == ["3", "5"] and body["source"] == "api"
        assert (body["occurrence_count"], body["is_resolved"]) == (1, False)
        status, again, _ = await api.post(A, json=payload)
        assert status == 201 and again["id"] != body["id"]

    async def test_fingerprint_increments_the_open_alert(self, api: Api) -> None:
        """The first occurrence is 201; the next is 200 on the same alert, severity escalated."""
        payload = {**NEW_ALERT, "fingerprint": "letzshop-slow"}
        status, first, _ = await api.post(A, json=payload)
        assert status == 201
        status, second, headers = await api.post(A, json={**payload, "severity": "critical"})
        assert status == 200 and "Location" not in headers
        assert second["id"] == first["id"]
        assert (second["occurrence_count"], second["severity"]) == (2, "critical")
        await api.put(f"{A}/{first['id']}/resolve")
        status, third, _ = await api.post(A, json=payload)
        assert status == 201 and third["id"] != first["id"]

    async def test_rejects_invalid_fields(self, api: Api) -> None:
        """Each invalid field is 422 and listed by name."""
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({}, ["alert_type", "severity", "title"]),
            ({**NEW_ALERT, "severity": "fatal"}, ["severity"]),
            ({**NEW_ALERT, "alert_type": "weather"}, ["alert_type"]),
            ({**NEW_ALERT, "fingerprint": ""}, ["fingerprint"]),
            ({**NEW_ALERT, "affected_stores": "5"}, ["affected_stores"]),
            ({**NEW_ALERT, "affected_stores": [5]}, ["affected_stores[0]"]),
            ({**NEW_ALERT, "affected_systems": ["x"] * 101}, ["affected_systems"]),
            ({**NEW_ALERT, "metadata": {"x": float("inf")}}, ["metadata"]),
            ({**NEW_ALERT, "occurrence_count": 3}, ["occurrence_count"]),
        ]
        for payload, fields in cases:
            status, body, _ = await api.post(A, json=payload)
            assert status in (400, 422), payload
            assert [e["field"] for e in body["errors"]] == fields, body


class TestResolveAlert:
    async def test_resolve_then_conflict(self, api: Api, seed_alert: SeedAlert) -> None:
        """Resolving records time and notes; resolving again is 409, an unknown id 404."""
        made = await seed_alert()
        path = f"{A}/{made}/resolve"
        status, body, _ = await api.put(path, json={"resolution_notes": "API key rotated"})
        assert status == 200 and body["is_resolved"] is True
        assert body["resolution_notes"] == "API key rotated"
        assert body["resolved_at"] is not None and body["resolved_by_user_id"] is None
        status, problem, headers = await api.put(path, json={"resolution_notes": None})
        assert status == 409 and headers["Content-Type"].startswith("application/problem+json")
        assert problem["detail"] == f"platform alert {made} is already resolved"
        assert (await api.put(f"{A}/999/resolve"))[0] == 404

    async def test_resolve_body_is_optional_and_strict(
        self, api: Api, seed_alert: SeedAlert
    ) -> None:
        """No body resolves without notes; unknown fields are 422 and resolve nothing."""
        made = await seed_alert()
        status, problem, _ = await api.put(f"{A}/{made}/resolve", json={"notes": "x"})
        assert status == 422 and [e["field"] for e in problem["errors"]] == ["notes"]
        status, body, _ = await api.put(f"{A}/{made}/resolve")
        assert status == 200 and body["resolution_notes"] is None


class TestAlertStats:
    async def test_statistics_shape(
        self, api: Api, seed_alert: SeedAlert, seed_notification: SeedNotification
    ) -> None:
        """stats has the service's keys and counts open, critical and resolved-today alerts."""
        await seed_alert(severity="critical", alert_type="security")
        await seed_alert(severity="warning", resolved=True)
        await seed_notification(priority="critical")
        status, body, _ = await api.get(A + "/stats")
        assert status == 200
        assert set(body) == {
            "unread",
            "active_alerts",
            "critical",
            "resolved_today",
            "by_severity",
            "by_type",
        }
        assert (body["unread"], body["active_alerts"], body["critical"]) == (1, 1, 2)
        assert body["resolved_today"] == 1
        assert body["by_severity"] == {"info": 0, "warning": 0, "error": 0, "critical": 1}
        assert body["by_type"]["security"] == 1


class TestAlertLiveChanges:
    async def test_changes_are_published(self, api: Api) -> None:
        """Creating, incrementing and resolving alerts are each published once."""
        hub = api.client.app[keys.HUB]
        sub = hub.subscribe()
        payload = {**NEW_ALERT, "fingerprint": "f"}
        _, created, _ = await api.post(A, json=payload)
        await api.post(A, json=payload)
        await api.put(f"{A}/{created['id']}/resolve")
        await api.put(f"{A}/{created['id']}/resolve")
        alert_id = created["id"]
        assert changes_of(sub) == [
            ("alert.created", {"id": alert_id, "occurrence_count": 1, "severity": "warning"}),
            ("alert.incremented", {"id": alert_id, "occurrence_count": 2, "severity": "warning"}),
            ("alert.resolved", {"id": alert_id}),
        ]
        hub.unsubscribe(sub)
