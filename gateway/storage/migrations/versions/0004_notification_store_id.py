"""`store_id` as an indexed column of admin_notifications, generated from the metadata.

The notification list's `store_id` filter read `notification_metadata ->> 'store_id'`, which
no index covered: a sequential scan of the JSON at a million rows. The column holds that same
text (7 and "7" both give "7"; NULL when the metadata has none, or when it is longer than 255
characters, which a btree entry could not always hold), and the database computes it on every
write, so no writer, raw SQL included, can leave it out or let it drift from the metadata.

- PostgreSQL: a STORED generated column. Adding it rewrites the table, which fills it for the
  existing rows, with writes blocked meanwhile (seconds at a million notifications).
- SQLite: a virtual generated column (ALTER TABLE can add no other kind); the index stores it.

The index (store_id, created_at, id) serves `store_id = ? ORDER BY created_at DESC, id DESC`
and the list's bounded count as an index-only scan. The expression statistics of 0003 are
dropped: nothing filters on the expression any more, and ANALYZE now samples the column.

On PostgreSQL the alert list's store filter, `affected_stores @> '["7"]'`, gets a GIN index
(jsonb_path_ops, which serves `@>` only, and is the smaller for it); without it the filter read
every alert. SQLite has no index for the elements of a JSON array and keeps scanning.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from the models, so this revision never changes under us.
STORE_ID_SQL = {
    "postgresql": (
        "CASE WHEN length(notification_metadata ->> 'store_id') <= 255 "
        "THEN notification_metadata ->> 'store_id' END"
    ),
    "sqlite": (
        "CASE WHEN length(CAST(json_extract(notification_metadata, '$.store_id') AS TEXT)) "
        "<= 255 THEN CAST(json_extract(notification_metadata, '$.store_id') AS TEXT) END"
    ),
}
INDEX = "ix_admin_notifications_store_id_created_at_id"
ALERT_STORES_INDEX = "ix_platform_alerts_affected_stores"
STORE_ID_STATISTICS = "st_admin_notifications_store_id"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # STORED on PostgreSQL (18 would make it virtual, which cannot be indexed); SQLite's
    # ALTER TABLE adds only virtual generated columns, its default.
    generated = sa.Computed(
        sa.text(STORE_ID_SQL[dialect]), persisted=True if dialect == "postgresql" else None
    )
    op.add_column("admin_notifications", sa.Column("store_id", sa.String(255), generated))
    op.create_index(INDEX, "admin_notifications", ["store_id", "created_at", "id"])
    if dialect == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STORE_ID_STATISTICS}")
        op.create_index(
            ALERT_STORES_INDEX,
            "platform_alerts",
            ["affected_stores"],
            postgresql_using="gin",
            postgresql_ops={"affected_stores": "jsonb_path_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(ALERT_STORES_INDEX, table_name="platform_alerts")
    op.drop_index(INDEX, table_name="admin_notifications")
    op.drop_column("admin_notifications", "store_id")
    if _has_expression_statistics():
        op.execute(
            f"CREATE STATISTICS {STORE_ID_STATISTICS} "
            "ON ((notification_metadata ->> 'store_id')) FROM admin_notifications"
        )


def _has_expression_statistics() -> bool:
    dialect = op.get_bind().dialect
    version = dialect.server_version_info or ()
    return dialect.name == "postgresql" and tuple(version) >= (14,)
