"""The `gateway` command line, run as a real process."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson

BUNDLED_RULES = Path(__file__).resolve().parents[2] / "rules.yaml"

ENV = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}


def gateway(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=ENV,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestRulesCommands:
    def test_check_bundled_rules(self) -> None:
        """The bundled rules.yaml checks clean, with warnings for the disabled sources."""
        result = gateway("rules", "check", str(BUNDLED_RULES))
        assert result.returncode == 0, result.stderr
        assert "OK" in result.stdout
        assert "warning" in result.stderr

    def test_check_reports_every_error_with_position(self, tmp_path: Path) -> None:
        """An invalid file exits 1 and prints file:line:column: message for each error."""
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "version: 1\n"
            "rules:\n"
            "  - name: a\n"
            "    match: {event: x, n: {between: 3}}\n"
            "    notify: {type: store_issue, title: t, message: m}\n"
            "  - name: b\n"
            "    match: {event: y}\n"
            "    notify: {type: nope, title: t, message: m}\n"
        )
        result = gateway("rules", "check", str(bad))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert any(line.startswith(f"{bad}:4:") and "between" in line for line in lines)
        assert any(line.startswith(f"{bad}:8:") and "nope" in line for line in lines)

    def test_rule_tests_of_bundled_file_pass(self) -> None:
        """`gateway rules test` runs the bundled rule tests and exits 0."""
        result = gateway("rules", "test", str(BUNDLED_RULES))
        assert result.returncode == 0, result.stderr
        assert ", 0 failed" in result.stdout

    def test_events_file_shows_outcomes(self, tmp_path: Path) -> None:
        """--events prints what each event would produce."""
        events = tmp_path / "events.jsonl"
        events.write_text(
            orjson.dumps(
                {
                    "event": "order_sync.failed",
                    "store_id": 1,
                    "store_name": "A",
                    "error_message": "boom",
                }
            ).decode()
            + "\n{oops\n"
        )
        result = gateway("rules", "test", str(BUNDLED_RULES), "--events", str(events))
        assert result.returncode == 1
        first = orjson.loads(result.stdout.splitlines()[0])
        assert first["line"] == 1
        assert "order_sync_failure" in result.stdout
        assert f"{events}:2: invalid JSON" in result.stderr


class TestServe:
    def test_bad_environment_variable_reported_like_a_bad_flag(self) -> None:
        """A malformed GATEWAY_ variable is a clear usage error, not a traceback."""
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "serve"],
            capture_output=True,
            text=True,
            env={**ENV, "GATEWAY_PORT": "eighty"},
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "argument --port: invalid int value: 'eighty'" in result.stderr
        assert "Traceback" not in result.stderr

    def test_outdated_schema_refused_with_fix(self, tmp_path: Path) -> None:
        """Without --migrate, serve on an empty database names the command that fixes it."""
        db = tmp_path / "empty.db"
        result = gateway(
            "serve",
            "--config",
            str(BUNDLED_RULES),
            "--database-url",
            f"sqlite+aiosqlite:///{db}",
            "--port",
            str(free_port()),
        )
        assert result.returncode == 2
        assert "gateway db upgrade" in result.stdout

    def test_serve_ingest_and_graceful_stop(self, tmp_path: Path) -> None:
        """serve --migrate accepts a line with a CLI-made token, then SIGTERM exits 0."""
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        assert gateway("db", "upgrade", "--database-url", url).returncode == 0
        created = gateway(
            "token", "create", "--scope", "ingest", "--name", "app", "--database-url", url
        )
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        assert token.startswith("gw_")
        port, ingest_port = free_port(), free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--config",
                str(BUNDLED_RULES),
                "--database-url",
                url,
                "--port",
                str(port),
                "--ingest-host",
                "0.0.0.0",
                "--ingest-port",
                str(ingest_port),
            ],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            line = orjson.dumps(
                {
                    "event": "store.issue",
                    "store_id": 1,
                    "store_name": "A",
                    "issue": "i",
                    "message": "m",
                }
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{ingest_port}/api/v1/ingest/logs",
                data=line,
                method="POST",
                headers={
                    "Content-Type": "application/x-ndjson",
                    "Authorization": f"Bearer {token}",
                },
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert orjson.loads(resp.read())["notifications"] == 1
            # Ingestion lives on its own listener only.
            admin_side = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/ingest/logs",
                data=line,
                method="POST",
                headers={"Content-Type": "application/x-ndjson"},
            )
            try:
                urllib.request.urlopen(admin_side, timeout=10)
                raise AssertionError("ingestion answered on the admin listener")
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
            listed = gateway("token", "list", "--database-url", url)
            assert "app" in listed.stdout and "never" not in listed.stdout
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped" in out

    def test_sighup_reloads_rules(self, tmp_path: Path) -> None:
        """With the file watch off, SIGHUP alone brings a changed rules file into force."""
        rules = tmp_path / "rules.yaml"
        rules.write_text(BUNDLED_RULES.read_text())
        db_file = tmp_path / "gw.db"
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--migrate",
                "--config",
                str(rules),
                "--database-url",
                f"sqlite+aiosqlite:///{db_file}",
                "--port",
                str(port),
                "--reload-interval",
                "0",
            ],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            text = rules.read_text()
            assert 'title: "{{ store_name }}: {{ issue }}"' in text
            rules.write_text(
                text.replace(
                    'title: "{{ store_name }}: {{ issue }}"', 'title: "Reloaded {{ store_name }}"'
                )
            )
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            titles: list[str] = []
            while not any(t.startswith("Reloaded") for t in titles):
                assert time.monotonic() < deadline, titles
                line = orjson.dumps(
                    {
                        "event": "store.issue",
                        "store_id": len(titles),
                        "store_name": "B",
                        "issue": str(len(titles)),
                        "message": "m",
                    }
                )
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/ingest/logs",
                    data=line,
                    method="POST",
                    headers={"Content-Type": "application/x-ndjson"},
                )
                urllib.request.urlopen(request, timeout=10).close()
                with sqlite3.connect(db_file) as conn:
                    titles = [r[0] for r in conn.execute("SELECT title FROM admin_notifications")]
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out


def wait_for(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)
