"""The gateway reports on itself: `system` platform alerts about its own health.

One job checks, every `self_check_interval` seconds (and at once after a rules reload):

- `gateway:database-outage`: the database was unreachable longer than
  `db_outage_alert_after`; written once it answers again, and resolved in the same transaction.
- `gateway:rules-reload`: the latest rules reload failed; resolved by a later successful one.
- `gateway:load-shedding`: ingestion answered 503 at capacity; resolved after
  `shedding_quiet_period` without shedding.

An outage alert cannot be written while the database is down; the outage is remembered in
memory and recorded, with when it started, how long it lasted and which instance saw it, by
the first check that reaches the database again. It is resolved at once, like every condition
here once it clears: an open alert means "wrong now", as in Alertmanager or Alerta, and the
resolved alert stays in the history (and reaches live listeners) for the admin to read.

Alerts are deduplicated by fingerprint in the database (`create_or_increment_alert`), so
several instances report one open alert per condition; the instance is in the metadata.
Auto-resolution leaves `resolved_by_user_id` empty and says why in the notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from structlog import get_logger

from gateway.health import ping_database
from gateway.live_rules import LiveRules, ReloadStatus
from gateway.publish.hub import Hub
from gateway.publish.metrics import ALERT_CREATED, ALERT_INCREMENTED, ALERT_RESOLVED, Metrics
from gateway.services.admin_notification_service import platform_alert_service
from gateway.storage.types import utcnow
from gateway.writer import run_within
from rules.vocabulary import AlertType, Severity

log = get_logger(__name__)

DATABASE_OUTAGE = "gateway:database-outage"
RULES_RELOAD = "gateway:rules-reload"
LOAD_SHEDDING = "gateway:load-shedding"
SOURCE = "gateway"
SYSTEM = "gateway"
"""The `affected_systems` entry of every self-monitoring alert."""

# A probe that takes longer than this counts as unreachable: writes would be stuck as well.
PROBE_TIMEOUT_SECONDS = 2.0
# The alerts of one check must not wait longer than this on a database that stopped answering.
WRITE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class SelfMonitorSettings:
    """The thresholds of the self-monitoring job (from `Settings`)."""

    interval: float = 5.0
    """Seconds between checks; also the resolution of an outage's start and end."""
    db_outage_alert_after: float = 30.0
    """An outage at least this long is recorded as an alert; shorter ones are only logged."""
    shedding_quiet_period: float = 60.0
    """Seconds without shedding before the load-shedding alert is resolved."""


@dataclass(slots=True)
class _Outage:
    started_at: datetime
    started: float  # monotonic, for the duration
    ended_at: datetime | None = None
    ended: float | None = None


@dataclass(slots=True)
class _Shedding:
    window_started_at: datetime
    shed: int = 0  # requests shed since the window opened
    unwritten: int = 0  # of those, not yet counted on the alert
    last_shed: float = 0.0  # monotonic
    alert_open: bool = False


