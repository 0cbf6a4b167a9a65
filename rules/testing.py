"""Run the rule tests written in a rules file, and describe what an event produces.

A rule test gives an event (as the rules see it, after a webhook's parsing), the source it
comes from (`logs` unless told) and the outcomes it must produce, in order::

    tests:
      - name: import with 7 errors notifies
        event: {event: product_import.completed, store_id: 5, error_count: 7}
        expect:
          - notify: {type: import_failure, priority: high}
      - name: import with 2 errors is quiet
        event: {event: product_import.completed, store_id: 5, error_count: 2}
        expect: []

Each expected outcome names only the fields it cares about; the test passes when the event
produces exactly as many outcomes as expected and each one has those fields. The fields are
those `describe_evaluation` prints, so its output can be pasted into a test:

- notify: rule, type, priority, title, message, action_required, action_url, metadata,
  dedup {key, window}
- alert: rule, type, severity, title, description, fingerprint, affected_stores,
  affected_systems, metadata
- resolve: rule, fingerprint, notes

Mappings (`metadata`, `dedup`) are compared by the keys written; lists and values exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from rules.durations import format_duration
from rules.errors import quote
from rules.match import same
from rules.outcomes import AlertDraft, Draft, NotificationDraft, ResolveDraft
from rules.schema import ActionKind

if TYPE_CHECKING:
    from rules.engine import Evaluation, RuleSet

OutcomeKind = ActionKind


@dataclass(frozen=True, slots=True)
class Expectation:
    """One expected outcome: its kind and the described fields it must have."""

    kind: OutcomeKind
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RuleTest:
    """A rule test from the rules file."""

    name: str
    event: Mapping[str, Any]
    expect: tuple[Expectation, ...]
    source: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class RuleTestFailure:
    """A rule test that did not get what it expected."""

    test_name: str
    message: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: test {quote(self.test_name)} failed: {self.message}"


def run_rule_tests(ruleset: RuleSet) -> list[RuleTestFailure]:
    """Run every rule test of `ruleset`; return the failures (empty when all pass)."""
    failures = []
    for test in ruleset.tests:
        evaluation = ruleset.evaluate(test.event, test.source)
        problem = check_outcomes(test.expect, evaluation.drafts)
        if problem is not None:
            failures.append(RuleTestFailure(test.name, problem, test.file, test.line))
    return failures


def check_outcomes(expected: Sequence[Expectation], drafts: Sequence[Draft]) -> str | None:
    """Say how `drafts` differ from `expected`, or return None when they agree."""
    if len(expected) != len(drafts):
        got = "; ".join(summarise(draft) for draft in drafts) or "nothing"
        return f"expected {_outcomes(len(expected))}, got {_outcomes(len(drafts))}: {got}"
    problems = []
    for number, (want, draft) in enumerate(zip(expected, drafts, strict=True), start=1):
        kind, fields = describe_draft_fields(draft)
        if kind != want.kind:
            problems.append(f"outcome {number} is {summarise(draft)}, expected {want.kind}")
            continue
        for name, value in want.fields.items():
            actual = fields.get(name)
            if not _agrees(value, actual):
                problems.append(
                    f"outcome {number} ({kind}) has {name} {quote(actual, 200)}, "
                    f"expected {quote(value, 200)}"
                )
    return "; ".join(problems) or None


def describe_evaluation(evaluation: Evaluation) -> dict[str, Any]:
    """Describe, as JSON-ready data, what an evaluated event would produce."""
    return {
        "matched_rules": list(evaluation.matched_rules),
        "missing_fields": evaluation.missing_fields,
        "outcomes": [describe_draft(draft) for draft in evaluation.drafts],
    }


def describe_draft(draft: Draft) -> dict[str, Any]:
    """Describe one draft as `{kind: {field: value}}`, the form rule tests expect."""
    kind, fields = describe_draft_fields(draft)
    return {kind: fields}


def describe_draft_fields(draft: Draft) -> tuple[OutcomeKind, dict[str, Any]]:
    """Return a draft's kind and its fields, named as in the rules file."""
    if isinstance(draft, NotificationDraft):
        dedup = None
        if draft.dedup_key is not None:
            window = format_duration(draft.dedup_window) if draft.dedup_window else None
            dedup = {"key": draft.dedup_key, "window": window}
        return "notify", {
            "rule": draft.rule,
            "type": draft.type.value,
            "priority": draft.priority.value,
            "title": draft.title,
            "message": draft.message,
            "action_required": draft.action_required,
            "action_url": draft.action_url,
            "metadata": dict(draft.metadata),
            "dedup": dedup,
        }
    if isinstance(draft, AlertDraft):
        return "alert", {
            "rule": draft.rule,
            "type": draft.alert_type.value,
            "severity": draft.severity.value,
            "title": draft.title,
            "description": draft.description,
            "fingerprint": draft.fingerprint,
            "affected_stores": list(draft.affected_stores),
            "affected_systems": list(draft.affected_systems),
            "metadata": dict(draft.metadata),
        }
    assert isinstance(draft, ResolveDraft)
    return "resolve", {"rule": draft.rule, "fingerprint": draft.fingerprint, "notes": draft.notes}


def summarise(draft: Draft) -> str:
    """Describe a draft in a few words, for failure messages."""
    if isinstance(draft, NotificationDraft):
        return f"notify {draft.type.value} {quote(draft.title)} (rule {quote(draft.rule)})"
    if isinstance(draft, AlertDraft):
        return (
            f"alert {draft.alert_type.value} {quote(draft.fingerprint)} (rule {quote(draft.rule)})"
        )
    return f"resolve {quote(draft.fingerprint)} (rule {quote(draft.rule)})"


def plain(value: Any) -> Any:
    """Turn enums into their values, recursively, so expectations compare as JSON data."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _agrees(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _agrees(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_agrees(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return same(actual, expected)


def _outcomes(count: int) -> str:
    return f"{count} outcome" if count == 1 else f"{count} outcomes"
