"""The compiled rule set, and the evaluation of one event against it.

This is what runs on ingestion's hot path, so everything is prepared at load: matchers and
templates are compiled, and rules are indexed by the literal `event` name their match requires.
An event is only offered to the rules indexed under its name and to the rules that require no
particular name, in file order.

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


_Candidate = tuple[CompiledRule, Predicate]


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
        self._generic, self._by_event = _index(self.rules)

    def __repr__(self) -> str:
        return f"<RuleSet {self.filename}: {len(self.rules)} rules, {len(self.sources)} sources>"

    def evaluate(self, event: Mapping[str, Any], source: str = LOGS) -> Evaluation:
        """Run every rule against `event` from `source` and collect the drafts."""
        name = event.get("event")
        candidates = self._by_event.get(name, self._generic) if type(name) is str else self._generic
        result = Evaluation()
        context: RenderContext | None = None
        for rule, test in candidates:
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
        name = event.get("event")
        candidates = self._by_event.get(name, self._generic) if type(name) is str else self._generic
        if not candidates:
            return False
        # Made at the first match, so it also tells whether any rule matched.
        context: RenderContext | None = None
        for rule, test in candidates:
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


def _index(
    rules: Sequence[CompiledRule],
) -> tuple[tuple[_Candidate, ...], dict[str, tuple[_Candidate, ...]]]:
    """Return the rules any event may match, and per event name the rules it may match."""
    generic = tuple((rule, rule.match.test) for rule in rules if rule.match.event_values is None)
    names = {name for rule in rules for name in rule.match.event_values or ()}
    by_event: dict[str, tuple[_Candidate, ...]] = {}
    for name in names:
        # Indexed rules skip their `event` condition: the index already checked it.
        by_event[name] = tuple(
            (rule, rule.match.rest if rule.match.event_values is not None else rule.match.test)
            for rule in rules
            if rule.match.event_values is None or name in rule.match.event_values
        )
    return generic, by_event
