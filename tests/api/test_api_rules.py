"""The rules endpoints of the admin API: what is loaded, a dry run, and a reload."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.api.conftest import Api

R = "/api/v1/admin/rules"
IMPORT_FAILED = {
    "event": "product_import.failed",
    "store_id": 5,
    "store_name": "Acme Corp",
    "job_id": 123,
    "error_message": "CSV parsing failed",
}
BROKEN_RULES = """\
version: 1
rules:
  - name: broken
    match: {event: x}
    notify: {type: outage, priority: high, title: t, message: m}
"""


class TestListRules:
    async def test_lists_rules_with_match_counts(self, api: Api) -> None:
        """Each rule shows its sources, action kinds and matches counted since start."""
        _, before, _ = await api.get(R)
        rule = next(r for r in before["rules"] if r["name"] == "product-import-failed")
        assert rule == {
            "name": "product-import-failed",
            "description": "A product import job failed completely.",
            "sources": ["logs"],
            "actions": ["notify"],
            "stop": False,
            "line": rule["line"],
            "matches": 0,
            "last_matched_at": None,
            "match": {"event": "product_import.failed"},
            "produces": [
                {
                    "kind": "notify",
                    "type": "import_failure",
                    "priority": "high",
                    "severity": None,
                    "title": "Product import failed for {{ store_name }}",
                    "fingerprint": None,
                }
            ],
            "enabled": True,
        }
        lines = b"\n".join(orjson.dumps(IMPORT_FAILED) for _ in range(2))
        resp = await api.client.post(
            "/api/v1/ingest/logs", data=lines, headers={"Content-Type": "application/x-ndjson"}
        )
        assert resp.status == 200
        _, after, _ = await api.get(R)
        rule = next(r for r in after["rules"] if r["name"] == "product-import-failed")
        assert rule["matches"] == 2 and rule["last_matched_at"] is not None
        assert after["counting_since"] <= rule["last_matched_at"]

    async def test_reports_sources_and_reload_status(self, api: Api, rules_file: Path) -> None:
        """The overview names the file, the webhook sources and the latest load."""
        _, body, _ = await api.get(R)
        assert body["file"] == str(rules_file)
        assert body["sources"]["enabled"] == []
        assert set(body["sources"]["disabled"]) == {"letzshop", "alertmanager"}
        assert "LETZSHOP_WEBHOOK_SECRET" in body["sources"]["disabled"]["letzshop"]
        assert body["reload"]["ok"] is True and body["reload"]["error"] is None
        assert body["reload"]["issues"] == []
        # Rules that listen only to a disabled webhook source cannot fire.
        enabled = {rule["name"]: rule["enabled"] for rule in body["rules"]}
        assert enabled["alertmanager-firing-critical"] is False
        assert enabled["letzshop-api-error"] is True
        assert body["reload"]["last_success_at"] == body["reload"]["at"]


class TestDryRun:
    async def test_describes_outcomes_and_writes_nothing(self, api: Api) -> None:
        """A dry run returns the rule test form of each outcome and stores nothing."""
        status, body, _ = await api.post(R + "/test", json={"event": IMPORT_FAILED})
        assert status == 200
        assert body["source"] == "logs"
        assert body["matched_rules"] == ["product-import-failed"]
        assert body["missing_fields"] == 0
        [outcome] = body["outcomes"]
        notify = outcome["notify"]
        assert (notify["type"], notify["priority"]) == ("import_failure", "high")
        assert notify["title"] == "Product import failed for Acme Corp"
        assert notify["dedup"] == {"key": "product-import-failed:5:123", "window": "1h"}
        assert (await api.get("/api/v1/admin/notifications"))[1]["total"] == 0
        _, rules, _ = await api.get(R)
        assert all(rule["matches"] == 0 for rule in rules["rules"])

    async def test_source_decides_which_rules_see_the_event(self, api: Api) -> None:
        """An event from a webhook source skips log-only rules; unknown sources are 422."""
        payload = {"event": IMPORT_FAILED, "source": "letzshop"}
        status, body, _ = await api.post(R + "/test", json=payload)
        assert status == 200 and body["matched_rules"] == [] and body["outcomes"] == []
        status, body, _ = await api.post(R + "/test", json={**payload, "source": "nowhere"})
        assert status == 422 and [e["field"] for e in body["errors"]] == ["source"]
        assert "letzshop" in body["errors"][0]["message"]
        invalid = [({}, ["event"]), ({"event": [1]}, ["event"]), ({"event": {}, "x": 1}, ["x"])]
        for bad, fields in invalid:
            status, body, _ = await api.post(R + "/test", json=bad)
            assert status == 422 and [e["field"] for e in body["errors"]] == fields


class TestReload:
    async def test_reload_picks_up_changes(self, api: Api, rules_file: Path) -> None:
        """A valid file is loaded at once and reported with its rule count."""
        text = rules_file.read_text()
        rules_file.write_text(text.replace("- name: store-issue", "- name: store-problem"))
        status, body, _ = await api.post(R + "/reload")
        assert status == 200 and body["ok"] is True and body["rules"] > 0
        assert len(body["warnings"]) == 2
        names = [rule["name"] for rule in (await api.get(R))[1]["rules"]]
        assert "store-problem" in names and "store-issue" not in names

    async def test_invalid_file_keeps_running_rules(self, api: Api, rules_file: Path) -> None:
        """An invalid file answers 422 with positioned issues; the old rules stay in force."""
        rules_file.write_text(BROKEN_RULES)
        status, body, headers = await api.post(R + "/reload")
        assert status == 422 and headers["Content-Type"].startswith("application/problem+json")
        assert "running rules are unchanged" in body["detail"]
        [issue] = body["issues"]
        assert (issue["file"], issue["line"]) == (str(rules_file), 5)
        assert issue["column"] > 1 and "outage" in issue["message"]
        _, overview, _ = await api.get(R)
        assert "product-import-failed" in [rule["name"] for rule in overview["rules"]]
        assert overview["reload"]["ok"] is False and "outage" in overview["reload"]["error"]
        assert overview["reload"]["issues"] == body["issues"]
        assert overview["reload"]["last_success_at"] < overview["reload"]["at"]
