"""Property-based checks of the whole admin API against its own OpenAPI document.

Schemathesis generates requests from the document for every operation and sends them,
authenticated with an admin token, to the gateway running on loopback. Any 5xx, undocumented
status, undocumented content type or body that does not fit its schema fails the test.
Examples are few and derandomized, so the run is short and repeatable.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import schemathesis
from aiohttp.test_utils import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway import keys
from tests.api.conftest import SeedAlert, SeedNotification, Tokens, bearer

EXAMPLES_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def exercise(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation's examples; return the operations exercised."""
    schema = schemathesis.openapi.from_dict(document)
    exercised = []
    for result in schema.get_all_operations():
        operation = result.ok()
        responses = operation.definition.raw["responses"]
        if "text/event-stream" in str(responses):
            continue  # an endless stream has no response to check

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            case.validate_response(response, checks=CHECKS)

        run()
        exercised.append(f"{operation.method.upper()} {operation.path}")
    return exercised


class TestSchemathesis:
    async def test_api_conforms_to_its_document(
        self,
        client: TestClient[Any, Any],
        tokens: Tokens,
        seed_notification: SeedNotification,
        seed_alert: SeedAlert,
    ) -> None:
        """Generated requests to every operation get documented, schema-valid answers."""
        for _ in range(3):
            await seed_notification(metadata={"store_id": 5})
            await seed_alert(stores=("5",), systems=("db",))
        document = client.app[keys.OPENAPI]
        base_url = str(client.make_url("")).rstrip("/")
        # The server runs on this event loop; the synchronous client runs beside it.
        exercised = await asyncio.to_thread(exercise, document, base_url, bearer(tokens["admin"]))
        assert "PUT /api/v1/admin/notifications/alerts/{id}/resolve" in exercised
        assert len(exercised) >= 20
