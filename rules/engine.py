"""The compiled rule set, and the evaluation of one event against it.

This is what runs on ingestion's hot path, so everything is prepared at load: matchers and
templates are compiled, and rules are indexed by the literal `event` name their match requires
or, failing that, by another top-level field and the literal value(s) the match requires it to
equal (`level: critical`), or failing that, by top-level fields of which the match requires
the event to hold one (`error_message: {regex: …}`). An event is only offered, in file order,
to the rules indexed under its name, to those indexed under a value it holds, to those
indexed under a field it holds, and to those that require none of these.

Evaluation: every matching rule fires, in file order, and each of its actions adds a draft;
a matching rule with `stop: true` ends the evaluation. A rule limited to some sources
(`source: letzshop`) only sees events from them; log lines come from the source `logs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from rules.actions import Action, AlertAction, DeferredAlertDraft
from rules.errors import RuleIssue
from rules.match import CompiledMatch, Predicate
from rules.outcomes import Draft
from rules.templates import RenderContext
from rules.testing import RuleTest

LOGS = "logs"
"""The source of events that arrive as log lines."""


@dataclass(frozen=True, slots=True)
class SignatureSpec:
    """How to verify a webhook source's deliveries."""

    scheme: Literal["hmac-sha256", "standard-webhooks"]
    secret: str = field(repr=False)
    header: str = "X-Signature"
    """The header carrying the signature (hmac-sha256 only)."""
    encoding: Literal["hex", "base64"] = "hex"
    """How the signature is written (hmac-sha256 only)."""
    prefix: str = ""
    """Text before the signature in the header, e.g. `sha256=` (hmac-sha256 only)."""
    tolerance: timedelta = timedelta(minutes=5)
    """How far a delivery's timestamp may be from now (standard-webhooks only)."""


@dataclass(frozen=True, slots=True)
class WebhookSource:
    """A webhook sender enabled by the rules file."""

    name: str
    format: Literal["json", "alertmanager"]
    signature: SignatureSpec | None
    event_field: str | None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run."""

    name: str
    source_file_line: int
    match: CompiledMatch
    actions: tuple[Action, ...]
    sources: frozenset[str] | None = None
    """The sources whose events the rule sees; None: every source."""
    stop: bool = False
    description: str | None = None
    match_spec: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The `match` as the file wrote it, for showing operators what the rule listens for."""


@dataclass(slots=True)
class Evaluation:
    """What one event produced."""

    drafts: list[Draft] = field(default_factory=list)
    """The drafts of every action of every matching rule, in rule order."""
    matched_rules: list[str] = field(default_factory=list)
    missing_fields: int = 0
    """How many template fields the event lacked (each rendered as empty)."""


_Candidate = tuple[int, CompiledRule, Predicate]
"""A rule's position in the file, the rule, and the predicate that decides once indexed."""
_Merges = dict[int, tuple[_Candidate, ...]]
"""Candidate lists merged with one index entry's rules, by the id of the list merged into."""
_Entry = tuple[tuple[_Candidate, ...], _Merges]
"""An index entry: its rules in file order, and the merges made with them so far."""
_KeyIndex = tuple[tuple[str, dict[str | int | float, _Entry]], ...]
_PresenceIndex = tuple[tuple[str, _Entry], ...]
_NUMBERS = (int, float)
# Merged candidate lists kept per rule set. The pairs an event can meet are bounded by the
# rules file, but with many field-indexed rules their combinations grow fast: past this many,
# merges are made per event and not kept.
_MERGES_KEPT = 4096


