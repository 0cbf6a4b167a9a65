"""API tokens: `gw_` + 43 url-safe characters, shown once, stored only as a sha256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import Conflict, RecordNotFound
from gateway.storage.models import ApiToken
from gateway.storage.types import utcnow

TOKEN_PREFIX = "gw_"  # noqa: S105 - a public marker, not a secret
SCOPES = frozenset({"ingest", "read", "admin"})
# last_used_at is informational; refreshing it at most this often avoids a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(plaintext: str) -> str:
    """Return the hex sha256 digest under which a token is stored."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create_token(db: AsyncSession, *, name: str, scope: str) -> tuple[ApiToken, str]:
    """Create a token; return it with its plaintext, which is never available again.

    Raise Conflict if a token with that name exists (revoked or not) and ValueError for an
    unknown scope or an empty name.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {sorted(SCOPES)}")
    if not name.strip():
        raise ValueError("a token needs a name")
    if await db.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"a token named {name!r} already exists")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        scope=scope,
        token_hash=hash_token(plaintext),
        created_at=utcnow(),
        last_used_at=None,
        revoked_at=None,
    )
    try:
        # A savepoint, so that losing a race on the name leaves the caller's transaction usable.
        async with db.begin_nested():
            db.add(token)
    except IntegrityError as exc:
        raise Conflict(f"a token named {name!r} already exists") from exc
    return token, plaintext


async def verify_token(
    db: AsyncSession, plaintext: str, *, scopes: Collection[str]
) -> ApiToken | None:
    """Return the active token `plaintext` is, if its scope is one of `scopes`; else None.

    The lookup is by digest, so its timing says nothing about the secret. A successful check
    refreshes last_used_at when it is older than LAST_USED_RESOLUTION; the caller commits.
    """
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(plaintext)
    token = await db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or token.scope not in scopes:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token


async def revoke_token(db: AsyncSession, name: str) -> None:
    """Revoke the token called `name`; revoking twice keeps the first time.

    Raise RecordNotFound if there is no such token.
    """
    token = await db.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        raise RecordNotFound("api token", name)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await db.flush()


async def list_tokens(db: AsyncSession) -> list[ApiToken]:
    """Return every token, revoked ones included, by name."""
    return list((await db.scalars(select(ApiToken).order_by(ApiToken.name))).all())
