"""`RuleSet.collect`, the ingestion path's evaluation: same outcomes as `evaluate`, text later."""

from __future__ import annotations

from typing import Any

from gateway.actions import AlertFold, plan
from rules.actions import DeferredAlertDraft
from rules.outcomes import AlertDraft, Draft, NotificationDraft, ResolveDraft

RULES = """\
version: 1
rules:
  - name: api
    match: {event: api_error}
    alert:
      type: integration
      severity: error
      title: "API error for {{ store }}: {{ code }}"
      description: "{% if detail %}{{ detail | upper }}{% endif %}"
      fingerprint: "api:{{ store }}"
      affected_stores: ["{{ store }}"]
      metadata: {code: "{{ code }}", raw: "{{ payload }}", fixed: 3}
    notify: {type: system_info, title: "{{ store }}", message: m}
  - {name: fixed, match: {event: fixed}, resolve: {fingerprint: "api:{{ store }}"}}
  - {name: any, match: {level: error}, resolve: {fingerprint: "level:{{ store }}"}}
"""

EVENTS: list[dict[str, Any]] = [
    {"event": "api_error", "store": "s1", "code": 500, "detail": "first", "payload": {"a": 1}},
    {"event": "api_error", "store": "s2", "code": 502, "level": "error"},
    {"event": "api_error", "store": "s1", "code": 503, "detail": "last", "payload": [1, 2]},
    {"event": "fixed", "store": "s2"},
    {"event": "unrelated", "store": "s3"},
    {"level": "error", "store": "s4"},
]


def rendered(draft: Draft | DeferredAlertDraft) -> Draft:
    return draft.rendered() if isinstance(draft, DeferredAlertDraft) else draft


def test_collect_gives_what_evaluate_gives(load: Any) -> None:
    """Drafts (once rendered), matched rules and the matched count are those of `evaluate`."""
    ruleset = load(RULES)
    drafts: list[Draft | DeferredAlertDraft] = []
    matched_rules: list[str] = []
    hits = [ruleset.collect(event, "logs", drafts, matched_rules) for event in EVENTS]
    evaluations = [ruleset.evaluate(event, "logs") for event in EVENTS]
    assert hits == [bool(e.matched_rules) for e in evaluations]
    assert matched_rules == [name for e in evaluations for name in e.matched_rules]
    assert [rendered(d) for d in drafts] == [d for e in evaluations for d in e.drafts]
    assert any(isinstance(d, DeferredAlertDraft) for d in drafts)


def test_a_deferred_draft_renders_on_first_read_only(load: Any) -> None:
    """Fingerprint and scope are rendered at once; the text when read, and then kept."""
    ruleset = load(RULES)
    drafts: list[Draft | DeferredAlertDraft] = []
    ruleset.collect(EVENTS[0], "logs", drafts, [])
    deferred = drafts[0]
    assert isinstance(deferred, DeferredAlertDraft)
    assert (deferred.fingerprint, deferred.affected_stores) == ("api:s1", ("s1",))
    assert deferred._title is None and deferred._metadata is None
    assert deferred.title == "API error for s1: 500"
    assert deferred.title is deferred.title
    assert deferred.metadata == {"code": 500, "raw": {"a": 1}, "fixed": 3}


def test_a_fold_keeps_the_latest_occurrence_text(load: Any) -> None:
    """Folding deferred occurrences stores what the latest one renders, as with drafts."""
    ruleset = load(RULES)
    drafts: list[Draft | DeferredAlertDraft] = []
    for event in EVENTS[:3]:
        ruleset.collect(event, "logs", drafts, [])
    eager = [d for event in EVENTS[:3] for d in ruleset.evaluate(event, "logs").drafts]
    for deferred_fold, eager_fold in zip(plan(drafts), plan(eager), strict=True):
        if isinstance(eager_fold, AlertFold):
            assert isinstance(deferred_fold, AlertFold)
            latest, expected = deferred_fold.draft, eager_fold.draft
            assert isinstance(expected, AlertDraft)
            assert (latest.title, latest.description, latest.metadata) == (
                expected.title,
                expected.description,
                expected.metadata,
            )
            assert (deferred_fold.count, deferred_fold.severity) == (
                eager_fold.count,
                eager_fold.severity,
            )
        else:
            assert isinstance(deferred_fold, NotificationDraft | ResolveDraft)
            assert deferred_fold == eager_fold
    first = next(d for d in drafts if isinstance(d, DeferredAlertDraft))
    # The folded-over occurrence of s1 was never rendered.
    assert first._title is None and first._description is None and first._metadata is None
