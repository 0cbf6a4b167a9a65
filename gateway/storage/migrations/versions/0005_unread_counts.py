"""Unread notifications per priority, counted by the database itself.

Every request for the unread badge, the recent list or their ETags counted the ~30,000 unread
rows (an index-only scan of the unread partial index, about 4 ms at a million notifications).
`notification_unread_counts` holds the count instead, and triggers on `admin_notifications`
keep it exact for every writer: the pipeline's inserts, the API's read/unread/delete in any
number, retention jobs, raw SQL. No service has to remember it. A priority's count is the sum
of its rows' `unread`; readers add them up (a handful of rows, see below).

PostgreSQL (11 or later): statement-level AFTER triggers with transition tables, one per
INSERT, UPDATE and DELETE (a trigger with transition tables has one event), so marking 30,000
notifications read is one counter change per priority, not 30,000. A transaction adds its
changes of a priority to one row of that priority: the first time, to the lowest one no other
transaction holds (`FOR NO KEY UPDATE SKIP LOCKED`), or to a new row when all are held; then
to that same row, found again by the ctid a transaction-local setting keeps. The counter thus
never waits for a lock: concurrent writers neither queue behind each other on it nor can
deadlock on it, whatever order their statements touch priorities in and whatever other rows
they hold. (A counter row locked until commit, the usual "count in a trigger", would make
every multi-statement writer a deadlock risk: the group writer holding the counter and
claiming a dedup window, say, against an API delete whose cascade holds that window's row and
waits for the counter.) The price is rows: a priority gets one more row each time all of its
rows are held by concurrent writers, so it has at most as many rows as the most transactions
that ever wrote that priority at the same moment (bounded by the connections). Each change
writes a new version of a counter row, pruned once its transaction has ended. TRUNCATE fires no
DELETE trigger, so an AFTER TRUNCATE trigger empties the counter; TRUNCATE waits for every
open writer of the table, so nobody else holds a counter row by then. Under REPEATABLE READ or
SERIALIZABLE a writer may get the usual serialization failure when a counter row changed since
its snapshot, and retries as such transactions must anyway; the gateway writes at READ
COMMITTED.

SQLite: row-level triggers, as SQLite has no others; its single writer makes one row per
priority enough. `DELETE FROM admin_notifications` without WHERE fires them too (SQLite
turns off its truncate optimisation for a table with triggers). `INSERT OR REPLACE` over an
existing row would remove it without firing the DELETE trigger, unless `recursive_triggers`
is on; nothing here writes that way.

The table is filled from the rows already stored in the migration's transaction. On
PostgreSQL the notifications are locked against writes (SHARE ROW EXCLUSIVE, which CREATE
TRIGGER takes anyway) before the triggers are created and the rows counted, so no write can
fall between the count and the triggers; readers go on meanwhile. The count reads the unread
partial index of 0003: milliseconds at a million notifications.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from the models, so this revision never changes under us.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "notification_unread_counts"

BACKFILL = {
    "postgresql": """
INSERT INTO notification_unread_counts (priority, unread)
SELECT priority, count(*) FROM admin_notifications WHERE is_read = false
GROUP BY priority ORDER BY priority
""",
    "sqlite": """
INSERT INTO notification_unread_counts (priority, unread)
SELECT priority, count(*) FROM admin_notifications WHERE is_read = 0
GROUP BY priority ORDER BY priority
""",
}

# --- PostgreSQL -----------------------------------------------------------------------------

# Add `delta` to the count of `target_priority`, never waiting for a lock:
# 1. to the row this transaction changed last for that priority, found by the ctid of its
#    newest version, kept in a transaction-local setting. A transaction thus keeps to one row
#    per priority, and only its first change of a priority looks for a row;
# 2. else to the row of the priority with the lowest id that no other transaction holds;
# 3. else to a new row.
# Every change writes a new version of the row, and those of a running transaction cannot be
# pruned before it ends: so that a transaction of N statements costs N, not N squared, its
# repeated changes must not read all the versions. `_bump` updates by ctid, a TID scan, kept
# to it by enable_seqscan = off (analyzed at one page, the planner would rather scan the table,
# and plpgsql would keep that plan however the table grew). The setting is `_bump`'s own: a
# function's SET clause also undoes, on return, the transaction-local setting `_add` keeps.
# The table's fillfactor of 10 makes any read of a page that is 10 % full prune the versions
# of ended transactions (the first lookup of each transaction does), so updates find room on
# the page and the table stays at a page or two without VACUUM; fillfactor does not limit
# updates within a page.
PG_FUNCTIONS = {
    "bump": """
