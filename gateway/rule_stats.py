"""How often each rule matched since the process started: counted by the pipeline, in memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class RuleMatches:
    """The match count of one rule and when it last matched."""

    count: int = 0
    last_matched_at: datetime | None = None


class RuleStats:
    """Match counts by rule name; a rule keeps its count across reloads while its name stays."""

    def __init__(self) -> None:
        self.since = datetime.now(UTC)
        self._by_rule: dict[str, RuleMatches] = {}

    def record(self, rule_names: Iterable[str]) -> None:
        """Count one match for each named rule (one evaluated event's matched rules)."""
        now = datetime.now(UTC)
        for name in rule_names:
            previous = self._by_rule.get(name)
            count = 1 if previous is None else previous.count + 1
            self._by_rule[name] = RuleMatches(count, now)

    def get(self, name: str) -> RuleMatches:
        """Return the matches of the rule `name` (zero when it never matched)."""
        return self._by_rule.get(name, RuleMatches())
