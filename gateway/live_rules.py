"""The rule set in force, swapped atomically on SIGHUP or when the file changes.

An invalid file never replaces running rules: the error is kept for operators to read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from structlog import get_logger

from rules.engine import RuleSet
from rules.errors import RuleIssue, RulesError
from rules.loader import load_ruleset

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """The outcome of the latest load attempt."""

    ok: bool
    at: datetime
    error: str | None = None
    issues: tuple[RuleIssue, ...] = ()
    """The positioned errors of a file that failed to load (empty when unreadable or ok)."""


class LiveRules:
    """Hold the current `RuleSet`; readers take `.current` once per batch."""

    def __init__(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._environ = environ
        self._current: RuleSet | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._lock = asyncio.Lock()
        self.last_status: ReloadStatus | None = None
        self.last_success_at: datetime | None = None
        self._listeners: list[Callable[[ReloadStatus], None]] = []

    def on_load(self, listener: Callable[[ReloadStatus], None]) -> None:
        """Call `listener` with the outcome of every load attempt (start-up, watch, SIGHUP)."""
        self._listeners.append(listener)

    @property
    def current(self) -> RuleSet:
        if self._current is None:
            raise RuntimeError("rules are not loaded yet")
        return self._current

    async def load(self) -> ReloadStatus:
        """Load the file; on success swap it in, on failure keep the old rules."""
        async with self._lock:
            now = datetime.now(UTC)
            try:
                stamp = await asyncio.to_thread(self._file_stamp)
                ruleset = await asyncio.to_thread(load_ruleset, self.path, self._environ)
            except (RulesError, OSError) as exc:
                issues = tuple(exc.issues) if isinstance(exc, RulesError) else ()
                status = ReloadStatus(ok=False, at=now, error=str(exc), issues=issues)
                log.error("rules_reload_failed", path=str(self.path), error=str(exc))
            else:
                self._current = ruleset
                self._stamp = stamp
                self.last_success_at = now
                status = ReloadStatus(ok=True, at=now)
                for warning in ruleset.warnings:
                    log.warning("rules_warning", issue=str(warning))
                log.info("rules_loaded", path=str(self.path), rules=len(ruleset.rules))
            self.last_status = status
            for listener in self._listeners:
                listener(status)
            return status

    async def watch(self, interval: float) -> AsyncIterator[ReloadStatus]:
        """Reload whenever the file's identity or modification time changes."""
        while True:
            await asyncio.sleep(interval)
            try:
                stamp = await asyncio.to_thread(self._file_stamp)
            except OSError:
                continue  # mid-replace by an editor or a config-map update; look again later
            if stamp != self._stamp:
                # A failed load leaves _stamp alone; remember this one so a bad file is
                # reported once, not on every tick.
                status = await self.load()
                if not status.ok:
                    self._stamp = stamp
                yield status

    def _file_stamp(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return (st.st_ino, st.st_mtime_ns, st.st_size)
