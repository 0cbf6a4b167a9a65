"""Admin accounts on SQLite and PostgreSQL: creation, passwords, disabling, sign-in checks."""

from __future__ import annotations

import threading

import argon2
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.errors import Conflict, RecordNotFound
from gateway.services.admin_user_service import (
    FIRST_ADMIN_EMAIL,
    authenticate,
    create_user,
    disable,
    ensure_first_admin,
    get_user,
    list_users,
    set_password,
)
from gateway.services.passwords import HashParameters, Passwords
from gateway.services.session_service import create_session, get_active
from gateway.storage.models import AdminSession, AdminUser

CHEAP = HashParameters(time_cost=1, memory_cost=8, parallelism=1)
OTHER = HashParameters(time_cost=2, memory_cost=16, parallelism=1)
PASSWORD = "correct horse battery"


class ThreadNotingHasher:
    """Wrap argon2's hasher, noting the thread each hash and verification runs in."""

    def __init__(self, inner: argon2.PasswordHasher, threads: set[int]) -> None:
        self.inner = inner
        self.threads = threads

    def hash(self, password: str) -> str:
        self.threads.add(threading.get_ident())
        return self.inner.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        self.threads.add(threading.get_ident())
        return self.inner.verify(encoded, password)

    def check_needs_rehash(self, encoded: str) -> bool:
        return self.inner.check_needs_rehash(encoded)


class CountingPasswords(Passwords):
    """Passwords that count verifications and note the threads argon2 runs in."""

    def __init__(self, parameters: HashParameters = CHEAP) -> None:
        super().__init__(parameters)
        self.verifications = 0
        self.threads: set[int] = set()
        self._hasher = ThreadNotingHasher(self._hasher, self.threads)  # type: ignore[assignment]

    async def verify(self, encoded: str, password: str) -> bool:
        self.verifications += 1
        return await super().verify(encoded, password)


@pytest.fixture
def passwords() -> CountingPasswords:
    return CountingPasswords()


async def add_user(
    sessions: async_sessionmaker[AsyncSession],
    passwords: Passwords,
    email: str = "Ops@Example.com",
    role: str = "admin",
) -> AdminUser:
    async with sessions() as db, db.begin():
        return await create_user(db, email=email, password=PASSWORD, role=role, passwords=passwords)


