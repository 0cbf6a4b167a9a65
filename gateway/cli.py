"""Command line: serve | db | rules | token | admin | demo.

Every `serve` option also reads a `GATEWAY_…` environment variable; a flag wins over it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.errors import Conflict, RecordNotFound
from gateway.ingest.limits import IngestLimits
from gateway.settings import DEFAULT_DATABASE_URL, Settings, parse_action_url_hosts

DEFAULT_LIMITS = IngestLimits()


def _host_list(value: str) -> tuple[str, ...]:
    """argparse type of --action-url-hosts: the settings' check, reported as a usage error."""
    try:
        return parse_action_url_hosts(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


ENV_PREFIX = "GATEWAY_"


@dataclass(frozen=True, slots=True)
class ServeOption:
    """One `gateway serve` flag and the environment variable that sets its default."""

    flag: str
    help: str
    default: Any = None
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    switch: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.flag.removeprefix("--").replace("-", "_").upper()


SERVE_OPTIONS: tuple[ServeOption, ...] = (
    ServeOption("--config", "rules file", "rules.yaml"),
    ServeOption(
        "--database-url",
        "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB",
        DEFAULT_DATABASE_URL,
    ),
    ServeOption("--host", "admin listener address", "127.0.0.1"),
    ServeOption("--port", "admin listener port", 8080, int),
    ServeOption("--ingest-host", "separate ingestion listener address"),
    ServeOption("--ingest-port", "separate ingestion listener port", None, int),
    ServeOption("--migrate", "upgrade the database schema on start", switch=True),
    ServeOption("--reload-interval", "seconds between rules-file checks, 0 to disable", 2.0, float),
    ServeOption("--ingest-concurrency", "batches processed at once", 64, int),
    ServeOption(
        "--ingest-buffer-bytes",
        "request body bytes held at once (a compressed body or one without a length counts "
        "as --max-body-bytes)",
        32 * 1024 * 1024,
        int,
    ),
    ServeOption(
        "--ingest-queue-timeout",
        "seconds a batch waits for a free slot before 503 with Retry-After",
        2.0,
        float,
    ),
    ServeOption("--shutdown-grace", "seconds to finish in-flight work on SIGTERM", 10.0, float),
    ServeOption(
        "--db-write-timeout",
        "seconds a batch's database transaction may take before it is answered 503",
        10.0,
        float,
    ),
    ServeOption(
        "--max-body-bytes",
        "body size limit, after decompression",
        DEFAULT_LIMITS.max_body_bytes,
        int,
    ),
    ServeOption("--max-line-bytes", "log line size limit", DEFAULT_LIMITS.max_line_bytes, int),
    ServeOption("--max-lines", "lines per request", DEFAULT_LIMITS.max_lines, int),
    ServeOption("--max-depth", "nesting depth of one event", DEFAULT_LIMITS.max_depth, int),
    ServeOption("--log-format", "log output", "auto", choices=("auto", "json", "console")),
    ServeOption("--log-level", "log level", "info"),
    ServeOption(
        "--metrics-token",
        "bearer token GET /metrics requires; prefer the environment, which `ps` does not show",
    ),
    ServeOption(
        "--secure-cookies",
        "mark the session cookie Secure even when requests arrive over plain http, as behind "
        "a TLS-terminating proxy",
        switch=True,
    ),
    ServeOption(
        "--session-idle-timeout", "seconds a dashboard session survives unused", 30 * 60.0, float
    ),
    ServeOption(
        "--session-absolute-timeout",
        "seconds a dashboard session lasts at most",
        12 * 3600.0,
        float,
    ),
    ServeOption(
        "--self-check-interval",
        "seconds between self-checks that raise system alerts, 0 to disable",
        5.0,
        float,
    ),
    ServeOption(
        "--db-outage-alert-after",
        "seconds the database must be unreachable before the outage becomes a system alert",
        30.0,
        float,
    ),
    ServeOption(
        "--shedding-quiet-period",
        "seconds without load shedding before its system alert is resolved",
        60.0,
        float,
    ),
    ServeOption(
        "--action-url-hosts",
        "comma-separated hosts (host, host:port, *.domain) besides the gateway's own that the "
        "dashboard links a notification's action_url to; relative paths are always linked",
        (),
        _host_list,
    ),
)


def environment_variables() -> list[str]:
    """Every `GATEWAY_…` variable `gateway serve` reads."""
    return [option.env for option in SERVE_OPTIONS]


def _add_option(parser: argparse.ArgumentParser, option: ServeOption) -> None:
    raw = os.environ.get(option.env)
    help_text = f"{option.help} (env {option.env})"
    if option.switch:
        on = (raw or "").lower() in ("1", "true", "yes", "on")
        parser.add_argument(option.flag, action="store_true", default=on, help=help_text)
        return
    # argparse converts a string default with `type`, so a bad variable is reported like a
    # bad flag ("argument --port: invalid int value").
    parser.add_argument(
        option.flag,
        type=option.type,
        choices=option.choices,
        default=raw if raw is not None else option.default,
        help=help_text,
    )


def _add_database_url(parser: argparse.ArgumentParser) -> None:
    _add_option(parser, SERVE_OPTIONS[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    for option in SERVE_OPTIONS:
        _add_option(serve, option)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    upgrade = db.add_parser("upgrade", help="migrate the schema to the newest revision")
    _add_database_url(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db.add_parser("current", help="print the schema revision")
    _add_database_url(current)
    current.set_defaults(func=cmd_db_current)

    rules = sub.add_parser("rules", help="check and test rules files").add_subparsers(
        dest="rules_command", required=True
    )
    check = rules.add_parser(
        "check", help="validate a rules file; prints file:line:column: message"
    )
    check.add_argument(
        "file", nargs="?", default=os.environ.get(SERVE_OPTIONS[0].env, "rules.yaml")
    )
    check.set_defaults(func=cmd_rules_check)
    test = rules.add_parser(
        "test", help="run a rules file's tests, or show what events would produce"
    )
    test.add_argument("file", nargs="?", default=os.environ.get(SERVE_OPTIONS[0].env, "rules.yaml"))
    test.add_argument("--events", type=Path, help="JSON lines of events to evaluate")
    test.add_argument("--source", default="logs", help="source the events come from (default logs)")
    test.set_defaults(func=cmd_rules_test)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create a token and print it once")
    create.add_argument("--scope", choices=["ingest", "read", "admin"], required=True)
    create.add_argument("--name", required=True)
    _add_database_url(create)
    create.set_defaults(func=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    _add_database_url(revoke)
    revoke.set_defaults(func=cmd_token_revoke)
    listing = token.add_parser("list", help="list tokens with their last use")
    _add_database_url(listing)
    listing.set_defaults(func=cmd_token_list)

    admin = sub.add_parser("admin", help="admin accounts of the dashboard").add_subparsers(
        dest="admin_command", required=True
    )
    admin_create = admin.add_parser("create", help="create an account")
    admin_create.add_argument("email")
    admin_create.add_argument("--role", choices=["admin", "viewer"], default="admin")
    _add_password_stdin(admin_create)
    _add_database_url(admin_create)
    admin_create.set_defaults(func=cmd_admin_create)
    admin_password = admin.add_parser(
        "set-password", help="change an account's password and sign it out everywhere"
    )
    admin_password.add_argument("email")
    _add_password_stdin(admin_password)
    _add_database_url(admin_password)
    admin_password.set_defaults(func=cmd_admin_set_password)
    admin_disable = admin.add_parser(
        "disable", help="disable an account and sign it out everywhere"
    )
    admin_disable.add_argument("email")
    _add_database_url(admin_disable)
    admin_disable.set_defaults(func=cmd_admin_disable)
    admin_enable = admin.add_parser("enable", help="let a disabled account sign in again")
    admin_enable.add_argument("email")
    _add_database_url(admin_enable)
    admin_enable.set_defaults(func=cmd_admin_enable)
    admin_list = admin.add_parser("list", help="list accounts with their last sign-in")
    _add_database_url(admin_list)
    admin_list.set_defaults(func=cmd_admin_list)

    demo = sub.add_parser(
        "demo", help="send a realistic stream of the platform's events to a running gateway"
    )
    demo.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's address")
    demo.add_argument(
        "--token",
        default=os.environ.get("GATEWAY_DEMO_TOKEN"),
        help="ingest token, needed when ingestion is not on loopback (env GATEWAY_DEMO_TOKEN)",
    )
    demo.add_argument(
        "--speed", type=float, default=1.0, help="time factor: 2 is twice as fast, 0 all at once"
    )
    demo.add_argument("--seed", type=int, help="pick stores and details deterministically")
    demo.add_argument("--repeat", type=int, default=1, help="rounds to send (default 1)")
    demo.add_argument(
        "--burst", type=int, default=8, help="Letzshop API errors in the burst (default 8)"
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def _add_password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of prompting",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (Conflict, RecordNotFound) as exc:
        # A duplicate name or an unknown account is the operator's mistake: a line, no trace.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        reason = database_unreachable(exc)
        if reason is None:
            raise
        where = _shown_url(getattr(args, "database_url", None))
        print(f"error: cannot use the database {where}: {reason}", file=sys.stderr)
        return 1


def database_unreachable(exc: BaseException) -> str | None:
    """Return why the database could not be reached, or None if `exc` is something else.

    A missing SQLite directory, a refused or timed-out connection, an unknown PostgreSQL
    database, role or password: the operator's setting, told in one line without a trace.
    """
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        from asyncpg.exceptions import (
            InvalidAuthorizationSpecificationError,
            InvalidCatalogNameError,
            InvalidPasswordError,
        )

        refused: tuple[type[BaseException], ...] = (
            InvalidAuthorizationSpecificationError,
            InvalidCatalogNameError,
            InvalidPasswordError,
            OSError,
            TimeoutError,
        )
    except ImportError:
        refused = (OSError, TimeoutError)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, refused):
            return str(seen) or type(seen).__name__
        if isinstance(seen, OperationalError | InterfaceError):
            lines = str(seen.orig).splitlines()
            return lines[0] if lines else type(seen).__name__
        seen = seen.__cause__ or seen.__context__
    return None


def _shown_url(url: object) -> str:
    """The database URL as it may be printed: without its password."""
    if not isinstance(url, str):
        return "(not set)"
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.log import keep_rich_out

    # Before gateway.serve imports structlog (and with it rich, unless kept out).
    keep_rich_out(args.log_format)
    from gateway.serve import run

    settings = Settings(
        config_path=Path(args.config),
        database_url=args.database_url,
        host=args.host,
        port=args.port,
        ingest_host=args.ingest_host,
        ingest_port=args.ingest_port,
        migrate=args.migrate,
        reload_interval=args.reload_interval,
        ingest_concurrency=args.ingest_concurrency,
        ingest_buffer_bytes=args.ingest_buffer_bytes,
        ingest_queue_timeout=args.ingest_queue_timeout,
        shutdown_grace=args.shutdown_grace,
        db_write_timeout=args.db_write_timeout,
        log_format=args.log_format,
        log_level=args.log_level,
        metrics_token=args.metrics_token or None,
        secure_cookies=args.secure_cookies,
        session_idle_timeout=args.session_idle_timeout,
        session_absolute_timeout=args.session_absolute_timeout,
        self_check_interval=args.self_check_interval,
        db_outage_alert_after=args.db_outage_alert_after,
        shedding_quiet_period=args.shedding_quiet_period,
        action_url_hosts=args.action_url_hosts,
        limits=IngestLimits(
            max_body_bytes=args.max_body_bytes,
            max_line_bytes=args.max_line_bytes,
            max_lines=args.max_lines,
            max_depth=args.max_depth,
        ),
    )
    return run(settings)


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import DemoError, run_demo

    try:
        asyncio.run(
            run_demo(
                args.url,
                token=args.token,
                speed=args.speed,
                seed=args.seed,
                repeat=args.repeat,
                burst=args.burst,
            )
        )
    except (DemoError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.storage.migrate import current_revision, upgrade

    async def run() -> str | None:
        from gateway.storage.engine import create_engine

        engine = create_engine(args.database_url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    print(f"database at revision {asyncio.run(run())}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from gateway.storage.engine import create_engine
    from gateway.storage.migrate import current_revision, head_revision

    async def run() -> str | None:
        engine = create_engine(args.database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(run())
    head = head_revision()
    print(f"current: {current or 'empty'}; newest: {head}")
    return 0 if current == head else 1


def cmd_rules_check(args: argparse.Namespace) -> int:
    from rules.errors import RulesError
    from rules.loader import load_ruleset

    try:
        ruleset = load_ruleset(args.file)
    except RulesError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    for warning in ruleset.warnings:
        print(warning, file=sys.stderr)
    print(
        f"{args.file}: {len(ruleset.rules)} rules, "
        f"{len(ruleset.sources)} webhook sources enabled: OK"
    )
    return 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    import orjson

    from rules.errors import RulesError
    from rules.loader import load_ruleset
    from rules.testing import describe_evaluation, run_rule_tests

    try:
        ruleset = load_ruleset(args.file)
    except RulesError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    if args.events is not None:
        status = 0
        for number, line in enumerate(args.events.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                print(f"{args.events}:{number}: invalid JSON: {exc}", file=sys.stderr)
                status = 1
                continue
            if not isinstance(event, dict):
                print(f"{args.events}:{number}: expected a JSON object", file=sys.stderr)
                status = 1
                continue
            described = describe_evaluation(ruleset.evaluate(event, source=args.source))
            print(json.dumps({"line": number, **described}, default=str))
        return status
    failures = run_rule_tests(ruleset)
    for failure in failures:
        print(failure, file=sys.stderr)
    total = len(ruleset.tests)
    print(f"{total - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def _run_db(args: argparse.Namespace, job: Callable[[Any], Any]) -> Any:
    from gateway.storage.engine import create_engine, session_factory
    from gateway.storage.migrate import ensure_schema

    async def run() -> Any:
        engine = create_engine(args.database_url)
        try:
            await ensure_schema(engine, migrate=False)
            async with session_factory(engine)() as db, db.begin():
                return await job(db)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_token_create(args: argparse.Namespace) -> int:
    from gateway.services.token_service import create_token

    async def job(db: Any) -> str:
        _token, plaintext = await create_token(db, name=args.name, scope=args.scope)
        return plaintext

    plaintext = _run_db(args, job)
    print(f"created {args.scope} token {args.name!r}; it is shown only this once:", file=sys.stderr)
    print(plaintext)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from gateway.services.token_service import revoke_token

    async def job(db: Any) -> None:
        await revoke_token(db, args.name)

    _run_db(args, job)
    print(f"revoked token {args.name!r}")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from gateway.services.token_service import list_tokens

    async def job(db: Any) -> list[tuple[str, ...]]:
        return [
            (
                t.name,
                t.scope,
                _when(t.created_at),
                _when(t.last_used_at),
                "revoked" if t.revoked_at else "active",
            )
            for t in await list_tokens(db)
        ]

    _print_table(("NAME", "SCOPE", "CREATED", "LAST USED", "STATUS"), _run_db(args, job))
    return 0


# -- admin accounts ----------------------------------------------------------------------------


def _new_password(args: argparse.Namespace) -> str:
    """Read the new password from stdin (--password-stdin) or prompt for it twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_admin_create(args: argparse.Namespace) -> int:
    from gateway.services.admin_user_service import check_email, check_password, create_user
    from gateway.services.passwords import Passwords

    try:
        check_email(args.email)
        password = _new_password(args)
        check_password(password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    async def job(db: Any) -> str:
        user = await create_user(
            db, email=args.email, password=password, role=args.role, passwords=Passwords()
        )
        return user.email

    try:
        email = _run_db(args, job)
    except (Conflict, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {args.role} account {email!r}")
    return 0


def cmd_admin_set_password(args: argparse.Namespace) -> int:
    from gateway.services.admin_user_service import check_password, set_password
    from gateway.services.passwords import Passwords

    try:
        password = _new_password(args)
        check_password(password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    async def job(db: Any) -> str:
        user = await set_password(db, args.email, password, passwords=Passwords())
        return user.email

    email = _run_db(args, job)
    print(f"changed the password of {email!r}; its sessions are signed out")
    return 0


def cmd_admin_disable(args: argparse.Namespace) -> int:
    from gateway.services.admin_user_service import disable

    async def job(db: Any) -> str:
        user = await disable(db, args.email)
        return user.email

    email = _run_db(args, job)
    print(f"disabled {email!r}; its sessions are signed out")
    return 0


def cmd_admin_enable(args: argparse.Namespace) -> int:
    from gateway.services.admin_user_service import enable

    async def job(db: Any) -> tuple[str, bool]:
        user, changed = await enable(db, args.email)
        return user.email, changed

    email, changed = _run_db(args, job)
    if changed:
        print(f"enabled {email!r}; it can sign in again")
    else:
        print(f"{email!r} is already enabled; nothing changed")
    return 0


def cmd_admin_list(args: argparse.Namespace) -> int:
    from gateway.services.admin_user_service import list_users

    async def job(db: Any) -> list[tuple[str, ...]]:
        return [
            (
                u.email,
                u.role,
                _when(u.created_at),
                _when(u.last_login_at),
                "active" if u.is_active else "disabled",
            )
            for u in await list_users(db)
        ]

    _print_table(("EMAIL", "ROLE", "CREATED", "LAST SIGN-IN", "STATUS"), _run_db(args, job))
    return 0


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never"


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows under headers in columns as wide as their widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
