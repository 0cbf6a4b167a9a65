"""Rules indexed by the fields they need: offered only events holding one, same outcomes."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from rules import engine
from rules.actions import DeferredAlertDraft
from rules.engine import RuleSet
from rules.outcomes import Draft
from tests.rules.events import Recording, random_event


def brute_force(ruleset: RuleSet, event: Mapping[str, Any]) -> list[str]:
    """The rules whose whole match holds, in file order, cut after the first `stop` rule."""
    fired: list[str] = []
    for rule in ruleset.rules:
        if rule.match.test(event):
            fired.append(rule.name)
            if rule.stop:
                break
    return fired


def collected(ruleset: RuleSet, event: Mapping[str, Any]) -> list[str]:
    drafts: list[Draft | DeferredAlertDraft] = []
    matched: list[str] = []
    ruleset.collect(event, "logs", drafts, matched)
    return matched


def one_rule(match: str) -> str:
    return f"""\
        version: 1
        rules:
          - name: r
            match: {match}
            resolve: {{fingerprint: f}}
        """


class TestFieldsNeeded:
    @pytest.mark.parametrize(
        ("match", "fields"),
        [
            ("{error_message: {regex: 'No space'}}", {"error_message"}),
            ("{a: {exists: true}}", {"a"}),
            ("{a: null}", {"a"}),
            ("{a: true}", {"a"}),
            ("{a: {gte: 1, ne: 3}}", {"a"}),
            ("{payload.order.id: {exists: true}}", {"payload"}),
            ("{any: [{tags: {contains: page}}, {page: true}]}", {"tags", "page"}),
            ("{all: [{a: {ne: 1}}, {b: {gt: 1}}]}", {"b"}),
            ("{a: {ne: 1}, b: {gte: 1}, c: {prefix: x}}", {"b"}),
            ("{a: {ne: 1}, any: [{b: 1}, {c: 1}]}", {"b", "c"}),
            ("{any: [{b: 1}, {c: 1}], d: {lt: 2}}", {"d"}),
            ("{any: [{a: 1}, {all: [{b: 1}, {c: {ne: 1}}]}]}", {"a", "b"}),
            ("{any: [{a: 1}, {any: [{b: 1}, {c: 1}]}]}", {"a", "b", "c"}),
            ("{not: {a: {ne: 1}}, b: {suffix: x}}", {"b"}),
        ],
    )
    def test_fields_a_match_needs(self, load: Any, match: str, fields: set[str]) -> None:
        """The match cannot hold for an event holding none of these fields."""
        ruleset = load(one_rule(match))
        assert ruleset.rules[0].match.presence_fields == frozenset(fields)

    @pytest.mark.parametrize(
        "match",
        [
            "{a: {ne: 1}}",
            "{a: {not_in: [1, 2]}}",
            "{a: {exists: false}}",
            "{not: {a: 1}}",
            "{not: {not: {a: 1}}}",
            "{any: [{tags: {contains: page}}, {page: {ne: true}}]}",
            "{any: [{a: 1}, {not: {b: 1}}]}",
            "{all: [{a: {ne: 1}}, {b: {exists: false}}]}",
            "{}",
        ],
    )
    def test_matches_that_hold_without_any_field(self, load: Any, match: str) -> None:
        """`not`, `ne`, `not_in`, `exists: false` and an `any` with such a branch need none."""
        ruleset = load(one_rule(match))
        assert ruleset.rules[0].match.presence_fields is None
        expected = ["r"] if ruleset.rules[0].match.test({"event": "e"}) else []
        assert collected(ruleset, {"event": "e"}) == expected

    def test_literal_indexes_come_first(self, load: Any) -> None:
        """A rule found by its event name or a field's value is not indexed by presence."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: e, match: {event: x, a: {gte: 1}}, resolve: {fingerprint: "1"}}
              - {name: k, match: {level: error, a: {gte: 1}}, resolve: {fingerprint: "2"}}
            """
        )
        assert [rule.match.presence_fields for rule in ruleset.rules] == [None, None]


class TestOffered:
    RULES = """\
        version: 1
        rules:
          - name: disk-full
            match: {error_message: {regex: No space}, probe: {exists: true}}
            resolve: {fingerprint: f}
        """

    def test_not_offered_without_the_field(self, load: Any) -> None:
        """The rule's second condition reads `probe`: never read when `error_message` is absent."""
        ruleset = load(self.RULES)
        event = Recording({"event": "e", "probe": 1, "message": "No space left"})
        assert ruleset.evaluate(event).matched_rules == []
        assert collected(ruleset, event) == []
        assert "probe" not in event.read

    def test_offered_with_the_field(self, load: Any) -> None:
        ruleset = load(self.RULES)
        event = Recording({"event": "e", "probe": 1, "error_message": "No space left"})
        assert ruleset.evaluate(event).matched_rules == ["disk-full"]
        assert collected(ruleset, event) == ["disk-full"]
        assert "probe" in event.read

    def test_offered_with_a_null_field(self, load: Any) -> None:
        """Present means present: a field holding null is offered, and `field: null` holds."""
        ruleset = load(one_rule("{flag: null}"))
        assert ruleset.rules[0].match.presence_fields == frozenset(("flag",))
        assert collected(ruleset, {"flag": None}) == ["r"]
        assert ruleset.evaluate({"flag": None}).matched_rules == ["r"]
        assert collected(ruleset, {"other": None}) == []

    def test_an_any_rule_fires_once_when_it_holds_both_fields(self, load: Any) -> None:
        ruleset = load(one_rule("{any: [{tags: {contains: page}}, {page: true}]}"))
        both = {"tags": ["page"], "page": True}
        assert ruleset.evaluate(both).matched_rules == ["r"]
        assert collected(ruleset, both) == ["r"]
        assert collected(ruleset, {"page": True}) == ["r"]
        assert collected(ruleset, {"tags": ["page"]}) == ["r"]
        assert collected(ruleset, {"tags": ["other"], "page": False}) == []


