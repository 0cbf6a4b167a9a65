"""Turn validated parts of the file into what runs: sources, compiled rules, rule tests.

Each method reports its problems at file positions and returns None when the part is unusable,
so the loader can carry on and report every problem in one go.

A part that failed validation is not compiled, but the `*_parts` methods still check what in it
can be checked on its own: the `match` of a rule whose `notify` is broken, the valid templates
of an action with an unknown field, the sources a broken rule names. Values that failed
validation are skipped, so nothing is reported twice or as a consequence of another problem.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from datetime import timedelta
from typing import Any

from rules.actions import Action, AlertAction, Metadata, NotifyAction, ResolveAction
from rules.document import Document, Loc
from rules.durations import format_duration
from rules.engine import CompiledRule, SignatureSpec, WebhookSource
from rules.errors import Issues, quote
from rules.match import compile_match
from rules.schema import (
    ACTION_KINDS,
    ActionKind,
    AlertConfig,
    DedupExpect,
    ExpectConfig,
    NotifyConfig,
    ResolveConfig,
    RuleConfig,
    RuleTestConfig,
    SignatureConfig,
    SourceConfig,
    one_or_many,
)
from rules.templates import Bound, Template, TemplateCompiler, TemplateError, Value
from rules.testing import Expectation, RuleTest, plain
from rules.validation import Failures

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
"""A source name is a URL path segment: /api/v1/ingest/webhooks/{name}."""
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HMAC_ONLY = ("header", "encoding", "prefix")

Known = Collection[str] | None
"""The names references may use; None when the part of the file that defines them cannot be
read, so that references to it are not checked (each would only repeat that problem)."""

# The template fields of each action, for checking those of an action that failed validation.
# `Compiler.notify`, `.alert` and `.resolve` compile the same fields of a valid one.
_TEXT_FIELDS: dict[ActionKind, tuple[tuple[str, Bound], ...]] = {
    "notify": (("title", Bound.TITLE), ("message", Bound.TEXT), ("action_url", Bound.URL)),
    "alert": (("title", Bound.TITLE), ("description", Bound.TEXT)),
    "resolve": (("notes", Bound.TEXT),),
}
_KEY_FIELDS: dict[ActionKind, tuple[str, ...]] = {
    "notify": (),
    "alert": ("fingerprint",),
    "resolve": ("fingerprint",),
}
_SCOPE_FIELDS: dict[ActionKind, tuple[str, ...]] = {
    "notify": (),
    "alert": ("affected_stores", "affected_systems"),
    "resolve": (),
}
_WITH_METADATA: tuple[ActionKind, ...] = ("notify", "alert")
_WITH_DEDUP: tuple[ActionKind, ...] = ("notify",)


class Compiler:
    """Compile the parts of one rules file, recording problems in `issues`."""

    def __init__(self, doc: Document, issues: Issues) -> None:
        self.doc = doc
        self.issues = issues
        self.templates = TemplateCompiler()
        self.disabled_sources: dict[str, str] = {}

    # --- sources ----------------------------------------------------------------------------

    def source_name(self, name: str, reserved: str) -> bool:
        """Check that a source's name can be used in its URL; return whether it can."""
        at = self.doc.key_at(("sources", name))
        if name == reserved:
            self.issues.error(
                at, f"source name {quote(name)} is reserved for log lines; choose another name"
            )
            return False
        if not SOURCE_NAME.fullmatch(name):
            self.issues.error(
                at,
                f"invalid source name {quote(name)}: use lowercase letters, digits, - and _ "
                "(at most 63, starting with a letter or digit)",
            )
            return False
        return True

    def source(self, name: str, config: SourceConfig) -> WebhookSource | None:
        """Compile a webhook source; None when it is disabled or invalid."""
        loc: Loc = ("sources", name)
        usable = self._event_field(config.format, config.event_field, loc)
        if config.signature is None:
            signature = None
        else:
            signature = self.signature(name, config.signature, (*loc, "signature"))
            usable = usable and signature is not None
        if not usable:
            return None
        return WebhookSource(name, config.format, signature, config.event_field)

    def source_parts(self, name: str, raw: dict[str, Any], failures: Failures) -> None:
        """Check what can be checked on its own in a source that failed validation."""
        loc: Loc = ("sources", name)
        event_field = raw.get("event_field")
        valid = failures.clean(("format",)) and failures.clean(("event_field",))
        if event_field is not None and valid:
            self._event_field(raw.get("format", "json"), event_field, loc)
        signature = raw.get("signature")
        if isinstance(signature, dict) and failures.intact(("signature",)):
            header = signature.get("header")
            if isinstance(header, str) and failures.clean(("signature", "header")):
                self._header(header, (*loc, "signature"))

    def _event_field(self, source_format: str, event_field: str | None, loc: Loc) -> bool:
        if source_format == "alertmanager" and event_field is not None:
            self.issues.error(
                self.doc.at((*loc, "event_field")),
                "event_field applies to json sources only: an alertmanager source names its "
                "events alertmanager.firing and alertmanager.resolved",
            )
            return False
        return True

    def _header(self, header: str, loc: Loc) -> bool:
        if not _HEADER.fullmatch(header):
            self.issues.error(self.doc.at((*loc, "header")), f"invalid header name {quote(header)}")
            return False
        return True

    def signature(self, source: str, config: SignatureConfig, loc: Loc) -> SignatureSpec | None:
        unset = self.doc.unset_secrets.get((*loc, "secret"))
        if config.scheme == "standard-webhooks":
            for name in _HMAC_ONLY:
                if getattr(config, name) is not None:
                    self.issues.warning(
                        self.doc.key_at((*loc, name)),
                        f"{name} is ignored by scheme standard-webhooks "
                        "(it uses the webhook-signature header)",
                    )
        elif config.tolerance is not None:
            self.issues.warning(
                self.doc.key_at((*loc, "tolerance")),
                "tolerance is ignored by scheme hmac-sha256 (it carries no timestamp)",
            )
        if config.header is not None and not self._header(config.header, loc):
            return None
        if unset is not None:
            reason = f"secret ${{{unset}}} is not set"
            self.disabled_sources[source] = reason
            self.issues.warning(
                self.doc.at((*loc, "secret")), f"source {quote(source)} is disabled: {reason}"
            )
            return None
        if not config.secret:
            return None  # a literal secret: already reported where the file was read
        return SignatureSpec(
            scheme=config.scheme,
            secret=config.secret,
            header=config.header or "X-Signature",
            encoding=config.encoding or "hex",
            prefix=config.prefix or "",
            tolerance=config.tolerance or timedelta(minutes=5),
        )

    # --- rules ------------------------------------------------------------------------------

    def rule(self, config: RuleConfig, loc: Loc, known_sources: Known) -> CompiledRule | None:
        """Compile a rule; None when any part of it is invalid."""
        errors_before = self.issues.error_count
        self.sources(enumerate(config.source or ()), loc, known_sources)
        match = compile_match(config.match, (*loc, "match"), self.doc, self.issues)
        actions: list[Action] = []
        for kind, index, action in config.actions():
            here = (*loc, kind, index)
            if isinstance(action, NotifyConfig):
                actions.append(self.notify(action, here))
            elif isinstance(action, AlertConfig):
                actions.append(self.alert(action, here))
            else:
                actions.append(self.resolve(action, here))
        if not actions:
            self.no_action(config.name, loc)
        if self.issues.error_count > errors_before:
            return None
        return CompiledRule(
            name=config.name,
            source_file_line=self.doc.at(loc).line,
            match=match,
            actions=tuple(actions),
            sources=frozenset(config.source) if config.source is not None else None,
            stop=config.stop,
            description=config.description,
            match_spec=config.match,
        )

    def rule_parts(
        self, raw: dict[str, Any], loc: Loc, failures: Failures, known_sources: Known
    ) -> None:
        """Check what can be checked on its own in a rule that failed validation."""
        self.sources(
            (
                (index, name)
                for index, name in _items(raw, "source", failures)
                if isinstance(name, str) and failures.clean(("source", index))
            ),
            loc,
            known_sources,
        )
        match = raw.get("match")
        if isinstance(match, dict) and failures.clean(("match",)):
            compile_match(match, (*loc, "match"), self.doc, self.issues)
        for kind in ACTION_KINDS:
            for index, item in _items(raw, kind, failures):
                if isinstance(item, dict):
                    here = (kind, index)
                    self.action_parts(kind, item, (*loc, *here), failures.inside(here))
        written = any(raw.get(kind, []) != [] for kind in ACTION_KINDS)
        # A misspelt action key is reported as an unknown field, and that is enough.
        if not written and raw.keys() <= RuleConfig.model_fields.keys():
            name = raw.get("name")
            self.no_action(name if isinstance(name, str) else None, loc)

    def sources(self, names: Iterable[tuple[int, str]], loc: Loc, known_sources: Known) -> None:
        """Check that each (index, name) of a rule's `source` is a defined source."""
        if known_sources is None:
            return
        for index, name in names:
            if name not in known_sources:
                self.issues.error(
                    self.doc.at((*loc, "source", index)),
                    f"unknown source {quote(name)}; defined sources: {', '.join(known_sources)}",
                )

    def no_action(self, name: str | None, loc: Loc) -> None:
        rule = "this rule" if name is None else f"rule {quote(name)}"
        self.issues.error(
            self.doc.at(loc), f"{rule} has no action; give it notify, alert or resolve"
        )

    def action_parts(
        self, kind: ActionKind, raw: dict[str, Any], loc: Loc, failures: Failures
    ) -> None:
        """Compile the valid template fields of an action that failed validation."""

        def text(*path: str) -> str | None:
            value: Any = raw
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            return value if isinstance(value, str) and failures.clean(path) else None

        for field, limit in _TEXT_FIELDS[kind]:
            if (source := text(field)) is not None:
                self.text(source, limit, loc, field)
        for field in _KEY_FIELDS[kind]:
            if (source := text(field)) is not None:
                self.key(source, loc, field)
        if kind in _WITH_DEDUP and (source := text("dedup", "key")) is not None:
            self.key(source, (*loc, "dedup"), "key")
        for field in _SCOPE_FIELDS[kind]:
            for index, item in _items(raw, field, failures):
                if isinstance(item, str) and failures.clean((field, index)):
                    self.scope_item(item, loc, field, index)
        metadata = raw.get("metadata")
        if kind in _WITH_METADATA and isinstance(metadata, dict):
            for key, literal in metadata.items():
                if failures.clean(("metadata", key)):
                    self.metadata_value(key, literal, loc)

    def notify(self, config: NotifyConfig, loc: Loc) -> NotifyAction:
        dedup = config.dedup
        return NotifyAction(
            type=config.type,
            priority=config.priority,
            title=self.text(config.title, Bound.TITLE, loc, "title"),
            message=self.text(config.message, Bound.TEXT, loc, "message"),
            action_required=config.action_required,
            action_url=(
                self.text(config.action_url, Bound.URL, loc, "action_url")
                if config.action_url is not None
                else None
            ),
            metadata=self.metadata(config.metadata, loc),
            dedup_key=self.key(dedup.key, (*loc, "dedup"), "key") if dedup else None,
            dedup_window=dedup.window if dedup else None,
        )

    def alert(self, config: AlertConfig, loc: Loc) -> AlertAction:
        return AlertAction(
            alert_type=config.type,
            severity=config.severity,
            title=self.text(config.title, Bound.TITLE, loc, "title"),
            description=self.text(config.description, Bound.TEXT, loc, "description"),
            fingerprint=self.key(config.fingerprint, loc, "fingerprint"),
            affected_stores=self.scope(config.affected_stores, loc, "affected_stores"),
            affected_systems=self.scope(config.affected_systems, loc, "affected_systems"),
            metadata=self.metadata(config.metadata, loc),
        )

    def resolve(self, config: ResolveConfig, loc: Loc) -> ResolveAction:
        return ResolveAction(
            fingerprint=self.key(config.fingerprint, loc, "fingerprint"),
            notes=self.text(config.notes, Bound.TEXT, loc, "notes"),
        )

    def text(self, source: str, limit: int, loc: Loc, field: str) -> Template:
        try:
            return self.templates.text(source, limit)
        except TemplateError as exc:
            return self._template_error(source, exc, (*loc, field), field)

    def key(self, source: str, loc: Loc, field: str) -> Template:
        try:
            return self.templates.key(source)
        except TemplateError as exc:
            return self._template_error(source, exc, (*loc, field), field)

    def scope(self, sources: Iterable[str], loc: Loc, field: str) -> tuple[Template, ...]:
        return tuple(
            self.scope_item(source, loc, field, index) for index, source in enumerate(sources)
        )

    def scope_item(self, source: str, loc: Loc, field: str, index: int) -> Template:
        try:
            return self.templates.text(source, Bound.VALUE)
        except TemplateError as exc:
            return self._template_error(source, exc, (*loc, field, index), field)

    def metadata(self, values: dict[str, object], loc: Loc) -> Metadata:
        out: list[tuple[str, Value]] = []
        for key, literal in values.items():
            value = self.metadata_value(key, literal, loc)
            if value is not None:
                out.append((key, value))
        return tuple(out)

    def metadata_value(self, key: str, literal: object, loc: Loc) -> Value | None:
        try:
            return self.templates.value(literal)
        except TemplateError as exc:
            self._template_error(str(literal), exc, (*loc, "metadata", key), f"metadata {key}")
            return None

    def _template_error(self, source: str, exc: TemplateError, loc: Loc, field: str) -> Template:
        self.issues.error(self.doc.at(loc), f"template error in {field} {quote(source)}: {exc}")
        return self.templates.text("", Bound.VALUE)  # a stand-in: the rule is dropped anyway

    # --- rule tests -------------------------------------------------------------------------

    def test(
        self,
        config: RuleTestConfig,
        loc: Loc,
        known_sources: Known,
        rule_names: Known,
    ) -> RuleTest | None:
        """Compile a rule test; None when it refers to something that does not exist."""
        errors_before = self.issues.error_count
        self.test_source(config.source, loc, known_sources)
        expectations = []
        for index, expect in enumerate(config.expect):
            kind, expected = expect.outcome()
            fields = {
                name: plain(getattr(expected, name))
                for name in type(expected).model_fields
                if name in expected.model_fields_set
            }
            if isinstance(expected_dedup := getattr(expected, "dedup", None), DedupExpect):
                fields["dedup"] = _dedup_fields(expected_dedup)
            rule = fields.get("rule")
            if rule is not None:
                self.expected_rule(rule, (*loc, "expect", index, kind), rule_names)
            expectations.append(Expectation(kind, fields))
        if self.issues.error_count > errors_before:
            return None
        return RuleTest(
            name=config.name,
            event=config.event,
            expect=tuple(expectations),
            source=config.source,
            file=self.issues.file,
            line=self.doc.at(loc).line,
        )

    def test_parts(
        self,
        raw: dict[str, Any],
        loc: Loc,
        failures: Failures,
        known_sources: Known,
        rule_names: Known,
    ) -> None:
        """Check what can be checked on its own in a rule test that failed validation."""
        source = raw.get("source")
        if isinstance(source, str) and failures.clean(("source",)):
            self.test_source(source, loc, known_sources)
        expect = raw.get("expect")
        if not isinstance(expect, list) or not failures.intact(("expect",)):
            return
        for index, item in enumerate(expect):
            here: Loc = ("expect", index)
            if not isinstance(item, dict) or not failures.intact(here):
                continue
            kinds = [kind for kind in ACTION_KINDS if item.get(kind) is not None]
            # The model checks this only once its fields validated; a misspelt key is
            # reported as an unknown field instead.
            if len(kinds) != 1 and item.keys() <= ExpectConfig.model_fields.keys():
                self.issues.error(
                    self.doc.at((*loc, *here)),
                    "an expected outcome has exactly one of the keys notify, alert or resolve",
                )
            for kind in kinds:
                expected = item[kind]
                rule = expected.get("rule") if isinstance(expected, dict) else None
                if isinstance(rule, str) and failures.clean((*here, kind, "rule")):
                    self.expected_rule(rule, (*loc, *here, kind), rule_names)

    def test_source(self, source: str, loc: Loc, known_sources: Known) -> None:
        if known_sources is not None and source not in known_sources:
            self.issues.error(
                self.doc.at((*loc, "source")),
                f"unknown source {quote(source)} in rule test; "
                f"defined sources: {', '.join(known_sources)}",
            )

    def expected_rule(self, rule: str, loc: Loc, rule_names: Known) -> None:
        if rule_names is not None and rule not in rule_names:
            self.issues.error(
                self.doc.at((*loc, "rule")), f"unknown rule {quote(rule)} in expected outcome"
            )


def _items(raw: dict[str, Any], field: str, failures: Failures) -> Iterator[tuple[int, Any]]:
    """List (index, item) of a field holding one value or a list, skipping failed items."""
    if field not in raw or not failures.intact((field,)):
        return
    items = one_or_many(raw[field])
    if isinstance(items, list):
        for index, item in enumerate(items):
            if failures.intact((field, index)):
                yield index, item


def _dedup_fields(expected: DedupExpect) -> dict[str, object]:
    fields: dict[str, object] = {}
    if "key" in expected.model_fields_set:
        fields["key"] = expected.key
    if "window" in expected.model_fields_set:
        fields["window"] = format_duration(expected.window) if expected.window else None
    return fields
