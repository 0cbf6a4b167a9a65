"""No secret reaches the log: webhook secrets, tokens, signatures, database passwords."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from gateway.ingest.signatures import sign_hmac_sha256
from gateway.services.token_service import create_token
from gateway.settings import Settings
from gateway.storage.engine import session_factory

LETZSHOP_SECRET = "letzshop-secret-do-not-log"
ALERTMANAGER_SECRET = "whsec_ZG8tbm90LWxvZy10aGlzLXNlY3JldA=="
METRICS_TOKEN = "metrics-token-do-not-log"
DATABASE_PASSWORD = "database-password-do-not-log"
WRONG_TOKEN = "gw_wrong-token-do-not-log"
LINE = orjson.dumps(
    {"event": "store.issue", "store_id": 1, "store_name": "A", "issue": "i", "message": "m"}
)


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETZSHOP_WEBHOOK_SECRET", LETZSHOP_SECRET)
    monkeypatch.setenv("ALERTMANAGER_WEBHOOK_SECRET", ALERTMANAGER_SECRET)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The test database; on PostgreSQL its URL carries a password (the server trusts us)."""
    if backend == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = make_url(str(request.getfixturevalue("postgres_url")))
    return url.set(password=DATABASE_PASSWORD).render_as_string(hide_password=False)


def letzshop_headers(body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Letzshop-Signature": sign_hmac_sha256(secret, body, "hex", "sha256="),
    }


class TestSecretsStayOutOfLogs:
    async def test_webhooks_and_token_ingestion_log_no_secret(
        self, make_client: Any, engine: AsyncEngine
    ) -> None:
        """Start-up, token ingestion, webhooks good and bad, and scrapes log none of the secrets."""
        async with session_factory(engine)() as db, db.begin():
            _, ingest_token = await create_token(db, name="shop", scope="ingest")
        body = orjson.dumps({"type": "letzshop.api_error", "store_id": 3, "store_name": "B"})
        good, forged = letzshop_headers(body, LETZSHOP_SECRET), letzshop_headers(body, "forged")
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as entries:
            client = await make_client(metrics_token=METRICS_TOKEN)
            logs = "/api/v1/ingest/logs"
            ndjson = {"Content-Type": "application/x-ndjson"}
            bearer = {**ndjson, "Authorization": f"Bearer {ingest_token}"}
            wrong = {**ndjson, "Authorization": f"Bearer {WRONG_TOKEN}"}
            assert (await client.post(logs, data=LINE, headers=bearer)).status == 200
            assert (await client.post(logs, data=LINE, headers=wrong)).status == 401
            webhook = "/api/v1/ingest/webhooks/letzshop"
            assert (await client.post(webhook, data=body, headers=good)).status == 200
            assert (await client.post(webhook, data=body, headers=forged)).status == 401
            metrics = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            assert (await client.get("/metrics", headers=metrics)).status == 200
            assert (
                await client.get("/metrics", headers={"Authorization": "Bearer x"})
            ).status == 401
            await client.close()
        events = {entry["event"] for entry in entries}
        # The capture saw the work: start-up, the access log, the refused signature.
        assert {"rules_loaded", "request", "webhook_signature_rejected"} <= events
        assert sum(entry["event"] == "request" for entry in entries) == 6
        logged = repr(entries)
        for secret in (
            LETZSHOP_SECRET,
            ALERTMANAGER_SECRET,
            ingest_token,
            WRONG_TOKEN,
            METRICS_TOKEN,
            DATABASE_PASSWORD,
            good["X-Letzshop-Signature"],
            forged["X-Letzshop-Signature"],
        ):
            assert secret not in logged

    def test_settings_repr_hides_the_metrics_token(self) -> None:
        """Settings printed or logged whole show the metrics token masked."""
        settings = Settings(metrics_token=METRICS_TOKEN)
        assert METRICS_TOKEN not in repr(settings) and METRICS_TOKEN not in str(settings)
