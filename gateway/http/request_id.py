"""Request ids: the header that carries them and the rule for keeping a caller's own.

The id is assigned, bound to the log context and echoed by the request middleware in
`gateway.http.access_log`, which also writes the access line and times the request: one
coroutine layer instead of three on every request.
"""

from __future__ import annotations

import re
from secrets import token_hex

from aiohttp import web

HEADER = "X-Request-ID"
# A caller-supplied id is kept only when it cannot smuggle anything into logs or headers.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_for(supplied: str | None) -> str:
    """Return the caller's id when it is safe to repeat, else a fresh random one."""
    if supplied is not None and _SAFE_ID.fullmatch(supplied):
        return supplied
    return token_hex(8)


def setup_request_id(app: web.Application) -> None:
    """Give every response and log line a request id (the request middleware, added once)."""
    from gateway.http.access_log import setup_access_log

    setup_access_log(app)
