"""`gateway demo` against a real gateway on loopback: what it sends and what that produces."""

from __future__ import annotations

import asyncio
import io
import os
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.demo import DemoError, run_demo, scenario
from gateway.storage.models import AdminNotification, PlatformAlert

Client = TestClient[Any, Any]
EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
DOCUMENTED_ROW = re.compile(r"^\| `([a-z_]+\.[a-z_]+)` \|", re.MULTILINE)
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
BURST = 5


def documented_events() -> set[str]:
    """The event names of the table in docs/events.md."""
    names = set(DOCUMENTED_ROW.findall(EVENTS_DOC.read_text(encoding="utf-8")))
    assert len(names) >= 10, "the table of docs/events.md was not found"
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestDemoAgainstAGateway:
    async def test_sends_every_documented_event_and_produces_the_story(
        self, client: Client, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """Every documented event is sent; the burst is one alert counting each, then resolved."""
        out = io.StringIO()
        summary = await run_demo(str(client.make_url("/")), speed=0, seed=7, burst=BURST, out=out)
        assert set(summary.sent) == documented_events()
        assert summary.sent["letzshop.api_error"] == BURST

        async with sessions() as db:
            notifications = (await db.scalars(select(AdminNotification))).all()
            alerts = (await db.scalars(select(PlatformAlert))).all()
        assert {n.type for n in notifications} == {
            "import_failure",
            "order_sync_failure",
            "order_exception",
            "critical_error",
            "store_issue",
            "security_alert",
        }
        [letzshop] = [a for a in alerts if a.occurrence_count == BURST]
        assert letzshop.alert_type == "integration" and letzshop.severity == "error"
        assert letzshop.fingerprint is not None and letzshop.fingerprint.startswith("letzshop:")
        assert letzshop.is_resolved, "the recovery event resolves the burst's alert"
        [security] = [a for a in alerts if a.alert_type == "security"]
        assert security.occurrence_count == 3 and not security.is_resolved
        assert {a.alert_type for a in alerts} == {"integration", "system", "security"}
        # Two repeated security events and a repeated sync failure were deduplicated.
        assert summary.produced["suppressed"] == 3
        assert summary.produced["notifications"] == len(notifications)
        assert summary.produced["resolved"] == 1

        lines = out.getvalue().splitlines()
        assert len(lines) == summary.batches + 1
        assert re.fullmatch(
            r"\s*\d+\.\d+s  clean product import for .+: 1 event -> matched 0, "
            r"notifications 0, suppressed 0, alerts 0, resolved 0",
            lines[0],
        ), lines[0]
        assert any(f"Letzshop API error {BURST}/{BURST}" in line for line in lines)
        assert lines[-1].startswith(f"sent {sum(summary.sent.values())} events in ")

    async def test_speed_spreads_the_batches_over_time(self, client: Client) -> None:
        """At speed 100 the 45 s story takes about half a second, not no time at all."""
        started = time.monotonic()
        summary = await run_demo(
            str(client.make_url("/")), speed=100, seed=1, burst=2, out=io.StringIO()
        )
        elapsed = time.monotonic() - started
        assert summary.batches == len(scenario(random.Random(1), burst=2))
        assert 0.4 <= elapsed < 10

    async def test_refused_batch_is_a_clear_error(self, client: Client) -> None:
        """A gateway that refuses the batch (a wrong token) stops the demo with its reason."""
        with pytest.raises(DemoError, match=r"answered HTTP 401 .*invalid or revoked token"):
            await run_demo(str(client.make_url("/")), token="gw_wrong", speed=0, out=io.StringIO())

    async def test_command_line_runs_against_the_gateway(self, client: Client) -> None:
        """`gateway demo --speed 0` prints a line per batch and exits 0."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            "demo",
            "--url",
            str(client.make_url("/")),
            "--speed",
            "0",
            "--seed",
            "3",
            "--burst",
            "2",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=ENV,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, stderr.decode()
        lines = stdout.decode().splitlines()
        assert len(lines) == len(scenario(random.Random(3), burst=2)) + 1
        assert "order sync recovered" in lines[-2] and "resolved 1" in lines[-2]


class TestScenario:
    def test_same_seed_same_story(self) -> None:
        """A seed makes the stream reproducible; another seed changes its details."""
        assert scenario(random.Random(42)) == scenario(random.Random(42))
        assert scenario(random.Random(42)) != scenario(random.Random(43))

    def test_spread_over_half_a_minute_to_a_minute(self) -> None:
        """At speed 1 the batches span 30 to 60 seconds, the recovery last."""
        batches = scenario(random.Random(0), burst=8)
        assert 30 <= batches[-1].at <= 60
        assert [e["event"] for e in batches[-1].events] == ["order_sync.succeeded"]
        assert [b.at for b in batches] == sorted(b.at for b in batches)


def test_unreachable_gateway_exits_non_zero_with_a_clear_message() -> None:
    """Nothing listening at --url: one line on stderr naming the address, exit code 1."""
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--url", url, "--speed", "0"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach the gateway at {url}/api/v1/ingest/logs")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