class SelfMonitor:
    """Watch the database, the rules reloads and load shedding; report them as alerts."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        rules: LiveRules,
        hub: Hub,
        metrics: Metrics,
        settings: SelfMonitorSettings,
        *,
        ingest_concurrency: int | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._rules = rules
        self._hub = hub
        self._metrics = metrics
        self.settings = settings
        self._ingest_concurrency = ingest_concurrency
        self._host = socket.gethostname()
        self._outage: _Outage | None = None
        # Reloads not yet reported: the latest failure, how many failed, a success after them.
        # The successful load at start clears an alert a previous run left open.
        self._rules_failed: ReloadStatus | None = None
        self._rules_failures = 0
        self._rules_ok: ReloadStatus | None = rules.last_status
        self._shed_seen = metrics.load_shed_total()
        self._shedding: _Shedding | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        rules.on_load(self._rules_loaded)

    @property
    def database_outage_since(self) -> datetime | None:
        """When the current database outage started, or None while the database answers."""
        return None if self._outage is None else self._outage.started_at

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="self-monitor")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def check(self) -> None:
        """Run every check once: probe the database, then write what changed."""
        if not await self._database_reachable():
            return
        began = time.monotonic()
        try:
            await run_within(self._report(), WRITE_TIMEOUT_SECONDS)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            # The database went away between the probe and the write: that is an outage too,
            # and whatever was not written is tried again by the next check.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._outage_began(reason, began)

    async def _report(self) -> None:
        await self._report_outage()
        await self._report_rules()
        await self._report_shedding()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                # The job must outlive any one failure; the next check tries again.
                log.exception("self_monitor_check_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.interval):
                    await self._wake.wait()
            self._wake.clear()

    def _rules_loaded(self, status: ReloadStatus) -> None:
        if status.ok:
            self._rules_ok = status
        else:
            self._rules_failed, self._rules_ok = status, None
            self._rules_failures += 1
        self._wake.set()

    # -- database ----------------------------------------------------------------------------

    async def _database_reachable(self) -> bool:
        # Shedding is counted even while nothing can be written, so no 503 goes unreported.
        self._count_shedding()
        began = time.monotonic()
        error = await ping_database(self._engine, within=PROBE_TIMEOUT_SECONDS)
        self._metrics.database_reachable.set(error is None)
        if error is not None:
            self._outage_began(error, began)
            return False
        outage = self._outage
        if outage is not None and outage.ended is None:
            outage.ended_at, outage.ended = datetime.now(UTC), time.monotonic()
        return True

    def _outage_began(self, error: str, began: float) -> None:
        """Start the outage clock at `began`, when the failed probe or write was sent."""
        self._metrics.database_reachable.set(0)
        if self._outage is None:
            now = time.monotonic()
            started_at = datetime.now(UTC) - timedelta(seconds=now - began)
            self._outage = _Outage(started_at=started_at, started=began)
            log.error("database_unreachable", error=error)
        else:
            # The database answered a probe but not the write after it: still the same outage.
            self._outage.ended_at = self._outage.ended = None

    async def _report_outage(self) -> None:
        outage = self._outage
        if outage is None or outage.ended is None or outage.ended_at is None:
            return
        lasted = outage.ended - outage.started
        threshold = self.settings.db_outage_alert_after
        if lasted < threshold:
            log.warning("database_reachable_again", outage_seconds=round(lasted, 3))
            self._outage = None
            return
        started, ended = _iso(outage.started_at), _iso(outage.ended_at)
        description = (
            f"The database was unreachable from {started} to {ended} "
            f"({_duration(lasted)}, longer than the {_duration(threshold)} threshold). "
            "Ingestion answered 503 with Retry-After meanwhile, storing nothing of those requests."
        )
        metadata = {
            "started_at": started,
            "ended_at": ended,
            "duration_seconds": round(lasted, 3),
            "threshold_seconds": threshold,
        }
        await self._raise(
            DATABASE_OUTAGE,
            Severity.CRITICAL,
            f"Database unreachable for {_duration(lasted)}",
            description,
            metadata,
            occurred_at=outage.started_at,
            resolve_notes=f"resolved automatically: the database answers again since {ended}",
        )
        log.warning("database_outage_recorded", outage_seconds=round(lasted, 3))
        self._outage = None

    # -- rules -------------------------------------------------------------------------------

    async def _report_rules(self) -> None:
        # Reloads may land while this writes; only what was read here is marked reported.
        failed, failures, ok = self._rules_failed, self._rules_failures, self._rules_ok
        resolve_notes = (
            None
            if ok is None
            else f"resolved automatically: the rules file loaded at {_iso(ok.at)}"
        )
        if failed is not None:
            error = failed.error or "unknown error"
            # A failure already fixed by a later reload is still recorded, resolved at once.
            await self._raise(
                RULES_RELOAD,
                Severity.ERROR,
                "Rules reload failed; the previous rules stay in force",
                error,
                {
                    "path": str(self._rules.path),
                    "failed_at": _iso(failed.at),
                    "errors": [str(issue) for issue in failed.issues] or [error],
                },
                occurred_at=failed.at,
                count=failures,
                resolve_notes=resolve_notes,
            )
            self._rules_failures -= failures
            if self._rules_failed is failed:
                self._rules_failed = None
        elif resolve_notes is not None:
            await self._resolve(RULES_RELOAD, resolve_notes)
        if self._rules_ok is ok:
            self._rules_ok = None

    # -- load shedding -----------------------------------------------------------------------

    def _count_shedding(self) -> None:
        total = self._metrics.load_shed_total()
        new = int(total - self._shed_seen)
        self._shed_seen = total
        if new <= 0:
            return
        if self._shedding is None:
            self._shedding = _Shedding(window_started_at=datetime.now(UTC))
        self._shedding.shed += new
        self._shedding.unwritten += new
        self._shedding.last_shed = time.monotonic()

    async def _report_shedding(self) -> None:
        shedding = self._shedding
        if shedding is None:
            return
        if shedding.unwritten:
            slots = self._ingest_concurrency
            capacity = f" (ingest concurrency {slots})" if slots is not None else ""
            await self._raise(
                LOAD_SHEDDING,
                Severity.WARNING,
                "Ingestion is shedding load",
                f"{shedding.shed} ingestion requests were answered 503 at capacity{capacity} "
                f"since {_iso(shedding.window_started_at)}; senders are told to retry.",
                {
                    "shed": shedding.shed,
                    "window_started_at": _iso(shedding.window_started_at),
                    "ingest_concurrency": slots,
                },
                count=shedding.unwritten,
            )
            shedding.unwritten = 0
            shedding.alert_open = True
            return
        quiet = self.settings.shedding_quiet_period
        if time.monotonic() - shedding.last_shed < quiet:
            return
        if shedding.alert_open:
            await self._resolve(
                LOAD_SHEDDING,
                f"resolved automatically: no ingestion request shed for {_duration(quiet)}",
            )
        self._shedding = None

    # -- writing -----------------------------------------------------------------------------

    async def _raise(
        self,
        fingerprint: str,
        severity: Severity,
        title: str,
        description: str,
        metadata: dict[str, Any],
        *,
        occurred_at: datetime | None = None,
        count: int = 1,
        resolve_notes: str | None = None,
    ) -> None:
        """Open or count the alert `fingerprint`; with `resolve_notes`, resolve it as well."""
        metadata = {**metadata, "instance": self._hub.instance, "host": self._host}
        tally: dict[tuple[str, str, str], int] = {}
        changes: list[tuple[str, dict[str, Any]]] = []
        async with self._sessions() as db, db.begin():
            occurrence = await platform_alert_service.create_or_increment_alert(
                db,
                alert_type=AlertType.SYSTEM,
                severity=severity,
                title=title,
                fingerprint=fingerprint,
                description=description,
                affected_systems=(SYSTEM,),
                metadata=metadata,
                source=SOURCE,
                occurred_at=occurred_at or utcnow(),
                count=count,
            )
            kind = ALERT_CREATED if occurrence.created else ALERT_INCREMENTED
            tally[(kind, AlertType.SYSTEM, severity)] = 1 if occurrence.created else count
            if occurrence.created and count > 1:
                tally[(ALERT_INCREMENTED, AlertType.SYSTEM, severity)] = count - 1
            changes.append(
                (
                    kind,
                    {
                        "id": occurrence.alert_id,
                        "occurrence_count": occurrence.occurrence_count,
                        "severity": severity.value,
                    },
                )
            )
            if resolve_notes is not None:
                resolved = await platform_alert_service.resolve_by_fingerprint(
                    db, fingerprint, notes=resolve_notes
                )
                if resolved is not None:
                    tally[(ALERT_RESOLVED, resolved.alert_type, resolved.severity)] = 1
                    changes.append((ALERT_RESOLVED, {"id": resolved.id}))
        self._committed(tally, changes)
        log.warning("self_alert", fingerprint=fingerprint, alert_id=occurrence.alert_id)

    async def _resolve(self, fingerprint: str, notes: str) -> None:
        async with self._sessions() as db, db.begin():
            resolved = await platform_alert_service.resolve_by_fingerprint(
                db, fingerprint, notes=notes
            )
        if resolved is None:
            return
        self._committed(
            {(ALERT_RESOLVED, resolved.alert_type, resolved.severity): 1},
            [(ALERT_RESOLVED, {"id": resolved.id})],
        )
        log.info("self_alert_resolved", fingerprint=fingerprint, alert_id=resolved.id)

    def _committed(
        self, tally: dict[tuple[str, str, str], int], changes: list[tuple[str, dict[str, Any]]]
    ) -> None:
        # As in the writer: counted and announced only once committed.
        self._metrics.written(tally)
        for kind, data in changes:
            self._hub.publish(kind, data)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return str(timedelta(seconds=round(seconds)))
