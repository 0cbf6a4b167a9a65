"""Typed settings, from command-line flags and `GATEWAY_…` environment variables.

`Settings` is passed to `create_app`; nothing reads the environment after start-up.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

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
    # Admission (gateway.ingest.admission): batches and body bytes in the gateway at once.
    # Many small batches fit, so a storm of one-line requests fills the writer's groups; a few
    # bodies at the size limit use up the byte budget.
    ingest_concurrency: int = Field(default=64, ge=1)
    ingest_buffer_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
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
    # Hosts besides the gateway's own that the dashboard links a notification's action_url
    # to (see parse_action_url_hosts); relative paths are always linked, other URLs never.
    action_url_hosts: tuple[str, ...] = ()

    @field_validator("action_url_hosts", mode="before")
    @classmethod
    def _check_action_url_hosts(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            return parse_action_url_hosts(value)
        if not isinstance(value, Iterable):
            raise ValueError("expected a comma-separated string or a list of host names")
        return parse_action_url_hosts(",".join(str(entry) for entry in value))

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


@functools.lru_cache(maxsize=32)
def is_loopback(host: str) -> bool:
    """Tell whether binding to `host` keeps a listener reachable from this machine only.

    Cached: ingestion asks on every request, and parsing an address costs microseconds.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HOST_HINT = "give a host such as admin.example.com, admin.example.com:8443 or *.example.com"


def normalize_action_url_host(entry: str) -> str:
    """Check one allowed host: `name`, `name:port`, `[ipv6]:port` or `*.name`; lower-cased.

    A URL, a path, user info or anything but a host name and a port is refused with a
    ValueError that says what was wrong, so a typo cannot silently allow nothing (or more).
    """
    raw = entry.strip()
    value = raw.lower()
    if "://" in value or re.match(r"[a-z][a-z0-9+.-]*:(?!\d+$)", value):
        raise ValueError(f"action URL host {raw!r} is a URL, not a host: {_HOST_HINT}")
    if not value.isascii():
        raise ValueError(f"action URL host {raw!r}: write an international name in its xn-- form")
    if any(char in value for char in "/\\?#@") or not value.isprintable():
        raise ValueError(f"action URL host {raw!r} is not a host name: {_HOST_HINT}")
    host, port = value, None
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"action URL host {raw!r} is not a host name: {_HOST_HINT}")
        port = rest[1:] if rest else None
        try:
            host = "[" + ipaddress.IPv6Address(host).compressed + "]"
        except ValueError:
            raise ValueError(f"action URL host {raw!r} has an invalid IPv6 address") from None
    elif ":" in value:
        host, _, port = value.rpartition(":")
    if port is not None and not (port.isdigit() and 0 < int(port) <= 65535):
        raise ValueError(f"action URL host {raw!r} has an invalid port (1-65535)")
    if not host.startswith("["):
        name = host.removeprefix("*.")
        labels = name.split(".")
        if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"action URL host {raw!r} is not a host name: {_HOST_HINT}")
        if labels[-1].isdigit():
            # Browsers read a name ending in a number as an IPv4 address.
            try:
                ipaddress.IPv4Address(name)
            except ValueError:
                raise ValueError(
                    f"action URL host {raw!r} is neither a host name nor an IPv4 address"
                ) from None
            if host.startswith("*."):
                raise ValueError(f"action URL host {raw!r}: a wildcard needs a host name")
    return host if port is None else f"{host}:{int(port)}"


def parse_action_url_hosts(value: str) -> tuple[str, ...]:
    """Split a comma-separated list of allowed hosts and check each; empty items are skipped.

    Each is matched exactly and case-insensitively against the host of an http(s) URL:
    `name` allows that host on its scheme's default port, `name:port` on that port only, and
    `*.name` any subdomain of `name` (not `name` itself).
    """
    hosts: list[str] = []
    for entry in value.split(","):
        if entry.strip():
            host = normalize_action_url_host(entry)
            if host not in hosts:
                hosts.append(host)
    return tuple(hosts)
