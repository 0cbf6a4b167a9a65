"""Hot reload: new rules take effect atomically; a bad file keeps the old rules running."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import keys
from gateway.live_rules import LiveRules
from gateway.storage.engine import session_factory
from gateway.storage.models import AdminNotification

RULES_V1 = """\
version: 1
rules:
  - name: store-issue
    match: {event: store.issue}
    notify: {type: store_issue, priority: normal, title: "v1 {{ store_name }}", message: "m"}
"""
RULES_V2 = RULES_V1.replace('"v1 ', '"v2 ')
RULES_BAD = RULES_V1.replace("priority: normal", "priority: urgent")

EVENT = {"event": "store.issue", "store_name": "Acme"}


def title(live: LiveRules) -> str:
    [draft] = live.current.evaluate(EVENT).drafts
    return draft.title  # type: ignore[union-attr]


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)
    # Make sure the stamp changes even on coarse-grained file systems.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


class TestLiveRules:
    async def test_reload_swaps_in_new_rules(self, tmp_path: Path) -> None:
        """A valid new file replaces the rules."""
        path = tmp_path / "rules.yaml"
        path.write_text(RULES_V1)
        live = LiveRules(path)
        assert (await live.load()).ok
        assert title(live) == "v1 Acme"
        rewrite(path, RULES_V2)
        assert (await live.load()).ok
        assert title(live) == "v2 Acme"

    async def test_bad_file_keeps_old_rules_and_reports(self, tmp_path: Path) -> None:
        """An invalid file leaves the old rules running and records the positioned error."""
        path = tmp_path / "rules.yaml"
        path.write_text(RULES_V1)
        live = LiveRules(path)
        await live.load()
        rewrite(path, RULES_BAD)
        status = await live.load()
        assert not status.ok
        assert status.error is not None and f"{path}:5:" in status.error
        assert "urgent" in status.error
        assert title(live) == "v1 Acme"
        assert live.last_success_at is not None

    async def test_watch_picks_up_changes(self, tmp_path: Path) -> None:
        """The file watcher reloads on change, reports a bad file once, then recovers."""
        path = tmp_path / "rules.yaml"
        path.write_text(RULES_V1)
        live = LiveRules(path)
        await live.load()
        watcher = live.watch(0.05)
        rewrite(path, RULES_BAD)
        bad = await asyncio.wait_for(anext(watcher), 5)
        assert not bad.ok
        rewrite(path, RULES_V2)
        good = await asyncio.wait_for(anext(watcher), 5)
        assert good.ok
        assert title(live) == "v2 Acme"
        await watcher.aclose()


class TestReloadThroughTheApp:
    async def test_running_app_uses_reloaded_rules(
        self, make_client: Any, rules_file: Path, engine: AsyncEngine
    ) -> None:
        """A running gateway applies a changed file without restart and ignores a bad one."""
        rules_file.write_text(RULES_V1)
        client = await make_client(reload_interval=0.05)
        live = client.app[keys.RULES]
        rewrite(rules_file, RULES_V2)
        await wait_until(lambda: title(live) == "v2 Acme")
        rewrite(rules_file, RULES_BAD)
        await wait_until(lambda: live.last_status is not None and not live.last_status.ok)
        resp = await client.post(
            "/api/v1/ingest/logs",
            data=orjson.dumps({"event": "store.issue", "store_name": "Zed"}),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert (await resp.json())["notifications"] == 1
        async with session_factory(engine)() as db:
            titles = list(await db.scalars(select(AdminNotification.title)))
        assert titles == ["v2 Zed"]


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
