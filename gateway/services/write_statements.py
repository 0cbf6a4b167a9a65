"""The ingestion path's write statements, built once per dialect and run with parameters.

Building the alert upsert takes over a millisecond of Python (an `excluded` alias, six CASE
expressions, dialect helpers), more than executing it. Built once, with every value a bind
parameter, a call only binds a parameter dict: SQLAlchemy memoises the statement's cache key
and finds the compiled SQL in its cache.

Each statement is executed with a dict keyed by column name (a list of dicts for several rows,
which SQLAlchemy renders as one multi-row INSERT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, false, func, insert, null, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate, Update

from gateway.storage import dialects
from gateway.storage.models import AdminNotification, NotificationDedup, PlatformAlert
from rules.vocabulary import Severity

ALERTS = cast(Table, PlatformAlert.__table__)
DEDUP = cast(Table, NotificationDedup.__table__)
NOTIFICATIONS = cast(Table, AdminNotification.__table__)

_SEVERITY_RANK = {severity.value: rank for rank, severity in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class WriteStatements:
    """The write statements of one dialect."""

    alert_upsert: ReturningInsert[Any]
    """Record occurrences: params are the alert columns.

    Returns id, occurrence_count and fingerprint of each row written.
    """
    dedup_claim: ReturningInsert[Any]
    """Open or count a dedup window: params key, window_expires_at, updated_at (= now).

    Returns the row's suppressed_count and key: the count is 0 when this call opened the
    window (a new key, or one whose window had expired), otherwise the number of suppressed
    repeats including this one. Several rows (distinct keys) go as one multi-row upsert.
    """
    dedup_link: Update
    """Point a claimed window at its notification: params link_key, link_id."""
    notification_insert: ReturningInsert[Any]
    """Insert a notification: params are its columns but id and store_id.

    Returns the id and the store_id the database generated from the metadata.
    """
    alert_resolve: ReturningUpdate[Any]
    """Resolve the open alert of a fingerprint: params match_fingerprint, notes, now.

    Returns its id, alert_type and severity; no row when none was open.
    """
    notification_insert_many: ReturningInsert[Any]
    """`notification_insert` for several rows at once, returning theirs in parameter order."""


_BUILT: dict[str, WriteStatements] = {}


def for_session(db: AsyncSession) -> WriteStatements:
    """Return the statements for the dialect `db` is bound to, building them the first time."""
    # The session's own engine when it has one: get_bind() resolves mappers on every call.
    name = db.bind.dialect.name if db.bind is not None else dialects.dialect_name(db)
    built = _BUILT.get(name)
    if built is None:
        built = _BUILT[name] = _build(db)
    return built


def _build(db: AsyncSession) -> WriteStatements:
    return WriteStatements(
        alert_upsert=_alert_upsert(db),
        dedup_claim=_dedup_claim(db),
        dedup_link=_dedup_link(),
        notification_insert=_notification_insert(),
        notification_insert_many=_notification_insert(in_parameter_order=True),
        alert_resolve=_alert_resolve(),
    )


def _severity_rank(severity: Any) -> Any:
    # A dict gives case() its "simple" form at once; positional tuples are first tried as a
    # mapping, which formats a failing repr() of every column (tens of microseconds).
    return case(_SEVERITY_RANK, value=severity, else_=-1)


def _alert_upsert(db: AsyncSession) -> ReturningInsert[Any]:
    """INSERT an open alert, or fold the occurrences into the open alert with its fingerprint.

    The fold: the count grows by the new count, first/last occurrence widen, severity only
    escalates, title, description and metadata follow the newest occurrence, affected stores
    and systems become the sorted union. A resolved alert is not matched (the unique index is
    partial), so the next occurrence opens a new one.
    """
    insert = dialects.insert(db, ALERTS)
    new, old = insert.excluded, ALERTS.c
    newest = new.last_occurred_at >= old.last_occurred_at
    stmt = insert.on_conflict_do_update(
        index_elements=[old.fingerprint],
        index_where=old.is_resolved == false(),
        set_={
            "occurrence_count": old.occurrence_count + new.occurrence_count,
            "first_occurred_at": dialects.least(db, old.first_occurred_at, new.first_occurred_at),
            "last_occurred_at": dialects.greatest(db, old.last_occurred_at, new.last_occurred_at),
            "severity": case(
                (_severity_rank(new.severity) > _severity_rank(old.severity), new.severity),
                else_=old.severity,
            ),
            "title": case((newest, new.title), else_=old.title),
            "description": case(
                (newest, func.coalesce(new.description, old.description)),
                else_=old.description,
            ),
            "alert_metadata": case((newest, new.alert_metadata), else_=old.alert_metadata),
            "affected_stores": dialects.merged_string_set(db, ALERTS, "affected_stores"),
            "affected_systems": dialects.merged_string_set(db, ALERTS, "affected_systems"),
            "updated_at": new.updated_at,
        },
    )
    return stmt.returning(old.id, old.occurrence_count, old.fingerprint)


def _dedup_claim(db: AsyncSession) -> ReturningInsert[Any]:
    """Claim the window of a key, or count one suppressed repeat, in one atomic upsert.

    A window has expired when it ends at or before now, which is the row's new updated_at.
    """
    insert = dialects.insert(db, DEDUP).values(notification_id=null(), suppressed_count=0)
    new, old = insert.excluded, DEDUP.c
    expired = old.window_expires_at <= new.updated_at
    stmt = insert.on_conflict_do_update(
        index_elements=[old.key],
        set_={
            "notification_id": case((expired, null()), else_=old.notification_id),
            "window_expires_at": case(
                (expired, new.window_expires_at), else_=old.window_expires_at
            ),
            "suppressed_count": case((expired, 0), else_=old.suppressed_count + 1),
            "updated_at": new.updated_at,
        },
    )
    return stmt.returning(old.suppressed_count, old.key)


def _dedup_link() -> Update:
    # Bind names differ from the column names, which SQLAlchemy reserves for SET values.
    return (
        update(DEDUP)
        .where(DEDUP.c.key == bindparam("link_key"))
        .values(notification_id=bindparam("link_id"))
    )


def _notification_insert(*, in_parameter_order: bool = False) -> ReturningInsert[Any]:
    # A plain INSERT reads the same on every dialect. Rows of a multi-row INSERT come back in
    # no set order unless asked for; SQLAlchemy then orders them by the integer primary key.
    return insert(NOTIFICATIONS).returning(
        NOTIFICATIONS.c.id, NOTIFICATIONS.c.store_id, sort_by_parameter_order=in_parameter_order
    )


def _alert_resolve() -> ReturningUpdate[Any]:
    now: Any = bindparam("now")  # typed by the columns it is assigned to
    return (
        update(ALERTS)
        .where(
            ALERTS.c.fingerprint == bindparam("match_fingerprint"), ALERTS.c.is_resolved == false()
        )
        .values(
            is_resolved=True,
            resolved_at=now,
            resolved_by_user_id=null(),
            resolution_notes=bindparam("notes"),
            updated_at=now,
        )
        .returning(ALERTS.c.id, ALERTS.c.alert_type, ALERTS.c.severity)
    )
