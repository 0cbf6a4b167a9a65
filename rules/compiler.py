"""Turn validated parts of the file into what runs: sources, compiled rules, rule tests.

Each method reports its problems at file positions and returns None when the part is unusable,
so the loader can carry on and report every problem in one go.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import timedelta

from rules.actions import Action, AlertAction, Metadata, NotifyAction, ResolveAction
from rules.document import Document, Loc
from rules.durations import format_duration
from rules.engine import CompiledRule, SignatureSpec, WebhookSource
from rules.errors import Issues, quote
from rules.match import compile_match
from rules.schema import (
    AlertConfig,
    DedupExpect,
    NotifyConfig,
    ResolveConfig,
    RuleConfig,
    RuleTestConfig,
    SignatureConfig,
    SourceConfig,
)
from rules.templates import Bound, Template, TemplateCompiler, TemplateError, Value
from rules.testing import Expectation, RuleTest, plain

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
"""A source name is a URL path segment: /api/v1/ingest/webhooks/{name}."""
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HMAC_ONLY = ("header", "encoding", "prefix")


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
        if config.format == "alertmanager" and config.event_field is not None:
            self.issues.error(
                self.doc.at((*loc, "event_field")),
                "event_field applies to json sources only: an alertmanager source names its "
                "events alertmanager.firing and alertmanager.resolved",
            )
            return None
        if config.signature is None:
            return WebhookSource(name, config.format, None, config.event_field)
        signature = self.signature(name, config.signature, (*loc, "signature"))
        if signature is None:
            return None
        return WebhookSource(name, config.format, signature, config.event_field)

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
        if config.header is not None and not _HEADER.fullmatch(config.header):
            self.issues.error(
                self.doc.at((*loc, "header")), f"invalid header name {quote(config.header)}"
            )
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

    def rule(
        self, config: RuleConfig, loc: Loc, known_sources: Collection[str]
    ) -> CompiledRule | None:
        """Compile a rule; None when any part of it is invalid."""
        errors_before = len(self.issues.errors)
        for index, name in enumerate(config.source or ()):
            if name not in known_sources:
                self.issues.error(
                    self.doc.at((*loc, "source", index)),
                    f"unknown source {quote(name)}; defined sources: {', '.join(known_sources)}",
                )
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
            self.issues.error(
                self.doc.at(loc),
                f"rule {quote(config.name)} has no action; give it notify, alert or resolve",
            )
        if len(self.issues.errors) > errors_before:
            return None
        return CompiledRule(
            name=config.name,
            source_file_line=self.doc.at(loc).line,
            match=match,
            actions=tuple(actions),
            sources=frozenset(config.source) if config.source is not None else None,
            stop=config.stop,
            description=config.description,
        )

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
        out = []
        for index, source in enumerate(sources):
            try:
                out.append(self.templates.text(source, Bound.VALUE))
            except TemplateError as exc:
                out.append(self._template_error(source, exc, (*loc, field, index), field))
        return tuple(out)

    def metadata(self, values: dict[str, object], loc: Loc) -> Metadata:
        out: list[tuple[str, Value]] = []
        for key, literal in values.items():
            try:
                out.append((key, self.templates.value(literal)))
            except TemplateError as exc:
                self._template_error(str(literal), exc, (*loc, "metadata", key), f"metadata {key}")
        return tuple(out)

    def _template_error(self, source: str, exc: TemplateError, loc: Loc, field: str) -> Template:
        self.issues.error(self.doc.at(loc), f"template error in {field} {quote(source)}: {exc}")
        return self.templates.text("", Bound.VALUE)  # a stand-in: the rule is dropped anyway

    # --- rule tests -------------------------------------------------------------------------

    def test(
        self,
        config: RuleTestConfig,
        loc: Loc,
        known_sources: Collection[str],
        rule_names: Collection[str],
    ) -> RuleTest | None:
        """Compile a rule test; None when it refers to something that does not exist."""
        errors_before = len(self.issues.errors)
        if config.source not in known_sources:
            self.issues.error(
                self.doc.at((*loc, "source")),
                f"unknown source {quote(config.source)} in rule test; "
                f"defined sources: {', '.join(known_sources)}",
            )
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
            if rule is not None and rule not in rule_names:
                self.issues.error(
                    self.doc.at((*loc, "expect", index, kind, "rule")),
                    f"unknown rule {quote(rule)} in expected outcome",
                )
            expectations.append(Expectation(kind, fields))
        if len(self.issues.errors) > errors_before:
            return None
        return RuleTest(
            name=config.name,
            event=config.event,
            expect=tuple(expectations),
            source=config.source,
            file=self.issues.file,
            line=self.doc.at(loc).line,
        )


def _dedup_fields(expected: DedupExpect) -> dict[str, object]:
    fields: dict[str, object] = {}
    if "key" in expected.model_fields_set:
        fields["key"] = expected.key
    if "window" in expected.model_fields_set:
        fields["window"] = format_duration(expected.window) if expected.window else None
    return fields
