"""Rules indexed by a literal field other than `event`: same outcomes, fewer rules consulted."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from rules.actions import DeferredAlertDraft
from rules.engine import RuleSet
from rules.outcomes import Draft
from tests.rules.events import Recording, random_event

ORDER = """\
version: 1
rules:
  - {name: by-event, match: {event: x}, resolve: {fingerprint: "1"}}
  - {name: by-level, match: {level: error}, resolve: {fingerprint: "2"}}
  - {name: always, match: {n: {gte: 1}}, resolve: {fingerprint: "3"}}
  - {name: by-event-again, match: {event: {in: [x, y]}}, resolve: {fingerprint: "4"}}
  - {name: by-logger, match: {logger: {eq: app}, n: {gte: 1}}, resolve: {fingerprint: "5"}}
  - {name: by-level-again, match: {level: {in: [error, warning]}}, resolve: {fingerprint: "6"}}
"""


def brute_force(ruleset: RuleSet, event: Mapping[str, Any]) -> list[str]:
    """The rules whose whole match holds, in file order: what evaluation means without `stop`."""
    return [rule.name for rule in ruleset.rules if rule.match.test(event)]


def collected(ruleset: RuleSet, event: Mapping[str, Any]) -> list[str]:
    drafts: list[Draft | DeferredAlertDraft] = []
    matched: list[str] = []
    ruleset.collect(event, "logs", drafts, matched)
    return matched


class TestFileOrder:
    def test_rules_from_every_index_fire_in_file_order(self, load: Any) -> None:
        """A line found by its event name, by two fields and by nothing sees all in file order."""
        ruleset = load(ORDER)
        event = {"event": "x", "level": "error", "logger": "app", "n": 1}
        expected = [
            "by-event",
            "by-level",
            "always",
            "by-event-again",
            "by-logger",
            "by-level-again",
        ]
        assert ruleset.evaluate(event).matched_rules == expected
        assert collected(ruleset, event) == expected

    @pytest.mark.parametrize(
        "event",
        [
            {"event": "x", "level": "warning", "n": 1},
            {"event": "y", "level": "error"},
            {"event": "z", "level": "error", "logger": "app", "n": 2},
            {"level": "warning", "logger": "app", "n": 1},
            {"event": 1, "level": "error"},
            {"logger": "other", "n": 1},
            {},
        ],
    )
    def test_same_rules_as_trying_every_rule(self, load: Any, event: dict[str, Any]) -> None:
        ruleset = load(ORDER)
        assert ruleset.evaluate(event).matched_rules == brute_force(ruleset, event)
        assert collected(ruleset, event) == brute_force(ruleset, event)

    def test_stop_ends_evaluation_in_file_order(self, load: Any) -> None:
        """`stop: true` on a field-indexed rule ends evaluation after the rules before it."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: always, match: {n: {gte: 1}}, resolve: {fingerprint: "1"}}
              - {name: stopper, match: {level: error}, stop: true, resolve: {fingerprint: "2"}}
              - {name: by-event, match: {event: x}, resolve: {fingerprint: "3"}}
              - {name: by-logger, match: {logger: app}, resolve: {fingerprint: "4"}}
            """
        )
        stopped = {"event": "x", "level": "error", "logger": "app", "n": 1}
        assert ruleset.evaluate(stopped).matched_rules == ["always", "stopper"]
        assert collected(ruleset, stopped) == ["always", "stopper"]
        running = {"event": "x", "level": "info", "logger": "app", "n": 1}
        assert ruleset.evaluate(running).matched_rules == ["always", "by-event", "by-logger"]
        assert collected(ruleset, running) == ["always", "by-event", "by-logger"]

    def test_stop_on_an_earlier_event_rule_spares_a_field_indexed_rule(self, load: Any) -> None:
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: first, match: {event: x}, stop: true, resolve: {fingerprint: "1"}}
              - {name: later, match: {level: error}, resolve: {fingerprint: "2"}}
            """
        )
        assert ruleset.evaluate({"event": "x", "level": "error"}).matched_rules == ["first"]
        assert ruleset.evaluate({"event": "y", "level": "error"}).matched_rules == ["later"]