class TestCreateUser:
    async def test_email_is_lower_cased_and_password_hashed_with_argon2id(
        self, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """The stored email is lower-cased; the password only as an argon2id hash."""
        await add_user(sessions, passwords, "  Ops@Example.COM ")
        async with sessions() as db:
            stored = await db.scalar(select(AdminUser))
        assert stored is not None
        assert stored.email == "ops@example.com" and stored.role == "admin"
        assert (
            stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
        )
        assert stored.is_active and stored.last_login_at is None

    async def test_duplicate_email_in_any_case_conflicts_and_leaves_the_session_usable(
        self, db: AsyncSession, passwords: Passwords
    ) -> None:
        """A second account with the same email, whatever its case, raises Conflict."""
        await create_user(db, email="a@b.c", password=PASSWORD, role="admin", passwords=passwords)
        with pytest.raises(Conflict, match=r"a@b\.c"):
            await create_user(
                db, email="A@B.C", password=PASSWORD, role="viewer", passwords=passwords
            )
        await create_user(db, email="d@e.f", password=PASSWORD, role="viewer", passwords=passwords)
        await db.commit()
        assert [u.email for u in await list_users(db)] == ["a@b.c", "d@e.f"]

    async def test_the_database_holds_emails_unique(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """A raw insert of a taken email fails on the unique constraint, across sessions."""
        await add_user(sessions, passwords, "a@b.c")
        db.add(AdminUser(email="a@b.c", password_hash="x", role="admin", is_active=True))
        with pytest.raises(IntegrityError):
            await db.flush()

    @pytest.mark.parametrize(
        ("email", "password", "role", "message"),
        [
            ("a@b.c", PASSWORD, "owner", "unknown role"),
            ("a@b.c", "short", "admin", "at least 12"),
            ("a@b.c", "x" * 1025, "admin", "at most 1024"),
            ("nobody", PASSWORD, "admin", "not an email"),
            ("a b@c.d", PASSWORD, "admin", "white space"),
        ],
    )
    async def test_invalid_input_is_refused(
        self,
        db: AsyncSession,
        passwords: Passwords,
        email: str,
        password: str,
        role: str,
        message: str,
    ) -> None:
        """A bad role, a short or huge password, or a non-address raises ValueError."""
        with pytest.raises(ValueError, match=message):
            await create_user(db, email=email, password=password, role=role, passwords=passwords)

    async def test_hashing_runs_in_a_worker_thread(
        self, db: AsyncSession, passwords: CountingPasswords
    ) -> None:
        """argon2 never runs on the event loop's thread."""
        await create_user(db, email="a@b.c", password=PASSWORD, role="admin", passwords=passwords)
        assert passwords.threads and threading.get_ident() not in passwords.threads


class TestAuthenticate:
    async def test_right_password_returns_the_account(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """The email is matched in any case; the right password returns the account."""
        made = await add_user(sessions, passwords)
        user = await authenticate(db, "OPS@example.com", PASSWORD, passwords=passwords)
        assert user is not None and user.id == made.id

    async def test_wrong_password_returns_none(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """A wrong password returns None."""
        await add_user(sessions, passwords)
        assert (
            await authenticate(db, "ops@example.com", PASSWORD + "!", passwords=passwords) is None
        )

    async def test_unknown_account_still_costs_a_verification(
        self, db: AsyncSession, passwords: CountingPasswords
    ) -> None:
        """An unknown email returns None after verifying against a dummy hash."""
        assert await authenticate(db, "ghost@example.com", PASSWORD, passwords=passwords) is None
        assert passwords.verifications == 1

    async def test_disabled_account_returns_none_after_verifying(
        self,
        db: AsyncSession,
        sessions: async_sessionmaker[AsyncSession],
        passwords: CountingPasswords,
    ) -> None:
        """A disabled account is refused even with the right password, at the same cost."""
        await add_user(sessions, passwords)
        async with sessions() as other, other.begin():
            await disable(other, "ops@example.com")
        assert await authenticate(db, "ops@example.com", PASSWORD, passwords=passwords) is None
        assert passwords.verifications == 1

    async def test_hash_with_old_parameters_is_replaced(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """After a successful check, a hash made with other parameters is rehashed."""
        await add_user(sessions, Passwords(CHEAP))
        current = Passwords(OTHER)
        assert await authenticate(db, "ops@example.com", PASSWORD, passwords=current) is not None
        async with sessions() as fresh:
            stored = await get_user(fresh, "ops@example.com")
        assert stored is not None and "m=16,t=2,p=1" in stored.password_hash
        assert not current.needs_rehash(stored.password_hash)
        assert await authenticate(db, "ops@example.com", PASSWORD, passwords=current) is not None

    async def test_hash_with_current_parameters_is_kept(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """A hash already made with the current parameters is left as it is."""
        made = await add_user(sessions, passwords)
        await authenticate(db, "ops@example.com", PASSWORD, passwords=passwords)
        async with sessions() as fresh:
            stored = await get_user(fresh, "ops@example.com")
        assert stored is not None and stored.password_hash == made.password_hash

    async def test_refuses_to_run_inside_an_open_transaction(
        self, db: AsyncSession, passwords: Passwords
    ) -> None:
        """authenticate() holds no transaction while argon2 runs, so it wants none open."""
        async with db.begin():
            with pytest.raises(RuntimeError, match="transaction"):
                await authenticate(db, "a@b.c", PASSWORD, passwords=passwords)

    async def test_verification_runs_in_a_worker_thread(
        self,
        db: AsyncSession,
        sessions: async_sessionmaker[AsyncSession],
        passwords: CountingPasswords,
    ) -> None:
        """Both hashing and verifying run off the event loop's thread."""
        await add_user(sessions, passwords)
        await authenticate(db, "ops@example.com", PASSWORD, passwords=passwords)
        assert passwords.threads and threading.get_ident() not in passwords.threads


class TestSetPassword:
    async def test_new_password_replaces_the_old_and_signs_out(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """After set_password only the new password works and every session has ended."""
        user = await add_user(sessions, passwords)
        async with sessions() as other, other.begin():
            cookie, _ = await create_session(other, user)
        async with sessions() as other, other.begin():
            await set_password(
                other, "OPS@example.com", "a much better secret", passwords=passwords
            )
        assert await authenticate(db, "ops@example.com", PASSWORD, passwords=passwords) is None
        assert (
            await authenticate(db, "ops@example.com", "a much better secret", passwords=passwords)
            is not None
        )
        async with db.begin():
            assert await get_active(db, cookie) is None

    async def test_unknown_account_is_not_found(
        self, db: AsyncSession, passwords: Passwords
    ) -> None:
        """Changing the password of an unknown email raises RecordNotFound."""
        with pytest.raises(RecordNotFound, match=r"ghost@example\.com"):
            await set_password(db, "ghost@example.com", PASSWORD, passwords=passwords)

    async def test_short_password_is_refused(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """A new password below the minimum length raises ValueError."""
        await add_user(sessions, passwords)
        with pytest.raises(ValueError, match="at least"):
            await set_password(db, "ops@example.com", "short", passwords=passwords)


class TestDisable:
    async def test_disable_signs_out_and_is_idempotent(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """A disabled account loses its sessions; disabling again changes nothing."""
        user = await add_user(sessions, passwords)
        async with sessions() as other, other.begin():
            cookie, _ = await create_session(other, user)
        for _ in range(2):
            async with sessions() as other, other.begin():
                assert not (await disable(other, "ops@example.com")).is_active
        async with db.begin():
            assert await get_active(db, cookie) is None
            revoked = await db.scalar(
                select(func.count()).where(AdminSession.revoked_at.is_not(None))
            )
        assert revoked == 1

    async def test_unknown_account_is_not_found(self, db: AsyncSession) -> None:
        """Disabling an unknown email raises RecordNotFound."""
        with pytest.raises(RecordNotFound):
            await disable(db, "ghost@example.com")


class TestEnsureFirstAdmin:
    async def test_empty_database_gets_an_admin_whose_password_is_returned_once(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """With no account at all, admin@localhost is created; a second call creates nothing."""
        async with sessions() as other, other.begin():
            password = await ensure_first_admin(other, passwords=passwords)
        assert password is not None and len(password) >= 20
        async with sessions() as other, other.begin():
            assert await ensure_first_admin(other, passwords=passwords) is None
        user = await authenticate(db, FIRST_ADMIN_EMAIL, password, passwords=passwords)
        assert user is not None and user.role == "admin"
        async with db.begin():
            stored = (await db.scalars(select(AdminUser))).all()
        assert [u.email for u in stored] == [FIRST_ADMIN_EMAIL]
        assert password not in stored[0].password_hash

    async def test_any_existing_account_means_no_first_admin(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession], passwords: Passwords
    ) -> None:
        """A database with only a viewer (or a disabled account) gets no admin@localhost."""
        await add_user(sessions, passwords, "viewer@example.com", role="viewer")
        async with sessions() as other, other.begin():
            await other.execute(update(AdminUser).values(is_active=False))
        async with db.begin():
            assert await ensure_first_admin(db, passwords=passwords) is None
            assert await get_user(db, FIRST_ADMIN_EMAIL) is None
