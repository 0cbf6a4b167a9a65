"""Rule tests written in the file: how they load, pass, fail, and what the describer says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rules.testing import describe_evaluation, run_rule_tests

RULES = """\
version: 1
sources: {shop: {}}
rules:
  - name: big-import
    match: {event: imported, errors: {gte: 5}}
    notify:
      type: import_failure
      priority: high
      title: "{{ errors }} errors"
      message: m
      metadata: {errors: "{{ errors }}", labels: "{{ labels }}"}
      dedup: {key: "k{{ id }}", window: 1h}
  - name: shop-only
    source: shop
    match: {event: imported}
    alert: {type: integration, severity: warning, title: t, fingerprint: "shop:{{ id }}",
            affected_stores: ["{{ id }}"]}
tests:
%s
"""


def failures(load: Any, tests: str) -> list[str]:
    """Load the rules above with `tests`; return the failures as printed."""
    return [str(failure) for failure in run_rule_tests(load(RULES % tests))]


class TestPassing:
    @pytest.mark.parametrize(
        "test",
        [
            # nothing expected, nothing produced
            "  - {name: t, event: {event: imported, errors: 1}, expect: []}",
            # a subset of fields
            "  - {name: t, event: {event: imported, errors: 7}, expect: [{notify: {type: "
            "import_failure}}]}",
            # every described field, including the rule, dedup and metadata subsets
            "  - name: t\n"
            "    event: {event: imported, errors: 7, id: 3, labels: {a: '1', b: '2'}}\n"
            "    expect:\n"
            "      - notify:\n"
            "          rule: big-import\n"
            "          type: import_failure\n"
            "          priority: high\n"
            "          title: 7 errors\n"
            "          message: m\n"
            "          action_required: false\n"
            "          action_url: null\n"
            "          metadata: {errors: 7, labels: {a: '1'}}\n"
            "          dedup: {key: k3, window: 60m}",
            # another source, in order, lists compared exactly
            "  - name: t\n"
            "    source: shop\n"
            "    event: {event: imported, errors: 9, id: 4}\n"
            "    expect:\n"
            "      - notify: {title: 9 errors}\n"
            "      - alert: {rule: shop-only, type: integration, severity: warning, "
            "fingerprint: 'shop:4', affected_stores: ['4'], affected_systems: []}",
        ],
    )
    def test_passes(self, load: Any, test: str) -> None:
        """A test whose expectations hold produces no failure."""
        assert failures(load, test) == []


class TestFailing:
    @pytest.mark.parametrize(
        ("test", "message"),
        [
            (
                "  - {name: t, event: {event: imported, errors: 7}, expect: []}",
                'rules.yaml:19: test "t" failed: expected 0 outcomes, got 1 outcome: '
                'notify import_failure "7 errors" (rule "big-import")',
            ),
            (
                "  - {name: t, event: {event: imported, errors: 1}, expect: [{resolve: {}}]}",
                'rules.yaml:19: test "t" failed: expected 1 outcome, got 0 outcomes: nothing',
            ),
            (
                "  - {name: t, event: {event: imported, errors: 7}, expect: [{alert: {}}]}",
                'rules.yaml:19: test "t" failed: outcome 1 is notify import_failure "7 errors" '
                '(rule "big-import"), expected alert',
            ),
            (
                "  - {name: t, event: {event: imported, errors: 7}, "
                "expect: [{notify: {title: '8 errors', priority: low}}]}",
                'rules.yaml:19: test "t" failed: outcome 1 (notify) has priority "high", '
                'expected "low"; outcome 1 (notify) has title "7 errors", expected "8 errors"',
            ),
            (
                "  - {name: t, event: {event: imported, errors: 7}, "
                "expect: [{notify: {metadata: {errors: '7'}}}]}",
                'rules.yaml:19: test "t" failed: outcome 1 (notify) has metadata '
                '{"errors": 7, "labels": null}, expected {"errors": "7"}',
            ),
            (
                "  - {name: t, event: {event: imported, errors: 7, id: 1}, "
                "expect: [{notify: {dedup: {window: 2h}}}]}",
                'rules.yaml:19: test "t" failed: outcome 1 (notify) has dedup '
                '{"key": "k1", "window": "1h"}, expected {"window": "2h"}',
            ),
        ],
    )
    def test_fails(self, load: Any, test: str, message: str) -> None:
        """A test that does not get what it expects fails with its file:line and the difference."""
        assert failures(load, test) == [message]

    def test_failure_fields(self, load: Any) -> None:
        """A failure carries the test's name, message, file and line."""
        ruleset = load(RULES % "  - {name: quiet, event: {event: imported, errors: 9}, expect: []}")
        (failure,) = run_rule_tests(ruleset)
        assert (failure.test_name, failure.file, failure.line) == ("quiet", "rules.yaml", 19)
        assert failure.message.startswith("expected 0 outcomes, got 1 outcome")


