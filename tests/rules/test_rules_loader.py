"""Loading: each kind of mistake in a tiny file, and its exact error at file:line:column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rules.errors import RuleIssue, RulesError
from rules.loader import load_ruleset, load_ruleset_text

NOTIFY_TYPES = (
    "import_failure, order_sync_failure, order_exception, critical_error, store_issue, "
    "security_alert, system_info"
)

CASES = [
    (
        "YAML syntax",
        "version: 1\nrules: [\n",
        ["rules.yaml:3:1: YAML syntax error: expected the node content, but found '<stream end>'"],
    ),
    (
        "tab indentation",
        "version: 1\nrules:\n\t- name: a\n",
        ["rules.yaml:3:1: YAML syntax error: found character '\\t' that cannot start any token"],
    ),
    (
        "empty file",
        "",
        ["rules.yaml:1:1: the file is empty; expected a mapping with version and rules"],
    ),
    (
        "not a mapping",
        "- a\n",
        [
            "rules.yaml:1:1: the file must be a mapping with version, sources, rules and tests, "
            'got ["a"]'
        ],
    ),
    (
        "missing version",
        "rules: []\n",
        ['rules.yaml:1:1: missing required field "version" in the file'],
    ),
    (
        "unsupported version",
        "version: 2\nrules: []\n",
        ["rules.yaml:1:10: unsupported version 2; this gateway reads version 1"],
    ),
    (
        "quoted version",
        "version: '1'\nrules: []\n",
        ['rules.yaml:1:10: unsupported version "1"; this gateway reads version 1'],
    ),
    (
        "unknown top-level field",
        "version: 1\nrules: []\nroutes: []\n",
        [
            'rules.yaml:3:1: unknown field "routes" in the file; '
            "allowed fields: version, sources, rules, tests"
        ],
    ),
    (
        "rules not a list",
        "version: 1\nrules: {a: 1}\n",
        ['rules.yaml:2:8: rules must be a list, got {"a": 1}'],
    ),
    (
        "rule not a mapping",
        "version: 1\nrules:\n  - just a name\n",
        ['rules.yaml:3:5: a rule must be a mapping, got "just a name"'],
    ),
    (
        "unknown rule field",
        "version: 1\nrules:\n  - name: a\n    match: {}\n    when: {}\n"
        "    resolve: {fingerprint: f}\n",
        [
            'rules.yaml:5:5: unknown field "when" in rule; allowed fields: name, description, '
            "source, match, notify, alert, resolve, stop"
        ],
    ),
    (
        "missing match",
        "version: 1\nrules:\n  - name: a\n    resolve: {fingerprint: f}\n",
        ['rules.yaml:3:5: missing required field "match" in rule'],
    ),
    (
        "empty name",
        "version: 1\nrules:\n  - name: ''\n    match: {}\n    resolve: {fingerprint: f}\n",
        ["rules.yaml:3:11: name must not be empty"],
    ),
    (
        "rule without action",
        "version: 1\nrules:\n  - name: a\n    match: {}\n",
        ['rules.yaml:3:5: rule "a" has no action; give it notify, alert or resolve'],
    ),
    (
        "unknown action field",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: store_issue, title: t, message: m, colour: red}\n",
        [
            'rules.yaml:5:55: unknown field "colour" in notify; allowed fields: type, priority, '
            "title, message, action_required, action_url, metadata, dedup"
        ],
    ),
    (
        "missing action fields",
        "version: 1\nrules:\n  - name: a\n    match: {}\n    notify: [{type: store_issue}]\n",
        [
            'rules.yaml:5:14: missing required field "title" in notify',
            'rules.yaml:5:14: missing required field "message" in notify',
        ],
    ),
    (
        "unknown notification type",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: nope, title: t, message: m}\n",
        [f'rules.yaml:5:20: unknown notification type "nope"; expected one of: {NOTIFY_TYPES}'],
    ),
    (
        "unknown priority",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: store_issue, priority: urgent, title: t, message: m}\n",
        [
            'rules.yaml:5:43: unknown priority "urgent"; '
            "expected one of: low, normal, high, critical"
        ],
    ),
    (
        "unknown alert type and severity",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    alert: {type: network, severity: fatal, title: t, fingerprint: f}\n",
        [
            'rules.yaml:5:19: unknown alert type "network"; expected one of: security, '
            "performance, capacity, integration, system, database",
            'rules.yaml:5:38: unknown severity "fatal"; expected one of: info, warning, error, '
            "critical",
        ],
    ),
    (
        "wrong types",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: store_issue, title: 404, message: m, action_required: 'yes'}\n"
        "    stop: 1\n",
        [
            "rules.yaml:5:40: title must be a string, got 404",
            'rules.yaml:5:74: action_required must be true or false, got "yes"',
            "rules.yaml:6:11: stop must be true or false, got 1",
        ],
    ),
    (
        "wrong type in a list",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    alert: {type: system, severity: info, title: t, fingerprint: f, "
        "affected_stores: [ok, 5]}\n",
        ["rules.yaml:5:91: affected_stores[1] must be a string, got 5"],
    ),
    (
        "bad metadata value",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: store_issue, title: t, message: m, metadata: {a: [1]}}\n",
        [
            "rules.yaml:5:69: a metadata value must be a template string, a number, true/false "
            "or null, got [1]"
        ],
    ),
    (
        "bad duration",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: store_issue, title: t, message: m, dedup: {key: k, window: 10x}}\n",
        [
            'rules.yaml:5:79: invalid duration "10x": use a whole number of seconds or a number '
            'with a unit s, m, h or d (e.g. "30s", "10m", "1h", "1d")'
        ],
    ),
    (
        "zero duration",
        "version: 1\nrules:\n  - name: a\n    match: {}\n"
        "    notify: {type: store_issue, title: t, message: m, dedup: {key: k, window: 0}}\n",
        ["rules.yaml:5:79: invalid duration 0: a duration must be positive"],
    ),
    (
        "duplicate rule name",
        "version: 1\nrules:\n  - {name: a, match: {}, resolve: {fingerprint: f}}\n"
        "  - {name: a, match: {}, resolve: {fingerprint: g}}\n",
        ['rules.yaml:4:12: duplicate rule name "a" (first defined at line 3)'],
    ),
    (
        "undefined source",
        "version: 1\nrules:\n"
        "  - {name: a, source: [logs, shop], match: {}, resolve: {fingerprint: f}}\n",
        ['rules.yaml:3:30: unknown source "shop"; defined sources: logs'],
    ),
    (
        "duplicate mapping key",
        "version: 1\nrules:\n  - name: a\n    match: {n: 1, n: 2}\n    resolve: {fingerprint: f}\n",
        ['rules.yaml:4:19: duplicate key "n" (first written at line 4)'],
    ),
    (
        "unsupported tag",
        "version: 1\nrules:\n  - name: a\n    match: {n: !!binary aGk=}\n"
        "    resolve: {fingerprint: f}\n",
        ['rules.yaml:4:16: unsupported YAML tag "tag:yaml.org,2002:binary"'],
    ),
    (
        "alias to itself",
        "version: 1\nrules: &rules [*rules]\n",
        ["rules.yaml:2:8: an alias refers to itself"],
    ),
]


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
    )
    def test_error(self, errors: Any, text: str, expected: list[str]) -> None:
        """Each mistake is reported at its position, quoting the offending value."""
        assert errors(text) == expected

    def test_every_error_is_reported_sorted_by_line(self, errors: Any) -> None:
        """Problems in several parts of the file are all reported, in file order."""
        assert errors(
            """\
            version: 1
            rules:
              - name: first
                match: {n: {bad: 1}}
                resolve: {fingerprint: f}
              - name: second
                match: {}
                notify: {type: wrong, title: t, message: m}
              - name: first
                match: {}
                resolve: {fingerprint: "{{"}
            tests:
              - {name: t, event: {}, expect: [{notify: {rule: nope}}]}
            """
        ) == [
            'rules.yaml:4:17: unknown operator "bad"; known operators: eq, ne, in, not_in, gt, '
            "gte, lt, lte, exists, prefix, suffix, contains, regex",
            f'rules.yaml:8:20: unknown notification type "wrong"; expected one of: {NOTIFY_TYPES}',
            'rules.yaml:9:11: duplicate rule name "first" (first defined at line 3)',
            "rules.yaml:11:28: template error in fingerprint \"{{\": unexpected 'end of template'",
            'rules.yaml:13:51: unknown rule "nope" in expected outcome',
        ]

    def test_rules_error_lists_only_errors(self) -> None:
        """Warnings are not errors: a failing file's RulesError holds errors only."""
        text = (
            "version: 1\n"
            "sources:\n"
            "  shop: {signature: {scheme: hmac-sha256, secret: '${SHOP_SECRET}'}}\n"
            "rules: 5\n"
        )
        with pytest.raises(RulesError) as caught:
            load_ruleset_text(text, "rules.yaml", {})
        assert [issue.severity for issue in caught.value.issues] == ["error"]
        assert str(caught.value) == "rules.yaml:4:8: rules must be a list, got 5"