CREATE FUNCTION notification_unread_counts_bump(
    row_at tid, target_priority varchar, delta bigint
) RETURNS tid LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    moved tid;
BEGIN
    UPDATE notification_unread_counts SET unread = unread + delta
    WHERE ctid = row_at AND priority = target_priority
    RETURNING ctid INTO moved;
    RETURN moved;
END
$$
""",
    "add": """
CREATE FUNCTION notification_unread_counts_add(target_priority varchar, delta bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    held jsonb := coalesce(
        nullif(current_setting('gateway.unread_count_rows', true), ''), '{}')::jsonb;
    row_at tid;
BEGIN
    IF held ? target_priority THEN
        row_at := notification_unread_counts_bump(
            (held ->> target_priority)::tid, target_priority, delta);
    END IF;
    IF row_at IS NULL THEN
        SELECT ctid INTO row_at FROM notification_unread_counts
        WHERE priority = target_priority
        ORDER BY id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED;
        IF row_at IS NOT NULL THEN
            row_at := notification_unread_counts_bump(row_at, target_priority, delta);
        END IF;
    END IF;
    IF row_at IS NULL THEN
        INSERT INTO notification_unread_counts (priority, unread)
        VALUES (target_priority, delta)
        RETURNING ctid INTO row_at;
    END IF;
    PERFORM set_config(
        'gateway.unread_count_rows',
        jsonb_set(held, ARRAY[target_priority], to_jsonb(row_at::text))::text,
        true
    );
END
$$
""",
    # Each statement trigger: the statement's net change per priority, from its transition
    # tables, in priority order.
    "on_insert": """
CREATE FUNCTION notification_unread_counts_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change record;
BEGIN
    FOR change IN
        SELECT priority, count(*) AS delta FROM inserted_rows WHERE is_read = false
        GROUP BY priority ORDER BY priority
    LOOP
        PERFORM notification_unread_counts_add(change.priority, change.delta);
    END LOOP;
    RETURN NULL;
END
$$
""",
    "on_update": """
CREATE FUNCTION notification_unread_counts_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change record;
BEGIN
    FOR change IN
        SELECT priority, sum(delta) AS delta FROM (
            SELECT priority, 1 AS delta FROM new_rows WHERE is_read = false
            UNION ALL
            SELECT priority, -1 AS delta FROM old_rows WHERE is_read = false
        ) AS changes
        GROUP BY priority HAVING sum(delta) <> 0 ORDER BY priority
    LOOP
        PERFORM notification_unread_counts_add(change.priority, change.delta);
    END LOOP;
    RETURN NULL;
END
$$
""",
    "on_delete": """
CREATE FUNCTION notification_unread_counts_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change record;
BEGIN
    FOR change IN
        SELECT priority, -count(*) AS delta FROM deleted_rows WHERE is_read = false
        GROUP BY priority ORDER BY priority
    LOOP
        PERFORM notification_unread_counts_add(change.priority, change.delta);
    END LOOP;
    RETURN NULL;
END
$$
""",
    "on_truncate": """
CREATE FUNCTION notification_unread_counts_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notification_unread_counts;
    RETURN NULL;
END
$$
""",
}
PG_TRIGGERS = {
    "tr_admin_notifications_unread_insert": "AFTER INSERT ON admin_notifications "
    "REFERENCING NEW TABLE AS inserted_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION notification_unread_counts_on_insert()",
    "tr_admin_notifications_unread_update": "AFTER UPDATE ON admin_notifications "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION notification_unread_counts_on_update()",
    "tr_admin_notifications_unread_delete": "AFTER DELETE ON admin_notifications "
    "REFERENCING OLD TABLE AS deleted_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION notification_unread_counts_on_delete()",
    "tr_admin_notifications_unread_truncate": "AFTER TRUNCATE ON admin_notifications "
    "FOR EACH STATEMENT EXECUTE FUNCTION notification_unread_counts_on_truncate()",
}
PG_FUNCTION_SIGNATURES = (
    "notification_unread_counts_on_insert()",
    "notification_unread_counts_on_update()",
    "notification_unread_counts_on_delete()",
    "notification_unread_counts_on_truncate()",
    "notification_unread_counts_add(varchar, bigint)",
    "notification_unread_counts_bump(tid, varchar, bigint)",
)

# --- SQLite ---------------------------------------------------------------------------------

# One row per priority, created by the first unread notification of that priority. A count is
# only ever lowered for a row that was counted, so its priority has a row by then.
SQLITE_TRIGGERS = {
    "tr_admin_notifications_unread_insert": """
CREATE TRIGGER tr_admin_notifications_unread_insert
AFTER INSERT ON admin_notifications FOR EACH ROW WHEN NEW.is_read = 0
BEGIN
    INSERT INTO notification_unread_counts (priority, unread)
    SELECT NEW.priority, 0
    WHERE NOT EXISTS (SELECT 1 FROM notification_unread_counts WHERE priority = NEW.priority);
    UPDATE notification_unread_counts SET unread = unread + 1
    WHERE id = (SELECT min(id) FROM notification_unread_counts WHERE priority = NEW.priority);
END
""",
    "tr_admin_notifications_unread_update": """
CREATE TRIGGER tr_admin_notifications_unread_update
AFTER UPDATE OF is_read, priority ON admin_notifications FOR EACH ROW
WHEN (OLD.is_read = 0) IS NOT (NEW.is_read = 0)
    OR (NEW.is_read = 0 AND OLD.priority IS NOT NEW.priority)
BEGIN
    UPDATE notification_unread_counts SET unread = unread - 1
    WHERE OLD.is_read = 0
    AND id = (SELECT min(id) FROM notification_unread_counts WHERE priority = OLD.priority);
    INSERT INTO notification_unread_counts (priority, unread)
    SELECT NEW.priority, 0
    WHERE NEW.is_read = 0
    AND NOT EXISTS (SELECT 1 FROM notification_unread_counts WHERE priority = NEW.priority);
    UPDATE notification_unread_counts SET unread = unread + 1
    WHERE NEW.is_read = 0
    AND id = (SELECT min(id) FROM notification_unread_counts WHERE priority = NEW.priority);
END
""",
    "tr_admin_notifications_unread_delete": """
CREATE TRIGGER tr_admin_notifications_unread_delete
AFTER DELETE ON admin_notifications FOR EACH ROW WHEN OLD.is_read = 0
BEGIN
    UPDATE notification_unread_counts SET unread = unread - 1
    WHERE id = (SELECT min(id) FROM notification_unread_counts WHERE priority = OLD.priority);
END
""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        TABLE,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("unread", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_unread_counts"),
        postgresql_with={"fillfactor": 10},
    )
    if dialect == "postgresql":
        # No write may land between the count below and the triggers: writers wait for the
        # commit (readers do not).
        op.execute("LOCK TABLE admin_notifications IN SHARE ROW EXCLUSIVE MODE")
        for function in PG_FUNCTIONS.values():
            op.execute(function)
        for name, definition in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")
    else:
        # BEGIN IMMEDIATE (see engine.py) already keeps every other writer out.
        for trigger in SQLITE_TRIGGERS.values():
            op.execute(trigger)
    op.execute(BACKFILL[dialect])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON admin_notifications")
        for signature in PG_FUNCTION_SIGNATURES:
            op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table(TABLE)
