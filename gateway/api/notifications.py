"""Handlers of `/api/v1/admin/notifications`: list, read state, create and delete (one or many).

Each handler parses its input, calls the service in one transaction, and after the commit
tells live listeners what changed, with the new unread count.
"""

from __future__ import annotations

from aiohttp import web
from structlog import get_logger

from gateway import keys
from gateway.api.live import publish
from gateway.api.params import (
    encode_cursor,
    page_start,
    parse_body,
    parse_query,
    path_id,
    split_page,
)
from gateway.api.replies import cached_reply, not_modified, not_modified_reply, reply, unread_etag
from gateway.api.schemas import (
    BulkIds,
    Deleted,
    MarkAllRead,
    Marked,
    Notification,
    NotificationCreate,
    NotificationPage,
    NotificationQuery,
    RecentNotifications,
    RecentQuery,
    UnreadCount,
)
from gateway.http.auth import PRINCIPAL
from gateway.services.admin_notification_service import admin_notification_service as service
from gateway.services.admin_notification_service import total_is_exact

log = get_logger(__name__)

NOTIFICATION = "notification"
NOTIFICATION_ROUTE = "api.getNotification"


async def list_notifications(request: web.Request) -> web.Response:
    """List notifications, newest first, filtered, one page at a time."""
    query = parse_query(request, NotificationQuery)
    before = page_start("notification", query.cursor, query.offset)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        # One row more than asked tells whether there is a next page.
        rows, total = await service.get_notifications(
            db,
            priority=query.priority,
            notification_type=query.type,
            is_read=query.is_read,
            since=query.since,
            until=query.until,
            q=query.q,
            store_id=query.store_id,
            before_key=before,
            limit=query.limit + 1,
            offset=query.offset,
        )
        exact = total_is_exact(db, total)
    page, last = split_page(rows, query.limit)
    return reply(
        NotificationPage(
            items=[Notification.of(row) for row in page],
            total=total,
            total_exact=exact,
            limit=query.limit,
            offset=query.offset,
            next_cursor=encode_cursor("notification", last.created_at, last.id) if last else None,
        )
    )


async def recent_notifications(request: web.Request) -> web.Response:
    """Return the newest unread notifications; 304 when the client's copy is current."""
    query = parse_query(request, RecentQuery)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        # The ETag is read before the body, so it is never newer than what it labels.
        marker = await service.get_unread_marker(db)
        etag = unread_etag(marker)
        if not_modified(request, etag):
            return not_modified_reply(etag)
        rows = await service.get_recent_notifications(db, limit=query.limit)
    unread = marker[0]
    body = RecentNotifications(items=[Notification.of(row) for row in rows], unread_count=unread)
    return cached_reply(body, etag)


async def unread_count(request: web.Request) -> web.Response:
    """Return the unread badge; 304 when the client's copy is current."""
    async with request.app[keys.SESSIONS]() as db, db.begin():
        by_priority, marker = await service.get_unread_summary(db)
    etag = unread_etag(marker)
    if not_modified(request, etag):
        return not_modified_reply(etag)
    body = UnreadCount(unread_count=sum(by_priority.values()), by_priority=by_priority)
    return cached_reply(body, etag)


async def get_notification(request: web.Request) -> web.Response:
    """Return one notification."""
    notification_id = path_id(request, NOTIFICATION)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        row = await service.get_notification(db, notification_id)
        body = Notification.of(row)
    return reply(body)


async def create_notification(request: web.Request) -> web.Response:
    """Create a notification by hand (source `api`)."""
    data = await parse_body(request, NotificationCreate)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        row = await service.create_notification(
            db,
            notification_type=data.type,
            priority=data.priority,
            title=data.title,
            message=data.message,
            action_required=data.action_required,
            action_url=data.action_url,
            metadata=data.metadata,
            source="api",
        )
        assert row is not None  # only a dedup key suppresses, and none is given
        body = Notification.of(row)
        unread = await service.get_unread_count(db)
    publish(
        request,
        "notification.created",
        {"id": body.id, "type": body.type, "priority": body.priority, "unread_count": unread},
    )
    log.info("notification_created", id=body.id, by=request[PRINCIPAL].name)
    location = request.app.router[NOTIFICATION_ROUTE].url_for(id=str(body.id))
    return reply(body, status=201, headers={"Location": str(location)})


async def mark_read(request: web.Request) -> web.Response:
    """Mark a notification read; marking it again changes nothing."""
    notification_id = path_id(request, NOTIFICATION)
    user_id = request[PRINCIPAL].user_id
    async with request.app[keys.SESSIONS]() as db, db.begin():
        was_read = (await service.get_notification(db, notification_id)).is_read
        row = await service.mark_as_read(db, notification_id, user_id=user_id)
        body = Notification.of(row)
        unread = await service.get_unread_count(db)
    if not was_read:
        publish(request, "notification.read", {"id": body.id, "unread_count": unread})
    return reply(body)


async def mark_unread(request: web.Request) -> web.Response:
    """Mark a notification unread again; marking it again changes nothing."""
    notification_id = path_id(request, NOTIFICATION)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        was_read = (await service.get_notification(db, notification_id)).is_read
        row = await service.mark_as_unread(db, notification_id)
        body = Notification.of(row)
        unread = await service.get_unread_count(db)
    if was_read:
        publish(request, "notification.unread", {"id": body.id, "unread_count": unread})
    return reply(body)


async def mark_many_read(request: web.Request) -> web.Response:
    """Mark the listed notifications read."""
    data = await parse_body(request, BulkIds)
    user_id = request[PRINCIPAL].user_id
    async with request.app[keys.SESSIONS]() as db, db.begin():
        marked = await service.mark_many_as_read(db, data.ids, user_id=user_id)
        unread = await service.get_unread_count(db)
    return _marked(request, marked, unread)


async def mark_all_read(request: web.Request) -> web.Response:
    """Mark every unread notification matching the filters read, up to what the reader saw."""
    data = await parse_body(request, MarkAllRead)
    user_id = request[PRINCIPAL].user_id
    async with request.app[keys.SESSIONS]() as db, db.begin():
        marked = await service.mark_all_as_read(
            db,
            user_id=user_id,
            up_to_id=data.up_to_id,
            up_to=data.up_to,
            priority=data.priority,
            notification_type=data.type,
        )
        unread = await service.get_unread_count(db)
    return _marked(request, marked, unread)


def _marked(request: web.Request, marked: int, unread: int) -> web.Response:
    if marked:
        publish(request, "notifications.read", {"count": marked, "unread_count": unread})
    return reply(Marked(marked=marked))


async def delete_notification(request: web.Request) -> web.Response:
    """Delete a notification."""
    notification_id = path_id(request, NOTIFICATION)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        await service.delete_notification(db, notification_id)
        unread = await service.get_unread_count(db)
    publish(request, "notification.deleted", {"id": notification_id, "unread_count": unread})
    log.info("notification_deleted", id=notification_id, by=request[PRINCIPAL].name)
    return web.Response(status=204)


async def delete_many(request: web.Request) -> web.Response:
    """Delete the listed notifications; ids that do not exist are skipped."""
    data = await parse_body(request, BulkIds)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        deleted = await service.delete_many_notifications(db, data.ids)
        unread = await service.get_unread_count(db)
    # One event per deleted notification, as a single delete publishes.
    for notification_id in deleted:
        publish(request, "notification.deleted", {"id": notification_id, "unread_count": unread})
    log.info("notifications_deleted", ids=deleted, by=request[PRINCIPAL].name)
    return reply(Deleted(deleted=len(deleted)))
