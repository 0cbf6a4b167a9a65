"""The specification's services: admin notifications and platform alerts.

Usage, inside any async code holding a session::

    await admin_notification_service.notify_import_failure(
        db=db,
        store_name="Acme Corp",
        job_id=123,
        error_message="CSV parsing failed: invalid column format",
        store_id=5,
    )
    await db.commit()

Every method takes the caller's `AsyncSession` as `db` and never commits; it flushes only when
it needs a generated id. Deduplication is done by the database in single statements
(INSERT ... ON CONFLICT), so it holds across connections and processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    and_,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased, make_transient_to_detached
from sqlalchemy.sql.selectable import ScalarSelect

from gateway.errors import Conflict, RecordNotFound
from gateway.services import write_statements
from gateway.storage import dialects
from gateway.storage.models import (
    STORE_ID_MAX_LENGTH,
    AdminNotification,
    NotificationUnreadCount,
    PlatformAlert,
)
from gateway.storage.types import utcnow
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

__all__ = [
    "DEFAULT_DEDUP_WINDOW",
    "AdminNotificationService",
    "AlertOccurrence",
    "AlertRecord",
    "AlertType",
    "NotificationType",
    "PlatformAlertService",
    "Priority",
    "Severity",
    "admin_notification_service",
    "platform_alert_service",
]

DEFAULT_DEDUP_WINDOW = timedelta(minutes=15)
"""The window used when a dedup key is given without a window."""

SEVERITY_RANK: Mapping[str, int] = {severity.value: rank for rank, severity in enumerate(Severity)}


def _one_or_many(value: str | Sequence[str] | None) -> list[str] | None:
    """Accept one value or several; a bare string is one value, not its characters."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def _sorted_unique(values: Iterable[str] | None) -> list[str]:
    return sorted({str(value) for value in values or ()})


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")


def _before(
    model: type[AdminNotification] | type[PlatformAlert],
    timestamp: InstrumentedAttribute[datetime],
    before_id: int,
) -> ColumnElement[bool]:
    """Return rows after the cursor row in (timestamp desc, id desc) order.

    A cursor id that no longer exists matches nothing.
    """
    cursor = aliased(model)
    cursor_time = (
        select(getattr(cursor, timestamp.key)).where(cursor.id == before_id).scalar_subquery()
    )
    # The redundant `<=` gives the index on the timestamp a range to start from; the OR alone
    # is only a filter, read from the newest row down to the cursor.
    return and_(
        timestamp <= cursor_time,
        or_(timestamp < cursor_time, and_(timestamp == cursor_time, model.id < before_id)),
    )


def _before_key(
    model: type[AdminNotification] | type[PlatformAlert],
    timestamp: InstrumentedAttribute[datetime],
    key: tuple[datetime, int],
) -> ColumnElement[bool]:
    """Return rows after the key (timestamp, id) in (timestamp desc, id desc) order."""
    at, key_id = key
    # As in `_before`: the redundant `<=` lets the index seek to the cursor.
    return and_(timestamp <= at, or_(timestamp < at, and_(timestamp == at, model.id < key_id)))


def _store_id_matches(store_id: str) -> ColumnElement[bool]:
    """Return notifications whose metadata `store_id` reads `store_id` as text (7 or "7")."""
    if len(store_id) <= STORE_ID_MAX_LENGTH:
        # The indexed column, which holds that text for every value up to this length.
        return AdminNotification.store_id == store_id
    # The column leaves longer values NULL; so rare that reading the JSON itself is fine.
    field = dialects.json_field_text(AdminNotification.notification_metadata, "store_id")
    return field == store_id


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


UNREAD_COUNTS = NotificationUnreadCount
"""Unread notifications per priority, kept by the database's triggers (migration 0005).

A priority's count is the sum of its rows (see the model); never written from Python.
"""


def _unread_total() -> Select[tuple[Any]]:
    """The number of unread notifications, of every priority, from the counter."""
    return select(func.coalesce(func.sum(UNREAD_COUNTS.unread), 0))


def _highest_id() -> ScalarSelect[Any]:
    return select(func.max(AdminNotification.id)).scalar_subquery()


def _latest_update() -> ScalarSelect[Any]:
    return select(func.max(AdminNotification.updated_at)).scalar_subquery()


COUNT_EXACT_UP_TO = 10_000
"""List totals are exact up to this many rows; above it, on PostgreSQL, an estimate."""


async def _count_matching(
    db: AsyncSession,
    model: type[AdminNotification] | type[PlatformAlert],
    conditions: Sequence[ColumnElement[bool]],
) -> int:
    """Return how many rows of `model` match `conditions`: exact up to COUNT_EXACT_UP_TO.

    An exact count(*) reads every matching index entry, 100 ms and more for an unfiltered list
    of a million notifications, on every page. As PostgREST's `count=estimated` does (exact
    below a threshold, the planner's estimate above), counting stops after
    COUNT_EXACT_UP_TO + 1 rows; beyond that, PostgreSQL's planner estimate is returned, never
    less than the rows counted.
    Where no estimate can be had, and on SQLite, the count is exact.
    """
    matching = select(model.id).where(*conditions)
    if dialects.dialect_name(db) == "postgresql":
        bounded = matching.limit(COUNT_EXACT_UP_TO + 1).subquery()
        seen = int(await db.scalar(select(func.count()).select_from(bounded)) or 0)
        if seen <= COUNT_EXACT_UP_TO:
            return seen
        estimate = await _planner_rows(db, matching)
        if estimate is not None:
            return max(seen, estimate)
    total = await db.scalar(select(func.count()).select_from(model).where(*conditions))
    return int(total or 0)


