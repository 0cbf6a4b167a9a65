"""Shared benchmark machinery: gateway processes, databases, a loopback client, measures, output.

Every benchmark in this folder runs the real gateway as a separate process
(`python -m gateway serve --migrate ...`) on a free loopback port with a database of its own,
drives it with an aiohttp client from this process, and reads the server's CPU time and
resident memory from `/proc/<pid>` (Linux only). Results are printed as a table and written
as JSON to `bench/out/<name>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import aiohttp
from yarl import URL

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "bench" / "out"
BUNDLED_RULES = REPO / "rules.yaml"
LOOPBACK = "127.0.0.1"
POSTGRES_URL_ENV = "GATEWAY_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
INGEST_PATH = "/api/v1/ingest/logs"
NDJSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/x-ndjson"}

Backend = Literal["sqlite", "postgresql"]


class Size(StrEnum):
    """How much work a benchmark does: tiny for the smoke test, full for the targets."""

    TINY = "tiny"
    SMALL = "small"
    FULL = "full"


# --- command line ---------------------------------------------------------------------------


def common_parser(description: str | None) -> argparse.ArgumentParser:
    """Return a parser with the options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--size",
        type=Size,
        choices=list(Size),
        default=Size.FULL,
        help="tiny: seconds (smoke test); small: a quick look; full: the targets (default)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=OUT_DIR,
        help=f"where <name>.json and the server logs go (default {OUT_DIR.relative_to(REPO)})",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
        help="an account allowed to create databases; each run creates and drops its own "
        f"gw_bench_* database (env {POSTGRES_URL_ENV})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the server with py-spy during the measured load (pip install '.[bench]')",
    )
    return parser


# --- process measures -----------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MB = 1_000_000
"""Memory figures are in MB (10^6 bytes), as the targets are stated."""


def cpu_times(pid: int) -> tuple[float, float]:
    """Return the user and the system CPU time the process `pid` has used so far, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return utime / _CLOCK_TICKS, stime / _CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time the process `pid` has used so far, in seconds."""
    return sum(cpu_times(pid))


def rss_bytes(pid: int) -> int:
    """Return the resident set size of the process `pid` now, in bytes."""
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * _PAGE_SIZE


def peak_rss_bytes(pid: int) -> int:
    """Return the largest resident set size the process `pid` has had (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


class RssSampler:
    """Sample a process's RSS every `interval` seconds while in use (`async with`)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(rss_bytes(self.pid))
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.samples.append(rss_bytes(self.pid))

    @property
    def peak(self) -> int:
        return max(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


# --- databases ------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _engine(url: str, **kw: Any) -> Any:
    from gateway.storage.engine import create_engine

    return create_engine(url, **kw)


async def postgres_unavailable(admin_url: str) -> str | None:
    """Return why PostgreSQL at `admin_url` cannot be used, or None when it answers."""
    from sqlalchemy import text

    try:
        engine = _engine(admin_url, connect_args={"timeout": 5})
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
    except Exception as exc:
        return f"PostgreSQL unreachable ({type(exc).__name__}: {exc})"
    return None


async def _admin_execute(admin_url: str, sql: str) -> None:
    from sqlalchemy import text

    engine = _engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def temporary_database(
    backend: Backend, *, postgres_url: str, workdir: Path
) -> AsyncIterator[str]:
    """Yield the URL of a new, empty database on `backend`, removed afterwards.

    SQLite: a file in `workdir`. PostgreSQL: a `gw_bench_<hex>` database beside `postgres_url`,
    dropped (with its connections) on the way out.
    """
    if backend == "sqlite":
        path = workdir / f"gw_bench_{secrets.token_hex(4)}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            remove_sqlite_files(path)
        return
    from sqlalchemy.engine import make_url

    name = f"gw_bench_{secrets.token_hex(4)}"
    admin = make_url(postgres_url)
    await _admin_execute(postgres_url, f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def remove_sqlite_files(path: Path) -> None:
    """Delete an SQLite database file with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def execute(url: str, sql: str) -> None:
    """Run one statement against the database at `url` and commit it."""
    from sqlalchemy import text

    engine = _engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


async def query_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run one read-only query against the database at `url` and return its rows."""
    from sqlalchemy import text

    engine = _engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql))
            return [tuple(row) for row in result.all()]
    finally:
        await engine.dispose()


# --- the gateway process --------------------------------------------------------------------


class GatewayFailed(RuntimeError):
    """The gateway process exited or never became ready; the message holds its log's tail."""


