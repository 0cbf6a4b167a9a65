"""Password hashing with argon2id, run in worker threads so the event loop never waits on it.

One hash costs tens of megabytes and a noticeable fraction of a second by design; `Passwords`
runs at most a few at once, so a burst of logins queues instead of exhausting memory.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import argon2


class HashParameters(BaseModel):
    """argon2id cost parameters; the defaults are RFC 9106's low-memory profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_cost: int = Field(default=3, ge=1)
    memory_cost: int = Field(default=64 * 1024, ge=8, description="KiB")
    parallelism: int = Field(default=4, ge=1)


class Passwords:
    """Hash and verify passwords with one set of argon2id parameters."""

    def __init__(
        self, parameters: HashParameters | None = None, *, max_concurrency: int | None = None
    ) -> None:
        self.parameters = parameters or HashParameters()
        self._slots = asyncio.Semaphore(max_concurrency or min(4, os.cpu_count() or 1))
        self._dummy_hash: str | None = None

    @functools.cached_property
    def _hasher(self) -> argon2.PasswordHasher:
        # Imported on first use: a gateway restarted with its accounts in place hashes
        # nothing until someone signs in, and argon2 is memory an idle process need not hold.
        import argon2

        return argon2.PasswordHasher(
            time_cost=self.parameters.time_cost,
            memory_cost=self.parameters.memory_cost,
            parallelism=self.parameters.parallelism,
            type=argon2.Type.ID,
        )

    async def hash(self, password: str) -> str:
        """Return the encoded argon2id hash of `password`."""
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, encoded: str, password: str) -> bool:
        """Tell whether `password` matches `encoded`; a malformed hash matches nothing."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, encoded, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for callers that have no hash to check.

        Answering "no such account" faster than "wrong password" would tell which accounts
        exist, so an unknown account still costs one verification.
        """
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, encoded: str) -> bool:
        """Tell whether `encoded` was made with other parameters than these."""
        from argon2.exceptions import InvalidHashError

        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def _verify(self, encoded: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