def total_is_exact(db: AsyncSession, total: int) -> bool:
    """Tell whether a `total` from a list method is an exact count (see `_count_matching`)."""
    return total <= COUNT_EXACT_UP_TO or dialects.dialect_name(db) != "postgresql"


async def _planner_rows(db: AsyncSession, stmt: Select[Any]) -> int | None:
    """Return PostgreSQL's estimate of how many rows `stmt` yields, or None."""
    top = (await db.execute(dialects.Explain(stmt))).scalar()
    _, found, rest = str(top).partition(" rows=")
    rows = rest.split(" ", 1)[0]
    return int(rows) if found and rows.isdigit() else None


@dataclass(frozen=True, slots=True)
class AlertOccurrence:
    """What recording an occurrence did: which alert it landed on and whether it opened it."""

    alert_id: int
    occurrence_count: int
    created: bool


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """Occurrences of one alert fingerprint to record (see `create_or_increment_alert`)."""

    alert_type: str
    severity: str
    title: str
    fingerprint: str
    description: str | None = None
    affected_stores: Iterable[str] = ()
    affected_systems: Iterable[str] = ()
    metadata: Mapping[str, Any] | None = None
    rule: str | None = None
    source: str | None = None
    occurred_at: datetime | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One notification to create (see `create_notification` for the fields)."""

    notification_type: str
    title: str
    message: str
    priority: str = Priority.NORMAL
    action_required: bool = False
    action_url: str | None = None
    metadata: Mapping[str, Any] | None = None
    rule: str | None = None
    source: str | None = None
    dedup_key: str | None = None
    dedup_window: timedelta | None = None


def _notification_values(record: NotificationRecord, now: datetime) -> dict[str, Any]:
    """The columns of a new notification but id and store_id (the database sets those)."""
    return {
        "type": str(record.notification_type),
        "priority": str(record.priority),
        "title": record.title,
        "message": record.message,
        "is_read": False,
        "read_at": None,
        "read_by_user_id": None,
        "action_required": record.action_required,
        "action_url": record.action_url,
        "notification_metadata": dict(record.metadata or {}),
        "rule": record.rule,
        "source": record.source,
        "dedup_key": record.dedup_key,
        "created_at": now,
        "updated_at": now,
    }


@dataclass(frozen=True, slots=True)
class ResolvedAlert:
    """What `resolve_open` resolved: enough to announce it."""

    id: int
    alert_type: str
    severity: str


@dataclass(frozen=True, slots=True)
class CreatedNotification:
    """What `record_notifications` created: enough to announce it."""

    id: int
    type: str
    priority: str


class AdminNotificationService:
    """Create, list, read and delete admin notifications."""

    # -- creation ------------------------------------------------------------------------------

    async def create_notification(
        self,
        db: AsyncSession,
        *,
        notification_type: str,
        title: str,
        message: str,
        priority: str = Priority.NORMAL,
        action_required: bool = False,
        action_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        rule: str | None = None,
        source: str | None = None,
        dedup_key: str | None = None,
        dedup_window: timedelta | None = None,
    ) -> AdminNotification | None:
        """Create a notification, or return None when `dedup_key` is inside an open window.

        The first call with a key opens a window of `dedup_window` (default
        DEFAULT_DEDUP_WINDOW) and creates the notification; calls with the same key until the
        window expires only count as suppressed. The window is claimed by one atomic upsert,
        so concurrent callers on separate connections still produce a single notification.
        """
        now = utcnow()
        if dedup_key is not None:
            window = DEFAULT_DEDUP_WINDOW if dedup_window is None else dedup_window
            if window <= timedelta(0):
                raise ValueError(f"dedup_window must be positive, got {window}")
            if not await self._claim_dedup_window(db, dedup_key, now=now, expires=now + window):
                return None
        notification = await self._insert(
            db,
            notification_type=notification_type,
            title=title,
            message=message,
            priority=priority,
            action_required=action_required,
            action_url=action_url,
            metadata=metadata,
            rule=rule,
            source=source,
            dedup_key=dedup_key,
            now=now,
        )
        if dedup_key is not None:
            await db.execute(
                write_statements.for_session(db).dedup_link,
                {"link_key": dedup_key, "link_id": notification.id},
            )
        return notification

    async def record_notifications(
        self, db: AsyncSession, records: Sequence[NotificationRecord]
    ) -> list[CreatedNotification | None]:
        """Create several notifications as `create_notification` would one after the other,
        in a few statements whatever their number; None for each one a window suppressed.

        The dedup windows are claimed by one multi-row upsert (one more for each repeat of a
        key within `records`: an upsert may touch a row only once), the notifications inserted
        by one multi-row INSERT, and the windows pointed at them by one executemany. Rows are
        written in the order given, so callers pass them in their lock order.
        """
        if not records:
            return []
        now = utcnow()
        statements = write_statements.for_session(db)
        opened = [True] * len(records)
        pending = [i for i, record in enumerate(records) if record.dedup_key is not None]
        while pending:
            claims: dict[str, int] = {}  # key -> index of the record that claims it now
            repeats: list[int] = []
            for i in pending:
                key = cast(str, records[i].dedup_key)
                if key in claims:
                    repeats.append(i)
                else:
                    claims[key] = i
            params = []
            for key, i in claims.items():
                window = records[i].dedup_window
                window = DEFAULT_DEDUP_WINDOW if window is None else window
                if window <= timedelta(0):
                    raise ValueError(f"dedup_window must be positive, got {window}")
                params.append({"key": key, "window_expires_at": now + window, "updated_at": now})
            result = await db.execute(
                statements.dedup_claim, params[0] if len(params) == 1 else params
            )
            for suppressed, key in result:
                opened[claims[key]] = suppressed == 0
            pending = repeats
        created = [i for i in range(len(records)) if opened[i]]
        if not created:
            return [None] * len(records)
        rows = [_notification_values(records[i], now) for i in created]
        inserted = (
            await db.execute(
                statements.notification_insert_many, rows[0] if len(rows) == 1 else rows
            )
        ).all()
        out: list[CreatedNotification | None] = [None] * len(records)
        links = []
        for i, values, row in zip(created, rows, inserted, strict=True):
            out[i] = CreatedNotification(
                id=row.id, type=values["type"], priority=values["priority"]
            )
            if values["dedup_key"] is not None:
                links.append({"link_key": values["dedup_key"], "link_id": row.id})
        if links:
            await db.execute(statements.dedup_link, links[0] if len(links) == 1 else links)
        return out

    async def _claim_dedup_window(
        self, db: AsyncSession, key: str, *, now: datetime, expires: datetime
    ) -> bool:
        """Open the window for `key` unless one is open; True when this call opened it.

        When a window is open the same statement counts this call as suppressed.
        """
        suppressed = (
            await db.execute(
                write_statements.for_session(db).dedup_claim,
                {"key": key, "window_expires_at": expires, "updated_at": now},
            )
        ).scalar_one()
        return bool(suppressed == 0)

    async def _insert(
        self,
        db: AsyncSession,
        *,
        notification_type: str,
        title: str,
        message: str,
        priority: str,
        action_required: bool = False,
        action_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        rule: str | None = None,
        source: str | None = None,
        dedup_key: str | None = None,
        now: datetime | None = None,
    ) -> AdminNotification:
        # Every column gets a value, so that the object is fully loaded: bulk UPDATEs then
        # keep it in sync, and nothing about it is ever loaded lazily.
        record = NotificationRecord(
            notification_type=notification_type,
            title=title,
            message=message,
            priority=priority,
            action_required=action_required,
            action_url=action_url,
            metadata=metadata,
            rule=rule,
            source=source,
            dedup_key=dedup_key,
        )
        values = _notification_values(record, now or utcnow())
        # A prebuilt INSERT ... RETURNING instead of add + flush: the unit of work costs
        # milliseconds per row. The object then joins the session as if loaded from the row,
        # with the store_id the database generated from the metadata.
        statement = write_statements.for_session(db).notification_insert
        row = (await db.execute(statement, values)).one()
        notification = AdminNotification(**values, id=row.id, store_id=row.store_id)
        make_transient_to_detached(notification)
        db.add(notification)
        return notification

    # -- queries -------------------------------------------------------------------------------

    async def get_notifications(
        self,
        db: AsyncSession,
        *,
        priority: str | Sequence[str] | None = None,
        notification_type: str | Sequence[str] | None = None,
        is_read: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        q: str | None = None,
        store_id: str | int | None = None,
        before_id: int | None = None,
        before_key: tuple[datetime, int] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AdminNotification], int]:
        """Return one page of notifications, newest first, and how many match the filters.

        `since` is inclusive and `until` exclusive (on created_at); `q` is a case-insensitive
        substring of the title or message; `store_id` matches `store_id` in the metadata,
        whether stored as a number or a string. `before_id` is a keyset cursor: the page
        starts after that notification. `before_key` is the same cursor given by value,
        (created_at, id) of the last row seen, so it holds after that row is deleted. The
        total ignores the cursors, limit and offset; above COUNT_EXACT_UP_TO it may be an
        estimate (see `_count_matching`).
        """
        _check_page(limit, offset)
        conditions: list[ColumnElement[bool]] = []
        priorities = _one_or_many(priority)
        if priorities is not None:
            conditions.append(AdminNotification.priority.in_(priorities))
        types = _one_or_many(notification_type)
        if types is not None:
            conditions.append(AdminNotification.type.in_(types))
        if is_read is not None:
            conditions.append(AdminNotification.is_read == (true() if is_read else false()))
        if since is not None:
            conditions.append(AdminNotification.created_at >= since)
        if until is not None:
            conditions.append(AdminNotification.created_at < until)
        if q:
            pattern = f"%{_escape_like(q)}%"
            conditions.append(
                or_(
                    AdminNotification.title.ilike(pattern, escape="\\"),
                    AdminNotification.message.ilike(pattern, escape="\\"),
                )
            )
        if store_id is not None:
            conditions.append(_store_id_matches(str(store_id)))

        total = await _count_matching(db, AdminNotification, conditions)
        stmt = select(AdminNotification).where(*conditions)
        if before_id is not None:
            stmt = stmt.where(_before(AdminNotification, AdminNotification.created_at, before_id))
        if before_key is not None:
            stmt = stmt.where(
                _before_key(AdminNotification, AdminNotification.created_at, before_key)
            )
        stmt = (
            stmt.order_by(AdminNotification.created_at.desc(), AdminNotification.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list((await db.scalars(stmt)).all()), int(total or 0)

    async def get_recent_notifications(
        self, db: AsyncSession, limit: int = 5
    ) -> list[AdminNotification]:
        """Return the newest unread notifications, for the header dropdown."""
        _check_page(limit, 0)
        stmt = (
            select(AdminNotification)
            .where(AdminNotification.is_read == false())
            .order_by(AdminNotification.created_at.desc(), AdminNotification.id.desc())
            .limit(limit)
        )
        return list((await db.scalars(stmt)).all())

    async def get_unread_count(self, db: AsyncSession) -> int:
        """Return how many notifications are unread, for the header badge.

        Read from the counter the database keeps (`notification_unread_counts`, migration
        0005), not by counting the unread rows: a few rows whatever the number of unread.
        """
        return int(await db.scalar(_unread_total()) or 0)

    async def get_unread_marker(self, db: AsyncSession) -> tuple[int, int, datetime | None]:
        """Return (unread count, highest id, latest updated_at), in one query.

        Any change to what the unread views show changes the marker: a new notification
        raises the highest id, reading or unreading moves updated_at, deleting an unread one
        lowers the count.
        """
        # One scalar subquery per figure: the counter's few rows, then the primary key and the
        # updated_at index, each read at one end.
        stmt = select(_unread_total().scalar_subquery(), _highest_id(), _latest_update())
        unread, highest, updated = (await db.execute(stmt)).one()
        return int(unread or 0), int(highest or 0), updated

    async def get_unread_summary(
        self, db: AsyncSession
    ) -> tuple[dict[str, int], tuple[int, int, datetime | None]]:
        """Return the unread count per priority and the unread marker, from one snapshot.

        One statement, so the marker (the ETag of the badge) labels exactly these counts.
        """
        priorities = [priority.value for priority in Priority]
        # One pass over the counter's rows, a sum per priority; with the two index lookups of
        # the marker as scalar subqueries beside them.
        stmt = select(
            *(
                func.sum(UNREAD_COUNTS.unread).filter(UNREAD_COUNTS.priority == priority)
                for priority in priorities
            ),
            _highest_id(),
            _latest_update(),
        ).select_from(UNREAD_COUNTS)
        *counts, highest, updated = (await db.execute(stmt)).one()
        by_priority = dict(zip(priorities, (int(count or 0) for count in counts), strict=True))
        return by_priority, (sum(by_priority.values()), int(highest or 0), updated)

    async def get_unread_count_by_priority(self, db: AsyncSession) -> dict[str, int]:
        """Return the unread count per priority; every priority is present, zeros included.

        A priority outside the vocabulary (raw SQL may store one) is listed while it has
        unread notifications.
        """
        stmt = select(UNREAD_COUNTS.priority, func.sum(UNREAD_COUNTS.unread)).group_by(
            UNREAD_COUNTS.priority
        )
        counts = {priority.value: 0 for priority in Priority}
        for priority, count in (await db.execute(stmt)).all():
            if count or priority in counts:
                counts[priority] = int(count)
        return counts

    async def get_notification(self, db: AsyncSession, notification_id: int) -> AdminNotification:
        """Return one notification as stored now; RecordNotFound if there is none with that id."""
        notification = await db.get(AdminNotification, notification_id, populate_existing=True)
        if notification is None:
            raise RecordNotFound("notification", notification_id)
        return notification

    # -- read state ----------------------------------------------------------------------------

    async def mark_as_read(
        self, db: AsyncSession, notification_id: int, user_id: int | None = None
    ) -> AdminNotification:
        """Mark a notification read; marking it again keeps the first reader and time."""
        await self._mark_read_where(db, [AdminNotification.id == notification_id], user_id)
        return await self.get_notification(db, notification_id)

    async def mark_as_unread(self, db: AsyncSession, notification_id: int) -> AdminNotification:
        """Mark a notification unread again, forgetting who read it and when."""
        await db.execute(
            update(AdminNotification)
            .where(AdminNotification.id == notification_id, AdminNotification.is_read == true())
            .values(is_read=False, read_at=None, read_by_user_id=None, updated_at=utcnow())
        )
        return await self.get_notification(db, notification_id)

    async def mark_many_as_read(
        self, db: AsyncSession, ids: Iterable[int], user_id: int | None = None
    ) -> int:
        """Mark the given notifications read; return how many were unread before."""
        id_list = list(ids)
        if not id_list:
            return 0
        return await self._mark_read_where(db, [AdminNotification.id.in_(id_list)], user_id)

    async def mark_all_as_read(
        self,
        db: AsyncSession,
        *,
        user_id: int | None = None,
        up_to_id: int | None = None,
        up_to: datetime | None = None,
        priority: str | Sequence[str] | None = None,
        notification_type: str | Sequence[str] | None = None,
    ) -> int:
        """Mark every unread notification matching the filters read, in one UPDATE.

        `up_to_id` and `up_to` (inclusive) bound the update to what the admin has seen, so a
        notification arriving meanwhile stays unread. Return how many were marked.
        """
        conditions: list[ColumnElement[bool]] = []
        if up_to_id is not None:
            conditions.append(AdminNotification.id <= up_to_id)
        if up_to is not None:
            conditions.append(AdminNotification.created_at <= up_to)
        priorities = _one_or_many(priority)
        if priorities is not None:
            conditions.append(AdminNotification.priority.in_(priorities))
        types = _one_or_many(notification_type)
        if types is not None:
            conditions.append(AdminNotification.type.in_(types))
        return await self._mark_read_where(db, conditions, user_id)

    async def _mark_read_where(
        self, db: AsyncSession, conditions: list[ColumnElement[bool]], user_id: int | None
    ) -> int:
        """Mark the unread notifications matching `conditions` read; return how many."""
        now = utcnow()
        result = await db.execute(
            update(AdminNotification)
            .where(*conditions, AdminNotification.is_read == false())
            .values(is_read=True, read_at=now, read_by_user_id=user_id, updated_at=now)
        )
        return _rowcount(result)

    async def delete_notification(self, db: AsyncSession, notification_id: int) -> None:
        """Delete a notification; raise RecordNotFound if there is none with that id."""
        notification = await self.get_notification(db, notification_id)
        await db.delete(notification)
        await db.flush()

    async def delete_many_notifications(self, db: AsyncSession, ids: Iterable[int]) -> list[int]:
        """Delete the given notifications in one DELETE; return the ids deleted, ascending.

        Ids that do not exist are skipped.
        """
        id_list = list(ids)
        if not id_list:
            return []
        result = await db.execute(
            delete(AdminNotification)
            .where(AdminNotification.id.in_(id_list))
            .returning(AdminNotification.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(int(row_id) for row_id in result.scalars())

    # -- convenience ---------------------------------------------------------------------------

    async def notify_import_failure(
        self,
        db: AsyncSession,
        *,
        store_name: str,
        job_id: int | str,
        error_message: str,
        store_id: int | str | None = None,
        import_type: str = "product",
    ) -> AdminNotification:
        """Notify that an import job failed (high priority, action required)."""
        kind = import_type.replace("_", " ")
        return await self._insert(
            db,
            notification_type=NotificationType.IMPORT_FAILURE,
            priority=Priority.HIGH,
            title=f"{kind.capitalize()} import failed for {store_name}",
            message=f"{kind.capitalize()} import job #{job_id} for {store_name} failed: "
            f"{error_message}",
            action_required=True,
            action_url=f"/admin/imports/{quote(str(job_id), safe='')}",
            metadata={
                "store_name": store_name,
                "store_id": store_id,
                "job_id": job_id,
                "import_type": import_type,
                "error_message": error_message,
            },
            source="service",
        )

    async def notify_order_sync_failure(
        self,
        db: AsyncSession,
        *,
        store_name: str,
        error_message: str,
        store_id: int | str | None = None,
    ) -> AdminNotification:
        """Notify that synchronising a store's orders failed (high priority, action required)."""
        return await self._insert(
            db,
            notification_type=NotificationType.ORDER_SYNC_FAILURE,
            priority=Priority.HIGH,
            title=f"Order sync failed for {store_name}",
            message=f"Synchronising orders for {store_name} failed: {error_message}",
            action_required=True,
            action_url=_store_path(store_id, "orders"),
            metadata={
                "store_name": store_name,
                "store_id": store_id,
                "error_message": error_message,
            },
            source="service",
        )

    async def notify_order_exception(
        self,
        db: AsyncSession,
        *,
        store_name: str,
        order_number: str,
        exception_message: str,
        store_id: int | str | None = None,
        order_id: int | str | None = None,
        unmatched_products: Sequence[str] = (),
    ) -> AdminNotification:
        """Notify that an order needs attention, e.g. unmatched products (high, action required).

        `unmatched_products` lists the product references (GTIN, SKU) that matched nothing.
        """
        message = f"Order {order_number} from {store_name}: {exception_message}"
        if unmatched_products:
            message += f" (unmatched products: {', '.join(unmatched_products)})"
        if order_id is not None:
            action_url = f"/admin/orders/{quote(str(order_id), safe='')}"
        else:
            action_url = f"/admin/orders?search={quote(order_number, safe='')}"
        return await self._insert(
            db,
            notification_type=NotificationType.ORDER_EXCEPTION,
            priority=Priority.HIGH,
            title=f"Order {order_number} needs attention",
            message=message,
            action_required=True,
            action_url=action_url,
            metadata={
                "store_name": store_name,
                "store_id": store_id,
                "order_number": order_number,
                "order_id": order_id,
                "exception_message": exception_message,
                "unmatched_products": list(unmatched_products),
            },
            source="service",
        )

    async def notify_critical_error(
        self,
        db: AsyncSession,
        *,
        error_type: str,
        error_message: str,
        details: Mapping[str, Any] | None = None,
    ) -> AdminNotification:
        """Notify a system-wide critical error (critical priority, action required).

        `error_type` names what failed (a component or error class); `details` is kept in
        the metadata.
        """
        return await self._insert(
            db,
            notification_type=NotificationType.CRITICAL_ERROR,
            priority=Priority.CRITICAL,
            title=f"Critical error: {error_type}",
            message=error_message,
            action_required=True,
            action_url="/admin/notifications?priority=critical",
            metadata={
                "error_type": error_type,
                "error_message": error_message,
                "details": dict(details or {}),
            },
            source="service",
        )

    async def notify_store_issue(
        self,
        db: AsyncSession,
        *,
        store_name: str,
        issue_type: str,
        message: str,
        store_id: int | str | None = None,
    ) -> AdminNotification:
        """Notify a problem with one store (normal priority)."""
        return await self._insert(
            db,
            notification_type=NotificationType.STORE_ISSUE,
            priority=Priority.NORMAL,
            title=f"{store_name}: {issue_type.replace('_', ' ')}",
            message=message,
            action_url=_store_path(store_id),
            metadata={"store_name": store_name, "store_id": store_id, "issue_type": issue_type},
            source="service",
        )

    async def notify_security_alert(
        self,
        db: AsyncSession,
        *,
        title: str,
        details: str,
        ip: str | None = None,
        user: str | None = None,
    ) -> AdminNotification:
        """Notify a security event (critical priority, action required).

        `ip` is the client address involved and `user` the account (name or id), if known.
        """
        context = ", ".join(
            part for part in (f"IP {ip}" if ip else "", f"user {user}" if user else "") if part
        )
        return await self._insert(
            db,
            notification_type=NotificationType.SECURITY_ALERT,
            priority=Priority.CRITICAL,
            title=f"Security alert: {title}",
            message=f"{details} ({context})" if context else details,
            action_required=True,
            action_url="/admin/notifications?type=security_alert",
            metadata={"details": details, "ip": ip, "user": user},
            source="service",
        )


