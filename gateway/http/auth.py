"""Authentication of callers by bearer token.

Ingestion accepts ingest-scoped tokens only (never a session cookie); a token is optional
only while ingestion listens on loopback alone.
"""

from __future__ import annotations

from aiohttp import web

from gateway import keys
from gateway.http.problem import problem
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
