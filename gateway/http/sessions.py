"""Dashboard sign-in: the session cookie, its CSRF token, the Origin check, login throttling.

`POST /api/v1/auth/login` takes `email` and `password` (JSON or a form) and sets the
`gw_session` cookie (HttpOnly, SameSite=Lax, Path=/; Secure over https or with
`secure_cookies`); `POST /api/v1/auth/logout` ends the session; `GET /api/v1/auth/me` tells
who is signed in. Login and me answer with the session's CSRF token.

A cookie is sent by the browser whoever made the page that sends it, so every request that
changes state on the strength of a cookie must prove it comes from our own pages twice over:
its `Origin` (or, without one, its `Referer`) is this gateway's own scheme://host:port, and
it carries the session's token in `X-CSRF-Token`. Bearer-token callers are exempt: a browser
never attaches those by itself. Login checks the Origin too, so another site cannot sign a
browser in to an account of its choosing. Behind a reverse proxy, the proxy must pass the
`Host` header through unchanged for the Origin check to succeed.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from aiohttp import web
from structlog import get_logger
from yarl import URL

from gateway import keys
from gateway.http.login_throttle import LoginThrottle
from gateway.http.problem import problem
from gateway.services.admin_user_service import MAX_EMAIL_LENGTH, authenticate, normalize_email
from gateway.services.passwords import Passwords
from gateway.services.session_service import (
    ActiveSession,
    SessionPolicy,
    create_session,
    get_active,
    revoke,
)
from gateway.storage.models import AdminUser

log = get_logger(__name__)

COOKIE_NAME = "gw_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/api/v1/auth/login"
LOGOUT_PATH = "/api/v1/auth/logout"
ME_PATH = "/api/v1/auth/me"
# Everything else may change state, whatever its name.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_SCOPES = {"admin": "admin", "viewer": "read"}
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


# -- the Origin check and the CSRF token -------------------------------------------------------


def own_origin(request: web.Request) -> tuple[str, str, int | None] | None:
    """Return the (scheme, host, port) of this gateway's pages, as the request reached it.

    The scheme is https whenever `secure_cookies` is on: then a TLS-terminating proxy
    forwards plain http, but browsers see https. None if the Host header is not a host.
    """
    scheme = "https" if request.app[keys.SETTINGS].secure_cookies else request.scheme
    try:
        own = URL.build(scheme=scheme, authority=request.host)
    except ValueError:
        return None
    if not own.host:
        return None
    return scheme, own.host.lower(), own.port


def origin_of(value: str) -> tuple[str, str, int | None] | None:
    """Return the (scheme, host, port) of an Origin or Referer value; None if it has none."""
    try:
        url = URL(value)
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return url.scheme, url.host.lower(), url.port


def check_origin(request: web.Request, *, required: bool) -> None:
    """Raise 403 unless the request's Origin (or Referer) is this gateway's own.

    With neither header, the request passes only when not `required`: browsers send Origin
    on every POST, so only non-browser clients omit both.
    """
    header = "Origin"
    value = request.headers.get("Origin")
    if value is None:
        header, value = "Referer", request.headers.get("Referer")
    if value is None:
        if required:
            raise problem(
                403,
                "cross-site request check failed: a request authenticated by the session "
                "cookie that changes state needs an Origin (or Referer) header",
            )
        return
    own = own_origin(request)
    if own is None or origin_of(value) != own:
        shown = "unknown (no usable Host header)" if own is None else "{}://{}:{}".format(*own)
        raise problem(
            403,
            f"cross-site request refused: {header} {value[:200]!r} is not this gateway's "
            f"origin {shown}",
        )


def check_csrf(request: web.Request, active: ActiveSession) -> None:
    """Raise 403 unless a state-changing request passes the Origin check and carries the token."""
    check_origin(request, required=True)
    supplied = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(supplied.encode(), active.session.csrf_token.encode()):
        raise problem(
            403,
            f"missing or wrong {CSRF_HEADER} header: send the session's csrf_token "
            f"(from the sign-in answer or GET {ME_PATH}) with every change",
        )


# -- the session cookie ------------------------------------------------------------------------


def session_policy(app: web.Application) -> SessionPolicy:
    settings = app[keys.SETTINGS]
    return SessionPolicy(
        idle_timeout=timedelta(seconds=settings.session_idle_timeout),
        absolute_timeout=timedelta(seconds=settings.session_absolute_timeout),
    )


async def find_session(request: web.Request) -> ActiveSession | None:
    """Return the valid session the request's cookie names, or None (no cookie, or ended)."""
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    async with request.app[keys.SESSIONS]() as db, db.begin():
        return await get_active(db, cookie, policy=session_policy(request.app))


