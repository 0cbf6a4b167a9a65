"""Announce what an admin request changed to live listeners, once it is committed."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import keys


def publish(request: web.Request, kind: str, data: dict[str, Any]) -> None:
    """Tell live listeners about a committed change (`notification.read`, `alert.resolved`…)."""
    request.app[keys.HUB].publish(kind, data)
