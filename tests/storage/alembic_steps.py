"""Run one Alembic command on a connection the test holds (a migration test's steps)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from gateway.storage.migrate import alembic_config


def alembic_step(command: str, revision: str) -> Callable[[Connection], None]:
    """Return a function for `run_sync` that runs `alembic <command> <revision>`."""

    def run(connection: Connection) -> None:
        from alembic import command as commands

        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(commands, command)(config, revision)

    return run