def _store_path(store_id: int | str | None, *parts: str) -> str:
    if store_id is None:
        return "/admin/stores"
    return "/".join(("/admin/stores", quote(str(store_id), safe=""), *parts))


class PlatformAlertService:
    """Record, list and resolve platform alerts; one open alert per fingerprint."""

    async def create_alert(
        self,
        db: AsyncSession,
        *,
        alert_type: str,
        severity: str,
        title: str,
        description: str | None = None,
        affected_stores: Iterable[str] | None = None,
        affected_systems: Iterable[str] | None = None,
        fingerprint: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        rule: str | None = None,
        source: str | None = None,
    ) -> PlatformAlert:
        """Create an alert; with a fingerprint, count an occurrence of the open one instead."""
        if fingerprint is not None:
            occurrence = await self.create_or_increment_alert(
                db,
                alert_type=alert_type,
                severity=severity,
                title=title,
                fingerprint=fingerprint,
                description=description,
                affected_stores=affected_stores or (),
                affected_systems=affected_systems or (),
                metadata=metadata,
                rule=rule,
                source=source,
            )
            return await self.get_alert(db, occurrence.alert_id)
        now = utcnow()
        # Every column gets a value, as in AdminNotificationService._insert.
        alert = PlatformAlert(
            alert_type=str(alert_type),
            severity=str(severity),
            title=title,
            description=description,
            affected_stores=_sorted_unique(affected_stores),
            affected_systems=_sorted_unique(affected_systems),
            occurrence_count=1,
            first_occurred_at=now,
            last_occurred_at=now,
            is_resolved=False,
            resolved_at=None,
            resolved_by_user_id=None,
            resolution_notes=None,
            fingerprint=None,
            alert_metadata=dict(metadata or {}),
            rule=rule,
            source=source,
            created_at=now,
            updated_at=now,
        )
        db.add(alert)
        await db.flush()
        return alert

    async def create_or_increment_alert(
        self,
        db: AsyncSession,
        *,
        alert_type: str,
        severity: str,
        title: str,
        fingerprint: str,
        description: str | None = None,
        affected_stores: Iterable[str] = (),
        affected_systems: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        rule: str | None = None,
        source: str | None = None,
        occurred_at: datetime | None = None,
        count: int = 1,
    ) -> AlertOccurrence:
        """Record `count` occurrences of the alert `fingerprint` in one atomic statement.

        Without an open alert for the fingerprint one is created. Otherwise the open one is
        updated in place: its count grows by `count`, first/last occurrence widen to include
        `occurred_at` (default now), severity only escalates, title, description and metadata
        follow the newest occurrence, affected stores and systems become the sorted union.
        A resolved alert is left alone: the next occurrence opens a new one.
        """
        record = AlertRecord(
            alert_type=alert_type,
            severity=severity,
            title=title,
            fingerprint=fingerprint,
            description=description,
            affected_stores=tuple(affected_stores),
            affected_systems=tuple(affected_systems),
            metadata=metadata,
            rule=rule,
            source=source,
            occurred_at=occurred_at,
            count=count,
        )
        (occurrence,) = await self.record_alert_occurrences(db, [record])
        return occurrence

    async def record_alert_occurrences(
        self, db: AsyncSession, records: Sequence[AlertRecord]
    ) -> list[AlertOccurrence]:
        """Record several fingerprints' occurrences in one statement; results in input order.

        Each record is folded as `create_or_increment_alert` describes. The fingerprints must
        be distinct: PostgreSQL refuses an upsert that touches one row twice. Rows are written
        in the given order, so callers pass them in their lock order.
        """
        if not records:
            return []
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for record in records:
            if record.count < 1:
                raise ValueError(f"count must be at least 1, got {record.count}")
            occurred = record.occurred_at or now
            rows.append(
                {
                    "alert_type": str(record.alert_type),
                    "severity": str(record.severity),
                    "title": record.title,
                    "description": record.description,
                    "affected_stores": _sorted_unique(record.affected_stores),
                    "affected_systems": _sorted_unique(record.affected_systems),
                    "occurrence_count": record.count,
                    "first_occurred_at": occurred,
                    "last_occurred_at": occurred,
                    "is_resolved": False,
                    "fingerprint": record.fingerprint,
                    "alert_metadata": dict(record.metadata or {}),
                    "rule": record.rule,
                    "source": record.source,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if len({record.fingerprint for record in records}) != len(records):
            raise ValueError("record_alert_occurrences needs distinct fingerprints")
        statement = write_statements.for_session(db).alert_upsert
        # Several rows go as one executemany, which SQLAlchemy sends as a multi-row INSERT;
        # RETURNING gives no row order then, so rows are matched back by fingerprint.
        result = await db.execute(statement, rows[0] if len(rows) == 1 else rows)
        stored = {fingerprint: (alert_id, count) for alert_id, count, fingerprint in result}
        occurrences = []
        for record in records:
            alert_id, occurrence_count = stored[record.fingerprint]
            occurrences.append(
                AlertOccurrence(
                    alert_id=alert_id,
                    occurrence_count=occurrence_count,
                    created=occurrence_count == record.count,
                )
            )
        return occurrences

    async def get_alerts(
        self,
        db: AsyncSession,
        *,
        severity: str | Sequence[str] | None = None,
        alert_type: str | Sequence[str] | None = None,
        is_resolved: bool | None = None,
        store_id: str | int | None = None,
        system: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        before_key: tuple[datetime, int] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[PlatformAlert], int]:
        """Return one page of alerts, latest activity first, and how many match the filters.

        `store_id` and `system` must appear in affected_stores / affected_systems; `since`
        (inclusive) applies to the last occurrence. `before_id` is a keyset cursor on
        (last_occurred_at, id); `before_key` gives it by value, as seen when the page was
        read, so an alert that recurs meanwhile moves to the top without shifting later pages.
        The total ignores the cursors, limit and offset; above COUNT_EXACT_UP_TO it may be an
        estimate (see `_count_matching`).
        """
        _check_page(limit, offset)
        conditions: list[ColumnElement[bool]] = []
        severities = _one_or_many(severity)
        if severities is not None:
            conditions.append(PlatformAlert.severity.in_(severities))
        types = _one_or_many(alert_type)
        if types is not None:
            conditions.append(PlatformAlert.alert_type.in_(types))
        if is_resolved is not None:
            conditions.append(PlatformAlert.is_resolved == (true() if is_resolved else false()))
        if store_id is not None:
            conditions.append(
                dialects.json_array_contains(db, PlatformAlert.affected_stores, str(store_id))
            )
        if system is not None:
            conditions.append(
                dialects.json_array_contains(db, PlatformAlert.affected_systems, system)
            )
        if since is not None:
            conditions.append(PlatformAlert.last_occurred_at >= since)

        total = await _count_matching(db, PlatformAlert, conditions)
        stmt = select(PlatformAlert).where(*conditions)
        if before_id is not None:
            stmt = stmt.where(_before(PlatformAlert, PlatformAlert.last_occurred_at, before_id))
        if before_key is not None:
            stmt = stmt.where(
                _before_key(PlatformAlert, PlatformAlert.last_occurred_at, before_key)
            )
        stmt = (
            stmt.order_by(PlatformAlert.last_occurred_at.desc(), PlatformAlert.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list((await db.scalars(stmt)).all()), int(total or 0)

    async def get_alert(self, db: AsyncSession, alert_id: int) -> PlatformAlert:
        """Return one alert as stored now; RecordNotFound if there is none with that id.

        The row is always read, refreshing an object the session holds: the atomic upserts
        write around the session's identity map.
        """
        alert = await db.get(PlatformAlert, alert_id, populate_existing=True)
        if alert is None:
            raise RecordNotFound("platform alert", alert_id)
        return alert

    async def resolve_alert(
        self,
        db: AsyncSession,
        alert_id: int,
        *,
        user_id: int | None = None,
        resolution_notes: str | None = None,
    ) -> PlatformAlert:
        """Resolve an open alert; RecordNotFound if missing, Conflict if already resolved.

        The UPDATE only matches an unresolved row, so of two concurrent resolves exactly one
        wins and the other gets Conflict.
        """
        resolved_id = await self._resolve_where(
            db, PlatformAlert.id == alert_id, user_id=user_id, notes=resolution_notes
        )
        if resolved_id is None:
            await self.get_alert(db, alert_id)
            raise Conflict(f"platform alert {alert_id} is already resolved")
        return await self.get_alert(db, resolved_id)

    async def resolve_by_fingerprint(
        self,
        db: AsyncSession,
        fingerprint: str,
        *,
        notes: str | None = None,
        user_id: int | None = None,
    ) -> PlatformAlert | None:
        """Resolve the open alert with `fingerprint`; return it, or None if none is open."""
        resolved_id = await self._resolve_where(
            db, PlatformAlert.fingerprint == fingerprint, user_id=user_id, notes=notes
        )
        return None if resolved_id is None else await self.get_alert(db, resolved_id)

    async def resolve_open(
        self, db: AsyncSession, fingerprint: str, *, notes: str | None = None
    ) -> ResolvedAlert | None:
        """`resolve_by_fingerprint` in one prebuilt statement, returning only what the
        pipeline announces (no ORM object to load)."""
        now = utcnow()
        row = (
            await db.execute(
                write_statements.for_session(db).alert_resolve,
                {"match_fingerprint": fingerprint, "notes": notes, "now": now},
            )
        ).one_or_none()
        return None if row is None else ResolvedAlert(row.id, row.alert_type, row.severity)

    async def _resolve_where(
        self,
        db: AsyncSession,
        condition: ColumnElement[bool],
        *,
        user_id: int | None,
        notes: str | None,
    ) -> int | None:
        """Resolve the open alert matching `condition`; return its id, None if none matched."""
        now = utcnow()
        result = await db.execute(
            update(PlatformAlert)
            .where(condition, PlatformAlert.is_resolved == false())
            .values(
                is_resolved=True,
                resolved_at=now,
                resolved_by_user_id=user_id,
                resolution_notes=notes,
                updated_at=now,
            )
            .returning(PlatformAlert.id)
        )
        return result.scalar_one_or_none()

    async def get_statistics(self, db: AsyncSession) -> dict[str, Any]:
        """Return the figures of the notifications page's statistics cards, in three queries.

        - `unread`: unread notifications;
        - `active_alerts`: unresolved alerts;
        - `critical`: what needs an admin now, i.e. unresolved alerts of severity critical
          plus unread notifications of priority critical;
        - `resolved_today`: alerts resolved since 00:00 UTC today;
        - `by_severity`: unresolved alerts per severity (every severity, zeros included);
        - `by_type`: unresolved alerts per alert type (every known type, zeros included, plus
          any other type found).
        """
        # From the unread counter (migration 0005), not by counting the unread rows.
        unread, unread_critical = (
            await db.execute(
                select(
                    func.sum(UNREAD_COUNTS.unread),
                    func.sum(UNREAD_COUNTS.unread).filter(
                        UNREAD_COUNTS.priority == Priority.CRITICAL.value
                    ),
                )
            )
        ).one()

        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        # Open alerts and those resolved today apart: each statement is then answered from
        # one index (the open alerts' partial index, resolved_at), where an OR of the two
        # read the rows of both.
        rows = (
            await db.execute(
                select(PlatformAlert.alert_type, PlatformAlert.severity, func.count())
                .where(PlatformAlert.is_resolved == false())
                .group_by(PlatformAlert.alert_type, PlatformAlert.severity)
            )
        ).all()
        resolved = int(
            await db.scalar(
                select(func.count()).where(
                    PlatformAlert.is_resolved == true(), PlatformAlert.resolved_at >= today
                )
            )
            or 0
        )

        by_severity = {severity.value: 0 for severity in Severity}
        by_type = {alert_type.value: 0 for alert_type in AlertType}
        for alert_type, severity, open_count in rows:
            by_severity[severity] = by_severity.get(severity, 0) + open_count
            by_type[alert_type] = by_type.get(alert_type, 0) + open_count
        return {
            "unread": int(unread or 0),
            "active_alerts": sum(by_severity.values()),
            "critical": by_severity[Severity.CRITICAL.value] + int(unread_critical or 0),
            "resolved_today": resolved,
            "by_severity": by_severity,
            "by_type": by_type,
        }


admin_notification_service = AdminNotificationService()
platform_alert_service = PlatformAlertService()
