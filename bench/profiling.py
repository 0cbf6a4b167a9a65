"""Profile the gateway process with py-spy during a benchmark's load, and say where time goes.

py-spy samples the process from outside (`--nonblocking`: it is never paused), so the figures
of the run it watches stay comparable. It keeps only samples of a thread holding the GIL
(`--gil`), which makes the shares those of the process's Python CPU time: a thread waiting in
a system call, or preempted in one on a busy machine, releases the GIL and is left out (so is
SQLite's own C code, which aiosqlite's thread runs without the GIL). The raw collapsed stacks
are kept (`*.pyspy.txt`, for flame graphs); `summarize` reads them into:

- `functions`: per function, the share of samples in it or below it (total) and in it (self);
- `buckets`: every sample assigned to one part of the stack, found from the innermost frame
  outwards (see BUCKETS), so the shares add up to 100 %.

SQLAlchemy runs the database calls of an async session in greenlets, which py-spy shows as
separate stacks starting at `Session.execute`; their samples count under SQLAlchemy execution
or the driver, not under the gateway function that made the call.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.harness import print_table

IDLE = "idle (event loop in epoll, aiosqlite worker waiting for work)"
SQL_EXECUTION = "SQLAlchemy: execution (ORM, compile cache, cache keys, pool)"
SQL_CONSTRUCTION = "SQLAlchemy: building statements in gateway code"
# SQLAlchemy frames below one of these run a statement; elsewhere they build one.
_EXECUTION_ENTRIES = (
    "Session.execute",
    "Session.flush",
    "Session.commit",
    "Session.begin",
    "Session.close",
    "Connection.execute",
    "Connection.begin",
    "AsyncSession.",
    "AsyncSessionTransaction.",
    "greenlet_spawn",
)

Rule = Callable[[str, str], bool]
BUCKETS: tuple[tuple[str, Rule], ...] = (
    (IDLE, lambda name, path: name in ("EpollSelector.select", _AIOSQLITE_WAIT)),
    (
        "socket writes (send syscalls)",
        lambda name, path: name.startswith("_SelectorSocketTransport.write"),
    ),
    ("database driver (asyncpg, aiosqlite)", lambda n, p: "asyncpg/" in p or "aiosqlite/" in p),
    ("SQLAlchemy", lambda name, path: "sqlalchemy/" in path),
    ("rules: templates (Jinja2)", lambda n, p: "jinja2/" in p or p.endswith("rules/templates.py")),
    (
        "rules: matching and the rest of rules/",
        lambda n, p: p.startswith("rules/") or "/rules/" in p,
    ),
    (
        "parsing (gateway/ingest, orjson)",
        lambda name, path: "gateway/ingest/" in path and not path.endswith("handlers.py"),
    ),
    ("logging (structlog)", lambda name, path: "structlog/" in path or "/logging/" in path),
    ("metrics (prometheus_client)", lambda name, path: "prometheus_client/" in path),
    (
        "gateway: pipeline, actions, services, publish",
        lambda name, path: any(
            part in path
            for part in (
                "gateway/pipeline.py",
                "gateway/actions.py",
                "gateway/services/",
                "gateway/publish/",
                "gateway/storage/",
                "gateway/rule_stats.py",
            )
        ),
    ),
    (
        "gateway: HTTP handlers and middlewares",
        lambda name, path: "gateway/http/" in path or path.endswith("ingest/handlers.py"),
    ),
    ("aiohttp", lambda name, path: "aiohttp/" in path or "multidict/" in path),
    ("asyncio event loop", lambda name, path: "asyncio/" in path or "selectors.py" in path),
)


class Profiler:
    """Record a process with py-spy while in use (`async with`)."""

    def __init__(self, pid: int, output: Path, rate: int = 200) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self._process: asyncio.subprocess.Process | None = None

    @staticmethod
    def executable() -> str:
        beside_python = str(Path(sys.executable).parent)
        found = shutil.which("py-spy", path=beside_python) or shutil.which("py-spy")
        if found is None:
            raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
        return found

    async def __aenter__(self) -> Profiler:
        _ensure_parent(self.output)
        self._process = await asyncio.create_subprocess_exec(
            self.executable(),
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "--output",
            str(self.output),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.3)  # let it attach before the load starts
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(30):
                await self._process.wait()
        except TimeoutError:
            self._process.kill()
            await self._process.wait()

    def summary(self, top: int = 30) -> dict[str, Any]:
        return summarize(self.output, top)


def _ensure_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


_AIOSQLITE_WAIT = "aiosqlite worker waiting"


def _aiosqlite_wait_line() -> int | None:
    """The line where aiosqlite's worker thread waits for its next call (`tx.get()`)."""
    try:
        import aiosqlite.core
    except ImportError:
        return None
    lines, first = inspect.getsourcelines(aiosqlite.core._connection_worker_thread)
    for offset, line in enumerate(lines):
        if ".get()" in line:
            return first + offset
    return None


