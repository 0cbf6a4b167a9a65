"""Handlers of `/api/v1/admin/notifications/alerts`: list, raise by hand, resolve, statistics."""

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
from gateway.api.replies import reply
from gateway.api.schemas import Alert, AlertCreate, AlertPage, AlertQuery, AlertStats, Resolve
from gateway.http.auth import PRINCIPAL
from gateway.services.admin_notification_service import platform_alert_service as service
from gateway.services.admin_notification_service import total_is_exact

log = get_logger(__name__)

ALERT = "platform alert"
ALERT_ROUTE = "api.getAlert"


async def list_alerts(request: web.Request) -> web.Response:
    """List alerts, latest activity first, filtered, one page at a time."""
    query = parse_query(request, AlertQuery)
    before = page_start("alert", query.cursor, query.offset)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        rows, total = await service.get_alerts(
            db,
            severity=query.severity,
            alert_type=query.alert_type,
            is_resolved=query.is_resolved,
            store_id=query.store_id,
            system=query.system,
            since=query.since,
            before_key=before,
            limit=query.limit + 1,
            offset=query.offset,
        )
        exact = total_is_exact(db, total)
    page, last = split_page(rows, query.limit)
    return reply(
        AlertPage(
            items=[Alert.of(row) for row in page],
            total=total,
            total_exact=exact,
            limit=query.limit,
            offset=query.offset,
            next_cursor=encode_cursor("alert", last.last_occurred_at, last.id) if last else None,
        )
    )


async def get_alert(request: web.Request) -> web.Response:
    """Return one alert."""
    alert_id = path_id(request, ALERT)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        body = Alert.of(await service.get_alert(db, alert_id))
    return reply(body)


async def create_alert(request: web.Request) -> web.Response:
    """Raise an alert by hand; with a fingerprint, count an occurrence of the open one."""
    data = await parse_body(request, AlertCreate)
    async with request.app[keys.SESSIONS]() as db, db.begin():
        if data.fingerprint is None:
            row = await service.create_alert(
                db,
                alert_type=data.alert_type,
                severity=data.severity,
                title=data.title,
                description=data.description,
                affected_stores=data.affected_stores,
                affected_systems=data.affected_systems,
                metadata=data.metadata,
                source="api",
            )
            created = True
        else:
            occurrence = await service.create_or_increment_alert(
                db,
                alert_type=data.alert_type,
                severity=data.severity,
                title=data.title,
                fingerprint=data.fingerprint,
                description=data.description,
                affected_stores=data.affected_stores,
                affected_systems=data.affected_systems,
                metadata=data.metadata,
                source="api",
            )
            row = await service.get_alert(db, occurrence.alert_id)
            created = occurrence.created
        body = Alert.of(row)
    publish(
        request,
        "alert.created" if created else "alert.incremented",
        {"id": body.id, "occurrence_count": body.occurrence_count, "severity": body.severity},
    )
    if not created:
        return reply(body)
    log.info("alert_created", id=body.id, by=request[PRINCIPAL].name)
    location = request.app.router[ALERT_ROUTE].url_for(id=str(body.id))
    return reply(body, status=201, headers={"Location": str(location)})


async def resolve_alert(request: web.Request) -> web.Response:
    """Resolve an open alert; an alert already resolved answers 409."""
    alert_id = path_id(request, ALERT)
    data = await parse_body(request, Resolve)
    principal = request[PRINCIPAL]
    async with request.app[keys.SESSIONS]() as db, db.begin():
        row = await service.resolve_alert(
            db, alert_id, user_id=principal.user_id, resolution_notes=data.resolution_notes
        )
        body = Alert.of(row)
    publish(request, "alert.resolved", {"id": body.id})
    # A token caller has no user id to store: the log keeps who resolved it.
    log.info("alert_resolved", id=body.id, by=principal.name, kind=principal.kind)
    return reply(body)


async def alert_stats(request: web.Request) -> web.Response:
    """Return the statistics cards' figures."""
    async with request.app[keys.SESSIONS]() as db, db.begin():
        stats = await service.get_statistics(db)
    return reply(AlertStats.model_validate(stats))
