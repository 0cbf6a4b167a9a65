"""A real PostgreSQL stopped and started under ingestion load, the gateway running throughout.

The test starts a private PostgreSQL cluster (initdb into a temporary directory, a free port,
its socket in that directory), so stopping it disturbs nobody else's database. While clients
post batches, the server is stopped with `pg_ctl stop -m immediate` (a crash, as far as the
gateway can tell) and started again. Expected: 503 with Retry-After, quickly, while it is down;
ingestion bounded (no request waits longer than the slot timeout plus a probe); 200s again
once it is back, without restarting the gateway; every acknowledged event stored exactly once;
and a `system` alert recording the outage.

Without PostgreSQL's server binaries (initdb, pg_ctl) the test is skipped with the reason
printed, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from gateway import keys
from gateway.app import create_app
from gateway.self_monitor import DATABASE_OUTAGE
from gateway.settings import Settings
from gateway.storage.engine import create_engine, session_factory
from gateway.storage.models import AdminNotification, PlatformAlert
from tests.conftest import CHEAP_HASHING, GatewayTestServer

pytestmark = pytest.mark.postgres

LOGS = "/api/v1/ingest/logs"
NDJSON = {"Content-Type": "application/x-ndjson"}
RULES = """\
version: 1
rules:
  - name: every-event
    match: {event: outage.test}
    notify: {type: system_info, priority: low, title: "event {{ n }}", message: "m"}
