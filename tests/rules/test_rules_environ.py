"""Environment substitution: `${VAR}`, `${VAR:-default}`, escapes, typing and errors."""

from __future__ import annotations

from typing import Any

import pytest

from rules.environ import secret_variable, substitute

TITLE_RULE = """\
version: 1
rules:
  - name: a
    match: {{}}
    notify:
      type: store_issue
      title: {title}
      message: m
"""


def title(load: Any, written: str, environ: dict[str, str]) -> str:
    """Load a rule whose title is written as given; return the title it renders."""
    ruleset = load(TITLE_RULE.format(title=written), environ)
    return ruleset.evaluate({}).drafts[0].title  # type: ignore[no-any-return]


class TestSubstitution:
    @pytest.mark.parametrize(
        ("written", "environ", "expected"),
        [
            ("${NAME}", {"NAME": "Acme"}, "Acme"),
            ("'Hello ${NAME}!'", {"NAME": "Acme"}, "Hello Acme!"),
            ("${NAME:-fallback}", {}, "fallback"),
            ("${NAME:-fallback}", {"NAME": ""}, "fallback"),
            ("${NAME:-fallback}", {"NAME": "set"}, "set"),
            ("'${NAME:-}x'", {}, "x"),
            ("'[${NAME}]'", {"NAME": ""}, "[]"),
            ("'$${NAME}'", {"NAME": "no"}, "${NAME}"),
            ("'cost: $5'", {}, "cost: $5"),
            ("'${A}${B}'", {"A": "1", "B": "2"}, "12"),
            ("'{{ x | default(\"${D:-d}\") }}'", {}, "d"),
        ],
    )
    def test_substitutes(
        self, load: Any, written: str, environ: dict[str, str], expected: str
    ) -> None:
        """References are replaced by the variable, its default, or left literal when escaped."""
        assert title(load, written, environ) == expected

    def test_unquoted_substitution_is_typed_like_yaml(self, load: Any) -> None:
        """In a plain scalar the substituted text becomes a number; quoted, it stays a string."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: a
                match:
                  n:
                    gte: ${MIN_ERRORS:-5}
                  s: "${MIN_ERRORS:-5}"
                resolve: {fingerprint: f}
            """,
            {},
        )
        assert ruleset.evaluate({"n": 5, "s": "5"}).matched_rules == ["a"]
        assert ruleset.evaluate({"n": 4, "s": "5"}).matched_rules == []
        assert ruleset.evaluate({"n": 5, "s": 5}).matched_rules == []

    def test_keys_are_not_substituted(self, load: Any) -> None:
        """Keys are names, taken as written."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: a, match: {"${F}": 1}, resolve: {fingerprint: f}}
            """,
            {"F": "other"},
        )
        assert ruleset.evaluate({"${F}": 1}).matched_rules == ["a"]


class TestErrors:
    def test_unset_variable_is_an_error(self, errors: Any) -> None:
        """A reference to an unset variable without default is reported at its scalar."""
        assert errors(TITLE_RULE.format(title="'Hi ${WHO}'")) == [
            'rules.yaml:7:14: environment variable WHO is not set (in "Hi ${WHO}"); '
            "set it or write ${WHO:-default}"
        ]

    def test_every_unset_variable_is_reported(self, errors: Any) -> None:
        """Two unset variables in one value give two errors."""
        assert errors(TITLE_RULE.format(title="'${A} ${B}'")) == [
            'rules.yaml:7:14: environment variable A is not set (in "${A} ${B}"); '
            "set it or write ${A:-default}",
            'rules.yaml:7:14: environment variable B is not set (in "${A} ${B}"); '
            "set it or write ${B:-default}",
        ]

    @pytest.mark.parametrize("written", ["'${}'", "'${1ABC}'", "'${A B}'", "'${A'"])
    def test_malformed_reference_is_an_error(self, errors: Any, written: str) -> None:
        """A reference that is not ${NAME} or ${NAME:-default} is an error."""
        (message,) = errors(TITLE_RULE.format(title=written))
        assert message.startswith("rules.yaml:7:14: malformed variable reference ")
        assert message.endswith("; write ${NAME} or ${NAME:-default}")


class TestHelpers:
    def test_substitute_reports_what_is_missing(self) -> None:
        """The substitution result lists missing names and malformed references."""
        result = substitute("${A} ${B:-b} ${} ${C}", {"C": "c"})
        assert (result.text, result.missing, result.malformed, result.ok) == (
            " b ${} c",
            ["A"],
            ["${}"],
            False,
        )

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("${SECRET}", "SECRET"), ("${SECRET:-x}", None), ("x${SECRET}", None), ("s3cr3t", None)],
    )
    def test_secret_variable(self, text: str, expected: str | None) -> None:
        """Only a bare ${NAME} names a secret."""
        assert secret_variable(text) == expected
