"""Authentication of callers by bearer token.

Ingestion accepts ingest-scoped tokens only (never a session cookie); a token is optional
only while ingestion listens on loopback alone.

The admin API (`/api/v1/admin/…`) needs a principal: a read token may read (GET), an admin
token may do everything, an ingest token nothing. `setup_auth(app)` adds the middleware that
checks this before any admin handler runs; the handler finds the caller under `PRINCIPAL`.
The OpenAPI document and the API docs page are public: they describe the API, not its data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import keys
from gateway.http.problem import problem
from gateway.http.sessions import ROLE_SCOPES, authenticate_session
from gateway.services.token_service import verify_token

ALL_SCOPES = frozenset({"ingest", "read", "admin"})


def bearer_token(request: web.Request) -> str | None:
    """Return the bearer token of the request, if it carries one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate_ingest(request: web.Request, *, required: bool) -> None:
    """Raise 401 unless the request carries a valid ingest token (or none is required)."""
    token = bearer_token(request)
    if token is None:
        if required:
            raise problem(
                401,
                "an ingest token is required: Authorization: Bearer <token> "
                "(create one with `gateway token create --scope ingest --name NAME`)",
                headers={"WWW-Authenticate": 'Bearer realm="ingest"'},
            )
        return
    async with request.app[keys.SESSIONS]() as db, db.begin():
        found = await verify_token(db, token, scopes=ALL_SCOPES)
    if found is None:
        # A wrong token is an error even where none is required: it signals a misconfiguration.
        raise problem(
            401,
            "invalid or revoked token",
            headers={"WWW-Authenticate": 'Bearer realm="ingest", error="invalid_token"'},
        )
    if found.scope != "ingest":
        raise problem(403, f"a {found.scope!r} token cannot ingest; use an ingest-scoped token")


# -- the admin API -----------------------------------------------------------------------------

ADMIN_PREFIX = "/api/v1/admin"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the kind of credential, its name, its scope and the admin user, if any.

    Token callers have no user id: what they read or resolve records no `…_by_user_id`.
    Session-authenticated admin users (kind "session") carry theirs.
    """

    kind: Literal["token", "session"]
    name: str
    scope: str
    user_id: int | None = None

    def may(self, method: str) -> bool:
        """Tell whether this principal may make a request with `method`."""
        if self.scope == "admin":
            return True
        return self.scope == "read" and method in READ_METHODS


PRINCIPAL = web.RequestKey("principal", Principal)

Authenticator = Callable[[web.Request], Awaitable[Principal | None]]
"""Find the principal of a request; None when the request carries no credential of its kind.

A credential that is present but invalid raises 401 rather than returning None.
"""


async def token_principal(request: web.Request) -> Principal | None:
    """Authenticate `Authorization: Bearer <token>` against the stored API tokens."""
    token = bearer_token(request)
    if token is None:
        return None
    async with request.app[keys.SESSIONS]() as db, db.begin():
        found = await verify_token(db, token, scopes=ALL_SCOPES)
    if found is None:
        raise problem(
            401,
            "invalid or revoked token",
            headers={"WWW-Authenticate": 'Bearer realm="admin", error="invalid_token"'},
        )
    return Principal(kind="token", name=found.name, scope=found.scope)


async def session_principal(request: web.Request) -> Principal | None:
    """Authenticate the dashboard's session cookie; writes must also pass the CSRF checks."""
    active = await authenticate_session(request)
    if active is None:
        return None
    user = active.user
    return Principal(kind="session", name=user.email, scope=ROLE_SCOPES[user.role], user_id=user.id)


# Tried in order. A bearer token wins over a cookie: a browser never attaches one by itself,
# so a request carrying one needs no CSRF checks.
AUTHENTICATORS: tuple[Authenticator, ...] = (token_principal, session_principal)


def is_protected(request: web.Request) -> bool:
    """Tell whether the request is for the admin API (matched route or raw path)."""
    if _is_admin_path(request.path):
        return True
    resource = request.match_info.route.resource
    return resource is not None and _is_admin_path(resource.canonical)


_ADMIN_PREFIX_SLASH = ADMIN_PREFIX + "/"


def _is_admin_path(path: str) -> bool:
    return path.startswith(_ADMIN_PREFIX_SLASH) or path == ADMIN_PREFIX


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_protected(request):
        return await handler(request)
    principal = None
    for authenticate in AUTHENTICATORS:
        principal = await authenticate(request)
        if principal is not None:
            break
    if principal is None:
        raise problem(
            401,
            "authentication required: Authorization: Bearer <token> "
            "(create one with `gateway token create --scope admin --name NAME`)",
            headers={"WWW-Authenticate": 'Bearer realm="admin"'},
        )
    if principal.scope not in ("read", "admin"):
        raise problem(
            403,
            f"a {principal.scope!r} token cannot use the admin API; use a read or admin token",
            headers={"WWW-Authenticate": _insufficient("read")},
        )
    if not principal.may(request.method):
        raise problem(
            403,
            f"a {principal.scope!r} {principal.kind} may only read; {request.method} "
            "needs an admin token or an admin's session",
            headers={"WWW-Authenticate": _insufficient("admin")},
        )
    request[PRINCIPAL] = principal
    return await handler(request)


def _insufficient(scope: str) -> str:
    return f'Bearer realm="admin", error="insufficient_scope", scope="{scope}"'


def setup_auth(app: web.Application) -> None:
    """Require a read or admin principal on every admin API route; writes need admin."""
    app.middlewares.append(auth_middleware)