async def authenticate_session(request: web.Request) -> ActiveSession | None:
    """Authenticate the session cookie; None when the request carries none.

    An ended or unknown session answers 401 and clears the cookie. A request that may change
    state must also pass `check_csrf`, or it answers 403.
    """
    if not request.cookies.get(COOKIE_NAME):
        return None
    active = await find_session(request)
    if active is None:
        exc = problem(401, "the session has ended; sign in again at " + LOGIN_PATH)
        _clear_cookie(request, exc)
        raise exc
    if request.method not in SAFE_METHODS:
        check_csrf(request, active)
    return active


def _secure(request: web.Request) -> bool:
    return request.app[keys.SETTINGS].secure_cookies or request.secure


def _clear_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(
        COOKIE_NAME, path="/", secure=_secure(request), httponly=True, samesite="Lax"
    )


def user_json(user: AdminUser) -> dict[str, Any]:
    """Return what the API shows of an account."""
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def _session_answer(active: ActiveSession, *, status: int = 200) -> web.Response:
    response = web.json_response(
        {"user": user_json(active.user), "csrf_token": active.session.csrf_token},
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the endpoints -----------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    check_origin(request, required=False)
    email, password = await _credentials(request)
    account, address = normalize_email(email), request.remote or "unknown"
    throttle = request.app[keys.LOGIN_THROTTLE]
    wait = throttle.attempt(account, address)
    if wait is not None:
        log.warning("login_throttled", address=address)
        raise problem(
            429,
            f"too many failed sign-in attempts; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    async with request.app[keys.SESSIONS]() as db:
        user = await authenticate(db, email, password, passwords=request.app[keys.PASSWORDS])
        if user is None:
            # One answer for an unknown account, a wrong password and a disabled account.
            log.info("login_failed", address=address)
            raise problem(401, "invalid email or password")
        throttle.succeeded(account, address)
        async with db.begin():
            # Always a fresh session: one that existed before sign-in is ended, not reused.
            previous = request.cookies.get(COOKIE_NAME)
            if previous:
                await revoke(db, previous)
            cookie, session = await create_session(
                db,
                user,
                policy=session_policy(request.app),
                user_agent=request.headers.get("User-Agent"),
                ip=request.remote,
            )
    log.info("login", user_id=user.id, role=user.role, address=address)
    response = _session_answer(ActiveSession(session=session, user=user))
    response.set_cookie(
        COOKIE_NAME, cookie, path="/", secure=_secure(request), httponly=True, samesite="Lax"
    )
    return response


async def logout(request: web.Request) -> web.Response:
    active = await find_session(request)
    if active is not None:
        check_csrf(request, active)
        async with request.app[keys.SESSIONS]() as db, db.begin():
            await revoke(db, request.cookies[COOKIE_NAME])
        log.info("logout", user_id=active.user.id)
    response = web.Response(status=204)
    _clear_cookie(request, response)
    return response


async def me(request: web.Request) -> web.Response:
    active = await authenticate_session(request)
    if active is None:
        raise problem(401, "not signed in; sign in at " + LOGIN_PATH)
    return _session_answer(active)


async def _credentials(request: web.Request) -> tuple[str, str]:
    fields: Any
    if request.content_type == "application/json":
        try:
            fields = await request.json()
        except ValueError as exc:
            raise problem(400, "the body is not valid JSON") from exc
    elif request.content_type in FORM_TYPES:
        fields = await request.post()
    else:
        raise problem(415, "send the credentials as application/json or a form (email, password)")
    email = fields.get("email") if hasattr(fields, "get") else None
    password = fields.get("password") if hasattr(fields, "get") else None
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise problem(400, "email and password are required, as strings")
    if len(email) > MAX_EMAIL_LENGTH:
        raise problem(400, f"an email has at most {MAX_EMAIL_LENGTH} characters")
    return email, password


def setup_sessions(
    app: web.Application,
    *,
    passwords: Passwords | None = None,
    throttle: LoginThrottle | None = None,
) -> None:
    """Add the sign-in endpoints, the password hasher and the login throttle to `app`."""
    app[keys.PASSWORDS] = passwords or Passwords(app[keys.SETTINGS].password_hashing)
    app[keys.LOGIN_THROTTLE] = throttle or LoginThrottle()
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post(LOGOUT_PATH, logout)
    app.router.add_get(ME_PATH, me)
