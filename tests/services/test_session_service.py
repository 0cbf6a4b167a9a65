"""Dashboard sessions on SQLite and PostgreSQL: creation, timeouts, revocation."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.services.admin_user_service import create_user, disable
from gateway.services.passwords import HashParameters, Passwords
from gateway.services.session_service import (
    SessionPolicy,
    create_session,
    get_active,
    revoke,
    revoke_all_for_user,
    session_id,
)
from gateway.storage.models import AdminSession, AdminUser
from gateway.storage.types import utcnow

CHEAP = Passwords(HashParameters(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
async def user(sessions: async_sessionmaker[AsyncSession]) -> AdminUser:
    async with sessions() as db, db.begin():
        return await create_user(
            db,
            email="ops@example.com",
            password="correct horse battery",
            role="admin",
            passwords=CHEAP,
        )


async def start(
    sessions: async_sessionmaker[AsyncSession], user: AdminUser, **kwargs: object
) -> str:
    async with sessions() as db, db.begin():
        cookie, _ = await create_session(db, user, **kwargs)  # type: ignore[arg-type]
    return cookie


async def active(
    sessions: async_sessionmaker[AsyncSession], cookie: str, policy: SessionPolicy | None = None
) -> bool:
    async with sessions() as db, db.begin():
        return await get_active(db, cookie, policy=policy) is not None


async def set_times(
    sessions: async_sessionmaker[AsyncSession], cookie: str, **values: object
) -> None:
    async with sessions() as db, db.begin():
        await db.execute(
            update(AdminSession).where(AdminSession.id == session_id(cookie)).values(**values)
        )


async def stored(sessions: async_sessionmaker[AsyncSession], cookie: str) -> AdminSession:
    async with sessions() as db:
        row = await db.get(AdminSession, session_id(cookie))
    assert row is not None
    return row


class TestCreateSession:
    async def test_cookie_is_256_random_bits_stored_only_as_its_digest(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """The cookie is 43 url-safe characters; the row holds its sha256, never the value."""
        cookie = await start(sessions, user)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
        row = await stored(sessions, cookie)
        assert row.id == hashlib.sha256(cookie.encode()).hexdigest()
        assert cookie not in {row.id, row.csrf_token, row.user_agent, row.ip}
        assert row.user_id == user.id and row.revoked_at is None

    async def test_every_session_has_its_own_cookie_and_csrf_token(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """Two sign-ins give two different cookies and CSRF tokens."""
        first, second = await start(sessions, user), await start(sessions, user)
        assert first != second
        assert (await stored(sessions, first)).csrf_token != (
            await stored(sessions, second)
        ).csrf_token

    async def test_absolute_expiry_and_sign_in_time_are_recorded(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """expires_at is sign-in plus the absolute timeout; the account's last_login_at is set."""
        now = utcnow()
        cookie = await start(
            sessions, user, now=now, policy=SessionPolicy(absolute_timeout=timedelta(hours=2))
        )
        row = await stored(sessions, cookie)
        assert row.created_at == row.last_seen_at == now
        assert row.expires_at == now + timedelta(hours=2)
        async with sessions() as db:
            account = await db.get(AdminUser, user.id)
        assert account is not None and account.last_login_at == now

    async def test_user_agent_and_address_are_truncated(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """A long User-Agent is cut to 255 characters rather than refused."""
        cookie = await start(sessions, user, user_agent="x" * 1000, ip="203.0.113.9")
        row = await stored(sessions, cookie)
        assert row.user_agent == "x" * 255 and row.ip == "203.0.113.9"

    async def test_ended_sessions_of_the_account_are_purged_at_sign_in(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """Revoked and expired sessions are deleted when the account signs in again."""
        revoked, expired, live = [await start(sessions, user) for _ in range(3)]
        async with sessions() as db, db.begin():
            await revoke(db, revoked)
        await set_times(sessions, expired, expires_at=utcnow() - timedelta(seconds=1))
        newest = await start(sessions, user)
        async with sessions() as db:
            ids = set((await db.scalars(select(AdminSession.id))).all())
        assert ids == {session_id(live), session_id(newest)}


class TestGetActive:
    async def test_live_session_is_found_with_its_account(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """A fresh session is active and comes with its account."""
        cookie = await start(sessions, user)
        async with sessions() as db, db.begin():
            found = await get_active(db, cookie)
        assert found is not None
        assert found.user.id == user.id and found.session.id == session_id(cookie)

    @pytest.mark.parametrize("cookie", ["", "nope", "x" * 10_000])
    async def test_unknown_cookie_is_not_active(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser, cookie: str
    ) -> None:
        """An empty, unknown or absurdly long cookie finds nothing."""
        await start(sessions, user)
        assert not await active(sessions, cookie)

    async def test_idle_session_expires(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """A session unused for the idle timeout (30 minutes by default) has ended."""
        cookie = await start(sessions, user)
        await set_times(sessions, cookie, last_seen_at=utcnow() - timedelta(minutes=29))
        assert await active(sessions, cookie)
        await set_times(sessions, cookie, last_seen_at=utcnow() - timedelta(minutes=31))
        assert not await active(sessions, cookie)

    async def test_idle_timeout_follows_the_policy(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """The idle timeout is the policy's at the time of the check."""
        cookie = await start(sessions, user)
        await set_times(sessions, cookie, last_seen_at=utcnow() - timedelta(minutes=5))
        assert not await active(sessions, cookie, SessionPolicy(idle_timeout=timedelta(minutes=4)))
        assert await active(sessions, cookie, SessionPolicy(idle_timeout=timedelta(minutes=6)))

    async def test_absolute_timeout_ends_even_a_busy_session(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """A session used a moment ago has still ended once expires_at has passed."""
        cookie = await start(sessions, user)
        await set_times(
            sessions,
            cookie,
            created_at=utcnow() - timedelta(hours=13),
            expires_at=utcnow() - timedelta(hours=1),
        )
        assert not await active(sessions, cookie)

    async def test_revoked_session_is_not_active(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """A revoked session has ended."""
        cookie = await start(sessions, user)
        await set_times(sessions, cookie, revoked_at=utcnow())
        assert not await active(sessions, cookie)

    async def test_disabled_account_has_no_active_session(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """A session of a disabled account is not active, even if somehow unrevoked."""
        cookie = await start(sessions, user)
        async with sessions() as db, db.begin():
            await db.execute(update(AdminUser).values(is_active=False))
        assert not await active(sessions, cookie)

    async def test_last_seen_is_refreshed_at_most_once_a_minute(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """Use within a minute of the last refresh writes nothing; later use refreshes it."""
        cookie = await start(sessions, user)
        recent = utcnow() - timedelta(seconds=30)
        await set_times(sessions, cookie, last_seen_at=recent)
        assert await active(sessions, cookie)
        assert (await stored(sessions, cookie)).last_seen_at == recent
        older = utcnow() - timedelta(minutes=2)
        await set_times(sessions, cookie, last_seen_at=older)
        assert await active(sessions, cookie)
        assert (await stored(sessions, cookie)).last_seen_at > older + timedelta(minutes=1)


class TestRevoke:
    async def test_revoke_ends_one_session_once(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """revoke() ends the cookie's session and reports whether it was live."""
        cookie, other = await start(sessions, user), await start(sessions, user)
        async with sessions() as db, db.begin():
            assert await revoke(db, cookie)
            assert not await revoke(db, cookie)
            assert not await revoke(db, "unknown")
        assert not await active(sessions, cookie)
        assert await active(sessions, other)

    async def test_revoke_all_for_user_ends_only_that_accounts_sessions(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """Every live session of the account ends; another account's stay."""
        async with sessions() as db, db.begin():
            viewer = await create_user(
                db,
                email="v@example.com",
                password="correct horse battery",
                role="viewer",
                passwords=CHEAP,
            )
        mine = [await start(sessions, user) for _ in range(2)]
        theirs = await start(sessions, viewer)
        async with sessions() as db, db.begin():
            assert await revoke_all_for_user(db, user.id) == 2
            assert await revoke_all_for_user(db, user.id) == 0
        assert not any([await active(sessions, c) for c in mine])
        assert await active(sessions, theirs)

    async def test_disabling_the_account_revokes_its_sessions(
        self, sessions: async_sessionmaker[AsyncSession], user: AdminUser
    ) -> None:
        """The account service's disable() ends every session in the same transaction."""
        await start(sessions, user)
        async with sessions() as db, db.begin():
            await disable(db, user.email)
        async with sessions() as db:
            live = await db.scalar(select(func.count()).where(AdminSession.revoked_at.is_(None)))
        assert live == 0