class TestConsulted:
    RULES = """\
        version: 1
        rules:
          - name: errors
            match: {probe: {exists: true}, level: error}
            resolve: {fingerprint: f}
        """

    @pytest.mark.parametrize("level", ["info", "warning", "debug", "ERROR", 1])
    def test_a_level_rule_is_not_consulted_for_other_levels(self, load: Any, level: Any) -> None:
        """The rule's first condition reads `probe`: it is never read unless the level fits."""
        ruleset = load(self.RULES)
        event = Recording({"event": "e", "level": level, "probe": 1})
        assert ruleset.evaluate(event).matched_rules == []
        assert collected(ruleset, event) == []
        assert "probe" not in event.read

    def test_a_level_rule_is_consulted_for_its_level(self, load: Any) -> None:
        ruleset = load(self.RULES)
        event = Recording({"event": "e", "level": "error", "probe": 1})
        assert ruleset.evaluate(event).matched_rules == ["errors"]
        assert "probe" in event.read
        assert ruleset.evaluate({"level": "error"}).matched_rules == []


class TestEqualityByType:
    RULES = """\
        version: 1
        rules:
          - {name: number, match: {status: 500}, resolve: {fingerprint: "1"}}
          - {name: string, match: {status: "500"}, resolve: {fingerprint: "2"}}
          - {name: mixed, match: {status: {in: [502, "503"]}}, resolve: {fingerprint: "3"}}
          - {name: float, match: {status: {eq: 504.0}}, resolve: {fingerprint: "4"}}
          - {name: "true", match: {flag: true}, resolve: {fingerprint: "5"}}
          - {name: one, match: {flag: 1}, resolve: {fingerprint: "6"}}
          - {name: "null", match: {flag: null}, resolve: {fingerprint: "7"}}
        """

    @pytest.mark.parametrize(
        ("event", "expected"),
        [
            ({"status": 500}, ["number"]),
            ({"status": 500.0}, ["number"]),
            ({"status": "500"}, ["string"]),
            ({"status": 502}, ["mixed"]),
            ({"status": 502.0}, ["mixed"]),
            ({"status": "502"}, []),
            ({"status": "503"}, ["mixed"]),
            ({"status": 503}, []),
            ({"status": 504}, ["float"]),
            ({"status": "504"}, []),
            ({"status": True}, []),
            ({"status": [500]}, []),
            ({"status": {"code": 500}}, []),
            ({"flag": True}, ["true"]),
            ({"flag": 1}, ["one"]),
            ({"flag": 1.0}, ["one"]),
            ({"flag": "1"}, []),
            ({"flag": None}, ["null"]),
            ({}, []),
        ],
    )
    def test_numbers_and_strings_are_not_equal(
        self, load: Any, event: dict[str, Any], expected: list[str]
    ) -> None:
        """`status: 500` matches 500 and 500.0, never "500" (and true is not 1)."""
        ruleset = load(self.RULES)
        assert ruleset.evaluate(event).matched_rules == expected
        assert collected(ruleset, event) == expected
        assert brute_force(ruleset, event) == expected


RANDOM_RULES = """\
version: 1
rules:
  - {name: a, match: {event: x, n: {gte: 2}}, resolve: {fingerprint: "1"}}
  - {name: b, match: {level: error, tags: {contains: page}}, resolve: {fingerprint: "2"}}
  - {name: c, match: {any: [{tags: {contains: page}}, {page: true}]}, resolve: {fingerprint: "3"}}
  - {name: d, match: {n: 2, level: {in: [error, warning]}}, resolve: {fingerprint: "4"}}
  - {name: e, match: {event: {prefix: x}, level: warning}, resolve: {fingerprint: "5"}}
  - {name: f, match: {not: {level: error}, tags: {contains: 1}}, resolve: {fingerprint: "6"}}
  - {name: g, match: {msg: {regex: "^no"}}, stop: true, resolve: {fingerprint: "7"}}
  - {name: h, match: {level: error}, resolve: {fingerprint: "8"}}
"""


def test_random_events_fire_what_trying_every_rule_fires(load: Any) -> None:
    """On random events, the indexes change nothing: every matching rule, in file order."""
    ruleset = load(RANDOM_RULES)
    rng = random.Random(3)
    values: list[Any] = ["x", "xy", "error", "warning", "page", 1, 2, 2.0, True, None, "no way"]
    for _ in range(3000):
        event = random_event(rng, values, 0.7)
        expected = brute_force(ruleset, event)
        if "g" in expected:
            expected = expected[: expected.index("g") + 1]
        assert ruleset.evaluate(event).matched_rules == expected, event
        assert collected(ruleset, event) == expected, event