ORDER = """\
version: 1
rules:
  - {name: needs-a, match: {a: {gte: 1}}, resolve: {fingerprint: "1"}}
  - {name: by-event, match: {event: x}, resolve: {fingerprint: "2"}}
  - {name: needs-b-or-c, match: {any: [{b: 1}, {c: 1}]}, resolve: {fingerprint: "3"}}
  - {name: by-level, match: {level: error}, resolve: {fingerprint: "4"}}
  - {name: always, match: {d: {ne: 1}}, resolve: {fingerprint: "5"}}
  - {name: needs-c, match: {c: {exists: true}}, resolve: {fingerprint: "6"}}
  - {name: needs-a-again, match: {a: {lte: 5}}, resolve: {fingerprint: "7"}}
"""


class TestFileOrder:
    def test_every_index_merged_in_file_order(self, load: Any) -> None:
        """Rules found by name, value, presence and none at all fire in file order."""
        ruleset = load(ORDER)
        event = {"event": "x", "level": "error", "a": 1, "b": 1, "c": 1}
        expected = [
            "needs-a",
            "by-event",
            "needs-b-or-c",
            "by-level",
            "always",
            "needs-c",
            "needs-a-again",
        ]
        assert ruleset.evaluate(event).matched_rules == expected
        assert collected(ruleset, event) == expected
        assert brute_force(ruleset, event) == expected

    @pytest.mark.parametrize(
        "event",
        [
            {},
            {"event": "x"},
            {"a": 3},
            {"c": 1, "event": "y"},
            {"b": 1, "level": "error"},
            {"a": 9, "c": 2, "b": 2},
            {"a": 2, "d": 1, "event": "x", "level": "error"},
        ],
    )
    def test_same_rules_as_trying_every_rule(self, load: Any, event: dict[str, Any]) -> None:
        ruleset = load(ORDER)
        assert collected(ruleset, event) == brute_force(ruleset, event)
        assert ruleset.evaluate(event).matched_rules == brute_force(ruleset, event)

    def test_stop_on_a_presence_rule_ends_evaluation(self, load: Any) -> None:
        """A presence-indexed rule with `stop` spares every later rule, whatever its index."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: first, match: {event: x}, resolve: {fingerprint: "1"}}
              - {name: stopper, match: {a: {gte: 1}}, stop: true, resolve: {fingerprint: "2"}}
              - {name: by-event, match: {event: x}, resolve: {fingerprint: "3"}}
              - {name: generic, match: {b: {ne: 1}}, resolve: {fingerprint: "4"}}
              - {name: present, match: {a: {exists: true}}, resolve: {fingerprint: "5"}}
            """
        )
        assert collected(ruleset, {"event": "x", "a": 1}) == ["first", "stopper"]
        assert ruleset.evaluate({"event": "x", "a": 1}).matched_rules == ["first", "stopper"]
        assert collected(ruleset, {"event": "x", "a": 0}) == [
            "first",
            "by-event",
            "generic",
            "present",
        ]

    def test_stop_on_an_earlier_rule_spares_a_presence_rule(self, load: Any) -> None:
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: stopper, match: {event: x}, stop: true, resolve: {fingerprint: "1"}}
              - {name: present, match: {a: {exists: true}}, resolve: {fingerprint: "2"}}
            """
        )
        assert collected(ruleset, {"event": "x", "a": 1}) == ["stopper"]
        assert collected(ruleset, {"event": "y", "a": 1}) == ["present"]


RANDOM_RULES = """\
version: 1
rules:
  - {name: a, match: {event: x, n: {gte: 2}}, resolve: {fingerprint: "1"}}
  - {name: b, match: {msg: {regex: "^no"}}, resolve: {fingerprint: "2"}}
  - {name: c, match: {any: [{tags: {contains: page}}, {page: true}]}, resolve: {fingerprint: "3"}}
  - {name: d, match: {level: {in: [error, warning]}, n: 2}, resolve: {fingerprint: "4"}}
  - {name: e, match: {not: {level: error}, tags: {contains: 1}}, resolve: {fingerprint: "5"}}
  - {name: f, match: {page: {ne: true}, n: {exists: true}}, stop: true, resolve: {fingerprint: "6"}}
  - {name: g, match: {any: [{n: 1}, {not: {msg: x}}]}, resolve: {fingerprint: "7"}}
  - {name: h, match: {all: [{tags: {exists: true}}, {n: {lt: 2}}]}, resolve: {fingerprint: "8"}}
  - {name: i, match: {msg: {exists: false}, page: null}, resolve: {fingerprint: "9"}}
  - {name: j, match: {level: error}, resolve: {fingerprint: "10"}}
"""


@pytest.mark.parametrize("kept", [4096, 1, 0])
def test_random_events_fire_what_trying_every_rule_fires(
    load: Any, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    """On random events the indexes change nothing, however many merges are kept."""
    monkeypatch.setattr(engine, "_MERGES_KEPT", kept)
    ruleset = load(RANDOM_RULES)
    assert {rule.name for rule in ruleset.rules if rule.match.presence_fields} >= {
        "b",
        "c",
        "h",
        "i",
    }
    rng = random.Random(5)
    values: list[Any] = ["x", "error", "warning", "page", "no way", 1, 2, 2.0, True, None]
    for _ in range(3000):
        event = random_event(rng, values, 0.5)
        expected = brute_force(ruleset, event)
        assert ruleset.evaluate(event).matched_rules == expected, event
        assert collected(ruleset, event) == expected, event
