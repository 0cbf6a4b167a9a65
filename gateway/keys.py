"""Every piece of state the application holds, each under one typed key."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.live_rules import LiveRules
from gateway.pipeline import Pipeline
from gateway.publish.hub import Hub
from gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
RULES = web.AppKey("rules", LiveRules)
HUB = web.AppKey("hub", Hub)
PIPELINE = web.AppKey("pipeline", Pipeline)
# Bounds how many ingestion batches run at once; callers beyond it get 503 + Retry-After.
INGEST_SLOTS = web.AppKey("ingest_slots", asyncio.Semaphore)