"""
WORKERS = 6
LINES_PER_BATCH = 5
CONCURRENCY = 3
QUEUE_TIMEOUT = 0.3
WRITE_TIMEOUT = 1.0
# No request may wait longer than this for its answer: a slot, a write that times out, and
# slack for a busy machine.
REQUEST_BOUND = QUEUE_TIMEOUT + WRITE_TIMEOUT + 1.5
OUTAGE_SECONDS = 2.0
ALERT_AFTER = 0.5


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout, then PATH)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and shutil.which("initdb"):
        return Path(pg_ctl).parent
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}. CI=true requires the PostgreSQL outage test to run.")
    print(f"\nskipping the PostgreSQL outage test: {reason}")
    pytest.skip(reason)


@dataclass
class Cluster:
    """A private PostgreSQL server: its binaries, data directory and port."""

    bin: Path
    root: Path
    port: int
    # PostgreSQL refuses to run as root; as root, every server command runs as `postgres`.
    as_user: list[str] = field(default_factory=list)
    frozen: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def command(self, *args: str) -> list[str]:
        return [*self.as_user, str(self.bin / args[0]), *args[1:]]

    def pg_ctl(self, *args: str) -> list[str]:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            # fsync off: a killed server's writes survive in the OS cache; commits still
            # wait for their WAL write, so an acknowledged batch survives the crash.
            "-c fsync=off -c max_connections=40"
        )
        data, log = str(self.root / "data"), str(self.root / "server.log")
        return self.command("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", *args)

    async def run(self, *command: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, f"{command}: {out.decode()}"

    async def stop(self) -> None:
        await self.run(*self.pg_ctl("stop", "-m", "immediate"))

    async def start(self) -> None:
        await self.run(*self.pg_ctl("start"))

    def freeze(self) -> None:
        """Stop every server process (SIGSTOP): connections stay open, nothing answers."""
        postmaster = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        self.frozen = [postmaster, *map(int, children)]
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """initdb and start a throwaway PostgreSQL; stop it and remove its files afterwards."""
    binaries = server_binaries()
    if binaries is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) not found")
        raise AssertionError("unreachable")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="gw-outage-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            skip_or_fail("running as root and there is no `postgres` account to run the server")
            raise AssertionError("unreachable") from None
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(binaries, root, free_port(), as_user)
    try:
        subprocess.run(
            cluster.command(
                "initdb",
                "-D",
                str(root / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(cluster.pg_ctl("start"), check=True, capture_output=True)
        yield cluster
    finally:
        cluster.thaw()  # a stopped postmaster would not hear pg_ctl stop
        subprocess.run(cluster.pg_ctl("stop", "-m", "immediate"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Answer:
    phase: str
    status: int  # 0: no answer (connection error or the client's own time limit)
    seconds: float
    ids: list[int]
    at: float = field(default_factory=time.monotonic)  # when the answer came
    retry_after: str | None = None
    notifications: int = 0


@dataclass
class Load:
    """Clients posting batches of uniquely numbered events until told to stop."""

    client: TestClient[Any, Any]
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    workers: list[asyncio.Task[None]] = field(default_factory=list)
    in_progress: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.workers = [asyncio.create_task(self.worker()) for _ in range(WORKERS)]
        self.workers.append(asyncio.create_task(self.sample()))

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.workers)

    async def worker(self) -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_BOUND * 4)
        while not self.stopping.is_set():
            ids = [next(self.ids) for _ in range(LINES_PER_BATCH)]
            body = b"\n".join(orjson.dumps({"event": "outage.test", "n": n}) for n in ids)
            phase, started = self.phase, time.monotonic()
            try:
                resp = await self.client.post(LOGS, data=body, headers=NDJSON, timeout=timeout)
                payload = await resp.json()
                answer = Answer(phase, resp.status, time.monotonic() - started, ids)
                answer.retry_after = resp.headers.get("Retry-After")
                if resp.status == 200:
                    answer.notifications = payload["notifications"]
            except (aiohttp.ClientError, TimeoutError):
                answer = Answer(phase, 0, time.monotonic() - started, ids)
            self.answers.append(answer)
            if answer.status != 200:
                # A client honouring Retry-After would wait longer; these keep the pressure on
                # to show that what waits stays bounded.
                await asyncio.sleep(0.05)

    async def sample(self) -> None:
        """Record how many batches hold an ingestion slot, every 50 ms."""
        registry = self.client.app[keys.METRICS].registry
        while not self.stopping.is_set():
            value = registry.get_sample_value("gateway_ingest_batches_in_progress")
            self.in_progress.append(value or 0)
            await asyncio.sleep(0.05)

    def of(self, phase: str, status: int | None = None) -> list[Answer]:
        return [
            a for a in self.answers if a.phase == phase and (status is None or a.status == status)
        ]

    async def until(self, phase: str, successes: int, within: float) -> None:
        """Wait for `successes` 200s in `phase`; fail after `within` seconds."""
        deadline = time.monotonic() + within
        while len(self.of(phase, 200)) < successes:
            assert time.monotonic() < deadline, f"fewer than {successes} 200s in {phase!r}"
            await asyncio.sleep(0.05)


async def start_gateway(cluster: Cluster, aiohttp_client: Any, tmp_path: Path) -> Any:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = Settings(
        config_path=rules,
        database_url=cluster.url,
        migrate=True,
        reload_interval=0,
        password_hashing=CHEAP_HASHING,
        ingest_concurrency=CONCURRENCY,
        ingest_queue_timeout=QUEUE_TIMEOUT,
        db_write_timeout=WRITE_TIMEOUT,
        self_check_interval=0.1,
        db_outage_alert_after=ALERT_AFTER,
    )
    return await aiohttp_client(GatewayTestServer(create_app(settings)))


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def check_answers(load: Load, down: list[Answer]) -> list[Answer]:
    """Every request answered within the bound; while down, 503s with Retry-After."""
    refused = [a for a in down if a.status == 503]
    assert len(refused) >= WORKERS, f"too few 503s while down: {down!r}"
    assert all(a.retry_after and a.retry_after.isdigit() for a in refused)
    assert {a.status for a in down} <= {200, 503}
    late = [a for a in load.answers if a.status == 0 or a.seconds > REQUEST_BOUND]
    assert not late, f"requests hung or went unanswered: {late!r}"
    # Never more batches at work than slots: nothing queues beyond them.
    assert max(load.in_progress) <= CONCURRENCY
    return refused


async def check_stored(cluster: Cluster, load: Load) -> tuple[set[int], set[int], PlatformAlert]:
    """Every acknowledged event stored once; the outage recorded. Returns them and the alert."""
    acknowledged = {n for a in load.answers if a.status == 200 for n in a.ids}
    assert sum(a.notifications for a in load.answers) == len(acknowledged)
    sent = {n for a in load.answers for n in a.ids}
    engine = create_engine(cluster.url)
    try:
        sessions = session_factory(engine)
        async with sessions() as db:
            titles = list(await db.scalars(select(AdminNotification.title)))
        stored = [int(title.removeprefix("event ")) for title in titles]
        assert len(stored) == len(set(stored)), "an event was stored twice"
        assert acknowledged <= set(stored), "an acknowledged event was lost"
        assert set(stored) <= sent
        # Only a batch whose COMMIT reached the server as it went away may be stored without
        # its answer; there is at most one such commit per slot.
        assert len(set(stored) - acknowledged) <= CONCURRENCY * LINES_PER_BATCH
        deadline = time.monotonic() + 5
        while True:
            async with sessions() as db:
                alerts = list(
                    await db.scalars(
                        select(PlatformAlert).where(PlatformAlert.fingerprint == DATABASE_OUTAGE)
                    )
                )
            if alerts:
                break
            assert time.monotonic() < deadline, "the outage was not recorded"
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    [alert] = alerts
    assert (alert.alert_type, alert.severity) == ("system", "critical")
    assert alert.is_resolved and alert.resolved_by_user_id is None
    assert (alert.resolution_notes or "").startswith("resolved automatically:")
    assert alert.alert_metadata["started_at"] in (alert.description or "")
    return acknowledged, set(stored), alert


class TestPostgresOutage:
    async def test_stop_and_start_under_load(
        self, cluster: Cluster, aiohttp_client: Any, tmp_path: Path
    ) -> None:
        """Stopped: prompt 503s, bounded; started: 200s without a restart, nothing acked lost."""
        client: TestClient[Any, Any] = await start_gateway(cluster, aiohttp_client, tmp_path)
        registry = client.app[keys.METRICS].registry
        load = Load(client)
        load.start()
        try:
            await load.until("before", 10, within=10)
            rss_before = rss_bytes()

            load.phase = "down"
            stopped_at = time.monotonic()
            await cluster.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            assert (await client.get("/healthz")).status == 200
            assert (await client.get("/readyz")).status == 503
            assert client.app[keys.SELF_MONITOR].database_outage_since is not None
            assert registry.get_sample_value("gateway_database_reachable") == 0
            rss_down = rss_bytes()

            load.phase = "back"
            restarting_at = time.monotonic()
            await cluster.start()
            started_at = time.monotonic()
            await load.until("back", 10, within=15)
        finally:
            await load.stop()

        refused = check_answers(load, load.of("down"))
        assert rss_down - rss_before < 64 * 1024 * 1024, "memory grew during the outage"
        # The same process serves again and says so.
        assert (await client.get("/readyz")).status == 200
        assert registry.get_sample_value("gateway_database_reachable") == 1
        acknowledged, stored, alert = await check_stored(cluster, load)
        meta = alert.alert_metadata
        assert meta["instance"] == client.app[keys.HUB].instance
        outage = started_at - stopped_at
        # Checks run every 0.1 s: the recorded span is the real one within a few of them.
        assert ALERT_AFTER <= meta["duration_seconds"] <= outage + 1.0
        recovered = min(a.at for a in load.of("back", 200)) - restarting_at
        print(
            f"\nstopped {outage:.1f}s: {len(refused)} answered 503, "
            f"slowest answer {max(a.seconds for a in load.answers):.2f}s, "
            f"{len(acknowledged)} events acknowledged and stored, "
            f"{len(stored - acknowledged)} stored unacknowledged, "
            f"RSS {(rss_down - rss_before) / 2**20:+.1f} MiB, "
            f"first 200 {recovered:.2f}s after pg_ctl start began, "
            f"alert recorded {meta['duration_seconds']}s"
        )

    async def test_unresponsive_database_under_load(
        self, cluster: Cluster, aiohttp_client: Any, tmp_path: Path
    ) -> None:
        """A server that stops answering: writes give up with 503 after a timeout, then recover."""
        client: TestClient[Any, Any] = await start_gateway(cluster, aiohttp_client, tmp_path)
        load = Load(client)
        load.start()
        try:
            await load.until("before", 10, within=10)
            load.phase = "down"
            frozen_at = time.monotonic()
            cluster.freeze()
            await asyncio.sleep(OUTAGE_SECONDS)
            probe_started = time.monotonic()
            ready = await client.get("/readyz")
            probe_seconds = time.monotonic() - probe_started
            assert ready.status == 503
            assert (await ready.json())["checks"]["database"]["ok"] is False
            load.phase = "back"
            cluster.thaw()
            thawed_at = time.monotonic()
            await load.until("back", 10, within=15)
        finally:
            cluster.thaw()
            await load.stop()

        # Requests in flight when the server froze: answered 503 once the write timed out.
        timed_out = [a for a in load.of("before", 503) if a.seconds >= WRITE_TIMEOUT]
        assert timed_out, "no write gave up on the frozen server"
        refused = check_answers(load, load.of("down"))
        assert probe_seconds < 3.0, "readiness waited on the frozen server"
        assert (await client.get("/readyz")).status == 200
        acknowledged, stored, alert = await check_stored(cluster, load)
        frozen = thawed_at - frozen_at
        assert ALERT_AFTER <= alert.alert_metadata["duration_seconds"] <= frozen + 1.0
        print(
            f"\nfrozen {frozen:.1f}s: {len(timed_out)} writes gave up after "
            f"{min(a.seconds for a in timed_out):.2f}s, {len(refused)} answered 503, "
            f"slowest answer {max(a.seconds for a in load.answers):.2f}s, /readyz in "
            f"{probe_seconds:.2f}s, {len(acknowledged)} acknowledged and stored, "
            f"{len(stored - acknowledged)} stored unacknowledged, "
            f"alert recorded {alert.alert_metadata['duration_seconds']}s"
        )
