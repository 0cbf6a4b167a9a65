"""RFC 9457 problem details: the one shape every error response takes."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """Build an `application/problem+json` response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _reason(status),
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> web.HTTPException:
    """Build an HTTP exception whose body is a problem document; raise it from handlers."""
    exc = web.HTTPException(
        headers=headers,
        text=orjson.dumps(
            {"type": "about:blank", "title": _reason(status), "status": status, "detail": detail}
            | extra
        ).decode(),
        content_type=PROBLEM_CONTENT_TYPE,
    )
    exc.set_status(status, _reason(status))
    return exc


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
