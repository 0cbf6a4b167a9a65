"""Problems found in a rules file, each pinned to a file, line and column.

The loader collects every problem it can find before giving up, so one run of
`gateway rules check` shows them all, sorted by position.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

IssueSeverity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the rules file."""

    line: int
    column: int


START = Position(1, 1)


@dataclass(frozen=True, slots=True)
class RuleIssue:
    """One problem in a rules file; `str()` gives the `file:line:column: message` form."""

    file: str
    line: int
    column: int
    message: str
    severity: IssueSeverity = "error"

    def __str__(self) -> str:
        marker = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.column}: {marker}{self.message}"


class RulesError(Exception):
    """The rules file cannot be used; `.issues` lists every error, in file order."""

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


@dataclass(slots=True)
class Issues:
    """Collect errors and warnings for one file while it is loaded."""

    file: str
    found: list[RuleIssue] = field(default_factory=list)
    error_count: int = field(default=0, init=False)
    """How many distinct errors were recorded (cheaper than `len(self.errors)`)."""
    _seen: set[RuleIssue] = field(default_factory=set, init=False, repr=False)
    _settled: set[Position] = field(default_factory=set, init=False, repr=False)

    def error(self, at: Position, message: str) -> None:
        """Record an error at `at`, unless the value there is settled (see `settle`)."""
        if at in self._settled:
            return
        if self._add(RuleIssue(self.file, at.line, at.column, message, "error")):
            self.error_count += 1

    def settle(self, at: Position) -> None:
        """Mark the value written at `at` as already reported and unusable.

        A value that could not be read as written (an unset variable, an unsupported tag)
        stands in as something else; any later error about it would only be a consequence of
        the one already reported, so errors at `at` are no longer recorded.
        """
        self._settled.add(at)

    def warning(self, at: Position, message: str) -> None:
        """Record a warning at `at`."""
        self._add(RuleIssue(self.file, at.line, at.column, message, "warning"))

    def _add(self, issue: RuleIssue) -> bool:
        # A node reached twice through a YAML alias would otherwise repeat the same problem
        # at the same spot: each problem is recorded once.
        if issue in self._seen:
            return False
        self._seen.add(issue)
        self.found.append(issue)
        return True

    @property
    def errors(self) -> list[RuleIssue]:
        """Return the errors, sorted by position."""
        return _sorted(issue for issue in self.found if issue.severity == "error")

    @property
    def warnings(self) -> list[RuleIssue]:
        """Return the warnings, sorted by position."""
        return _sorted(issue for issue in self.found if issue.severity == "warning")

    def raise_if_errors(self) -> None:
        """Raise `RulesError` listing every error, if there is one."""
        errors = self.errors
        if errors:
            raise RulesError(errors)


def _sorted(issues: Any) -> list[RuleIssue]:
    # A stable sort keeps issues found at the same position in the order they were found.
    return sorted(issues, key=lambda issue: (issue.line, issue.column))


def quote(value: object, limit: int = 80) -> str:
    """Render a value from the file for an error message: strings in double quotes, YAML-like."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
