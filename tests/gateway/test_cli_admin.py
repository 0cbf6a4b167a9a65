"""`gateway admin …` (in this process, and once as the installed command) and the first start."""

from __future__ import annotations

import asyncio
import getpass
import io
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.cli import main
from gateway.services import passwords as passwords_module
from gateway.services.admin_user_service import FIRST_ADMIN_EMAIL, authenticate
from gateway.services.passwords import HashParameters, Passwords
from gateway.storage.engine import create_engine, session_factory
from tests.gateway.test_cli import BUNDLED_RULES, ENV, free_port, gateway, wait_for

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a much better secret"


def admin(
    database_url: str,
    *args: str,
    stdin: str = "",
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """Run `gateway admin ARGS` in this process; return the exit status, stdout and stderr."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(["admin", *args, "--database-url", database_url])
    out, err = capsys.readouterr()
    return status, out, err


class CheapPasswords(Passwords):
    """argon2id at its lowest cost, for the in-process runs.

    The production parameters are exercised by the tests that run real processes.
    """

    def __init__(self, parameters: HashParameters | None = None, **kw: Any) -> None:
        super().__init__(HashParameters(time_cost=1, memory_cost=8, parallelism=1), **kw)


def signs_in(database_url: str, email: str, password: str) -> bool:
    """Tell whether `email`/`password` authenticate."""

    async def check() -> bool:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                return (
                    await authenticate(db, email, password, passwords=CheapPasswords()) is not None
                )
        finally:
            await engine.dispose()

    return asyncio.run(check())


@pytest.fixture
def run(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`run(*args, stdin=...)` runs `gateway admin ARGS` against the test database."""
    monkeypatch.setattr(passwords_module, "Passwords", CheapPasswords)

    def run_admin(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return admin(database_url, *args, stdin=stdin, monkeypatch=monkeypatch, capsys=capsys)

    return run_admin


Run = Callable[..., tuple[int, str, str]]


def create(run: Run, email: str, *extra: str, password: str = PASSWORD) -> tuple[int, str, str]:
    return run("create", email, "--password-stdin", *extra, stdin=password + "\n")


class TestAdminCreate:
    def test_create_as_a_process(self, database_url: str) -> None:
        """The installed command creates an account from --password-stdin and lists it."""
        created = gateway(
            "admin",
            "create",
            "Ops@Example.com",
            "--password-stdin",
            "--database-url",
            database_url,
            stdin=PASSWORD + "\n",
        )
        assert created.returncode == 0, created.stderr
        assert "created admin account 'ops@example.com'" in created.stdout
        assert PASSWORD not in created.stdout + created.stderr
        listed = gateway("admin", "list", "--database-url", database_url)
        assert "ops@example.com" in listed.stdout and "active" in listed.stdout

    def test_created_password_signs_in(self, run: Run, database_url: str) -> None:
        """The password given on stdin is the account's password, newline excluded."""
        assert create(run, "ops@example.com")[0] == 0
        assert signs_in(database_url, "ops@example.com", PASSWORD)

    def test_viewer_role(self, run: Run) -> None:
        """--role viewer makes a viewer."""
        assert create(run, "v@example.com", "--role", "viewer")[0] == 0
        _, out, _ = run("list")
        assert out.splitlines()[1].split()[:2] == ["v@example.com", "viewer"]

    def test_duplicate_email_fails(self, run: Run) -> None:
        """Creating a taken email (in any case) exits 1 with the reason."""
        assert create(run, "ops@example.com")[0] == 0
        status, _, err = create(run, "OPS@example.com")
        assert status == 1 and "already exists" in err

    def test_short_password_fails_and_creates_nothing(self, run: Run) -> None:
        """A password under 12 characters exits 1 and no account is made."""
        status, _, err = create(run, "ops@example.com", password="short")
        assert status == 1 and "at least 12" in err
        assert len(run("list")[1].splitlines()) == 1

    def test_invalid_email_fails(self, run: Run) -> None:
        """Something that is not an address exits 1 before asking for a password."""
        status, _, err = create(run, "not-an-address")
        assert status == 1 and "not an email address" in err

    def test_prompted_password_is_asked_twice(
        self, run: Run, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --password-stdin the password is prompted for twice."""
        answers = iter([PASSWORD, PASSWORD])
        monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
        assert run("create", "ops@example.com")[0] == 0
        assert signs_in(database_url, "ops@example.com", PASSWORD)

    def test_prompted_passwords_must_match(self, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
        """Two different answers to the prompts exit 1 and create nothing."""
        answers = iter([PASSWORD, NEW_PASSWORD])
        monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
        status, _, err = run("create", "ops@example.com")
        assert status == 1 and "differ" in err
        assert len(run("list")[1].splitlines()) == 1


class TestAdminSetPasswordDisableAndEnable:
    def test_set_password_replaces_the_old_one(self, run: Run, database_url: str) -> None:
        """`admin set-password` makes only the new password work."""
        assert create(run, "ops@example.com")[0] == 0
        status, out, _ = run(
            "set-password", "OPS@example.com", "--password-stdin", stdin=NEW_PASSWORD + "\n"
        )
        assert status == 0 and "signed out" in out
        assert not signs_in(database_url, "ops@example.com", PASSWORD)
        assert signs_in(database_url, "ops@example.com", NEW_PASSWORD)

    def test_set_password_of_unknown_account_fails(self, run: Run) -> None:
        """Changing the password of an unknown email exits 1."""
        status, _, err = run("set-password", "ghost@x.y", "--password-stdin", stdin=PASSWORD + "\n")
        assert status == 1 and "not found" in err

    def test_disable_refuses_sign_in_and_shows_in_the_list(
        self, run: Run, database_url: str
    ) -> None:
        """`admin disable` stops the account signing in; `admin list` shows it disabled."""
        assert create(run, "ops@example.com")[0] == 0
        assert create(run, "v@example.com", "--role", "viewer")[0] == 0
        assert run("disable", "ops@example.com")[0] == 0
        assert not signs_in(database_url, "ops@example.com", PASSWORD)
        header, *rows = run("list")[1].splitlines()
        assert header.split()[:2] == ["EMAIL", "ROLE"]
        assert rows[0].split()[:2] == ["ops@example.com", "admin"]
        assert rows[0].split()[-1] == "disabled"
        assert rows[1].split()[:2] == ["v@example.com", "viewer"]
        assert rows[1].split()[-1] == "active" and "never" in rows[1]

    def test_disable_unknown_account_fails(self, run: Run) -> None:
        """Disabling an unknown email exits 1."""
        assert run("disable", "ghost@x.y")[0] == 1

    def test_enable_lets_a_disabled_account_sign_in_again(
        self, run: Run, database_url: str
    ) -> None:
        """`admin enable` undoes `admin disable`: the password works and the list says active."""
        assert create(run, "ops@example.com")[0] == 0
        assert run("disable", "ops@example.com")[0] == 0
        assert not signs_in(database_url, "ops@example.com", PASSWORD)
        status, out, _ = run("enable", "OPS@example.com")
        assert status == 0 and "enabled 'ops@example.com'" in out
        assert signs_in(database_url, "ops@example.com", PASSWORD)
        _, row = run("list")[1].splitlines()
        assert row.split()[0] == "ops@example.com" and row.split()[-1] == "active"

    def test_enable_an_active_account_changes_nothing(self, run: Run, database_url: str) -> None:
        """Enabling an account that is not disabled exits 0 and says it already was."""
        assert create(run, "ops@example.com")[0] == 0
        status, out, _ = run("enable", "ops@example.com")
        assert status == 0 and "already enabled" in out
        assert signs_in(database_url, "ops@example.com", PASSWORD)

    def test_enable_unknown_account_fails(self, run: Run) -> None:
        """Enabling an unknown email exits 1 and names it."""
        status, out, err = run("enable", "Ghost@x.y")
        assert status == 1 and out == ""
        assert err.strip() == "error: admin user ghost@x.y not found"


class TestFirstStart:
    def test_first_start_prints_the_admin_password_once(self, database_url: str) -> None:
        """The first serve prints admin@localhost's password once, never in a log line;
        it signs in; the next start prints nothing."""
        first = serve_once(database_url, sign_in=True)
        password = banner_password(first)
        assert first.count(password) == 1
        assert '"first_admin_created"' in first and FIRST_ADMIN_EMAIL in first
        second = serve_once(database_url, sign_in=False)
        assert "shown only this once" not in second and password not in second


def banner_password(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "shown only this once" in line)
    return next(line.strip() for line in lines[start + 1 :] if line.strip())


def serve_once(database_url: str, *, sign_in: bool) -> str:
    """Run `gateway serve` until it listens (signing in with the printed password), then stop."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--config",
            str(BUNDLED_RULES),
            "--database-url",
            database_url,
            "--port",
            str(port),
            "--log-format",
            "json",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        if sign_in:
            assert proc.stdout is not None
            while not seen or "Sign in (POST" not in seen[-1]:
                seen.append(proc.stdout.readline())
            password = banner_password("".join(seen))
            assert login(port, FIRST_ADMIN_EMAIL, password) == 200
            assert login(port, FIRST_ADMIN_EMAIL, password + "x") == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    return "".join(seen) + rest


def login(port: int, email: str, password: str) -> int:
    base = f"http://127.0.0.1:{port}"
    request = urllib.request.Request(
        base + "/api/v1/auth/login",
        data=orjson.dumps({"email": email, "password": password}),
        method="POST",
        headers={"Content-Type": "application/json", "Origin": base},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class TestUnreachableDatabase:
    """A database that cannot be opened is one line on stderr and exit status 1, no trace."""

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("sqlite+aiosqlite:////nonexistent-directory/gateway.db", "unable to open"),
            ("postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/gateway", "Connect call failed"),
        ],
    )
    @pytest.mark.parametrize("command", [["admin", "list"], ["token", "list"], ["db", "upgrade"]])
    def test_one_line_error(
        self, command: list[str], url: str, reason: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status = main([*command, "--database-url", url])
        err = capsys.readouterr().err
        assert status == 1
        assert err.startswith("error: cannot use the database ")
        assert reason in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert "s3cret" not in err  # the password is never printed

    @pytest.mark.postgres
    def test_unknown_postgres_database(
        self, postgres_admin_url: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = postgres_admin_url.set(database="gateway_no_such_database").render_as_string(
            hide_password=False
        )
        status = main(["admin", "list", "--database-url", url])
        err = capsys.readouterr().err
        assert status == 1
        assert 'database "gateway_no_such_database" does not exist' in err