class RuleSet:
    """Compiled rules, enabled webhook sources and rule tests, from one rules file."""

    def __init__(
        self,
        *,
        rules: Sequence[CompiledRule],
        sources: Mapping[str, WebhookSource],
        disabled_sources: Mapping[str, str],
        warnings: Sequence[RuleIssue],
        tests: Sequence[RuleTest],
        filename: str,
    ) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self.sources: Mapping[str, WebhookSource] = MappingProxyType(dict(sources))
        self.disabled_sources: Mapping[str, str] = MappingProxyType(dict(disabled_sources))
        self.warnings: list[RuleIssue] = list(warnings)
        self.tests: tuple[RuleTest, ...] = tuple(tests)
        self.filename = filename
        self._generic, self._by_event, self._by_key, self._by_presence = _index(self.rules)
        # Every list a kept merge was keyed by, so that no other object can take its id.
        self._merge_inputs: list[tuple[_Candidate, ...]] = []

    def __repr__(self) -> str:
        return f"<RuleSet {self.filename}: {len(self.rules)} rules, {len(self.sources)} sources>"

    def evaluate(self, event: Mapping[str, Any], source: str = LOGS) -> Evaluation:
        """Run every rule against `event` from `source` and collect the drafts."""
        candidates = self._candidates(event)
        result = Evaluation()
        context: RenderContext | None = None
        for _, rule, test in candidates:
            if rule.sources is not None and source not in rule.sources:
                continue
            try:
                hit = test(event)
            except Exception:  # matchers do not raise on JSON data; an odd Mapping must not either
                hit = False
            if not hit:
                continue
            result.matched_rules.append(rule.name)
            if context is None:
                context = RenderContext(event, source)
            for action in rule.actions:
                result.drafts.append(action.draft(rule.name, context))
            if rule.stop:
                break
        if context is not None:
            result.missing_fields = context.missing
        return result

    def collect(
        self,
        event: Mapping[str, Any],
        source: str,
        drafts: list[Draft | DeferredAlertDraft],
        matched_rules: list[str],
    ) -> bool:
        """Run every rule against `event` as `evaluate` does, adding to a batch's lists.

        The ingestion path's form: no `Evaluation` per event, and alert occurrences come as
        `DeferredAlertDraft`s, whose text is rendered only if the occurrence is the one stored.
        Return whether any rule matched.
        """
        candidates = self._candidates(event)
        if not candidates:
            return False
        # Made at the first match, so it also tells whether any rule matched.
        context: RenderContext | None = None
        for _, rule, test in candidates:
            if rule.sources is not None and source not in rule.sources:
                continue
            try:
                hit = test(event)
            except Exception:  # as in evaluate
                hit = False
            if not hit:
                continue
            matched_rules.append(rule.name)
            if context is None:
                context = RenderContext(event, source)
            for action in rule.actions:
                if type(action) is AlertAction:
                    drafts.append(action.deferred(rule.name, context))
                else:
                    drafts.append(action.draft(rule.name, context))
            if rule.stop:
                break
        return context is not None

    def _candidates(self, event: Mapping[str, Any]) -> tuple[_Candidate, ...]:
        """Return the rules `event` may match, in file order."""
        name = event.get("event")
        candidates = self._by_event.get(name, self._generic) if type(name) is str else self._generic
        for key, table in self._by_key:
            value: Any = event.get(key)
            if isinstance(value, str) or type(value) in _NUMBERS:
                entry = table.get(value)
                if entry is not None:
                    candidates = entry[1].get(id(candidates)) or self._merge(candidates, entry)
        for key, entry in self._by_presence:
            if key in event:
                candidates = entry[1].get(id(candidates)) or self._merge(candidates, entry)
        return candidates

    def _merge(self, first: tuple[_Candidate, ...], entry: _Entry) -> tuple[_Candidate, ...]:
        """Merge an index entry's rules into `first`, kept for the next event meeting both."""
        found, merges = entry
        merged = _merge(first, found)
        if len(self._merge_inputs) < _MERGES_KEPT:
            merges[id(first)] = merged
            self._merge_inputs.append(first)
        return merged


def _index(
    rules: Sequence[CompiledRule],
) -> tuple[tuple[_Candidate, ...], dict[str, tuple[_Candidate, ...]], _KeyIndex, _PresenceIndex]:
    """Index `rules` for finding the few an event may match.

    Return the rules any event may match; per event name, those an event of that name may
    match (the former included); per field and value, the rules indexed by that pair; and
    per field, the rules that need an event holding it (or another of their fields).
    A rule is in only one of these kinds of index; one needing any of several fields is
    under each of them, and merging drops the repeats.
    """
    generic: list[_Candidate] = []
    by_key: dict[str, dict[str | int | float, list[_Candidate]]] = {}
    by_presence: dict[str, list[_Candidate]] = {}
    for position, rule in enumerate(rules):
        match = rule.match
        if match.event_values is not None:
            continue
        if match.key_field is not None:
            table = by_key.setdefault(match.key_field, {})
            for value in match.key_values:
                table.setdefault(value, []).append((position, rule, match.rest))
        elif match.presence_fields is not None:
            candidate = (position, rule, match.test)
            for name in sorted(match.presence_fields):
                by_presence.setdefault(name, []).append(candidate)
        else:
            generic.append((position, rule, match.test))
    names = {name for rule in rules for name in rule.match.event_values or ()}
    by_event: dict[str, tuple[_Candidate, ...]] = {}
    for name in names:
        # Indexed rules skip their `event` condition: the index already checked it.
        by_event[name] = tuple(
            (
                position,
                rule,
                rule.match.rest if rule.match.event_values is not None else rule.match.test,
            )
            for position, rule in enumerate(rules)
            if _is_generic(rule.match)
            or (rule.match.event_values is not None and name in rule.match.event_values)
        )
    keyed: _KeyIndex = tuple(
        (field, {value: (tuple(found), {}) for value, found in table.items()})
        for field, table in by_key.items()
    )
    # Each field's table of merges made with its rules, filled as events meet them.
    present: _PresenceIndex = tuple(
        (field, (tuple(found), {})) for field, found in by_presence.items()
    )
    return tuple(generic), by_event, keyed, present


def _is_generic(match: CompiledMatch) -> bool:
    """Tell whether a match is in no index: every event is offered its rule."""
    return match.event_values is None and match.key_field is None and match.presence_fields is None


def _merge(first: tuple[_Candidate, ...], second: tuple[_Candidate, ...]) -> tuple[_Candidate, ...]:
    """Merge two file-ordered candidate lists into one in file order, each rule once."""
    if not first:
        return second
    # A rule needing one of several fields is found once per field the event holds.
    unique = {candidate[0]: candidate for candidate in (*first, *second)}
    return tuple(sorted(unique.values(), key=_position))


def _position(candidate: _Candidate) -> int:
    return candidate[0]
