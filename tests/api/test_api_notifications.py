"""The notification endpoints of the admin API, through a real server into a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway import keys
from gateway.services import admin_notification_service as notification_service
from tests.api.conftest import Api, SeedNotification, bearer, changes_of

N = "/api/v1/admin/notifications"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ALERT_CURSOR = "WyJhIiwiMjAyNC0wNi0wMVQxMjowMDowMCswMDowMCIsMV0"  # an alert list's cursor


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class TestListNotifications:
    async def test_newest_first_with_total_and_page(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """The list is newest first and reports total, limit, offset and next_cursor."""
        made = [await seed_notification(created_at=T0 + timedelta(minutes=m)) for m in range(3)]
        status, body, headers = await api.get(N)
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert ids(body) == made[::-1]
        assert (body["total"], body["limit"], body["offset"], body["next_cursor"]) == (
            3,
            50,
            0,
            None,
        )
        assert body["total_exact"] is True
        item = body["items"][0]
        assert item["created_at"] == "2024-06-01T12:02:00Z"
        assert set(item) == {
            "id", "type", "priority", "title", "message", "is_read", "read_at",
            "read_by_user_id", "action_required", "action_url", "metadata", "rule", "source",
            "created_at", "updated_at",
        }  # fmt: skip

    async def test_large_totals_are_estimated_on_postgresql(
        self,
        api: Api,
        seed_notification: SeedNotification,
        backend: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Above the exact-count limit PostgreSQL answers its estimate and says so."""
        monkeypatch.setattr(notification_service, "COUNT_EXACT_UP_TO", 3)
        for _ in range(6):
            await seed_notification(title="o'x \\ %")
        _, body, _ = await api.get(N, params={"q": "o'x \\ %", "limit": 2})
        assert len(body["items"]) == 2 and body["next_cursor"] is not None
        if backend == "postgresql":
            # Never fewer than the rows counted before giving up; the planner's guess above.
            assert body["total_exact"] is False and body["total"] >= 4
        else:
            assert (body["total_exact"], body["total"]) == (True, 6)
        _, body, _ = await api.get(N, params={"limit": 2, "priority": "critical"})
        assert (body["total_exact"], body["total"]) == (True, 0)

    async def test_filters_by_priority_and_type(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """priority and type take repeated values; filters combine."""
        low = await seed_notification(priority="low", type="store_issue")
        high = await seed_notification(priority="high", type="import_failure")
        critical = await seed_notification(priority="critical", type="security_alert")
        _, body, _ = await api.get(N, params=[("priority", "high"), ("priority", "critical")])
        assert ids(body) == [critical, high] and body["total"] == 2
        _, body, _ = await api.get(N, params=[("type", "store_issue")])
        assert ids(body) == [low]
        _, body, _ = await api.get(N, params=[("type", "import_failure"), ("priority", "low")])
        assert ids(body) == []

    async def test_filters_by_read_state(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """is_read=true and is_read=false select read and unread notifications."""
        unread = await seed_notification()
        read = await seed_notification(is_read=True)
        assert ids((await api.get(N, params={"is_read": "false"}))[1]) == [unread]
        assert ids((await api.get(N, params={"is_read": "true"}))[1]) == [read]

    async def test_filters_by_time_window(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """since is inclusive and until exclusive; offsets are converted to UTC."""
        made = [await seed_notification(created_at=T0 + timedelta(hours=h)) for h in range(3)]
        params = {"since": stamp(T0 + timedelta(hours=1)), "until": "2024-06-01T16:00:00+02:00"}
        assert ids((await api.get(N, params=params))[1]) == [made[1]]
        assert ids((await api.get(N, params={"since": "2024-06-01T13:00:00Z"}))[1]) == [
            made[2],
            made[1],
        ]

    async def test_searches_title_and_message(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """q matches title or message, case-insensitively, with % taken literally."""
        in_title = await seed_notification("Acme import failed")
        in_message = await seed_notification("Other", message="acme: disk 100% full")
        await seed_notification("Nothing", message="here")
        assert ids((await api.get(N, params={"q": "ACME"}))[1]) == [in_message, in_title]
        assert ids((await api.get(N, params={"q": "100%"}))[1]) == [in_message]

    async def test_filters_by_store(self, api: Api, seed_notification: SeedNotification) -> None:
        """store_id matches the metadata's store id, stored as a number or a string."""
        numeric = await seed_notification(metadata={"store_id": 5})
        textual = await seed_notification(metadata={"store_id": "5"})
        await seed_notification(metadata={"store_id": 50})
        assert ids((await api.get(N, params={"store_id": "5"}))[1]) == [textual, numeric]

    async def test_pages_by_offset(self, api: Api, seed_notification: SeedNotification) -> None:
        """limit and offset select a page; total counts every match."""
        made = [await seed_notification(created_at=T0 + timedelta(minutes=m)) for m in range(5)]
        _, body, _ = await api.get(N, params={"limit": "2", "offset": "1"})
        assert ids(body) == [made[3], made[2]]
        assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
        assert body["next_cursor"] is not None

    async def test_pages_by_cursor(self, api: Api, seed_notification: SeedNotification) -> None:
        """next_cursor walks every row once, even when the row it points after is deleted."""
        made = [
            await seed_notification(created_at=T0 + timedelta(minutes=m // 2)) for m in range(7)
        ]
        _, first, _ = await api.get(N, params={"limit": "3"})
        assert ids(first) == [made[6], made[5], made[4]]
        status, _, _ = await api.delete(f"{N}/{made[4]}")
        assert status == 204
        _, second, _ = await api.get(N, params={"limit": "3", "cursor": first["next_cursor"]})
        assert ids(second) == [made[3], made[2], made[1]] and second["total"] == 6
        _, last, _ = await api.get(N, params={"limit": "3", "cursor": second["next_cursor"]})
        assert ids(last) == [made[0]] and last["next_cursor"] is None

    async def test_rejects_bad_cursors(self, api: Api, seed_notification: SeedNotification) -> None:
        """A forged cursor, an alert's cursor or a cursor with an offset is 400."""
        for _ in range(2):
            await seed_notification()
        _, page, _ = await api.get(N, params={"limit": "1"})
        cases = [
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"cursor": ALERT_CURSOR}, "cursor"),
            ({"cursor": page["next_cursor"], "offset": "2"}, "offset"),
        ]
        for params, field in cases:
            status, body, headers = await api.get(N, params=params)
            assert status == 400, params
            assert headers["Content-Type"].startswith("application/problem+json")
            assert [e["field"] for e in body["errors"]] == [field], body

    async def test_rejects_invalid_query_parameters(self, api: Api) -> None:
        """Each invalid parameter is listed under errors with its field name."""
        cases: list[tuple[Any, list[str]]] = [
            ({"limit": "0"}, ["limit"]),
            ({"limit": "201"}, ["limit"]),
            ({"limit": "ten"}, ["limit"]),
            ({"offset": "-1"}, ["offset"]),
            ({"since": "yesterday"}, ["since"]),
            ({"since": "2024-06-01T12:00:00"}, ["since"]),
            ({"until": "9999-12-31T23:00:00-14:00"}, ["until"]),
            ({"is_read": "maybe"}, ["is_read"]),
            ([("priority", "high"), ("priority", "urgent")], ["priority[1]"]),
            ({"type": "nonsense"}, ["type[0]"]),
            ({"q": ""}, ["q"]),
            ({"q": "x\x00y"}, ["q"]),
            ({"prio": "high"}, ["prio"]),
            ([("limit", "5"), ("limit", "6")], ["limit"]),
            ({"limit": "-1", "offset": "x", "colour": "red"}, ["limit", "offset", "colour"]),
        ]
        for params, fields in cases:
            status, body, _ = await api.get(N, params=params)
            assert status == 400, params
            assert [e["field"] for e in body["errors"]] == fields, (params, body)
            assert all(e["message"] for e in body["errors"])
            assert body["detail"].startswith("invalid query parameters")
        status, body, _ = await api.get(N + "/recent", params={"limit": "21"})
        assert status == 400 and [e["field"] for e in body["errors"]] == ["limit"]


class TestRecentAndUnreadCount:
    async def test_recent_is_unread_newest_first(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """recent lists unread notifications newest first, 5 unless limited, with the count."""
        made = [await seed_notification(created_at=T0 + timedelta(minutes=m)) for m in range(7)]
        await seed_notification(is_read=True, created_at=T0 + timedelta(hours=1))
        _, body, _ = await api.get(N + "/recent")
        assert ids(body) == made[::-1][:5] and body["unread_count"] == 7
        _, body, _ = await api.get(N + "/recent", params={"limit": "2"})
        assert ids(body) == [made[6], made[5]]

    async def test_unread_count_by_priority(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """unread-count gives the total and every priority's count, zeros included."""
        await seed_notification(priority="high")
        await seed_notification(priority="critical")
        await seed_notification(priority="critical")
        await seed_notification(priority="low", is_read=True)
        status, body, _ = await api.get(N + "/unread-count")
        assert status == 200
        assert body == {
            "unread_count": 3,
            "by_priority": {"low": 0, "normal": 0, "high": 1, "critical": 2},
        }

    async def test_etag_answers_304_until_something_changes(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """A matching If-None-Match is 304 without a body; a read or a new row changes the tag."""
        first = await seed_notification()
        for path in (N + "/unread-count", N + "/recent"):
            status, _, headers = await api.get(path)
            etag = headers["ETag"]
            assert status == 200 and etag.startswith('W/"')
            assert "no-cache" in headers["Cache-Control"]
            status, body, headers = await api.get(path, headers={"If-None-Match": etag})
            assert (status, body, headers["ETag"]) == (304, None, etag)
            status, _, _ = await api.get(path, headers={"If-None-Match": f'"x", {etag}'})
            assert status == 304
        _, _, before = await api.get(N + "/unread-count")
        await api.put(f"{N}/{first}/read")
        status, _, after_read = await api.get(
            N + "/unread-count", headers={"If-None-Match": before["ETag"]}
        )
        assert status == 200 and after_read["ETag"] != before["ETag"]
        await seed_notification(is_read=True)
        status, _, after_new = await api.get(
            N + "/recent", headers={"If-None-Match": after_read["ETag"]}
        )
        assert status == 200 and after_new["ETag"] != after_read["ETag"]


class TestSingleNotification:
    async def test_get_one(self, api: Api, seed_notification: SeedNotification) -> None:
        """A notification is fetched by id; an unknown id is a 404 problem."""
        made = await seed_notification("Acme import failed")
        status, body, _ = await api.get(f"{N}/{made}")
        assert status == 200 and (body["id"], body["title"]) == (made, "Acme import failed")
        status, body, headers = await api.get(f"{N}/999")
        assert status == 404 and headers["Content-Type"].startswith("application/problem+json")
        assert body["detail"] == "notification 999 not found"

    async def test_literal_paths_are_never_ids(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """recent, unread-count, alerts… reach their own handlers; non-numeric ids are 404."""
        await seed_notification()
        assert "unread_count" in (await api.get(N + "/recent"))[1]
        assert "by_priority" in (await api.get(N + "/unread-count"))[1]
        assert "items" in (await api.get(N + "/alerts"))[1]
        assert "active_alerts" in (await api.get(N + "/alerts/stats"))[1]
        assert (await api.put(N + "/read", json={"ids": [1]}))[1] == {"marked": 1}
        assert (await api.put(N + "/mark-all-read"))[1] == {"marked": 0}
        for path in ("/abc", "/1.0", "/-1", "/0", "/99999999999999999999999", "/1x/read"):
            status, body, _ = await api.get(N + path)
            assert status == 404, path
            assert body["status"] == 404
        status, _, _ = await api.put(N + "/abc/read")
        assert status == 404


class TestReadState:
    async def test_mark_read_is_idempotent(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """Marking read records read_at (no user for a token) and keeps it when repeated."""
        made = await seed_notification()
        status, first, _ = await api.put(f"{N}/{made}/read")
        assert status == 200 and first["is_read"] is True
        assert first["read_at"] is not None and first["read_by_user_id"] is None
        status, again, _ = await api.put(f"{N}/{made}/read")
        assert status == 200 and again["read_at"] == first["read_at"]
        assert (await api.put(f"{N}/999/read"))[0] == 404

    async def test_mark_unread(self, api: Api, seed_notification: SeedNotification) -> None:
        """Marking unread clears read_at; it is idempotent too."""
        made = await seed_notification(is_read=True)
        status, body, _ = await api.put(f"{N}/{made}/unread")
        assert status == 200 and (body["is_read"], body["read_at"]) == (False, None)
        assert (await api.put(f"{N}/{made}/unread"))[0] == 200
        assert (await api.get(N + "/unread-count"))[1]["unread_count"] == 1
        assert (await api.put(f"{N}/999/unread"))[0] == 404

    async def test_bulk_read_counts_what_was_unread(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """PUT /read marks the listed ids and counts those that were unread."""
        a = await seed_notification()
        b = await seed_notification(is_read=True)
        c = await seed_notification()
        keep = await seed_notification()
        status, body, _ = await api.put(N + "/read", json={"ids": [a, b, c, 999]})
        assert status == 200 and body == {"marked": 2}
        _, body, _ = await api.get(N, params={"is_read": "false"})
        assert ids(body) == [keep]
        for bad, field in (({"ids": []}, "ids"), ({"ids": ["1"]}, "ids[0]"), ({}, "ids")):
            status, body, _ = await api.put(N + "/read", json=bad)
            assert status == 422 and [e["field"] for e in body["errors"]] == [field]

    async def test_mark_all_read_within_bounds(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """mark-all-read honours priority/type filters, up_to_id and up_to."""
        old = await seed_notification(priority="low", created_at=T0)
        seen = await seed_notification(priority="high", created_at=T0 + timedelta(minutes=1))
        later = await seed_notification(priority="high", created_at=T0 + timedelta(minutes=2))
        newest = await seed_notification(priority="high", created_at=T0 + timedelta(minutes=3))
        body = {"priority": ["high"], "up_to_id": later}
        assert (await api.put(N + "/mark-all-read", json=body))[1] == {"marked": 2}
        _, page, _ = await api.get(N, params={"is_read": "true"})
        assert ids(page) == [later, seen]
        body = {"up_to": stamp(T0 + timedelta(minutes=2)), "type": ["import_failure"]}
        assert (await api.put(N + "/mark-all-read", json=body))[1] == {"marked": 1}
        _, page, _ = await api.get(N, params={"is_read": "false"})
        assert ids(page) == [newest] and old not in ids(page)
        assert (await api.put(N + "/mark-all-read"))[1] == {"marked": 1}

    async def test_mark_all_read_validates_its_body(self, api: Api) -> None:
        """Unknown fields, wrong types and bad timestamps in the body are 422 by field."""
        cases = [
            ({"priority": "high"}, ["priority"]),
            ({"up_to_id": 0}, ["up_to_id"]),
            ({"up_to": "2024-06-01"}, ["up_to"]),
            ({"everything": True}, ["everything"]),
        ]
        for body, fields in cases:
            status, problem, _ = await api.put(N + "/mark-all-read", json=body)
            assert status == 422, body
            assert [e["field"] for e in problem["errors"]] == fields, problem

    async def test_read_token_may_read_but_not_write(
        self, api: Api, tokens: dict[str, str], seed_notification: SeedNotification
    ) -> None:
        """A read token lists notifications and is refused marking them read."""
        made = await seed_notification()
        reader = Api(api.client, tokens["read"])
        assert (await reader.get(N))[0] == 200
        status, body, _ = await reader.put(f"{N}/{made}/read")
        assert status == 403 and "admin token" in body["detail"]
        assert bearer(tokens["read"]) == reader.headers


class TestCreateAndDelete:
    async def test_create_returns_201_with_location(self, api: Api) -> None:
        """A valid notification is stored with source api and located by its URL."""
        payload = {
            "type": "store_issue",
            "priority": "high",
            "title": "  Acme: payouts paused  ",
            "message": "Payouts are paused pending KYC.",
            "action_required": True,
            "action_url": "/admin/stores/5",
            "metadata": {"store_id": 5, "nested": {"list": [1, 2.5, None]}},
        }
        status, body, headers = await api.post(N, json=payload)
        assert status == 201
        assert headers["Location"] == f"{N}/{body['id']}"
        assert body["title"] == "Acme: payouts paused" and body["source"] == "api"
        assert body["metadata"] == payload["metadata"] and body["rule"] is None
        assert (await api.get(headers["Location"]))[1] == body
        minimal = {"type": "system_info", "title": "t", "message": "m"}
        status, body, _ = await api.post(N, json={**minimal, "action_url": "https://x.test/a"})
        assert status == 201 and body["priority"] == "normal"

    async def test_create_rejects_invalid_fields(self, api: Api) -> None:
        """Each invalid field is listed, with the vocabulary's values and the rules' bounds."""
        valid = {"type": "store_issue", "title": "t", "message": "m"}
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({}, ["type", "title", "message"]),
            ({**valid, "type": "outage"}, ["type"]),
            ({**valid, "priority": "urgent"}, ["priority"]),
            ({**valid, "title": "x" * 501}, ["title"]),
            ({**valid, "title": "   "}, ["title"]),
            ({**valid, "message": "x" * 10_001}, ["message"]),
            ({**valid, "action_url": "javascript:alert(1)"}, ["action_url"]),
            ({**valid, "action_url": "//evil.test/"}, ["action_url"]),
            ({**valid, "action_required": "yes"}, ["action_required"]),
            ({**valid, "metadata": []}, ["metadata"]),
            ({**valid, "metadata": {"a": "\u0000"}}, ["metadata"]),
            ({**valid, "title": "a\u0000b"}, ["title"]),
            ({**valid, "source": "api"}, ["source"]),
        ]
        for payload, fields in cases:
            status, body, _ = await api.post(N, json=payload)
            assert status == 422, payload
            assert [e["field"] for e in body["errors"]] == fields, body
        status, body, _ = await api.post(N, json=valid | {"title": "x" * 500})
        assert status == 201

    async def test_malformed_json_is_400(self, api: Api) -> None:
        """A body that is not JSON is 400, a JSON non-object 422; nothing is stored."""
        status, body, _ = await api.post(
            N, data=b'{"type": ', headers={"Content-Type": "application/json"}
        )
        assert status == 400 and body["errors"][0]["field"] == "body"
        status, body, _ = await api.post(N, json=[1, 2])
        assert status == 422 and body["errors"][0]["field"] == "body"
        assert (await api.get(N))[1]["total"] == 0

    async def test_delete(self, api: Api, seed_notification: SeedNotification) -> None:
        """DELETE answers 204 with no body, then 404 for the same id."""
        made = await seed_notification()
        status, body, _ = await api.delete(f"{N}/{made}")
        assert (status, body) == (204, None)
        assert (await api.delete(f"{N}/{made}"))[0] == 404
        assert (await api.get(f"{N}/{made}"))[0] == 404

    async def test_bulk_delete_counts_what_existed(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """POST /delete removes the listed ids, skips unknown ones and counts the deleted."""
        a = await seed_notification()
        b = await seed_notification(is_read=True)
        keep = await seed_notification()
        status, body, _ = await api.post(N + "/delete", json={"ids": [a, b, 999, a]})
        assert (status, body) == (200, {"deleted": 2})
        _, page, _ = await api.get(N)
        assert ids(page) == [keep] and page["total"] == 1
        assert (await api.post(N + "/delete", json={"ids": [a]}))[1] == {"deleted": 0}
        for bad, field in (
            ({"ids": []}, "ids"),
            ({"ids": [0]}, "ids[0]"),
            ({"ids": ["1"]}, "ids[0]"),
            ({"ids": list(range(1, 1002))}, "ids"),
            ({}, "ids"),
        ):
            status, problem, _ = await api.post(N + "/delete", json=bad)
            assert status == 422 and [e["field"] for e in problem["errors"]] == [field], problem
        assert ids((await api.get(N))[1]) == [keep]

    async def test_bulk_delete_publishes_each_deletion(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """Each deleted notification is published as a single delete is, after the commit."""
        hub = api.client.app[keys.HUB]
        unread = await seed_notification()
        read = await seed_notification(is_read=True)
        await seed_notification()
        sub = hub.subscribe()
        await api.post(N + "/delete", json={"ids": [read, unread, 999]})
        await api.post(N + "/delete", json={"ids": [999]})
        assert changes_of(sub) == [
            ("notification.deleted", {"id": unread, "unread_count": 1}),
            ("notification.deleted", {"id": read, "unread_count": 1}),
        ]
        hub.unsubscribe(sub)


class TestLiveChanges:
    async def test_changes_are_published_after_commit(
        self, api: Api, seed_notification: SeedNotification
    ) -> None:
        """Each change is published once, with the unread count after it."""
        hub = api.client.app[keys.HUB]
        sub = hub.subscribe()
        first = await seed_notification()
        _, created, _ = await api.post(
            N, json={"type": "system_info", "title": "t", "message": "m"}
        )
        await api.put(f"{N}/{first}/read")
        await api.put(f"{N}/{first}/read")
        await api.put(f"{N}/{first}/unread")
        await api.put(N + "/read", json={"ids": [first]})
        await api.put(N + "/mark-all-read")
        await api.put(N + "/mark-all-read")
        await api.delete(f"{N}/{first}")
        assert changes_of(sub) == [
            ("notification.created", {"id": created["id"], "type": "system_info",
                                      "priority": "normal", "unread_count": 2}),
            ("notification.read", {"id": first, "unread_count": 1}),
            ("notification.unread", {"id": first, "unread_count": 2}),
            ("notifications.read", {"count": 1, "unread_count": 1}),
            ("notifications.read", {"count": 1, "unread_count": 0}),
            ("notification.deleted", {"id": first, "unread_count": 0}),
        ]  # fmt: skip
        hub.unsubscribe(sub)
