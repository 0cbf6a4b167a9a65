"""Load a rules file: read, validate strictly, compile, cross-check; report every problem.

The rules file
==============

The gateway receives events, structured log lines (source `logs`) and webhook deliveries
(one source per sender), and the rules file says which events become admin notifications
and platform alerts::

    version: 1
    sources:                       # webhook senders: POST /api/v1/ingest/webhooks/{name}
      letzshop:
        format: json               # json (default) or alertmanager
        event_field: type          # copy payload["type"] into the event's "event" field
        signature:
          scheme: hmac-sha256      # or standard-webhooks
          secret: ${LETZSHOP_WEBHOOK_SECRET}
          header: X-Letzshop-Signature
          encoding: hex            # or base64
          prefix: "sha256="
    rules:
      - name: product-import-completed-with-errors
        match: {event: product_import.completed, error_count: {gte: 5}}
        notify:
          type: import_failure
          priority: high
          title: "Product import for {{ store_name }} finished with {{ error_count }} errors"
          message: "Job {{ job_id }}: {{ error_count }} rows were rejected."
          action_url: "/admin/stores/{{ store_id }}/imports/{{ job_id }}"
          dedup: {key: "import:{{ store_id }}:{{ job_id }}", window: 1h}
    tests:
      - name: import with 7 errors notifies
        event: {event: product_import.completed, store_name: Acme, error_count: 7}
        expect:
          - notify: {type: import_failure, title: "Product import for Acme finished with 7 errors"}

`version` (required) is 1. Top-level keys starting with `x-` are ignored: a place to define
YAML anchors that rules then reuse (`alert: {<<: *letzshop-alert, severity: warning}`).

`sources` maps a name (lowercase letters, digits, `-`, `_`; `logs` is reserved) to:

- `format`: `json` (each object of the payload, or the payload itself, is an event) or
  `alertmanager` (each alert becomes an `alertmanager.firing` or `alertmanager.resolved` event);
- `event_field` (json only): the payload field whose value becomes the event's `event`;
- `signature`: `scheme` `hmac-sha256` (an HMAC-SHA256 of the body in `header`, default
  `X-Signature`, written in `encoding` `hex` (default) or `base64` after `prefix`) or
  `standard-webhooks` (the webhook-id/-timestamp/-signature headers, with timestamps at most
  `tolerance` from now, default 5m); `secret` must be `${NAME}`: secrets come from the
  environment. When NAME is unset or empty the source is disabled (with a warning), so the file
  still loads where that sender is not used. A source without `signature` accepts unsigned
  deliveries.

`rules` is a list; each rule has:

- `name` (unique) and an optional `description`;
- `source`: a source name or a list of them (`logs` for log lines); by default, every source;
- `match`: conditions on the event, all of which must hold (see `rules.match`; `{}` matches
  every event);
- one or more actions, each key holding one mapping or a list of them, run in the order the
  keys are written:

  - `notify`: `type` (a notification type), `priority` (low, normal (default), high, critical),
    `title`, `message`, `action_required` (default false), `action_url` (a site-relative path or
    an http(s) URL; anything else is dropped), `metadata` (a mapping of values; a template that
    is a single `{{ field }}` keeps the field's JSON type), `dedup` {`key`, `window`}: a repeat
    with the same rendered key within the window is suppressed;
  - `alert`: `type` (an alert type), `severity` (info, warning, error, critical), `title`,
    `description`, `fingerprint` (the open alert with this rendered fingerprint gets one more
    occurrence instead of a new alert), `affected_stores` and `affected_systems` (templates;
    empty results are dropped, duplicates merged), `metadata`;
  - `resolve`: `fingerprint` (resolve the open alert that has it), `notes`;

- `stop: true`: when this rule matched, later rules are not evaluated. By default every
  matching rule fires, in file order.

Text fields are Jinja templates over the event's fields (see `rules.templates`); durations are
written `30s`, `10m`, `1h`, `1d`, `1h30m`, or as a number of seconds.

`tests` is a list of rule tests (see `rules.testing`), run by `gateway rules test`.

Environment variables: `${NAME}` and `${NAME:-default}` are substituted in every string value
(see `rules.environ`); a reference to an unset variable without a default is an error.

Problems are reported as `file:line:column: message`, all of them, sorted by position: YAML
syntax, unknown or missing fields, wrong types, unknown enum values, bad operators, regular
expressions and durations, template syntax, duplicate rule names, references to undefined
sources or rules, unset variables. A part with a problem does not hide the problems of the parts
beside it: the `match` of a rule whose action is broken is still compiled, and so are the valid
templates of an action with a wrong field. Each problem is reported once, at its own value, and
never again as a consequence of another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rules.compiler import Compiler, Known
from rules.document import Document, Loc, parse_document
from rules.engine import LOGS, CompiledRule, RuleSet, WebhookSource
from rules.errors import Issues, RuleIssue, RulesError, quote
from rules.schema import NAME_MAX_LENGTH, FileConfig, RuleConfig, RuleTestConfig, SourceConfig
from rules.testing import RuleTest
from rules.validation import check, validate


def load_ruleset(path: str | Path, environ: Mapping[str, str] | None = None) -> RuleSet:
    """Load the rules file at `path`; raise `RulesError` listing every error in it."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RulesError(
            [RuleIssue(filename, 1, 1, f"cannot read the rules file: {reason}")]
        ) from exc
    except UnicodeDecodeError as exc:
        line = 1 + exc.object[: exc.start].count(b"\n")
        raise RulesError(
            [RuleIssue(filename, line, 1, f"the rules file is not UTF-8 text: {exc.reason}")]
        ) from exc
    return load_ruleset_text(text, filename, environ)