class TestLoadErrors:
    @pytest.mark.parametrize(
        ("test", "message"),
        [
            (
                "  - {name: t, source: nowhere, event: {}, expect: []}",
                'rules.yaml:19:23: unknown source "nowhere" in rule test; '
                "defined sources: logs, shop",
            ),
            (
                "  - {name: t, event: {}, expect: [{notify: {rule: nothing}}]}",
                'rules.yaml:19:51: unknown rule "nothing" in expected outcome',
            ),
            (
                "  - {name: t, event: {}, expect: [{notify: {}, alert: {}}]}",
                "rules.yaml:19:35: an expected outcome has exactly one of the keys notify, "
                "alert or resolve",
            ),
            (
                "  - {name: t, event: {}, expect: [{}]}",
                "rules.yaml:19:35: an expected outcome has exactly one of the keys notify, "
                "alert or resolve",
            ),
            (
                "  - {name: t, event: {}, expect: [{notify: {type: imports}}]}",
                'rules.yaml:19:51: unknown notification type "imports"; expected one of: '
                "import_failure, order_sync_failure, order_exception, critical_error, "
                "store_issue, security_alert, system_info",
            ),
            (
                "  - {name: t, event: {}, expect: [{notify: {colour: red}}]}",
                'rules.yaml:19:45: unknown field "colour" in expected notify; allowed fields: '
                "rule, type, priority, title, message, action_required, action_url, metadata, "
                "dedup",
            ),
            (
                "  - {name: t, event: {}, expect: [{alert: {fingerprint: 5}}]}",
                "rules.yaml:19:57: fingerprint must be a string, got 5",
            ),
            (
                "  - {name: t, event: [], expect: []}",
                "rules.yaml:19:22: event must be a mapping, got []",
            ),
            (
                "  - {name: t, event: {}}",
                'rules.yaml:19:5: missing required field "expect" in rule test',
            ),
            (
                "  - {name: t, event: {}, expect: []}\n  - {name: t, event: {}, expect: []}",
                'rules.yaml:20:12: duplicate test name "t" (first defined at line 19)',
            ),
        ],
    )
    def test_error(self, errors: Any, test: str, message: str) -> None:
        """A rule test that refers to nothing valid is a load error at its position."""
        assert errors(RULES % test) == [message]


class TestDescribe:
    def test_description_is_json_and_names_fields_as_the_file_does(self, load: Any) -> None:
        """The description is JSON-ready and pasteable as a test's expected outcomes."""
        ruleset = load(RULES % "  []")
        evaluation = ruleset.evaluate({"event": "imported", "errors": 6, "id": 2}, "shop")
        described = describe_evaluation(evaluation)
        assert json.loads(json.dumps(described)) == described
        assert described == {
            "matched_rules": ["big-import", "shop-only"],
            "missing_fields": 1,
            "outcomes": [
                {
                    "notify": {
                        "rule": "big-import",
                        "type": "import_failure",
                        "priority": "high",
                        "title": "6 errors",
                        "message": "m",
                        "action_required": False,
                        "action_url": None,
                        "metadata": {"errors": 6, "labels": None},
                        "dedup": {"key": "k2", "window": "1h"},
                    }
                },
                {
                    "alert": {
                        "rule": "shop-only",
                        "type": "integration",
                        "severity": "warning",
                        "title": "t",
                        "description": "",
                        "fingerprint": "shop:2",
                        "affected_stores": ["2"],
                        "affected_systems": [],
                        "metadata": {},
                    }
                },
            ],
        }

    def test_description_of_nothing(self, load: Any) -> None:
        """An event that matches nothing is described as producing nothing."""
        described = describe_evaluation(load(RULES % "  []").evaluate({"event": "other"}))
        assert described == {"matched_rules": [], "missing_fields": 0, "outcomes": []}
