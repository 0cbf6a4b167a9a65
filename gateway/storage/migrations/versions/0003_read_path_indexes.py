"""Indexes for the admin read paths at a million notifications.

- Unread notifications by priority, newest first (partial: only the few unread rows): the unread
  badge counts per priority from this index alone, and "critical unread" pages read it in order.
- Notifications by updated_at: the unread views' ETag takes the latest updated_at.
- Open alerts by severity, latest first, and by type and severity (partial: only open alerts):
  the open-alert pages and the statistics cards read these instead of the whole table.
- Alerts by resolved_at: "resolved today" on the statistics cards.
- On PostgreSQL 14 and later, statistics on the metadata's `store_id`: lists filtered by store
  report an estimated total above 10,000 rows, and without these the planner assumes 0.5 % of
  the rows match whatever the store (5,000 of a million where 70,000 do).

The indexes are built inside the migration's transaction, which blocks writes to these tables
while they are built: a few seconds at a million notifications.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The predicates are spelled per dialect exactly as the queries write them, so that both
# planners recognise a query's WHERE clause as implying the index's.
UNREAD_SQLITE = sa.text("is_read = 0")
UNREAD_POSTGRESQL = sa.text("is_read = false")
OPEN_SQLITE = sa.text("is_resolved = 0")
OPEN_POSTGRESQL = sa.text("is_resolved = false")
STORE_ID_STATISTICS = "st_admin_notifications_store_id"


def upgrade() -> None:
    op.create_index(
        "ix_admin_notifications_unread_priority_created_at",
        "admin_notifications",
        ["priority", "created_at"],
        sqlite_where=UNREAD_SQLITE,
        postgresql_where=UNREAD_POSTGRESQL,
    )
    op.create_index("ix_admin_notifications_updated_at", "admin_notifications", ["updated_at"])
    op.create_index(
        "ix_platform_alerts_open_severity_last_occurred_at",
        "platform_alerts",
        ["severity", "last_occurred_at"],
        sqlite_where=OPEN_SQLITE,
        postgresql_where=OPEN_POSTGRESQL,
    )
    op.create_index(
        "ix_platform_alerts_open_alert_type_severity",
        "platform_alerts",
        ["alert_type", "severity"],
        sqlite_where=OPEN_SQLITE,
        postgresql_where=OPEN_POSTGRESQL,
    )
    op.create_index("ix_platform_alerts_resolved_at", "platform_alerts", ["resolved_at"])
    if _has_expression_statistics():
        op.execute(
            f"CREATE STATISTICS {STORE_ID_STATISTICS} "
            "ON ((notification_metadata ->> 'store_id')) FROM admin_notifications"
        )


def _has_expression_statistics() -> bool:
    dialect = op.get_bind().dialect
    version = dialect.server_version_info or ()
    return dialect.name == "postgresql" and tuple(version) >= (14,)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STORE_ID_STATISTICS}")
    op.drop_index("ix_platform_alerts_resolved_at", table_name="platform_alerts")
    op.drop_index("ix_platform_alerts_open_alert_type_severity", table_name="platform_alerts")
    op.drop_index("ix_platform_alerts_open_severity_last_occurred_at", table_name="platform_alerts")
    op.drop_index("ix_admin_notifications_updated_at", table_name="admin_notifications")
    op.drop_index(
        "ix_admin_notifications_unread_priority_created_at", table_name="admin_notifications"
    )
