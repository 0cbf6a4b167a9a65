"""Helpers for the rules tests: load a YAML snippet, read its errors, try one match."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from rules.engine import RuleSet
from rules.errors import RulesError
from rules.loader import load_ruleset_text

Load = Callable[..., RuleSet]
Errors = Callable[..., list[str]]
Matches = Callable[[str, Mapping[str, Any]], bool]


def _load(text: str, environ: Mapping[str, str] | None = None) -> RuleSet:
    return load_ruleset_text(textwrap.dedent(text), "rules.yaml", environ or {})


@pytest.fixture
def load() -> Load:
    """Load a dedented snippet as `rules.yaml`, with an empty environment unless given one."""
    return _load


@pytest.fixture
def errors() -> Errors:
    """Load a snippet that must fail; return its errors as `file:line:column: message`."""

    def errors(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
        with pytest.raises(RulesError) as caught:
            _load(text, environ)
        return [str(issue) for issue in caught.value.issues]

    return errors


@pytest.fixture
def matches() -> Matches:
    """Tell whether a one-rule file whose match is the given flow mapping matches an event."""

    def matches(match: str, event: Mapping[str, Any]) -> bool:
        ruleset = _load(
            f"""\
            version: 1
            rules:
              - name: r
                match: {match}
                resolve: {{fingerprint: f}}
            """
        )
        return ruleset.evaluate(event).matched_rules == ["r"]

    return matches
