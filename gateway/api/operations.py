"""What one API endpoint is: the route to register and everything its documentation says.

The route table (`gateway.api.routes`) is a list of `Operation`s; the router is built from it
and so is the OpenAPI document, so neither can drift from the other. The error responses an
operation can give follow from what it takes (a query, a body, an id in the path) and from
whether it is protected; only the others (409, a reload's 422) are listed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aiohttp.typedefs import Handler
from pydantic import BaseModel

from gateway.http.auth import ADMIN_PREFIX, READ_METHODS

Method = Literal["GET", "POST", "PUT", "DELETE"]
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")

ERROR_DESCRIPTIONS = {
    400: "Invalid query parameters, or a body that is not JSON",
    401: "No credentials, or an invalid or revoked token",
    403: "The token's scope does not allow this (an ingest token; a read token on a write)",
    404: "No such record",
    409: "The record's state forbids it",
    422: "The body does not fit its schema",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """One successful response of an operation."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()
    """Response headers worth documenting, e.g. Location."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path: its handler, inputs, replies and documentation."""

    method: Method
    path: str
    """The aiohttp path; an id is written `{id:\\d+}` so the literal paths never match it."""
    name: str
    """The operationId; the route is registered under `api.<name>`."""
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    handler: Handler | None = None
    """None: another module registers the route; it is only documented here."""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    errors: dict[int, str] | None = None
    """Error responses beyond those that follow from the inputs and the protection."""
    etag: bool = False
    """The reply carries a weak ETag and If-None-Match may answer 304."""
    public: bool = False
    """Served without credentials (the documentation); every admin path is protected."""

    @property
    def route_name(self) -> str:
        return f"api.{self.name}"

    @property
    def openapi_path(self) -> str:
        return _PATH_PARAM.sub(r"{\1}", self.path)

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def protected(self) -> bool:
        return not self.public and (
            self.path == ADMIN_PREFIX or self.path.startswith(ADMIN_PREFIX + "/")
        )

    @property
    def scope(self) -> Literal["read", "admin"] | None:
        """The token scope the operation needs; None when it is public."""
        if not self.protected:
            return None
        return "read" if self.method in READ_METHODS else "admin"

    def error_responses(self) -> dict[int, str]:
        """Return every error status the operation may answer, with its meaning."""
        statuses: dict[int, str] = {}
        if self.query is not None or self.body is not None:
            statuses[400] = ERROR_DESCRIPTIONS[400]
        if self.protected:
            statuses[401] = ERROR_DESCRIPTIONS[401]
            statuses[403] = ERROR_DESCRIPTIONS[403]
        if self.path_params:
            statuses[404] = ERROR_DESCRIPTIONS[404]
        if self.body is not None:
            statuses[422] = ERROR_DESCRIPTIONS[422]
        statuses.update(self.errors or {})
        return dict(sorted(statuses.items()))
