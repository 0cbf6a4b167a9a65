"""Turn every exception that escapes a handler into a problem+json response."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from structlog import get_logger

from gateway.errors import Conflict, RecordNotFound, SchemaOutdated
from gateway.http.problem import PROBLEM_CONTENT_TYPE, problem_response

log = get_logger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == PROBLEM_CONTENT_TYPE or exc.empty_body or exc.status < 400:
            raise
        # aiohttp's own errors (404 for an unknown path, 405, 413) carry plain text bodies.
        return problem_response(exc.status, exc.text or exc.reason, headers=_keep(exc))
    except RecordNotFound as exc:
        return problem_response(404, str(exc))
    except Conflict as exc:
        return problem_response(409, str(exc))
    except SchemaOutdated as exc:
        return problem_response(503, str(exc))
    except Exception:
        # The client learns only that it failed; the trace goes to the log with the request id.
        log.exception("unhandled_error", path=request.path, method=request.method)
        return problem_response(500, "internal error; see the gateway log for this request id")


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


def setup_errors(app: web.Application) -> None:
    app.middlewares.append(error_middleware)
