"""Conditions on a top-level field, compiled as one function, decide as the general form does.

A dotted path (`w.f`) always takes the general form (a getter, then the value test), so the
same condition on `f` and on `w.f` must agree on every value.
"""

from __future__ import annotations

from typing import Any

import pytest

from rules.engine import RuleSet

SPECS = [
    "a",
    "''",
    "5",
    "5.5",
    "0",
    "true",
    "false",
    "null",
    "{eq: a}",
    "{eq: 5}",
    "{eq: null}",
    "{eq: true}",
    "{gt: 5}",
    "{gte: 5}",
    "{lt: 5}",
    "{lte: 5.5}",
    "{gte: '2024-01-01'}",
    "{lt: b}",
    "{gt: -1}",
]
VALUES: list[Any] = [
    "a",
    "b",
    "",
    "2024-05-01T10:00:00Z",
    5,
    5.0,
    5.5,
    6,
    4,
    -1,
    0,
    0.0,
    True,
    False,
    None,
    float("nan"),
    float("inf"),
    2**70,
    ["a"],
    [5],
    {"a": 1},
]


def rules_for(spec: str) -> str:
    return f"""\
        version: 1
        rules:
          - {{name: top, match: {{f: {spec}}}, resolve: {{fingerprint: "1"}}}}
          - {{name: nested, match: {{w.f: {spec}}}, resolve: {{fingerprint: "2"}}}}
        """


@pytest.mark.parametrize("spec", SPECS)
def test_top_level_agrees_with_a_path(load: Any, spec: str) -> None:
    """For every value, and for a missing field, both forms give the same answer."""
    ruleset: RuleSet = load(rules_for(spec))
    top, nested = (rule.match.test for rule in ruleset.rules)
    for value in VALUES:
        assert top({"f": value}) is nested({"w": {"f": value}}), value
    assert top({}) is nested({"w": {}}) is False


def test_the_values_decide_as_documented(load: Any) -> None:
    """A few answers spelled out, so that both forms agreeing on a wrong one is caught."""
    ruleset: RuleSet = load(rules_for("{gte: 5}"))
    top = ruleset.rules[0].match.test
    assert [top({"f": v}) for v in (5, 5.0, 4.99, "5", True, None)] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    equal = load(rules_for("5")).rules[0].match.test
    assert [equal({"f": v}) for v in (5, 5.0, "5", True)] == [True, True, False, False]
    flag = load(rules_for("true")).rules[0].match.test
    assert [flag({"f": v}) for v in (True, 1, "true")] == [True, False, False]
