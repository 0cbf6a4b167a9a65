"""Every error in one run: a broken part does not hide the problems of the parts beside it.

Each case is a whole file and the exact list of errors `gateway rules check` prints for it:
all of them, each once, sorted by position, none a consequence of another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rules.document import Loc
from rules.engine import RuleSet
from rules.loader import load_ruleset
from rules.schema import AlertConfig, NotifyConfig, ResolveConfig, Strict
from rules.testing import run_rule_tests
from rules.validation import Failures

NOTIFY_TYPES = (
    "import_failure, order_sync_failure, order_exception, critical_error, store_issue, "
    "security_alert, system_info"
)
OPERATORS = "eq, ne, in, not_in, gt, gte, lt, lte, exists, prefix, suffix, contains, regex"
UNCLOSED = "unexpected end of template, expected 'end of print statement'."
DURATION = (
    "use a whole number of seconds or a number with a unit s, m, h or d "
    '(e.g. "30s", "10m", "1h", "1d")'
)

CASES = [
    (
        "schema errors do not hide compile errors",
        """\
        version: 1
        rules:
          - name: a
            match: {event: x, n: {between: 3}}
            notify: {type: import_failure, title: t, message: m}
          - name: b
            match: {event: {regex: "(a"}}
            notify: {type: nope, title: "{{ x", message: m, bogus: 1}
        """,
        [
            f'rules.yaml:4:27: unknown operator "between"; known operators: {OPERATORS}',
            'rules.yaml:7:28: invalid regular expression "(a": missing ): (a',
            f'rules.yaml:8:20: unknown notification type "nope"; expected one of: {NOTIFY_TYPES}',
            f'rules.yaml:8:33: template error in title "{{{{ x": {UNCLOSED}',
            'rules.yaml:8:53: unknown field "bogus" in notify; allowed fields: type, priority, '
            "title, message, action_required, action_url, metadata, dedup",
        ],
    ),
    (
        "every rule with a different kind of error",
        """\
        version: 1
        sources:
          shop: {format: json}
        rules:
          - name: unknown-field
            match: {}
            resolve: {fingerprint: f, colour: red}
          - name: bad-operator
            match: {n: {between: 3}}
            resolve: {fingerprint: f}
          - name: bad-regex
            match: {event: {regex: "(a"}}
            resolve: {fingerprint: f}
          - name: template-syntax
            match: {}
            resolve: {fingerprint: "{{ x"}
          - name: unknown-enum
            match: {}
            alert: {type: system, severity: fatal, title: t, fingerprint: f}
          - name: undefined-source
            source: mail
            match: {}
            resolve: {fingerprint: f}
          - name: missing-variable
            match: {event: "${EVENT_NAME}"}
            resolve: {fingerprint: f}
          - name: bad-duration
            match: {}
            notify: {type: system_info, title: t, message: m, dedup: {key: k, window: 10x}}
          - name: unknown-field
            match: {}
            resolve: {fingerprint: f}
        """,
        [
            'rules.yaml:7:31: unknown field "colour" in resolve; allowed fields: fingerprint, '
            "notes",
            f'rules.yaml:9:17: unknown operator "between"; known operators: {OPERATORS}',
            'rules.yaml:12:28: invalid regular expression "(a": missing ): (a',
            f'rules.yaml:16:28: template error in fingerprint "{{{{ x": {UNCLOSED}',
            'rules.yaml:19:37: unknown severity "fatal"; expected one of: info, warning, error, '
            "critical",
            'rules.yaml:21:13: unknown source "mail"; defined sources: logs, shop',
            'rules.yaml:25:20: environment variable EVENT_NAME is not set (in "${EVENT_NAME}"); '
            "set it or write ${EVENT_NAME:-default}",
            f'rules.yaml:29:79: invalid duration "10x": {DURATION}',
            'rules.yaml:30:11: duplicate rule name "unknown-field" (first defined at line 5)',
        ],
    ),
    (
        "every rule with a schema error and a compile error",
        """\
        version: 1
        rules:
          - name: a
            source: [logs, mail]
            match: {}
            resolve: {fingerprint: f}
            stop: 1
          - name: b
            match: {n: {gt: []}}
            notify: {type: system_info, title: t, message: m, priority: urgent}
          - name: c
            match: {}
            notify: {type: system_info, title: t, message: "{% if %}", dedup: {key: k, window: 0}}
          - name: ""
            match: {any: []}
            resolve: {fingerprint: f}
        """,
        [
            'rules.yaml:4:20: unknown source "mail"; defined sources: logs',
            "rules.yaml:7:11: stop must be true or false, got 1",
            "rules.yaml:9:21: gt needs a number or a string, got []",
            'rules.yaml:10:65: unknown priority "urgent"; expected one of: low, normal, high, '
            "critical",
            'rules.yaml:13:52: template error in message "{% if %}": Expected an expression, '
            "got 'end of statement block'",
            "rules.yaml:13:88: invalid duration 0: a duration must be positive",
            "rules.yaml:14:11: name must not be empty",
            "rules.yaml:15:18: any needs a non-empty list of matches, got []",
        ],
    ),
    (
        "the valid templates of a broken notify",
        """\
        version: 1
        rules:
          - name: a
            match: {}
            notify:
              type: nope
              title: "{{ a"
              message: "{{ b"
              action_url: "{{ c }"
              metadata: {ok: "{{ d }}", bad: "{{ e", list: [1]}
              dedup: {key: "{{ f", window: 0}
        """,
        [
            f'rules.yaml:6:13: unknown notification type "nope"; expected one of: {NOTIFY_TYPES}',
            f'rules.yaml:7:14: template error in title "{{{{ a": {UNCLOSED}',
            f'rules.yaml:8:16: template error in message "{{{{ b": {UNCLOSED}',
            "rules.yaml:9:19: template error in action_url \"{{ c }\": unexpected '}'",
            f'rules.yaml:10:38: template error in metadata bad "{{{{ e": {UNCLOSED}',
            "rules.yaml:10:52: a metadata value must be a template string, a number, true/false "
            "or null, got [1]",
            f'rules.yaml:11:20: template error in key "{{{{ f": {UNCLOSED}',
            "rules.yaml:11:36: invalid duration 0: a duration must be positive",
        ],
    ),
    (
        "the valid templates of a broken alert",
        """\
        version: 1
        rules:
          - name: a
            match: {}
            alert:
              type: system
              severity: fatal
              title: "{{ a"
              description: "{{ b"
              fingerprint: "{{ c"
              affected_stores: ["{{ d", 7]
              affected_systems: "{{ e"
              metadata: {x: "{{ f"}
        """,
        [
            'rules.yaml:7:17: unknown severity "fatal"; expected one of: info, warning, error, '
            "critical",
            f'rules.yaml:8:14: template error in title "{{{{ a": {UNCLOSED}',
            f'rules.yaml:9:20: template error in description "{{{{ b": {UNCLOSED}',
            f'rules.yaml:10:20: template error in fingerprint "{{{{ c": {UNCLOSED}',
            f'rules.yaml:11:25: template error in affected_stores "{{{{ d": {UNCLOSED}',
            "rules.yaml:11:33: affected_stores[1] must be a string, got 7",
            f'rules.yaml:12:25: template error in affected_systems "{{{{ e": {UNCLOSED}',
            f'rules.yaml:13:21: template error in metadata x "{{{{ f": {UNCLOSED}',
        ],
    ),
    (
        "the valid templates of a broken resolve, beside a broken one",
        """\
        version: 1
        rules:
          - name: a
            match: {}
            resolve: [{fingerprint: "{{ a", notes: "{{ b", extra: 1}, {fingerprint: ""}, 5]
        """,
        [
            f'rules.yaml:5:29: template error in fingerprint "{{{{ a": {UNCLOSED}',
            f'rules.yaml:5:44: template error in notes "{{{{ b": {UNCLOSED}',
            'rules.yaml:5:52: unknown field "extra" in resolve; allowed fields: fingerprint, notes',
            "rules.yaml:5:77: fingerprint must not be empty",
            "rules.yaml:5:82: resolve[2] must be a mapping, got 5",
        ],
    ),
    (
        "the sources and match of a broken rule",
        """\
        version: 1
        rules:
          - name: a
            source: [logs, shop, 5]
            match: {n: {bad: 1}, m: {in: 3}}
            notify: {type: nope, title: t, message: m}
        """,
        [
            'rules.yaml:4:20: unknown source "shop"; defined sources: logs',
            "rules.yaml:4:26: source[2] must be a string, got 5",
            f'rules.yaml:5:17: unknown operator "bad"; known operators: {OPERATORS}',
            "rules.yaml:5:34: in needs a list of values (strings, numbers, true/false or null), "
            "got 3",
            f'rules.yaml:6:20: unknown notification type "nope"; expected one of: {NOTIFY_TYPES}',
        ],
    ),
    (
        "a value that failed validation is not judged again",
        """\
        version: 1
        rules:
          - name: a
            match: 5
            notify: {type: nope, title: "", message: 404, action_url: {a: "{{"}}
        """,
        [
            "rules.yaml:4:12: match must be a mapping, got 5",
            f'rules.yaml:5:20: unknown notification type "nope"; expected one of: {NOTIFY_TYPES}',
            "rules.yaml:5:33: title must not be empty",
            "rules.yaml:5:46: message must be a string, got 404",
            'rules.yaml:5:63: action_url must be a string, got {"a": "{{"}',
        ],
    ),
    (
        "a broken rule without an action",
        """\
        version: 1
        rules:
          - {name: a, match: {}, stop: 1}
          - {name: b, match: {}, notify: [], stop: maybe}
          - {match: {}}
        """,
        [
            'rules.yaml:3:5: rule "a" has no action; give it notify, alert or resolve',
            "rules.yaml:3:32: stop must be true or false, got 1",
            'rules.yaml:4:5: rule "b" has no action; give it notify, alert or resolve',
            'rules.yaml:4:44: stop must be true or false, got "maybe"',
            'rules.yaml:5:5: missing required field "name" in rule',
            "rules.yaml:5:5: this rule has no action; give it notify, alert or resolve",
        ],
    ),
    (
        "a misspelt action is not also a missing one",
        """\
        version: 1
        rules:
          - {name: a, match: {}, notfy: {type: system_info, title: t, message: m}}
          - {name: b, match: {}, notify: 5}
        """,
        [
            'rules.yaml:3:26: unknown field "notfy" in rule; allowed fields: name, description, '
            "source, match, notify, alert, resolve, stop",
            "rules.yaml:4:34: notify must be a list, got 5",
        ],
    ),
    (
        "names: a broken rule counts, an invalid name is not also a duplicate",
        """\
        version: 1
        rules:
          - {name: a, match: {}, resolve: {fingerprint: f}}
          - {name: a, match: {n: {regex: "["}}, resolve: {fingerprint: f, x: 1}}
          - {name: "", match: {}, resolve: {fingerprint: f}}
          - {name: "", match: {}, resolve: {fingerprint: f}}
        tests:
          - {name: t, event: {}, expect: [{resolve: {rule: a}}]}
        """,
        [
            'rules.yaml:4:12: duplicate rule name "a" (first defined at line 3)',
            'rules.yaml:4:34: invalid regular expression "[": missing ]: [',
            'rules.yaml:4:67: unknown field "x" in resolve; allowed fields: fingerprint, notes',
            "rules.yaml:5:12: name must not be empty",
            "rules.yaml:6:12: name must not be empty",
        ],
    ),
    (
        "a value that could not be read is reported once",
        """\
        version: 1
        rules:
          - name: a
            match:
              n: !!binary aGk=
              event: ${EVENT}
            notify:
              type: "${TYPE}"
              title: "${TITLE}"
              message: "{{ x ${MESSAGE}"
              dedup: {key: k, window: "${WINDOW}"}
        """,
        [
            'rules.yaml:5:10: unsupported YAML tag "tag:yaml.org,2002:binary"',
            'rules.yaml:6:14: environment variable EVENT is not set (in "${EVENT}"); set it or '
            "write ${EVENT:-default}",
            'rules.yaml:8:13: environment variable TYPE is not set (in "${TYPE}"); set it or '
            "write ${TYPE:-default}",
            'rules.yaml:9:14: environment variable TITLE is not set (in "${TITLE}"); set it or '
            "write ${TITLE:-default}",
            'rules.yaml:10:16: environment variable MESSAGE is not set (in "{{ x ${MESSAGE}"); '
            "set it or write ${MESSAGE:-default}",
            'rules.yaml:11:31: environment variable WINDOW is not set (in "${WINDOW}"); set it or '
            "write ${WINDOW:-default}",
        ],
    ),
    (
        "an anchor used twice is reported once",
        """\
        version: 1
        x-notify: &notify {type: nope, title: "{{ x", message: m}
        rules:
          - {name: a, match: {}, notify: *notify}
          - {name: b, match: {}, notify: *notify}
        """,
        [
            f'rules.yaml:2:26: unknown notification type "nope"; expected one of: {NOTIFY_TYPES}',
            f'rules.yaml:2:39: template error in title "{{{{ x": {UNCLOSED}',
        ],
    ),
    (
        "sources: name, schema and compile errors together",
        """\
        version: 1
        sources:
          Bad_Name: {format: xml}
          monitor:
            format: alertmanager
            event_field: type
            signature: {scheme: standard-webhooks, secret: "${S}", header: "bad header"}
          shop:
            format: alertmanager
            event_field: type
            signature: {scheme: hmac, secret: "${S}", header: "bad header"}
        rules:
          - {name: a, source: [Bad_Name, monitor, shop], match: {}, resolve: {fingerprint: f}}
        """,
        [
            'rules.yaml:3:3: invalid source name "Bad_Name": use lowercase letters, digits, - '
            "and _ (at most 63, starting with a letter or digit)",
            'rules.yaml:3:22: unknown format "xml"; expected one of: json, alertmanager',
            "rules.yaml:6:18: event_field applies to json sources only: an alertmanager source "
            "names its events alertmanager.firing and alertmanager.resolved",
            'rules.yaml:7:68: invalid header name "bad header"',
            "rules.yaml:10:18: event_field applies to json sources only: an alertmanager source "
            "names its events alertmanager.firing and alertmanager.resolved",
            'rules.yaml:11:25: unknown signature scheme "hmac"; expected one of: hmac-sha256, '
            "standard-webhooks",
            'rules.yaml:11:55: invalid header name "bad header"',
        ],
    ),
    (
        "unreadable sources and rules are not blamed on every reference",
        """\
        version: 1
        sources: [shop]
        rules: {name: a}
        tests:
          - {name: t, source: shop, event: {}, expect: [{notify: {rule: a}}]}
        """,
        [
            'rules.yaml:2:10: sources must be a mapping, got ["shop"]',
            'rules.yaml:3:8: rules must be a list, got {"name": "a"}',
        ],
    ),
    (
        "rule tests: every problem of a broken or duplicate test",
        """\
        version: 1
        rules:
          - {name: r, match: {}, resolve: {fingerprint: f}}
        tests:
          - {name: t, event: {}, expect: [{resolve: {rule: r}}]}
          - {name: t, source: mail, event: {}, expect: [{resolve: {rule: nope}}]}
          - name: u
            source: mail
            event: 5
            expect:
              - {notify: {rule: nope, type: wrong}, alert: {rule: r}}
              - {notfy: {rule: r}}
              - {resolve: {rule: 5}}
              - {resolve: {rule: gone}}
        """,
        [
            'rules.yaml:6:12: duplicate test name "t" (first defined at line 5)',
            'rules.yaml:6:23: unknown source "mail" in rule test; defined sources: logs',
            'rules.yaml:6:66: unknown rule "nope" in expected outcome',
            'rules.yaml:8:13: unknown source "mail" in rule test; defined sources: logs',
            "rules.yaml:9:12: event must be a mapping, got 5",
            "rules.yaml:11:9: an expected outcome has exactly one of the keys notify, alert or "
            "resolve",
            'rules.yaml:11:25: unknown rule "nope" in expected outcome',
            f'rules.yaml:11:37: unknown notification type "wrong"; expected one of: {NOTIFY_TYPES}',
            'rules.yaml:12:10: unknown field "notfy" in expected outcome; allowed fields: notify, '
            "alert, resolve",
            "rules.yaml:13:26: rule must be a string, got 5",
            'rules.yaml:14:26: unknown rule "gone" in expected outcome',
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_every_error_is_reported_once(errors: Any, text: str, expected: list[str]) -> None:
    """All errors of the file, in file order, each once."""
    assert errors(text) == expected


# --- a broken action compiles its templates exactly as a valid one would -----------------------

BAD = '"{{ x"'
ACTIONS: dict[str, tuple[type[Strict], dict[str, str]]] = {
    "notify": (NotifyConfig, {"type": "system_info", "title": "t", "message": "m"}),
    "alert": (
        AlertConfig,
        {"type": "system", "severity": "info", "title": "t", "fingerprint": "f"},
    ),
    "resolve": (ResolveConfig, {"fingerprint": "f"}),
}
TEMPLATE_FIELDS = {
    "notify": {
        "title": BAD,
        "message": BAD,
        "action_url": BAD,
        "dedup": f"{{key: {BAD}, window: 1h}}",
        "metadata": f"{{k: {BAD}}}",
    },
    "alert": {
        "title": BAD,
        "description": BAD,
        "fingerprint": BAD,
        "affected_stores": f"[ok, {BAD}]",
        "affected_systems": BAD,
        "metadata": f"{{k: {BAD}}}",
    },
    "resolve": {"fingerprint": BAD, "notes": BAD},
}
OTHER_FIELDS = {
    "notify": {"type", "priority", "action_required"},
    "alert": {"type", "severity"},
    "resolve": set(),
}
TEMPLATE_CASES = [
    (kind, field, value)
    for kind, fields in TEMPLATE_FIELDS.items()
    for field, value in fields.items()
]


def test_every_action_field_is_covered() -> None:
    """The cases below name every field of every action (a new field must be added to them)."""
    for kind, (model, _) in ACTIONS.items():
        assert set(model.model_fields) == set(TEMPLATE_FIELDS[kind]) | OTHER_FIELDS[kind]


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    TEMPLATE_CASES,
    ids=[f"{kind}.{field}" for kind, field, _ in TEMPLATE_CASES],
)
def test_a_broken_action_compiles_each_template_field(
    errors: Any, kind: str, field: str, value: str
) -> None:
    """A bad template is reported the same whether or not another field of its action is bad."""
    fields = {**ACTIONS[kind][1], field: value}
    action = ", ".join(f"{name}: {written}" for name, written in fields.items())
    head = "version: 1\nrules:\n  - name: r\n    match: {}\n"
    valid = f"{head}    {kind}: {{{action}}}\n"
    broken = f"{head}    {kind}: {{{action}, bogus: 1}}\n"
    (expected,) = errors(valid)
    assert "template error in" in expected
    (unknown, *others) = sorted(errors(broken), key=lambda issue: "bogus" not in issue)
    assert 'unknown field "bogus"' in unknown
    assert others == [expected]


# --- a valid file loads as before ----------------------------------------------------------------

BUNDLED = Path(__file__).resolve().parents[2] / "rules.yaml"


def test_the_bundled_file_loads_whole_and_its_tests_pass() -> None:
    """Every rule and rule test of the bundled file is compiled, and every test passes."""
    ruleset = load_ruleset(BUNDLED, environ={})
    written = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    assert [rule.name for rule in ruleset.rules] == [rule["name"] for rule in written["rules"]]
    assert [test.name for test in ruleset.tests] == [test["name"] for test in written["tests"]]
    assert [str(failure) for failure in run_rule_tests(ruleset)] == []
    assert [issue.severity for issue in ruleset.warnings] == ["warning", "warning"]


def test_a_valid_file_loads_every_part(load: Any) -> None:
    """A file without errors compiles every rule, source and test, and warns about nothing."""
    ruleset: RuleSet = load(
        """\
        version: 1
        sources:
          shop: {event_field: type, signature: {scheme: hmac-sha256, secret: "${S}"}}
        rules:
          - name: a
            source: shop
            match: {event: order.created, total: {gte: 100}}
            notify: {type: store_issue, title: "Order {{ id }}", message: m}
          - name: b
            match: {any: [{n: 1}, {m: {regex: "^x"}}]}
            alert: {type: system, severity: info, title: t, fingerprint: "f:{{ n }}"}
            resolve: {fingerprint: "g"}
        tests:
          - name: big order
            source: shop
            event: {event: order.created, total: 150, id: 7}
            expect: [{notify: {rule: a, title: Order 7}}]
        """,
        {"S": "secret"},
    )
    assert [rule.name for rule in ruleset.rules] == ["a", "b"]
    assert list(ruleset.sources) == ["shop"]
    assert [test.name for test in ruleset.tests] == ["big order"]
    assert ruleset.warnings == []
    assert run_rule_tests(ruleset) == []
    assert [type(draft).__name__ for draft in ruleset.evaluate({"n": 1}).drafts] == [
        "AlertDraft",
        "ResolveDraft",
    ]


# --- which values of a failed part may still be checked -------------------------------------------


@pytest.mark.parametrize(
    ("failed", "path", "intact", "clean"),
    [
        ((), ("match",), True, True),
        ((("notify", 0, "type"),), ("notify", 0, "title"), True, True),
        ((("notify", 0, "type"),), ("notify", 0), True, False),
        ((("notify", 0, "type"),), ("notify", 0, "type"), False, False),
        ((("notify",),), ("notify", 0, "title"), False, False),
        ((("notify", 0, "dedup", "window"),), ("notify", 0, "dedup", "key"), True, True),
    ],
)
def test_failures(failed: tuple[Loc, ...], path: Loc, intact: bool, clean: bool) -> None:
    """A value is intact when nothing above it failed, and clean when nothing below did either."""
    failures = Failures(failed)
    assert (failures.intact(path), failures.clean(path)) == (intact, clean)
