"""On the first start, create an admin account and print its password once, to the console.

The password is stored nowhere but as its argon2id hash and is never logged: the log says
only that the account was made. Whoever started the gateway reads it off the console, signs
in, and changes it with `gateway admin set-password`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from structlog import get_logger

from gateway import keys
from gateway.http.sessions import LOGIN_PATH
from gateway.services.admin_user_service import FIRST_ADMIN_EMAIL, ensure_first_admin

log = get_logger(__name__)

RULE = "=" * 72


def banner(email: str, password: str) -> str:
    """Return the console message that shows the first admin's password."""
    return "\n".join(
        [
            "",
            RULE,
            f"  No admin account existed, so one was created: {email}",
            "  Its password, shown only this once and stored nowhere:",
            "",
            f"      {password}",
            "",
            f"  Sign in (POST {LOGIN_PATH}), then change it:",
            f"      gateway admin set-password {email}",
            RULE,
            "",
        ]
    )


async def first_admin_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the first admin account when the database has none at all."""
    async with app[keys.SESSIONS]() as db, db.begin():
        password = await ensure_first_admin(db, passwords=app[keys.PASSWORDS])
    if password is not None:
        log.warning(
            "first_admin_created",
            email=FIRST_ADMIN_EMAIL,
            note="its password was printed once to the console",
        )
        print(banner(FIRST_ADMIN_EMAIL, password), flush=True)
    yield