class TestFiles:
    def test_load_from_path(self, tmp_path: Path) -> None:
        """A file on disk loads, and its path is used in positions."""
        path = tmp_path / "rules.yaml"
        path.write_text("version: 1\nrules: []\n")
        ruleset = load_ruleset(path, environ={})
        assert ruleset.rules == ()
        assert ruleset.filename == str(path)

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A missing file is a RulesError at line 1, not an OSError."""
        path = tmp_path / "absent.yaml"
        with pytest.raises(RulesError) as caught:
            load_ruleset(path, environ={})
        assert str(caught.value) == (
            f"{path}:1:1: cannot read the rules file: No such file or directory"
        )

    def test_file_that_is_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are reported with their line."""
        path = tmp_path / "rules.yaml"
        path.write_bytes(b"version: 1\nrules: []\n# caf\xe9\n")
        with pytest.raises(RulesError) as caught:
            load_ruleset(path, environ={})
        assert str(caught.value) == (
            f"{path}:3:1: the rules file is not UTF-8 text: invalid continuation byte"
        )

    def test_environment_defaults_to_the_process(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without an explicit mapping, variables come from os.environ."""
        monkeypatch.setenv("RULES_TEST_TITLE", "from the process")
        path = tmp_path / "rules.yaml"
        path.write_text(
            "version: 1\nrules:\n  - name: a\n    match: {}\n"
            "    notify: {type: store_issue, title: '${RULES_TEST_TITLE}', message: m}\n"
        )
        draft = load_ruleset(path).evaluate({}).drafts[0]
        assert draft.title == "from the process"  # type: ignore[union-attr]


class TestStructure:
    def test_one_mapping_or_a_list_of_actions(self, load: Any) -> None:
        """An action key takes one mapping or a list; every item runs."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: a
                match: {}
                resolve:
                  - {fingerprint: one}
                  - {fingerprint: two}
            """
        )
        assert [d.fingerprint for d in ruleset.evaluate({}).drafts] == ["one", "two"]

    def test_extension_keys_hold_anchors(self, load: Any) -> None:
        """Top-level `x-` keys are ignored and may define anchors for rules to merge."""
        ruleset = load(
            """\
            version: 1
            x-alert: &alert {type: system, severity: error, title: t, fingerprint: f}
            rules:
              - {name: a, match: {}, alert: {<<: *alert, severity: warning}}
            """
        )
        (draft,) = ruleset.evaluate({}).drafts
        assert (draft.severity, draft.title) == ("warning", "t")

    def test_rule_lines_are_recorded(self, load: Any) -> None:
        """Each compiled rule knows the line it was written on."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: a, match: {}, resolve: {fingerprint: f}}

              - name: b
                match: {}
                resolve: {fingerprint: f}
            """
        )
        assert [(r.name, r.source_file_line) for r in ruleset.rules] == [("a", 3), ("b", 5)]

    def test_issue_format(self) -> None:
        """Issues print as file:line:column, warnings saying so."""
        assert str(RuleIssue("r.yaml", 3, 7, "bad")) == "r.yaml:3:7: bad"
        assert str(RuleIssue("r.yaml", 3, 7, "odd", "warning")) == "r.yaml:3:7: warning: odd"