def load_ruleset_text(
    text: str, filename: str = "<string>", environ: Mapping[str, str] | None = None
) -> RuleSet:
    """Load rules from `text` (reported as `filename`); raise `RulesError` on any error."""
    issues = Issues(filename)
    doc = parse_document(text, issues, os.environ if environ is None else environ, _is_secret)
    if doc is None:
        issues.raise_if_errors()
        raise AssertionError("an unreadable document always has an error")  # pragma: no cover
    if not isinstance(doc.data, dict):
        issues.error(
            doc.at(()),
            f"the file must be a mapping with version, sources, rules and tests, "
            f"got {quote(doc.data)}",
        )
        issues.raise_if_errors()
    ruleset = _Load(doc, issues).run()
    issues.raise_if_errors()
    return ruleset


EXTENSION = "x-"
"""Top-level keys with this prefix are ignored: a place to define YAML anchors."""


def _is_secret(loc: Loc) -> bool:
    return len(loc) == 4 and loc[0] == "sources" and loc[2:] == ("signature", "secret")


def _known_sources(data: Any) -> Known:
    """Name the sources rules and tests may refer to; None if the sources cannot be read."""
    if data is None:
        return [LOGS]
    if not isinstance(data, dict):
        return None
    # A source with a bad name still counts as defined: it is reported once, where it is.
    return [LOGS, *(name for name in data if name != LOGS)]


def _name(raw: Any) -> str | None:
    """Return the name of a rule or test as written, if it is a valid name."""
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str) and 0 < len(name) <= NAME_MAX_LENGTH:
        return name
    return None


class _Load:
    """One pass over a parsed document: validate each part, compile it, cross-check."""

    def __init__(self, doc: Document, issues: Issues) -> None:
        self.doc = doc
        self.issues = issues
        self.compiler = Compiler(doc, issues)

    def run(self) -> RuleSet:
        data: dict[str, Any] = {
            key: value for key, value in self.doc.data.items() if not key.startswith(EXTENSION)
        }
        # The top level is checked on its own; each part below it is then validated and
        # compiled separately, so one broken rule does not hide the problems of another.
        validate(FileConfig, data, (), self.doc, self.issues)
        sources_data = data.get("sources")
        rules_data = data.get("rules")
        tests_data = data.get("tests")
        sources = self.sources(sources_data if isinstance(sources_data, dict) else {})
        known_sources = _known_sources(sources_data)
        rules, rule_names = self.rules(
            rules_data if isinstance(rules_data, list) else [], known_sources
        )
        tests = self.tests(
            tests_data if isinstance(tests_data, list) else [],
            known_sources,
            rule_names if isinstance(rules_data, list) else None,
        )
        return RuleSet(
            rules=rules,
            sources=sources,
            disabled_sources=self.compiler.disabled_sources,
            warnings=self.issues.warnings,
            tests=tests,
            filename=self.issues.file,
        )

    def sources(self, data: dict[str, Any]) -> dict[str, WebhookSource]:
        enabled = {}
        for name, raw in data.items():
            usable = self.compiler.source_name(name, reserved=LOGS)
            config, failures = check(SourceConfig, raw, ("sources", name), self.doc, self.issues)
            if config is None:
                if isinstance(raw, dict) and failures.intact(()):
                    self.compiler.source_parts(name, raw, failures)
                continue
            source = self.compiler.source(name, config)
            if source is not None and usable:
                enabled[name] = source
        return enabled

    def rules(self, data: list[Any], known_sources: Known) -> tuple[list[CompiledRule], set[str]]:
        compiled = []
        first_line: dict[str, int] = {}
        for index, raw in enumerate(data):
            loc: Loc = ("rules", index)
            # The name is checked before the rest validates, so a broken rule's name still
            # counts as defined and does not cause follow-on errors in tests.
            name = _name(raw)
            if name is not None:
                if name in first_line:
                    self.issues.error(
                        self.doc.at((*loc, "name")),
                        f"duplicate rule name {quote(name)} "
                        f"(first defined at line {first_line[name]})",
                    )
                else:
                    first_line[name] = self.doc.at(loc).line
            config, failures = check(RuleConfig, raw, loc, self.doc, self.issues)
            if config is None:
                if isinstance(raw, dict) and failures.intact(()):
                    self.compiler.rule_parts(raw, loc, failures, known_sources)
                continue
            rule = self.compiler.rule(config, loc, known_sources)
            if rule is not None:
                compiled.append(rule)
        return compiled, set(first_line)

    def tests(self, data: list[Any], known_sources: Known, rule_names: Known) -> list[RuleTest]:
        compiled = []
        first_line: dict[str, int] = {}
        for index, raw in enumerate(data):
            loc: Loc = ("tests", index)
            name = _name(raw)
            if name is not None:
                if name in first_line:
                    self.issues.error(
                        self.doc.at((*loc, "name")),
                        f"duplicate test name {quote(name)} "
                        f"(first defined at line {first_line[name]})",
                    )
                else:
                    first_line[name] = self.doc.at(loc).line
            config, failures = check(RuleTestConfig, raw, loc, self.doc, self.issues)
            if config is None:
                if isinstance(raw, dict) and failures.intact(()):
                    self.compiler.test_parts(raw, loc, failures, known_sources, rule_names)
                continue
            test = self.compiler.test(config, loc, known_sources, rule_names)
            if test is not None:
                compiled.append(test)
        return compiled
