"""Fixtures that build the real application on a real server on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import SERVER_KWARGS, create_app
from gateway.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BUNDLED_RULES = REPO / "rules.yaml"

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


class GatewayTestServer(TestServer):
    """A loopback server with the same runner options `gateway serve` uses."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return web.AppRunner(self.app, **kwargs, **SERVER_KWARGS)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """A private copy of the bundled rules, so a test may rewrite it."""
    target = tmp_path / "rules.yaml"
    shutil.copy(BUNDLED_RULES, target)
    return target


@pytest.fixture
def make_client(aiohttp_client: Any, database_url: str, rules_file: Path) -> MakeClient:
    """Start the gateway (create_app) on loopback against the test database."""

    async def make(**overrides: Any) -> TestClient[Any, Any]:
        fields: dict[str, Any] = {
            "config_path": rules_file,
            "database_url": database_url,
            "reload_interval": 0,
        }
        fields.update(overrides)
        app = create_app(Settings(**fields))
        return await aiohttp_client(GatewayTestServer(app))  # type: ignore[no-any-return]

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()