def _split_frame(frame: str, wait_line: int | None) -> tuple[str, str]:
    """Return (function, path) of py-spy's "function (path/to/file.py:line)".

    aiosqlite's worker thread waiting for work is named _AIOSQLITE_WAIT, to count as idle.
    """
    name, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    if name == "_connection_worker_thread" and line == str(wait_line):
        return _AIOSQLITE_WAIT, path
    return name, path


def _short(name: str, path: str) -> str:
    short = "/".join(Path(path).parts[-2:]) if path else ""
    return f"{name} ({short})" if short else name


def bucket_of(frames: list[tuple[str, str]]) -> str:
    """The part of the program one sample is in, from the innermost frame outwards."""
    for depth in range(len(frames) - 1, -1, -1):
        name, path = frames[depth]
        for bucket, rule in BUCKETS:
            if rule(name, path):
                if bucket != "SQLAlchemy":
                    return bucket
                outer = frames[: depth + 1]
                running = any(n.startswith(_EXECUTION_ENTRIES) for n, _p in outer)
                return SQL_EXECUTION if running else SQL_CONSTRUCTION
    return "other"


def summarize(path: Path, top: int = 30) -> dict[str, Any]:
    """Read py-spy's collapsed stacks into per-function and per-bucket shares of samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0, "functions": [], "self": [], "buckets": []}
    wait_line = _aiosqlite_wait_line()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_split_frame(frame, wait_line) for frame in stack.split(";")]
        names = [_short(name, file) for name, file in frames]
        total += count
        buckets[bucket_of(frames)] += count
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
    if not total:
        return {"samples": 0, "functions": [], "self": [], "buckets": []}

    def pct(count: int) -> float:
        return round(100 * count / total, 1)

    skip = ("<module>", "_run_module_as_main", "_run_code", "run (asyncio", "Runner.run", "main (")
    return {
        "samples": total,
        "buckets": [{"bucket": b, "pct": pct(c)} for b, c in buckets.most_common()],
        "functions": [
            {"function": name, "total_pct": pct(count), "self_pct": pct(own[name])}
            for name, count in inclusive.most_common()
            if not name.startswith(skip)
        ][:top],
        "self": [{"function": n, "self_pct": pct(c)} for n, c in own.most_common(top)],
    }


def print_profile(title: str, summary: Mapping[str, Any], top: int = 15) -> None:
    if not summary.get("samples"):
        print(f"\n{title}: no samples (is py-spy allowed to attach?)")
        return
    print_table(
        f"{title}: where the {summary['samples']:,} samples are (innermost part wins)",
        ["part", "% of samples"],
        [[b["bucket"], b["pct"]] for b in summary["buckets"]],
    )
    print_table(
        f"{title}: functions, inclusive",
        ["function", "total %", "self %"],
        [[f["function"], f["total_pct"], f["self_pct"]] for f in summary["functions"][:top]],
    )
    print_table(
        f"{title}: most self time",
        ["function", "self %"],
        [[f["function"], f["self_pct"]] for f in summary["self"][:top]],
    )


def main() -> int:
    """Summarise collapsed-stack files given on the command line."""
    for name in sys.argv[1:]:
        print_profile(name, summarize(Path(name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
