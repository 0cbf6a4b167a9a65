"""API tokens on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.errors import Conflict, RecordNotFound
from gateway.services.token_service import (
    TOKEN_PREFIX,
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)
from gateway.storage.models import ApiToken


class TestCreateToken:
    async def test_plaintext_is_returned_once_and_only_its_digest_stored(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The token is gw_ + 43 url-safe characters; the database holds its sha256 only."""
        token, plaintext = await create_token(db, name="shipper", scope="ingest")
        await db.commit()
        assert plaintext.startswith(TOKEN_PREFIX) and len(plaintext) == len(TOKEN_PREFIX) + 43
        async with sessions() as fresh:
            stored = await fresh.scalar(select(ApiToken))
        assert stored is not None and stored.id == token.id
        assert stored.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext not in (stored.token_hash, stored.name)
        assert stored.scope == "ingest" and stored.created_at.tzinfo is UTC
        assert stored.last_used_at is None and stored.revoked_at is None

    async def test_tokens_differ(self, db: AsyncSession) -> None:
        """Every token is freshly random."""
        _, first = await create_token(db, name="a", scope="read")
        _, second = await create_token(db, name="b", scope="read")
        assert first != second

    async def test_duplicate_name_conflicts_and_leaves_the_session_usable(
        self, db: AsyncSession
    ) -> None:
        """A second token with a taken name raises Conflict; the transaction carries on."""
        await create_token(db, name="dup", scope="admin")
        with pytest.raises(Conflict, match="dup"):
            await create_token(db, name="dup", scope="read")
        await create_token(db, name="other", scope="read")
        await db.commit()
        assert [t.name for t in await list_tokens(db)] == ["dup", "other"]

    async def test_duplicate_name_from_another_session_conflicts(
        self, db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """The unique name holds across sessions too."""
        await create_token(db, name="dup", scope="admin")
        await db.commit()
        async with sessions() as other:
            with pytest.raises(Conflict):
                await create_token(other, name="dup", scope="admin")

    @pytest.mark.parametrize(("name", "scope"), [("x", "root"), ("  ", "read")])
    async def test_invalid_input_is_refused(self, db: AsyncSession, name: str, scope: str) -> None:
        """An unknown scope or a blank name is a ValueError."""
        with pytest.raises(ValueError):
            await create_token(db, name=name, scope=scope)


class TestVerifyToken:
    async def test_valid_token_in_scope(self, db: AsyncSession) -> None:
        """A valid token whose scope is allowed is returned and its use recorded."""
        token, plaintext = await create_token(db, name="t", scope="ingest")
        found = await verify_token(db, plaintext, scopes={"ingest"})
        assert found is not None and found.id == token.id
        assert found.last_used_at is not None and found.last_used_at.tzinfo is UTC

    @pytest.mark.parametrize("presented", ["", "gw_", "gw_wrong", "not-a-token", "Bearer gw_x"])
    async def test_unknown_tokens(self, db: AsyncSession, presented: str) -> None:
        """Anything but an issued token is refused."""
        await create_token(db, name="t", scope="admin")
        assert await verify_token(db, presented, scopes={"admin"}) is None

    async def test_scope_outside_the_allowed_set(self, db: AsyncSession) -> None:
        """A token whose scope is not among `scopes` is refused."""
        _, plaintext = await create_token(db, name="t", scope="read")
        assert await verify_token(db, plaintext, scopes={"ingest", "admin"}) is None
        assert await verify_token(db, plaintext, scopes={"read"}) is not None

    async def test_revoked_token(self, db: AsyncSession) -> None:
        """A revoked token is refused."""
        _, plaintext = await create_token(db, name="t", scope="admin")
        await revoke_token(db, "t")
        assert await verify_token(db, plaintext, scopes={"admin"}) is None

    async def test_last_used_is_refreshed_at_most_once_a_minute(self, db: AsyncSession) -> None:
        """Verifications within a minute do not move last_used_at; later ones do."""
        token, plaintext = await create_token(db, name="t", scope="ingest")
        await verify_token(db, plaintext, scopes={"ingest"})
        first = token.last_used_at
        await verify_token(db, plaintext, scopes={"ingest"})
        assert token.last_used_at == first
        stale = datetime.now(UTC) - timedelta(minutes=2)
        token.last_used_at = stale
        await verify_token(db, plaintext, scopes={"ingest"})
        assert token.last_used_at is not None and token.last_used_at > stale
        assert db.is_modified(token)


class TestRevokeAndList:
    async def test_revoke_keeps_the_first_time(self, db: AsyncSession) -> None:
        """Revoking twice keeps the first revocation time."""
        token, _ = await create_token(db, name="t", scope="read")
        await revoke_token(db, "t")
        first = token.revoked_at
        await revoke_token(db, "t")
        assert first is not None and token.revoked_at == first

    async def test_revoke_unknown(self, db: AsyncSession) -> None:
        """Revoking an unknown name raises RecordNotFound."""
        with pytest.raises(RecordNotFound):
            await revoke_token(db, "ghost")

    async def test_list_by_name_including_revoked(self, db: AsyncSession) -> None:
        """list_tokens returns every token by name, revoked ones too."""
        for name in ("zeta", "alpha", "mid"):
            await create_token(db, name=name, scope="read")
        await revoke_token(db, "mid")
        tokens = await list_tokens(db)
        assert [t.name for t in tokens] == ["alpha", "mid", "zeta"]
        assert [t.revoked_at is not None for t in tokens] == [False, True, False]