@dataclass
class GatewayProcess:
    """One `python -m gateway serve --migrate` process on a free loopback port.

    `start()` returns once the process answers `/readyz` (or `/healthz` where there is no
    `/readyz`) with 200; `ready_seconds` is the time from just before the process was spawned
    to that answer.
    """

    database_url: str
    log_path: Path
    config: Path = BUNDLED_RULES
    extra_args: Sequence[str] = ()
    port: int = field(default_factory=free_port)
    ready_seconds: float | None = None
    ready_path: str | None = None
    _process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ingest_url(self) -> str:
        return self.base_url + INGEST_PATH

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the gateway is not running")
        return self._process.pid

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--migrate",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--config",
            str(self.config),
            "--database-url",
            self.database_url,
            "--reload-interval",
            "0",
            "--log-format",
            "json",
            *self.extra_args,
        ]

    async def start(self, ready_within: float = 60.0) -> None:
        # The gateway reads GATEWAY_* variables; only the flags above may configure it here.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env["PYTHONUNBUFFERED"] = "1"
        # As installed (pip and the image write bytecode at install time), not compiled from
        # source at every start, which PYTHONDONTWRITEBYTECODE would make it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        await _compile_sources_once(env)
        log = _open_log(self.log_path)
        try:
            started = time.perf_counter()
            self._process = await asyncio.create_subprocess_exec(
                *self.command(),
                cwd=REPO,
                env=env,
                preexec_fn=_end_with_parent,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        try:
            async with asyncio.timeout(ready_within):
                self.ready_path = await self._wait_ready()
        except TimeoutError:
            await self.stop()
            raise GatewayFailed(
                f"not ready after {ready_within:.0f} s\n{self.log_tail()}"
            ) from None
        self.ready_seconds = time.perf_counter() - started

    async def _wait_ready(self) -> str:
        paths = ["/readyz", "/healthz"]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                self._check_alive()
                try:
                    async with session.get(self.base_url + paths[0]) as response:
                        if response.status == 200:
                            return paths[0]
                        if response.status == 404 and len(paths) > 1:
                            paths.pop(0)  # no /readyz in this version: /healthz then
                            continue
                except (aiohttp.ClientConnectionError, TimeoutError):
                    pass
                await asyncio.sleep(0.005)

    def _check_alive(self) -> None:
        if self._process is not None and self._process.returncode is not None:
            raise GatewayFailed(
                f"the gateway exited with status {self._process.returncode}\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM the process and wait for it; SIGKILL it after `grace` seconds."""
        process = self._process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                return await process.wait()
        except TimeoutError:
            process.kill()
            return await process.wait()

    async def __aenter__(self) -> GatewayProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


_compiled = False


async def _compile_sources_once(env: Mapping[str, str]) -> None:
    """Write the bytecode of the project's packages, as an install does, once per run."""
    global _compiled
    if _compiled:
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "compileall",
        "-q",
        *(str(REPO / package) for package in ("gateway", "rules", "dashboard", "bench")),
        cwd=REPO,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await process.wait() != 0:
        raise GatewayFailed("python -m compileall failed on the project's packages")
    _compiled = True


class BareServerProcess(GatewayProcess):
    """`python -m bench.bare_server`: the HTTP floor, started and stopped like the gateway."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.bare_server", "--port", str(self.port)]


# --- the loopback client --------------------------------------------------------------------


def loopback_session(connections: int, timeout: float = 120.0) -> aiohttp.ClientSession:
    """Return a client session with up to `connections` keep-alive connections."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        skip_auto_headers=("User-Agent",),
    )


def _check_loopback(url: str) -> None:
    host = URL(url).host
    if host not in (LOOPBACK, "localhost", "::1"):
        raise ValueError(f"benchmarks only send traffic to loopback, not to {host!r}")


@dataclass
class IngestTotals:
    """What the answers to a series of ingestion requests added up to."""

    requests: int = 0
    received: int = 0
    matched: int = 0
    notifications: int = 0
    suppressed: int = 0
    alerts: int = 0
    resolved: int = 0
    line_errors: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: list[int] = field(default_factory=list)
    """Indexes of the bodies the gateway accepted (200)."""
    cut_short: bool = False
    """The time budget ran out before every body was accepted."""

    def add(self, answer: Mapping[str, Any]) -> None:
        self.requests += 1
        self.received += int(answer["received"])
        self.matched += int(answer["matched"])
        self.notifications += int(answer["notifications"])
        self.suppressed += int(answer["suppressed"])
        self.alerts += int(answer["alerts"])
        self.resolved += int(answer["resolved"])
        self.line_errors += len(answer.get("errors", ()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "received": self.received,
            "matched": self.matched,
            "notifications": self.notifications,
            "suppressed": self.suppressed,
            "alerts": self.alerts,
            "resolved": self.resolved,
            "line_errors": self.line_errors,
            "retries": self.retries,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "cut_short": self.cut_short,
        }


async def post_batches(
    url: str,
    bodies: Sequence[bytes],
    *,
    clients: int,
    headers: Mapping[str, str] = NDJSON_HEADERS,
    budget_s: float | None = None,
    max_attempts: int = 100,
) -> IngestTotals:
    """POST every body once (retrying a 503) from `clients` concurrent tasks; sum the answers.

    The gateway answers 503 when it cannot take or store a batch, and stores nothing of such
    a request, so retrying it keeps the counts exact. Any other non-200 answer is an error.
    With `budget_s`, no request starts after that many seconds: the bodies not accepted by
    then are left out (`totals.accepted` lists those that were, `totals.cut_short` tells).
    """
    _check_loopback(url)
    totals = IngestTotals()
    queue = iter(range(len(bodies)))
    deadline = None if budget_s is None else time.perf_counter() + budget_s

    def out_of_time() -> bool:
        if deadline is not None and time.perf_counter() > deadline:
            totals.cut_short = True
            return True
        return False

    async def client(session: aiohttp.ClientSession) -> None:
        for index in queue:  # one shared iterator: each body goes to exactly one task
            for attempt in range(1, max_attempts + 1):
                if out_of_time():
                    return
                async with session.post(url, data=bodies[index], headers=headers) as response:
                    totals.statuses[response.status] += 1
                    if response.status == 200:
                        totals.add(await response.json(content_type=None))
                        totals.accepted.append(index)
                        break
                    text = await response.text()
                    if response.status != 503 or attempt == max_attempts:
                        raise RuntimeError(f"ingestion answered {response.status}: {text[:500]}")
                totals.retries += 1
                await asyncio.sleep(min(0.01 * attempt, 0.5))

    async with loopback_session(clients) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    totals.accepted.sort()
    return totals


# --- timing and statistics ------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value at least `share` of the values reach."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


async def create_admin_token(url: str, prefix: str) -> str:
    """Create an admin API token named `<prefix>-<random>` in the database; return it."""
    from gateway.services.token_service import create_token
    from gateway.storage.engine import session_factory

    engine = _engine(url)
    try:
        async with session_factory(engine)() as db, db.begin():
            _, token = await create_token(
                db, name=f"{prefix}-{secrets.token_hex(4)}", scope="admin"
            )
    finally:
        await engine.dispose()
    return str(token)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def timed(func: Callable[[], object]) -> float:
    """Return how long one call of `func` took, in seconds."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Target:
    """A figure compared with its goal: `value` must be >= or <= `goal`."""

    name: str
    value: float
    goal: float
    unit: str
    higher_is_better: bool

    @property
    def met(self) -> bool:
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    @property
    def relation(self) -> str:
        return ">=" if self.higher_is_better else "<="

    def verdict(self) -> str:
        """'met', or 'missed' with the distance to the goal."""
        if self.met:
            return "met"
        if self.higher_is_better:
            return f"missed: {self.value / self.goal:.0%} of goal"
        return f"missed: {self.value / self.goal:.2f}x the limit"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        return cls(
            name=data["name"],
            value=float(data["value"]),
            goal=float(data["goal"]),
            unit=data["unit"],
            higher_is_better=data["relation"] == ">=",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "goal": self.goal,
            "relation": self.relation,
            "unit": self.unit,
            "met": self.met,
            "verdict": self.verdict(),
        }


# --- output ---------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Describe where the figures come from: CPU, memory, Python, commit."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def git_commit() -> str:
    """Return the short commit id of the work tree, with `+dirty` when it has changes."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        commit = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if status else commit


def write_json(out_dir: Path, name: str, payload: Mapping[str, Any]) -> Path:
    """Write `payload` (plus the machine description) to `out_dir/name.json`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    document = {"benchmark": name, "machine": machine_info(), **payload}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render rows as an aligned text table: numbers right-aligned, the rest left-aligned."""
    raw = [list(row) for row in rows]
    cells = [[_cell(value) for value in row] for row in raw]
    widths = [len(header) for header in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    right = [
        bool(raw) and all(_is_number(row[i]) for row in raw if i < len(row))
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            text.rjust(widths[i]) if right[i] else text.ljust(widths[i])
            for i, text in enumerate(values)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1 or value == 0:
            return f"{value:.2f}"
        return f"{value:.2g}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    print(f"\n{title}")
    print(format_table(headers, list(rows)))


def print_targets(targets: Iterable[Target]) -> None:
    print_table(
        "targets",
        ["target", "value", "goal", "verdict"],
        [
            [
                t.name,
                f"{_cell(t.value)} {t.unit}",
                f"{t.relation} {_cell(t.goal)} {t.unit}",
                t.verdict(),
            ]
            for t in targets
        ],
    )


def _end_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the benchmark process dies, so
    that a benchmark killed midway leaves no gateway running."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _ensure_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def _open_log(path: Path) -> Any:
    _ensure_parent(path)
    return path.open("wb")


def scratch_dir() -> Path:
    """A temporary folder for SQLite files; the caller removes it with `remove_tree`."""
    return Path(tempfile.mkdtemp(prefix="gw_bench_"))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def options(args: argparse.Namespace) -> dict[str, str]:
    """The options a benchmark ran with, for its JSON."""
    return {key: str(value) for key, value in sorted(vars(args).items())}
