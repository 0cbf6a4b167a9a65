"""Matchers: operators on good and hostile inputs, paths, combinators, and their load errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rules.loader import load_ruleset_text

MISSING: dict[str, Any] = {}

GOOD = [
    # plain values mean equality, by JSON type
    ("{event: a}", {"event": "a"}, True),
    ("{event: a}", {"event": "b"}, False),
    ("{event: a}", MISSING, False),
    ("{n: 5}", {"n": 5}, True),
    ("{n: 5}", {"n": 5.0}, True),
    ("{n: 5}", {"n": "5"}, False),
    ("{n: 1}", {"n": True}, False),
    ("{flag: true}", {"flag": True}, True),
    ("{flag: true}", {"flag": 1}, False),
    ("{x: null}", {"x": None}, True),
    ("{x: null}", MISSING, False),
    ("{n: {eq: 5}}", {"n": 5}, True),
    ("{n: {ne: 5}}", {"n": 6}, True),
    ("{n: {ne: 5}}", {"n": 5}, False),
    ("{n: {ne: 5}}", {"n": "5"}, True),
    ("{n: {ne: 5}}", MISSING, True),
    # membership
    ("{s: {in: [a, b]}}", {"s": "a"}, True),
    ("{s: {in: [a, b]}}", {"s": "c"}, False),
    ("{s: {in: [a, b]}}", MISSING, False),
    ("{v: {in: [1, a, null]}}", {"v": 1.0}, True),
    ("{v: {in: [1, a, null]}}", {"v": None}, True),
    ("{v: {in: [1, a, null]}}", {"v": True}, False),
    ("{v: {in: [true]}}", {"v": 1}, False),
    ("{s: {not_in: [a, b]}}", {"s": "c"}, True),
    ("{s: {not_in: [a, b]}}", {"s": "a"}, False),
    ("{s: {not_in: [a, b]}}", MISSING, True),
    # ordering: numbers with numbers, strings with strings
    ("{n: {gt: 5}}", {"n": 6}, True),
    ("{n: {gt: 5}}", {"n": 5}, False),
    ("{n: {gte: 5}}", {"n": 5}, True),
    ("{n: {gte: 5}}", {"n": 4.99}, False),
    ("{n: {lt: 5}}", {"n": -1}, True),
    ("{n: {lte: 5}}", {"n": 5.0}, True),
    ("{n: {lte: 5}}", {"n": 6}, False),
    ("{n: {gte: 1.5}}", {"n": 2}, True),
    ("{at: {gte: '2024-01-01'}}", {"at": "2024-05-01T10:00:00Z"}, True),
    ("{at: {lt: '2024-01-01'}}", {"at": "2024-05-01T10:00:00Z"}, False),
    ("{n: {gt: 1, lt: 10}}", {"n": 5}, True),
    ("{n: {gt: 1, lt: 10}}", {"n": 10}, False),
    # presence
    ("{x: {exists: true}}", {"x": None}, True),
    ("{x: {exists: true}}", MISSING, False),
    ("{x: {exists: false}}", MISSING, True),
    ("{x: {exists: false}}", {"x": 0}, False),
    # strings
    ("{s: {prefix: 'order.'}}", {"s": "order.created"}, True),
    ("{s: {prefix: 'order.'}}", {"s": "product.created"}, False),
    ("{s: {suffix: '.failed'}}", {"s": "order_sync.failed"}, True),
    ("{s: {contains: sync}}", {"s": "order_sync.failed"}, True),
    ("{s: {contains: sync}}", {"s": "order.failed"}, False),
    ("{tags: {contains: vip}}", {"tags": ["new", "vip"]}, True),
    ("{tags: {contains: 1}}", {"tags": [True, 2]}, False),
    ("{tags: {contains: 1}}", {"tags": [1.0]}, True),
    ("{s: {regex: '^order\\.(created|paid)$'}}", {"s": "order.paid"}, True),
    ("{s: {regex: '^order\\.(created|paid)$'}}", {"s": "order.paid.late"}, False),
    ("{s: {regex: 'paid'}}", {"s": "order.paid.late"}, True),
    ("{s: {regex: '(?i)PAID'}}", {"s": "order.paid"}, True),
    # paths
    ("{payload.order.id: 7}", {"payload": {"order": {"id": 7}}}, True),
    ("{payload.order.id: 7}", {"payload": {"order": {}}}, False),
    ("{payload.order.id: {exists: false}}", {"payload": None}, True),
    ("{items.1.sku: b}", {"items": [{"sku": "a"}, {"sku": "b"}]}, True),
    ("{items.5.sku: b}", {"items": [{"sku": "a"}]}, False),
    ("{labels.0: x}", {"labels": {"0": "x"}}, True),
    # combinators
    ("{any: [{s: a}, {s: b}]}", {"s": "b"}, True),
    ("{any: [{s: a}, {s: b}]}", {"s": "c"}, False),
    ("{all: [{n: {gt: 1}}, {n: {lt: 3}}]}", {"n": 2}, True),
    ("{all: [{n: {gt: 1}}, {n: {lt: 3}}]}", {"n": 3}, False),
    ("{not: {s: a}}", {"s": "b"}, True),
    ("{not: {s: a}}", {"s": "a"}, False),
    ("{event: x, not: {any: [{a: 1}, {b: 1}]}}", {"event": "x", "b": 1}, False),
    ("{event: x, not: {any: [{a: 1}, {b: 1}]}}", {"event": "x"}, True),
    ("{}", {"anything": 1}, True),
]

HOSTILE = [
    # a comparison that makes no sense is false, never an exception
    ("{n: {gte: 5}}", {"n": "abc"}),
    ("{n: {gte: 5}}", {"n": None}),
    ("{n: {gte: 5}}", {"n": True}),
    ("{n: {gte: 5}}", {"n": [10]}),
    ("{n: {gte: 5}}", {"n": {"v": 10}}),
    ("{n: {gte: 5}}", {"n": float("nan")}),
    ("{s: {gte: a}}", {"s": 10}),
    ("{s: {prefix: a}}", {"s": 10}),
    ("{s: {suffix: a}}", {"s": ["a"]}),
    ("{s: {contains: a}}", {"s": {"a": 1}}),
    ("{s: {contains: 1}}", {"s": "1"}),
    ("{s: {regex: a}}", {"s": None}),
    ("{s: {regex: a}}", {"s": b"a"}),
    ("{s: {in: [a]}}", {"s": ["a"]}),
    ("{s: {in: [1, 2]}}", {"s": {"x": 1}}),
    ("{a.b.c: 1}", {"a": "not a mapping"}),
    ("{a.b.c: 1}", {"a": [1, 2, 3]}),
    ("{a.0: 1}", {"a": "1"}),
    ("{event: x}", {"event": ["x"]}),
    ("{event: x}", {"event": {"x": 1}}),
]


class TestOperators:
    @pytest.mark.parametrize(("match", "event", "expected"), GOOD)
    def test_good_inputs(self, matches: Any, match: str, event: Any, expected: bool) -> None:
        """Each operator decides as documented."""
        assert matches(match, event) is expected

    @pytest.mark.parametrize(("match", "event"), HOSTILE)
    def test_hostile_inputs_do_not_match(self, matches: Any, match: str, event: Any) -> None:
        """Mismatched types, odd values and broken paths simply do not match."""
        assert matches(match, event) is False

    def test_regex_runs_in_linear_time(self, load: Any) -> None:
        """A catastrophic-backtracking pattern on 100k characters finishes at once under RE2."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {s: {regex: '(a+)+$'}}
                resolve: {fingerprint: f}
            """
        )
        hostile = {"s": "a" * 100_000 + "!"}
        started = time.perf_counter()
        assert ruleset.evaluate(hostile).matched_rules == []
        assert time.perf_counter() - started < 1.0

    def test_huge_nested_event_is_harmless(self, matches: Any) -> None:
        """A deep event does not trouble a path that stops early."""
        deep: dict[str, Any] = {}
        for _ in range(5000):
            deep = {"a": deep}
        assert matches("{a.a.a: {exists: true}}", deep) is True
        assert matches("{a.b: 1}", deep) is False


class TestIndexing:
    def test_rules_indexed_by_event_keep_file_order(self, load: Any) -> None:
        """Rules indexed by event name and rules without one fire together in file order."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: one, match: {event: a}, resolve: {fingerprint: "1"}}
              - {name: two, match: {n: 1}, resolve: {fingerprint: "2"}}
              - {name: three, match: {event: {in: [a, b]}}, resolve: {fingerprint: "3"}}
              - {name: four, match: {event: b}, resolve: {fingerprint: "4"}}
              - {name: five, match: {event: {prefix: a}}, resolve: {fingerprint: "5"}}
            """
        )
        assert ruleset.evaluate({"event": "a", "n": 1}).matched_rules == [
            "one",
            "two",
            "three",
            "five",
        ]
        assert ruleset.evaluate({"event": "b"}).matched_rules == ["three", "four"]
        assert ruleset.evaluate({"event": "zzz", "n": 1}).matched_rules == ["two"]
        assert ruleset.evaluate({"n": 1}).matched_rules == ["two"]

    def test_indexed_rule_still_checks_its_other_conditions(self, load: Any) -> None:
        """The index only settles the event name; the rest of the match still decides."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: r, match: {event: a, n: {gte: 5}}, resolve: {fingerprint: f}}
            """
        )
        assert ruleset.evaluate({"event": "a", "n": 4}).matched_rules == []
        assert ruleset.evaluate({"event": "a", "n": 5}).matched_rules == ["r"]

    def test_non_string_event_values_are_not_looked_up(self, load: Any) -> None:
        """An event name that is a number or a list is offered only to unindexed rules."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: named, match: {event: "1"}, resolve: {fingerprint: f}}
              - {name: any, match: {}, resolve: {fingerprint: f}}
            """
        )
        assert ruleset.evaluate({"event": 1}).matched_rules == ["any"]
        assert ruleset.evaluate({"event": ["1"]}).matched_rules == ["any"]


RULE = """\
version: 1
rules:
  - name: r
    match: {match}
    resolve: {{fingerprint: f}}
