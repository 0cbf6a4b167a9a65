"""The ORM models: notifications, alerts, dedup state, tokens, deliveries, accounts, sessions.

Models carry no relationships, so nothing is ever lazy-loaded behind an `await`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.storage.types import JSONType, UTCDateTime, utcnow

# BIGSERIAL on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is an alias of the rowid.
IdType = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base holding the metadata every migration is checked against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - read once by the declarative machinery
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
    }


class AdminNotification(Base):
    """One notification for platform administrators."""

    __tablename__ = "admin_notifications"
    __table_args__ = (
        Index("ix_admin_notifications_is_read_created_at", "is_read", "created_at"),
        Index("ix_admin_notifications_type_created_at", "type", "created_at"),
        Index("ix_admin_notifications_priority_created_at", "priority", "created_at"),
        Index("ix_admin_notifications_created_at", "created_at"),
        # Migration 0003: the unread badge and "critical unread" read only the unread rows.
        Index(
            "ix_admin_notifications_unread_priority_created_at",
            "priority",
            "created_at",
            sqlite_where=text("is_read = 0"),
            postgresql_where=text("is_read = false"),
        ),
        Index("ix_admin_notifications_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(50))
    priority: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)
    is_read: Mapped[bool] = mapped_column(default=False, server_default=false())
    read_at: Mapped[datetime | None]
    read_by_user_id: Mapped[int | None] = mapped_column(Integer)
    action_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    action_url: Mapped[str | None] = mapped_column(String(2000))
    notification_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rule: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<AdminNotification {self.id} {self.type}/{self.priority} {self.title!r}>"


class PlatformAlert(Base):
    """A platform-wide alert; repeated occurrences of one fingerprint increment it."""

    __tablename__ = "platform_alerts"
    __table_args__ = (
        # At most one open alert per fingerprint: the database, not a lock, deduplicates.
        # Once resolved, the row leaves the index and the next occurrence opens a new alert.
        Index(
            "uq_platform_alerts_fingerprint_open",
            "fingerprint",
            unique=True,
            sqlite_where=text("is_resolved = 0"),
            postgresql_where=text("is_resolved = false"),
        ),
        Index("ix_platform_alerts_is_resolved_severity", "is_resolved", "severity"),
        Index("ix_platform_alerts_is_resolved_alert_type", "is_resolved", "alert_type"),
        Index("ix_platform_alerts_last_occurred_at", "last_occurred_at"),
        # Migration 0003: open-alert pages and the statistics cards read only the open rows.
        Index(
            "ix_platform_alerts_open_severity_last_occurred_at",
            "severity",
            "last_occurred_at",
            sqlite_where=text("is_resolved = 0"),
            postgresql_where=text("is_resolved = false"),
        ),
        Index(
            "ix_platform_alerts_open_alert_type_severity",
            "alert_type",
            "severity",
            sqlite_where=text("is_resolved = 0"),
            postgresql_where=text("is_resolved = false"),
        ),
        Index("ix_platform_alerts_resolved_at", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    alert_type: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    affected_stores: Mapped[list[str]] = mapped_column(default=list)
    affected_systems: Mapped[list[str]] = mapped_column(default=list)
    occurrence_count: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    first_occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_resolved: Mapped[bool] = mapped_column(default=False, server_default=false())
    resolved_at: Mapped[datetime | None]
    resolved_by_user_id: Mapped[int | None] = mapped_column(Integer)
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(255))
    alert_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rule: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        state = "resolved" if self.is_resolved else "open"
        return f"<PlatformAlert {self.id} {self.severity} {state} x{self.occurrence_count}>"


class NotificationDedup(Base):
    """The open dedup window of one notification key.

    A row whose window has expired is taken over by the next notification with that key.
    """

    __tablename__ = "notification_dedup"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("admin_notifications.id", ondelete="SET NULL")
    )
    window_expires_at: Mapped[datetime]
    suppressed_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token for the ingest or admin API; only its sha256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scope: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<ApiToken {self.name!r} {self.scope}{' revoked' if self.revoked_at else ''}>"


class WebhookDelivery(Base):
    """A webhook delivery already processed, remembered to refuse replays."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_received_at", "received_at"),)

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdminUser(Base):
    """An account that signs in to the admin API and dashboard; its password is argon2id."""

    __tablename__ = "admin_users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # Stored lower-cased, so the unique constraint is case-insensitive on either backend.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        state = "" if self.is_active else " disabled"
        return f"<AdminUser {self.id} {self.email!r} {self.role}{state}>"


class AdminSession(Base):
    """A signed-in dashboard session; its id is the sha256 of the cookie, never the cookie."""

    __tablename__ = "admin_sessions"
    __table_args__ = (
        Index("ix_admin_sessions_user_id", "user_id"),
        Index("ix_admin_sessions_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("admin_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(45))

    def __repr__(self) -> str:
        state = " revoked" if self.revoked_at else ""
        return f"<AdminSession user={self.user_id} until {self.expires_at.isoformat()}{state}>"
