"""The admin API's route table: `add_api_routes(app)` registers it and documents it.

Literal paths (`recent`, `unread-count`, `mark-all-read`, `read`, `delete`, `alerts`…) can never be
taken for an id: ids are digits only (`{id:\\d+}`), so `/notifications/abc` is simply 404.
"""

from __future__ import annotations

from aiohttp import web

from gateway import keys
from gateway.api import alerts, docs, notifications, openapi, rules
from gateway.api.operations import Operation, Reply
from gateway.api.schemas import (
    Alert,
    AlertCreate,
    AlertPage,
    AlertQuery,
    AlertStats,
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
    ReloadResult,
    Resolve,
    RulesOverview,
    RuleTest,
    RuleTestResult,
    UnreadCount,
)

NOTIFICATIONS = "/api/v1/admin/notifications"
NOTIFICATION = NOTIFICATIONS + r"/{id:\d+}"
ALERTS = NOTIFICATIONS + "/alerts"
ALERT = ALERTS + r"/{id:\d+}"
RULES = "/api/v1/admin/rules"
OPENAPI_PATH = "/api/v1/openapi.json"
DOCS_PATH = "/api/v1/docs"
DOCS_STYLESHEET_PATH = "/api/v1/docs.css"

OPERATIONS: tuple[Operation, ...] = (
    # -- notifications
    Operation(
        "GET",
        NOTIFICATIONS,
        "listNotifications",
        "List notifications, newest first",
        "notifications",
        (Reply(200, "One page of notifications", NotificationPage),),
        notifications.list_notifications,
        query=NotificationQuery,
    ),
    Operation(
        "POST",
        NOTIFICATIONS,
        "createNotification",
        "Create a notification by hand (source api)",
        "notifications",
        (Reply(201, "The notification created", Notification, headers=("Location",)),),
        notifications.create_notification,
        body=NotificationCreate,
    ),
    Operation(
        "GET",
        NOTIFICATIONS + "/recent",
        "recentNotifications",
        "The newest unread notifications, for the header dropdown",
        "notifications",
        (
            Reply(200, "The newest unread notifications", RecentNotifications, headers=("ETag",)),
            Reply(304, "Unchanged since the ETag given in If-None-Match", headers=("ETag",)),
        ),
        notifications.recent_notifications,
        query=RecentQuery,
        etag=True,
    ),
    Operation(
        "GET",
        NOTIFICATIONS + "/unread-count",
        "unreadCount",
        "The unread badge: total and per priority",
        "notifications",
        (
            Reply(200, "The unread counts", UnreadCount, headers=("ETag",)),
            Reply(304, "Unchanged since the ETag given in If-None-Match", headers=("ETag",)),
        ),
        notifications.unread_count,
        etag=True,
    ),
    Operation(
        "PUT",
        NOTIFICATIONS + "/mark-all-read",
        "markAllRead",
        "Mark every unread notification matching the filters read",
        "notifications",
        (Reply(200, "How many were marked read", Marked),),
        notifications.mark_all_read,
        body=MarkAllRead,
        body_required=False,
    ),
    Operation(
        "PUT",
        NOTIFICATIONS + "/read",
        "markManyRead",
        "Mark the listed notifications read",
        "notifications",
        (Reply(200, "How many were marked read", Marked),),
        notifications.mark_many_read,
        body=BulkIds,
    ),
    Operation(
        "POST",
        NOTIFICATIONS + "/delete",
        "deleteNotifications",
        "Delete the listed notifications",
        "notifications",
        (Reply(200, "How many were deleted", Deleted),),
        notifications.delete_many,
        body=BulkIds,
    ),
    Operation(
        "GET",
        NOTIFICATION,
        "getNotification",
        "One notification",
        "notifications",
        (Reply(200, "The notification", Notification),),
        notifications.get_notification,
    ),
    Operation(
        "DELETE",
        NOTIFICATION,
        "deleteNotification",
        "Delete a notification",
        "notifications",
        (Reply(204, "Deleted"),),
        notifications.delete_notification,
    ),
    Operation(
        "PUT",
        NOTIFICATION + "/read",
        "markRead",
        "Mark a notification read (idempotent)",
        "notifications",
        (Reply(200, "The notification, read", Notification),),
        notifications.mark_read,
    ),
    Operation(
        "PUT",
        NOTIFICATION + "/unread",
        "markUnread",
        "Mark a notification unread again (idempotent)",
        "notifications",
        (Reply(200, "The notification, unread", Notification),),
        notifications.mark_unread,
    ),
    # -- platform alerts
    Operation(
        "GET",
        ALERTS,
        "listAlerts",
        "List platform alerts, latest activity first",
        "alerts",
        (Reply(200, "One page of alerts", AlertPage),),
        alerts.list_alerts,
        query=AlertQuery,
    ),
    Operation(
        "POST",
        ALERTS,
        "createAlert",
        "Raise an alert by hand; with a fingerprint, count an occurrence of the open one",
        "alerts",
        (
            Reply(201, "A new alert", Alert, headers=("Location",)),
            Reply(200, "An occurrence counted on the open alert with that fingerprint", Alert),
        ),
        alerts.create_alert,
        body=AlertCreate,
    ),
    Operation(
        "GET",
        ALERTS + "/stats",
        "alertStats",
        "The statistics cards' figures",
        "alerts",
        (Reply(200, "The figures", AlertStats),),
        alerts.alert_stats,
    ),
    Operation(
        "GET",
        ALERT,
        "getAlert",
        "One platform alert",
        "alerts",
        (Reply(200, "The alert", Alert),),
        alerts.get_alert,
    ),
    Operation(
        "PUT",
        ALERT + "/resolve",
        "resolveAlert",
        "Resolve an open alert",
        "alerts",
        (Reply(200, "The alert, resolved", Alert),),
        alerts.resolve_alert,
        body=Resolve,
        body_required=False,
        errors={409: "The alert is already resolved"},
    ),
    # -- rules
    Operation(
        "GET",
        RULES,
        "listRules",
        "The rules in force, their matches since start, and the latest reload",
        "rules",
        (Reply(200, "The rules", RulesOverview),),
        rules.list_rules,
    ),
    Operation(
        "POST",
        RULES + "/test",
        "testRules",
        "Evaluate an event against the rules in force; nothing is written",
        "rules",
        (Reply(200, "What the event would produce", RuleTestResult),),
        rules.test_rules,
        body=RuleTest,
    ),
    Operation(
        "POST",
        RULES + "/reload",
        "reloadRules",
        "Reload the rules file now",
        "rules",
        (Reply(200, "The new rules are in force", ReloadResult),),
        rules.reload_rules,
        errors={
            422: "The rules file is invalid: the running rules are kept, and `issues` lists "
            "the file's errors with their line and column"
        },
    ),
    # -- documentation
    Operation(
        "GET",
        OPENAPI_PATH,
        "openapi",
        "This document (OpenAPI 3.1)",
        "documentation",
        (Reply(200, "The OpenAPI document"),),
        openapi.openapi_json,
        public=True,
    ),
    Operation(
        "GET",
        DOCS_PATH,
        "docs",
        "The API reference as a web page",
        "documentation",
        (Reply(200, "The reference", media_type="text/html"),),
        docs.docs_page,
        public=True,
    ),
)

DOCUMENTED_ELSEWHERE: tuple[Operation, ...] = (
    # Registered by gateway.publish.sse when the live stream is wired in.
    Operation(
        "GET",
        NOTIFICATIONS + "/stream",
        "notificationStream",
        "Committed changes as Server-Sent Events (notification.*, alert.*, unread_count)",
        "live",
        (Reply(200, "An endless event stream", media_type="text/event-stream"),),
    ),
)
"""Routes other modules register; each is documented when the router has it."""


def add_api_routes(app: web.Application) -> None:
    """Register the admin API, its OpenAPI document and its docs page."""
    for operation in OPERATIONS:
        assert operation.handler is not None
        app.router.add_route(
            operation.method, operation.path, operation.handler, name=operation.route_name
        )
    app.router.add_get(DOCS_STYLESHEET_PATH, docs.docs_stylesheet)

    async def build_document(app: web.Application) -> None:
        # On startup the router is frozen: every route another module added is there.
        registered = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
        present = [op for op in DOCUMENTED_ELSEWHERE if (op.method, op.path) in registered]
        app[keys.OPENAPI] = openapi.build_document([*OPERATIONS, *present])

    app.on_startup.append(build_document)
