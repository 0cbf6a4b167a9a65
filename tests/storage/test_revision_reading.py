"""The schema check reads revisions without alembic; it must agree with alembic's own reading."""

from __future__ import annotations

import subprocess
import sys

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from gateway.storage.engine import create_engine
from gateway.storage.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    upgrade,
)


def _alembic_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def test_scripts_read_as_alembic_reads_them() -> None:
    """Every revision, its predecessor and the head match alembic's script directory."""
    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    assert known_revisions() == {
        script.revision: script.down_revision for script in scripts.walk_revisions()
    }


async def test_database_revision_reads_as_alembic_reads_it(unmigrated_database_url: str) -> None:
    """Never migrated reads None, migrated reads the head, on both backends."""
    engine = create_engine(unmigrated_database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_alembic_revision) is None
        assert await current_revision(engine) is None
        await upgrade(engine)
        async with engine.connect() as connection:
            expected = await connection.run_sync(_alembic_revision)
        assert expected == head_revision()
        assert await current_revision(engine) == expected
    finally:
        await engine.dispose()


def test_serving_does_not_import_alembic() -> None:
    """Alembic is loaded only to migrate, not by a process that only serves."""
    code = "import sys, gateway.app, gateway.serve; print('alembic' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
