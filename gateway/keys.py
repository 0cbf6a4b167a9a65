"""Every piece of state the application holds, each under one typed key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.http.login_throttle import LoginThrottle
from gateway.ingest.admission import Admission
from gateway.live_rules import LiveRules
from gateway.pipeline import Pipeline
from gateway.publish.hub import Hub
from gateway.publish.metrics import Metrics
from gateway.rule_stats import RuleStats
from gateway.services.passwords import Passwords
from gateway.settings import Settings

if TYPE_CHECKING:
    # The self-monitor reads the health checks, which read these keys: typed, not imported.
    from gateway.self_monitor import SelfMonitor

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
RULES = web.AppKey("rules", LiveRules)
HUB = web.AppKey("hub", Hub)
PIPELINE = web.AppKey("pipeline", Pipeline)
# Bounds how many ingestion batches run at once; callers beyond it get 503 + Retry-After.
INGEST_ADMISSION = web.AppKey("ingest_admission", Admission)
# The Prometheus metrics, in a registry of this app's own (served at /metrics).
METRICS = web.AppKey("metrics", Metrics)
# Match counts per rule since start, kept by the pipeline, shown by the admin API.
RULE_STATS = web.AppKey("rule_stats", RuleStats)
# The admin API's OpenAPI document, built once the router is frozen.
OPENAPI = web.AppKey("openapi", dict[str, Any])
# Dashboard sign-in: the argon2id hasher (settings' parameters) and the failed-login counts.
PASSWORDS = web.AppKey("passwords", Passwords)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
# The dashboard's autoescaped template environment, made once by setup_dashboard.
DASHBOARD_TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)
# The job that reports the gateway's own health as `system` alerts (absent when turned off).
SELF_MONITOR: web.AppKey[SelfMonitor] = web.AppKey("self_monitor")
