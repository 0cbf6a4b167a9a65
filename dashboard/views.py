"""The dashboard's pages: each handler returns a context dict for an autoescaped template.

Pages that show data need a signed-in session; without one they redirect to the login page,
which returns there afterwards. Only a local path is ever followed as `next`, so the login
page cannot be made to send anyone to another site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web
from yarl import URL

from gateway import keys
from gateway.http.sessions import find_session
from gateway.services.session_service import ActiveSession
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

LOGIN_PAGE = "/admin/login"
HOME_PAGE = "/admin/notifications"
RULES_PAGE = "/admin/rules"
STATIC_PREFIX = "/static/"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
MAX_NEXT_LENGTH = 2000

Context = dict[str, Any]
PageHandler = Callable[[web.Request, ActiveSession], Awaitable[Context]]


def template_environment() -> jinja2.Environment:
    """Return the dashboard's template environment: autoescaped, strict about undefined names."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dashboard"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def local_path(value: str | None) -> str | None:
    """Return `value` if it is a path on this site ("/…", not "//…"), else None."""
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value or not value.isprintable():
        return None
    url = URL(value)
    if url.scheme or url.host:
        return None
    return value


def render(request: web.Request, name: str, context: Context) -> web.Response:
    """Render template `name` with `context` as an HTML page that is never cached."""
    html = request.app[keys.DASHBOARD_TEMPLATES].get_template(name).render(context)
    response = web.Response(text=html, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def page(name: str, handler: PageHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a page handler: redirect to the login page without a session, else render."""

    async def serve(request: web.Request) -> web.Response:
        active = await find_session(request)
        if active is None:
            target = URL(LOGIN_PAGE).with_query(next=request.path_qs)
            raise web.HTTPFound(str(target))
        context = await handler(request, active)
        context.setdefault("user", {"email": active.user.email, "role": active.user.role})
        context.setdefault("csrf_token", active.session.csrf_token)
        # The hosts api.js's safeHref may link to besides this site's own (a meta tag, not
        # inline script: the CSP allows none).
        hosts = request.app[keys.SETTINGS].action_url_hosts
        context.setdefault("action_url_hosts", ",".join(hosts))
        return render(request, name, context)

    return serve


async def login_page(request: web.Request) -> web.Response:
    next_path = local_path(request.query.get("next")) or HOME_PAGE
    return render(
        request,
        "login.html",
        {"title": "Sign in", "next": next_path, "user": None, "csrf_token": None},
    )


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound(HOME_PAGE)


async def notifications_context(request: web.Request, active: ActiveSession) -> Context:
    return {
        "title": "Notifications",
        "priorities": [priority.value for priority in Priority],
        "types": [kind.value for kind in NotificationType],
        "severities": [severity.value for severity in Severity],
        "alert_types": [kind.value for kind in AlertType],
    }


async def rules_context(request: web.Request, active: ActiveSession) -> Context:
    # A reload and a dry run are POSTs, which the API allows the admin role only: a viewer
    # is not offered buttons that would be refused.
    return {"title": "Rules", "is_admin": active.user.role == "admin"}


def load_static() -> dict[str, tuple[bytes, str]]:
    """Read the dashboard's static files once: name -> (body, content type)."""
    files: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("dashboard").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


def static_handler(
    files: dict[str, tuple[bytes, str]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Serve the files read by `load_static`, and nothing else."""

    async def serve(request: web.Request) -> web.Response:
        found = files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8" if content_type.startswith("text/") else None,
            headers={"Cache-Control": "no-cache"},
        )

    return serve


def setup_dashboard(app: web.Application) -> None:
    """Add the dashboard's pages and static files to `app`."""
    app[keys.DASHBOARD_TEMPLATES] = template_environment()
    app.router.add_get(LOGIN_PAGE, login_page)
    app.router.add_get("/admin", home)
    app.router.add_get("/admin/", home)
    app.router.add_get(HOME_PAGE, page("notifications.html", notifications_context))
    app.router.add_get(RULES_PAGE, page("rules.html", rules_context))
    app.router.add_get(STATIC_PREFIX + "{name}", static_handler(load_static()))