"""

ERRORS = [
    (
        "{n: {greater: 5}}",
        'rules.yaml:4:17: unknown operator "greater"; known operators: eq, ne, in, not_in, '
        "gt, gte, lt, lte, exists, prefix, suffix, contains, regex",
    ),
    (
        "{n: [1, 2]}",
        "rules.yaml:4:16: a list cannot be matched by equality ([1, 2]); use {in: [...]} to match "
        "one of several values",
    ),
    (
        "{n: {}}",
        "rules.yaml:4:16: an operator mapping needs at least one of: eq, ne, in, "
        "not_in, gt, gte, lt, lte, exists, prefix, suffix, contains, regex",
    ),
    (
        "{n: {eq: [1]}}",
        "rules.yaml:4:21: eq needs a single value (a string, number, true/false or null), got [1]",
    ),
    (
        "{n: {in: a}}",
        "rules.yaml:4:21: in needs a list of values (strings, numbers, true/false or null), "
        'got "a"',
    ),
    (
        "{n: {not_in: [[1]]}}",
        "rules.yaml:4:25: not_in needs a list of values (strings, numbers, true/false or null), "
        "got [[1]]",
    ),
    ("{n: {gte: true}}", "rules.yaml:4:22: gte needs a number or a string, got true"),
    ("{n: {lt: null}}", "rules.yaml:4:21: lt needs a number or a string, got null"),
    ("{n: {exists: yes please}}", 'rules.yaml:4:25: exists needs true or false, got "yes please"'),
    ("{n: {prefix: 5}}", "rules.yaml:4:25: prefix needs a string, got 5"),
    (
        "{n: {contains: null}}",
        "rules.yaml:4:27: contains needs a string, number or true/false, got null",
    ),
    ("{n: {regex: 5}}", "rules.yaml:4:24: regex needs a string, got 5"),
    (
        "{n: {regex: '(a'}}",
        'rules.yaml:4:24: invalid regular expression "(a": missing ): (a',
    ),
    (
        "{n: {regex: '(a)\\1'}}",
        'rules.yaml:4:24: invalid regular expression "(a)\\\\1": invalid escape sequence: \\1',
    ),
    (
        "{n: {regex: '(?<=a)b'}}",
        'rules.yaml:4:24: invalid regular expression "(?<=a)b": invalid perl operator: (?<=',
    ),
    ("{any: a}", 'rules.yaml:4:18: any needs a non-empty list of matches, got "a"'),
    ("{all: []}", "rules.yaml:4:18: all needs a non-empty list of matches, got []"),
    ("{not: [a]}", 'rules.yaml:4:18: a match must be a mapping of conditions, got ["a"]'),
    ("{any: [5]}", "rules.yaml:4:19: a match must be a mapping of conditions, got 5"),
    ("{a..b: 1}", 'rules.yaml:4:13: invalid field path "a..b": empty part'),
    ("{.a: 1}", 'rules.yaml:4:13: invalid field path ".a": empty part'),
    ("7", "rules.yaml:4:12: match must be a mapping, got 7"),
]


class TestMatchErrors:
    @pytest.mark.parametrize(("match", "message"), ERRORS)
    def test_error(self, errors: Any, match: str, message: str) -> None:
        """A bad match is reported at its position, quoting the offending value."""
        assert errors(RULE.format(match=match)) == [message]

    def test_every_bad_operator_is_reported(self, errors: Any) -> None:
        """Several problems in one match are all reported, in file order."""
        assert errors(
            """\
            version: 1
            rules:
              - name: r
                match:
                  a: {gt: []}
                  b: {nope: 1}
                  c: {regex: "["}
                resolve: {fingerprint: f}
            """
        ) == [
            "rules.yaml:5:15: gt needs a number or a string, got []",
            'rules.yaml:6:11: unknown operator "nope"; known operators: eq, ne, in, not_in, gt, '
            "gte, lt, lte, exists, prefix, suffix, contains, regex",
            'rules.yaml:7:18: invalid regular expression "[": missing ]: [',
        ]

    def test_regex_errors_say_nothing_on_stderr(self, capfd: Any) -> None:
        """A rejected pattern is a load error only; RE2 does not also log it."""
        text = RULE.format(match="{n: {regex: '(a'}}")
        with pytest.raises(Exception, match="invalid regular expression"):
            load_ruleset_text(text, "rules.yaml", {})
        assert capfd.readouterr().err == ""
