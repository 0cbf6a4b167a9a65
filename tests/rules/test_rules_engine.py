"""Evaluation: which rules fire, in which order, from which sources, and what they draft."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rules.actions import safe_url
from rules.outcomes import AlertDraft, NotificationDraft, ResolveDraft
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

THREE_RULES = """\
version: 1
rules:
  - {name: first, match: {event: e}, resolve: {fingerprint: "1"}}
  - {name: second, match: {n: {gte: 1}}, resolve: {fingerprint: "2"}%s}
  - {name: third, match: {}, resolve: {fingerprint: "3"}}
"""


class TestOrder:
    def test_every_matching_rule_fires_in_file_order(self, load: Any) -> None:
        """By default all matching rules fire, in the order they are written."""
        ruleset = load(THREE_RULES % "")
        evaluation = ruleset.evaluate({"event": "e", "n": 1})
        assert evaluation.matched_rules == ["first", "second", "third"]
        assert [d.fingerprint for d in evaluation.drafts] == ["1", "2", "3"]

    def test_stop_ends_evaluation_when_its_rule_matched(self, load: Any) -> None:
        """A matching rule with `stop: true` keeps later rules from running."""
        ruleset = load(THREE_RULES % ", stop: true")
        assert ruleset.evaluate({"event": "e", "n": 1}).matched_rules == ["first", "second"]

    def test_stop_does_nothing_when_its_rule_did_not_match(self, load: Any) -> None:
        """A rule that did not match does not stop anything."""
        ruleset = load(THREE_RULES % ", stop: true")
        assert ruleset.evaluate({"event": "e"}).matched_rules == ["first", "third"]

    def test_actions_run_in_the_order_their_keys_are_written(self, load: Any) -> None:
        """Within a rule, `resolve` before `alert` drafts the resolution first."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                resolve: {fingerprint: old}
                alert: {type: system, severity: info, title: t, fingerprint: new}
                notify: {type: system_info, title: t, message: m}
            """
        )
        kinds = [type(d) for d in ruleset.evaluate({}).drafts]
        assert kinds == [ResolveDraft, AlertDraft, NotificationDraft]

    def test_no_match_produces_nothing(self, load: Any) -> None:
        """An event no rule matches gives an empty evaluation."""
        evaluation = load(
            "version: 1\nrules:\n  - {name: a, match: {event: x}, resolve: {fingerprint: f}}\n"
        ).evaluate({"event": "y"})
        assert (evaluation.drafts, evaluation.matched_rules, evaluation.missing_fields) == (
            [],
            [],
            0,
        )


class TestSources:
    RULES = """\
    version: 1
    sources:
      shop: {}
      other: {}
    rules:
      - {name: from-logs, source: logs, match: {}, resolve: {fingerprint: f}}
      - {name: from-shop, source: shop, match: {}, resolve: {fingerprint: f}}
      - {name: from-both, source: [logs, other], match: {}, resolve: {fingerprint: f}}
      - {name: from-any, match: {}, resolve: {fingerprint: f}}
    """

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("logs", ["from-logs", "from-both", "from-any"]),
            ("shop", ["from-shop", "from-any"]),
            ("other", ["from-both", "from-any"]),
        ],
    )
    def test_rules_see_only_their_sources(self, load: Any, source: str, expected: Any) -> None:
        """A rule limited to some sources ignores events from the others."""
        assert load(self.RULES).evaluate({}, source=source).matched_rules == expected

    def test_source_is_known_to_templates(self, load: Any) -> None:
        """Templates may say where the event came from."""
        ruleset = load(
            """\
            version: 1
            sources: {shop: {}}
            rules:
              - {name: r, match: {}, resolve: {fingerprint: "{{ source }}:{{ id }}"}}
            """
        )
        assert ruleset.evaluate({"id": 1}, source="shop").drafts[0].fingerprint == "shop:1"


class TestDrafts:
    def test_notification_draft(self, load: Any) -> None:
        """A notify action renders every field of the notification draft."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: import-failed
                match: {event: product_import.failed}
                notify:
                  type: import_failure
                  priority: high
                  action_required: true
                  title: "Import failed for {{ store_name }}"
                  message: "Job {{ job_id }}: {{ error_message }}"
                  action_url: "/admin/stores/{{ store_id }}/imports/{{ job_id }}"
                  metadata: {store_id: "{{ store_id }}", kind: product}
                  dedup: {key: "import:{{ store_id }}:{{ job_id }}", window: 1h}
            """
        )
        event = {
            "event": "product_import.failed",
            "store_id": 5,
            "store_name": "Acme",
            "job_id": 9,
            "error_message": "bad CSV",
        }
        assert ruleset.evaluate(event).drafts == [
            NotificationDraft(
                rule="import-failed",
                type=NotificationType.IMPORT_FAILURE,
                priority=Priority.HIGH,
                title="Import failed for Acme",
                message="Job 9: bad CSV",
                action_required=True,
                action_url="/admin/stores/5/imports/9",
                metadata={"store_id": 5, "kind": "product"},
                dedup_key="import:5:9",
                dedup_window=timedelta(hours=1),
            )
        ]

    def test_notification_defaults(self, load: Any) -> None:
        """Priority defaults to normal; no url, metadata or dedup unless written."""
        ruleset = load(
            "version: 1\nrules:\n"
            "  - {name: r, match: {}, notify: {type: store_issue, title: t, message: m}}\n"
        )
        assert ruleset.evaluate({}).drafts == [
            NotificationDraft(
                rule="r",
                type=NotificationType.STORE_ISSUE,
                priority=Priority.NORMAL,
                title="t",
                message="m",
            )
        ]

    def test_alert_draft(self, load: Any) -> None:
        """An alert action renders its fingerprint and its scope, without empties or repeats."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: api-error
                match: {}
                alert:
                  type: integration
                  severity: error
                  title: "Letzshop errors for {{ store_name }}"
                  description: "{{ operation }} failed"
                  fingerprint: "letzshop:store:{{ store_id }}"
                  affected_stores: ["{{ store_id }}", "{{ store_id }}", "{{ other }}"]
                  affected_systems: letzshop
            """
        )
        event = {"store_id": 5, "store_name": "Acme", "operation": "sync"}
        evaluation = ruleset.evaluate(event)
        assert evaluation.drafts == [
            AlertDraft(
                rule="api-error",
                alert_type=AlertType.INTEGRATION,
                severity=Severity.ERROR,
                title="Letzshop errors for Acme",
                description="sync failed",
                fingerprint="letzshop:store:5",
                affected_stores=("5",),
                affected_systems=("letzshop",),
            )
        ]
        assert evaluation.missing_fields == 1

    def test_resolve_draft(self, load: Any) -> None:
        """A resolve action renders the fingerprint and notes."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: ok
                match: {}
                resolve: {fingerprint: "letzshop:store:{{ store_id }}", notes: "sync ok"}
            """
        )
        assert ruleset.evaluate({"store_id": 5}).drafts == [
            ResolveDraft(rule="ok", fingerprint="letzshop:store:5", notes="sync ok")
        ]

    def test_dedup_key_that_renders_empty_means_no_dedup(self, load: Any) -> None:
        """A dedup key made only of missing fields does not merge unrelated events."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify:
                  type: store_issue
                  title: t
                  message: m
                  dedup: {key: "{{ id }}", window: 10m}
            """
        )
        (draft,) = ruleset.evaluate({}).drafts
        assert isinstance(draft, NotificationDraft)
        assert (draft.dedup_key, draft.dedup_window) == (None, timedelta(minutes=10))

    def test_unsafe_action_url_is_dropped(self, load: Any) -> None:
        """A link rendered from event data into `javascript:` is not kept."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify: {type: store_issue, title: t, message: m, action_url: "{{ url }}"}
            """
        )
        (draft,) = ruleset.evaluate({"url": "javascript:alert(1)"}).drafts
        assert isinstance(draft, NotificationDraft)
        assert draft.action_url is None

    @pytest.mark.parametrize(
        ("url", "kept"),
        [
            ("/admin/stores/5", True),
            ("https://status.example.com/x", True),
            ("HTTP://example.com", True),
            ("  /admin  ", True),
            ("//evil.example.com", False),
            ("/\\evil.example.com", False),
            ("javascript:alert(1)", False),
            ("data:text/html,x", False),
            ("admin/stores", False),
            ("", False),
        ],
    )
    def test_safe_url(self, url: str, kept: bool) -> None:
        """Only site-relative paths and http(s) URLs are kept as links."""
        assert (safe_url(url) is not None) is kept


class TestRuleSet:
    def test_rules_and_warnings_are_exposed(self, load: Any) -> None:
        """The rule set lists its compiled rules and carries its warnings."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: a, description: first, match: {}, resolve: {fingerprint: f}}
            """
        )
        (rule,) = ruleset.rules
        assert (rule.name, rule.description, rule.source_file_line) == ("a", "first", 3)
        assert ruleset.warnings == []
        assert ruleset.tests == ()
