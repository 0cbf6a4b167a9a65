"""Dashboard sessions: an opaque cookie value, stored only as its sha256 digest.

A session ends at whichever comes first: sign-out (revocation), the idle timeout since it was
last used, or the absolute timeout since sign-in. Signing in always makes a new session, so a
session id planted before sign-in is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from gateway.storage.models import AdminSession, AdminUser
from gateway.storage.types import utcnow

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# last_seen_at is refreshed at most this often, so browsing is not a write per request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
COOKIE_BYTES = 32  # 256 bits
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_COOKIE_LENGTH = 64
MAX_USER_AGENT_LENGTH = 255
MAX_IP_LENGTH = 45


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: idle (since last use) and absolute (since sign-in)."""

    idle_timeout: timedelta = IDLE_TIMEOUT
    absolute_timeout: timedelta = ABSOLUTE_TIMEOUT


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A session found valid, with its account."""

    session: AdminSession
    user: AdminUser


def session_id(cookie: str) -> str:
    """Return the id under which the session of `cookie` is stored: its hex sha256."""
    return hashlib.sha256(cookie.encode()).hexdigest()


async def create_session(
    db: AsyncSession,
    user: AdminUser,
    *,
    policy: SessionPolicy | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> tuple[str, AdminSession]:
    """Start a session for `user`; return the cookie value (never stored) and the session.

    Also records the sign-in on the account and drops the account's sessions that have
    ended, so the table holds little more than the sessions in use. The caller commits.
    """
    policy = policy or SessionPolicy()
    now = now or utcnow()
    await _purge_ended(db, user.id, policy, now)
    cookie = secrets.token_urlsafe(COOKIE_BYTES)
    session = AdminSession(
        id=session_id(cookie),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute_timeout,
        revoked_at=None,
        user_agent=user_agent[:MAX_USER_AGENT_LENGTH] if user_agent else None,
        ip=ip[:MAX_IP_LENGTH] if ip else None,
    )
    db.add(session)
    await db.execute(
        update(AdminUser)
        .where(AdminUser.id == user.id)
        .values(last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(user, "last_login_at", now)
    await db.flush()
    return cookie, session


async def get_active(
    db: AsyncSession,
    cookie: str,
    *,
    policy: SessionPolicy | None = None,
    now: datetime | None = None,
) -> ActiveSession | None:
    """Return the session of `cookie` and its account if both are still valid; else None.

    Valid means: not revoked, within the absolute and the idle timeout, and the account is
    active. Refreshes last_seen_at when older than LAST_SEEN_RESOLUTION; the caller commits.
    """
    if not cookie or len(cookie) > MAX_COOKIE_LENGTH:
        return None
    policy = policy or SessionPolicy()
    now = now or utcnow()
    row = (
        await db.execute(
            select(AdminSession, AdminUser)
            .join(AdminUser, AdminUser.id == AdminSession.user_id)
            .where(AdminSession.id == session_id(cookie))
        )
    ).first()
    if row is None:
        return None
    session, user = row
    if (
        session.revoked_at is not None
        or now >= session.expires_at
        or now - session.last_seen_at >= policy.idle_timeout
        or not user.is_active
    ):
        return None
    if now - session.last_seen_at >= LAST_SEEN_RESOLUTION:
        session.last_seen_at = now
    return ActiveSession(session=session, user=user)


async def revoke(db: AsyncSession, cookie: str, *, now: datetime | None = None) -> bool:
    """End the session of `cookie`; return whether there was a live one to end."""
    result = await db.execute(
        update(AdminSession)
        .where(AdminSession.id == session_id(cookie), AdminSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke_all_for_user(
    db: AsyncSession, user_id: int, *, now: datetime | None = None
) -> int:
    """End every session of the account; return how many were live."""
    result = await db.execute(
        update(AdminSession)
        .where(AdminSession.user_id == user_id, AdminSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


async def _purge_ended(
    db: AsyncSession, user_id: int, policy: SessionPolicy, now: datetime
) -> None:
    await db.execute(
        delete(AdminSession)
        .where(
            AdminSession.user_id == user_id,
            or_(
                AdminSession.revoked_at.is_not(None),
                AdminSession.expires_at <= now,
                AdminSession.last_seen_at <= now - policy.idle_timeout,
            ),
        )
        .execution_options(synchronize_session=False)
    )
