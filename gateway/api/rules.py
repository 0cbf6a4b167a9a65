"""Handlers of `/api/v1/admin/rules`: the rules in force, a dry run, and a reload."""

from __future__ import annotations

from aiohttp import web
from structlog import get_logger

from gateway import keys
from gateway.api.params import invalid, parse_body
from gateway.api.replies import reply
from gateway.api.schemas import (
    ReloadInfo,
    ReloadResult,
    RuleInfo,
    RuleIssueOut,
    RuleOutput,
    RulesOverview,
    RuleTest,
    RuleTestResult,
    WebhookSources,
)
from gateway.http.auth import PRINCIPAL
from gateway.http.problem import problem
from gateway.rule_stats import RuleMatches
from rules.actions import Action, AlertAction, NotifyAction
from rules.engine import LOGS, CompiledRule, RuleSet
from rules.schema import ActionKind
from rules.testing import describe_evaluation

log = get_logger(__name__)


async def list_rules(request: web.Request) -> web.Response:
    """Describe the rules in force, how often each matched, and the latest reload."""
    live = request.app[keys.RULES]
    ruleset = live.current
    stats = request.app[keys.RULE_STATS]
    status = live.last_status
    return reply(
        RulesOverview(
            file=ruleset.filename,
            rules=[_rule_info(rule, stats.get(rule.name), ruleset) for rule in ruleset.rules],
            sources=WebhookSources(
                enabled=sorted(ruleset.sources), disabled=dict(ruleset.disabled_sources)
            ),
            reload=None
            if status is None
            else ReloadInfo(
                ok=status.ok,
                at=status.at,
                error=status.error,
                issues=[
                    RuleIssueOut(file=i.file, line=i.line, column=i.column, message=i.message)
                    for i in status.issues
                ],
                last_success_at=live.last_success_at,
            ),
            counting_since=stats.since,
        )
    )


def _rule_info(rule: CompiledRule, matches: RuleMatches, ruleset: RuleSet) -> RuleInfo:
    return RuleInfo(
        name=rule.name,
        description=rule.description,
        sources=None if rule.sources is None else sorted(rule.sources),
        actions=[_kind(action) for action in rule.actions],
        stop=rule.stop,
        line=rule.source_file_line,
        matches=matches.count,
        last_matched_at=matches.last_matched_at,
        match=dict(rule.match_spec),
        produces=[_output(action) for action in rule.actions],
        enabled=rule.sources is None
        or any(source == LOGS or source in ruleset.sources for source in rule.sources),
    )


def _output(action: Action) -> RuleOutput:
    if isinstance(action, NotifyAction):
        return RuleOutput(
            kind="notify",
            type=action.type.value,
            priority=action.priority.value,
            severity=None,
            title=action.title.source,
            fingerprint=None,
        )
    if isinstance(action, AlertAction):
        return RuleOutput(
            kind="alert",
            type=action.alert_type.value,
            priority=None,
            severity=action.severity.value,
            title=action.title.source,
            fingerprint=action.fingerprint.source,
        )
    return RuleOutput(
        kind="resolve",
        type=None,
        priority=None,
        severity=None,
        title=None,
        fingerprint=action.fingerprint.source,
    )


def _kind(action: Action) -> ActionKind:
    if isinstance(action, NotifyAction):
        return "notify"
    if isinstance(action, AlertAction):
        return "alert"
    return "resolve"


async def test_rules(request: web.Request) -> web.Response:
    """Evaluate an event against the rules in force and say what it would produce."""
    data = await parse_body(request, RuleTest)
    ruleset = request.app[keys.RULES].current
    known = {LOGS, *ruleset.sources, *ruleset.disabled_sources}
    if data.source not in known:
        raise invalid(
            422,
            "the request body is invalid",
            [{"field": "source", "message": f"unknown source; known: {', '.join(sorted(known))}"}],
        )
    described = describe_evaluation(ruleset.evaluate(data.event, data.source))
    return reply(RuleTestResult(source=data.source, **described))


async def reload_rules(request: web.Request) -> web.Response:
    """Reload the rules file now; an invalid file keeps the running rules and answers 422."""
    live = request.app[keys.RULES]
    status = await live.load()
    log.info("rules_reload_requested", ok=status.ok, by=request[PRINCIPAL].name)
    if not status.ok:
        issues = [
            {"file": i.file, "line": i.line, "column": i.column, "message": i.message}
            for i in status.issues
        ]
        detail = "the rules file is invalid; the running rules are unchanged"
        if not issues:
            detail += f": {status.error}"
        raise problem(422, detail, issues=issues)
    ruleset = live.current
    return reply(
        ReloadResult(
            ok=True,
            at=status.at,
            rules=len(ruleset.rules),
            warnings=[str(warning) for warning in ruleset.warnings],
        )
    )
