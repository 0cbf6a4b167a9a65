"""Typed settings, from command-line flags and `GATEWAY_…` environment variables.

`Settings` is passed to `create_app`; nothing reads the environment after start-up.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.ingest.limits import IngestLimits
from gateway.services.passwords import HashParameters

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./gateway.db"


class Settings(BaseModel):
    """Everything the gateway needs to run; defaults serve SQLite on loopback."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config_path: Path = Path("rules.yaml")
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    ingest_host: str | None = None
    ingest_port: int | None = Field(default=None, ge=0, le=65535)
    migrate: bool = False
    reload_interval: float = Field(default=2.0, ge=0)
    ingest_concurrency: int = Field(default=8, ge=1)
    ingest_queue_timeout: float = Field(default=2.0, ge=0)
    shutdown_grace: float = Field(default=10.0, ge=0)
    # A batch's transaction that takes longer is abandoned and answered 503.
    db_write_timeout: float = Field(default=10.0, gt=0)
    # Self-monitoring (gateway.self_monitor): seconds between checks, 0 turns the job off.
    self_check_interval: float = Field(default=5.0, ge=0)
    db_outage_alert_after: float = Field(default=30.0, ge=0)
    shedding_quiet_period: float = Field(default=60.0, ge=0)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    # When set, GET /metrics requires it as a bearer token; SecretStr keeps it out of reprs.
    metrics_token: SecretStr | None = None
    limits: IngestLimits = IngestLimits()
    # Dashboard sign-in. Secure cookies are also set on any request that came over https;
    # turn this on behind a TLS-terminating proxy (it also makes the Origin check expect https).
    secure_cookies: bool = False
    session_idle_timeout: float = Field(default=30 * 60.0, gt=0)
    session_absolute_timeout: float = Field(default=12 * 3600.0, gt=0)
    # Only tests lower these: production always hashes with the defaults.
    password_hashing: HashParameters = HashParameters()

    @property
    def separate_ingest_listener(self) -> bool:
        return self.ingest_port is not None

    @property
    def ingest_bind_host(self) -> str:
        return self.ingest_host or self.host

    @property
    def ingest_requires_token(self) -> bool:
        """Tokens are optional only while ingestion listens on loopback alone."""
        return not is_loopback(self.ingest_bind_host)


def is_loopback(host: str) -> bool:
    """Tell whether binding to `host` keeps a listener reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
