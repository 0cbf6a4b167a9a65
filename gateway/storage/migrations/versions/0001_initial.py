"""Initial schema: notifications, alerts, dedup windows, API tokens, webhook deliveries.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here rather than imported, so this revision never changes under us.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "admin_notifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("is_read", sa.Boolean(), server_default=sa.false(), nullable=False),
        _timestamp("read_at", nullable=True),
        sa.Column("read_by_user_id", sa.Integer(), nullable=True),
        sa.Column("action_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("action_url", sa.String(2000), nullable=True),
        sa.Column("notification_metadata", JSON, nullable=False),
        sa.Column("rule", sa.String(200), nullable=True),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("dedup_key", sa.String(255), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_admin_notifications"),
    )
    op.create_index(
        "ix_admin_notifications_is_read_created_at",
        "admin_notifications",
        ["is_read", "created_at"],
    )
    op.create_index(
        "ix_admin_notifications_type_created_at", "admin_notifications", ["type", "created_at"]
    )
    op.create_index(
        "ix_admin_notifications_priority_created_at",
        "admin_notifications",
        ["priority", "created_at"],
    )
    op.create_index("ix_admin_notifications_created_at", "admin_notifications", ["created_at"])

    op.create_table(
        "platform_alerts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alert_type", sa.String(50), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("affected_stores", JSON, nullable=False),
        sa.Column("affected_systems", JSON, nullable=False),
        sa.Column("occurrence_count", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _timestamp("first_occurred_at"),
        _timestamp("last_occurred_at"),
        sa.Column("is_resolved", sa.Boolean(), server_default=sa.false(), nullable=False),
        _timestamp("resolved_at", nullable=True),
        sa.Column("resolved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(255), nullable=True),
        sa.Column("alert_metadata", JSON, nullable=False),
        sa.Column("rule", sa.String(200), nullable=True),
        sa.Column("source", sa.String(100), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_platform_alerts"),
    )
    op.create_index(
        "uq_platform_alerts_fingerprint_open",
        "platform_alerts",
        ["fingerprint"],
        unique=True,
        sqlite_where=sa.text("is_resolved = 0"),
        postgresql_where=sa.text("is_resolved = false"),
    )
    op.create_index(
        "ix_platform_alerts_is_resolved_severity", "platform_alerts", ["is_resolved", "severity"]
    )
    op.create_index(
        "ix_platform_alerts_is_resolved_alert_type",
        "platform_alerts",
        ["is_resolved", "alert_type"],
    )
    op.create_index("ix_platform_alerts_last_occurred_at", "platform_alerts", ["last_occurred_at"])

    op.create_table(
        "notification_dedup",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("notification_id", ID, nullable=True),
        _timestamp("window_expires_at"),
        sa.Column("suppressed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["admin_notifications.id"],
            name="fk_notification_dedup_notification_id_admin_notifications",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name="pk_notification_dedup"),
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        _timestamp("received_at"),
        sa.PrimaryKeyConstraint("source", "delivery_id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("api_tokens")
    op.drop_table("notification_dedup")
    op.drop_table("platform_alerts")
    op.drop_table("admin_notifications")
