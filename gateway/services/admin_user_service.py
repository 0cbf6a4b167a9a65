"""Admin accounts: create, change password, disable, enable, authenticate, the first admin.

Emails are stored lower-cased and compared that way. Passwords are hashed with argon2id by
`Passwords`, in worker threads. Disabling an account or changing its password signs it out
everywhere.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from gateway.errors import Conflict, RecordNotFound
from gateway.services.passwords import Passwords
from gateway.services.session_service import revoke_all_for_user
from gateway.storage.models import AdminUser
from gateway.storage.types import utcnow

ROLES = frozenset({"admin", "viewer"})
FIRST_ADMIN_EMAIL = "admin@localhost"
MIN_PASSWORD_LENGTH = 12
# Longer inputs are refused before hashing: nobody types them, and they only cost CPU.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 254


def normalize_email(email: str) -> str:
    """Return `email` as stored: trimmed and lower-cased."""
    return email.strip().lower()


def check_email(email: str) -> str:
    """Return the normalised `email`; raise ValueError when it cannot be an address."""
    normalized = normalize_email(email)
    local, at, domain = normalized.partition("@")
    if not at or not local or not domain or len(normalized) > MAX_EMAIL_LENGTH:
        raise ValueError(f"{email!r} is not an email address")
    if any(char.isspace() for char in normalized):
        raise ValueError(f"{email!r} is not an email address: it contains white space")
    return normalized


def check_password(password: str) -> None:
    """Raise ValueError unless `password` is acceptable for an admin account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


async def create_user(
    db: AsyncSession, *, email: str, password: str, role: str, passwords: Passwords
) -> AdminUser:
    """Create an active account; raise Conflict if the email is taken, ValueError if invalid."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {sorted(ROLES)}")
    normalized = check_email(email)
    check_password(password)
    # Hashed before the first query, so no transaction waits on argon2.
    password_hash = await passwords.hash(password)
    if await get_user(db, normalized) is not None:
        raise Conflict(f"an admin user {normalized!r} already exists")
    now = utcnow()
    user = AdminUser(
        email=normalized,
        password_hash=password_hash,
        role=role,
        is_active=True,
        created_at=now,
        updated_at=now,
        last_login_at=None,
    )
    try:
        # A savepoint, so that losing a race on the email leaves the caller's transaction usable.
        async with db.begin_nested():
            db.add(user)
    except IntegrityError as exc:
        raise Conflict(f"an admin user {normalized!r} already exists") from exc
    return user


async def get_user(db: AsyncSession, email: str) -> AdminUser | None:
    """Return the account with `email` (any case), or None."""
    return await db.scalar(select(AdminUser).where(AdminUser.email == normalize_email(email)))


async def list_users(db: AsyncSession) -> list[AdminUser]:
    """Return every account, disabled ones included, by email."""
    return list((await db.scalars(select(AdminUser).order_by(AdminUser.email))).all())


async def set_password(
    db: AsyncSession, email: str, password: str, *, passwords: Passwords
) -> AdminUser:
    """Replace the account's password and sign it out everywhere.

    Raise RecordNotFound for an unknown email and ValueError for an unacceptable password.
    """
    check_password(password)
    password_hash = await passwords.hash(password)
    user = await _require(db, email)
    user.password_hash = password_hash
    user.updated_at = utcnow()
    await revoke_all_for_user(db, user.id)
    await db.flush()
    return user


async def disable(db: AsyncSession, email: str) -> AdminUser:
    """Disable the account and sign it out everywhere; disabling twice changes nothing."""
    user = await _require(db, email)
    if user.is_active:
        user.is_active = False
        user.updated_at = utcnow()
    await revoke_all_for_user(db, user.id)
    await db.flush()
    return user


async def enable(db: AsyncSession, email: str) -> tuple[AdminUser, bool]:
    """Let a disabled account sign in again; return it and whether it was disabled.

    Enabling an active account changes nothing. No session is restored: disabling ended them.
    """
    user = await _require(db, email)
    if user.is_active:
        return user, False
    user.is_active = True
    user.updated_at = utcnow()
    await db.flush()
    return user, True


async def authenticate(
    db: AsyncSession, email: str, password: str, *, passwords: Passwords
) -> AdminUser | None:
    """Return the active account `email`/`password` identify, or None.

    Call it with no transaction open on `db`: it reads the account in one short transaction
    and verifies the password after it ends, so no lock (on SQLite, the write lock) is held
    while argon2 runs. An unknown account costs a verification too, so the answer's timing
    does not tell which accounts exist. A hash made with other parameters than `passwords`'
    is replaced after a successful check, in a second short transaction.
    """
    if db.in_transaction():
        raise RuntimeError("authenticate() runs its own transactions; call it with none open")
    async with db.begin():
        user = await get_user(db, email)
    if user is None or len(password) > MAX_PASSWORD_LENGTH:
        await passwords.verify_dummy(password[:MAX_PASSWORD_LENGTH])
        return None
    if not await passwords.verify(user.password_hash, password) or not user.is_active:
        return None
    if passwords.needs_rehash(user.password_hash):
        old_hash, new_hash = user.password_hash, await passwords.hash(password)
        async with db.begin():
            # Only if unchanged meanwhile: a password set in between must not be overwritten.
            await db.execute(
                update(AdminUser)
                .where(AdminUser.id == user.id, AdminUser.password_hash == old_hash)
                .values(password_hash=new_hash)
                .execution_options(synchronize_session=False)
            )
        # As stored now; assigning would mark the row dirty and write it again later.
        set_committed_value(user, "password_hash", new_hash)
    return user


async def ensure_first_admin(db: AsyncSession, *, passwords: Passwords) -> str | None:
    """Create `admin@localhost` with a random password when there is no account at all.

    Return that password, which is stored nowhere but as its hash; return None when an
    account already exists (or another process created the first one meanwhile).
    """
    if await db.scalar(select(func.count()).select_from(AdminUser)):
        return None
    password = secrets.token_urlsafe(18)
    try:
        await create_user(
            db, email=FIRST_ADMIN_EMAIL, password=password, role="admin", passwords=passwords
        )
    except Conflict:
        return None
    return password


async def _require(db: AsyncSession, email: str) -> AdminUser:
    user = await get_user(db, email)
    if user is None:
        raise RecordNotFound("admin user", normalize_email(email))
    return user
