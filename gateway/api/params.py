"""Read a request's path id, query parameters, body and page cursor into typed values.

Invalid input becomes a problem response listing every failing field:
`{"errors": [{"field": "limit", "message": "..."}]}`; 400 for query parameters and for a
body that is not JSON, 422 for a JSON body that does not fit its model.
"""

from __future__ import annotations

import base64
import binascii
import functools
import types
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway.api.schemas import MAX_ID
from gateway.errors import RecordNotFound
from gateway.http.problem import problem

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

CursorKind = Literal["notification", "alert"]
_CURSOR_TAGS: dict[CursorKind, str] = {"notification": "n", "alert": "a"}


def path_id(request: web.Request, kind: str) -> int:
    """Return the `{id}` of the path; an id no row can have is simply not found."""
    value = int(request.match_info["id"])  # the route only matches digits
    if not 1 <= value <= MAX_ID:
        raise RecordNotFound(kind, value)
    return value


def parse_query(request: web.Request, model: type[M]) -> M:
    """Validate the query string as `model`; list fields take a repeated parameter."""
    data: dict[str, Any] = {}
    repeated = []
    for name in request.query:
        if name in data:
            continue
        values = request.query.getall(name)
        if name in _list_fields(model):
            data[name] = values
        else:
            data[name] = values[0]
            if len(values) > 1:
                repeated.append(name)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise invalid(400, "invalid query parameters", field_errors(exc, model)) from exc
    if repeated:
        errors = [{"field": name, "message": "must be given at most once"} for name in repeated]
        raise invalid(400, "invalid query parameters", errors)
    return parsed


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body as `model`; an empty body is an empty object."""
    body = await request.read()
    if not body.strip():
        body = b"{}"
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        broken = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if broken:
            message = str(broken[0].get("ctx", {}).get("error", "malformed JSON"))
            raise invalid(
                400, "the body is not valid JSON", [{"field": "body", "message": message}]
            ) from exc
        raise invalid(422, "the request body is invalid", field_errors(exc, model)) from exc


def invalid(status: int, detail: str, errors: list[dict[str, str]]) -> web.HTTPException:
    """Build the problem listing invalid fields."""
    fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
    return problem(status, f"{detail}: {fields}", errors=errors)


def field_errors(exc: ValidationError, model: type[BaseModel]) -> list[dict[str, str]]:
    """Turn pydantic's errors into `{field, message}` pairs, one per failing value."""
    return [_field_error(error, model) for error in exc.errors(include_url=False)]


def _field_error(error: ErrorDetails, model: type[BaseModel]) -> dict[str, str]:
    loc = list(error["loc"])
    if error["type"] == "extra_forbidden":
        owner = model if len(loc) == 1 else None
        allowed = f"; allowed: {', '.join(owner.model_fields)}" if owner else ""
        return {"field": _dotted(loc), "message": f"unknown field{allowed}"}
    if error["type"] == "missing":
        return {"field": _dotted(loc), "message": "required"}
    return {"field": _dotted(loc), "message": error["msg"]}


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    names = set()
    for name, field in model.model_fields.items():
        kinds = get_args(field.annotation) if _is_union(field.annotation) else (field.annotation,)
        if any(get_origin(kind) is list for kind in kinds):
            names.add(name)
    return frozenset(names)


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


# -- cursors -----------------------------------------------------------------------------------


def encode_cursor(kind: CursorKind, at: datetime, row_id: int) -> str:
    """Return the opaque cursor for the page that follows the row (at, row_id)."""
    raw = orjson.dumps([_CURSOR_TAGS[kind], at.astimezone(UTC).isoformat(), row_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: CursorKind, cursor: str) -> tuple[datetime, int]:
    """Return the (timestamp, id) a cursor points after; 400 if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, at, row_id = orjson.loads(raw)
        if tag != _CURSOR_TAGS[kind] or type(row_id) is not int or not 1 <= row_id <= MAX_ID:
            raise ValueError(cursor)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError(cursor)
        when = when.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError):
        raise invalid(
            400,
            "invalid query parameters",
            [{"field": "cursor", "message": f"not a {kind} list cursor"}],
        ) from None
    return when, row_id


def page_start(kind: CursorKind, cursor: str | None, offset: int) -> tuple[datetime, int] | None:
    """Return where a page starts: after the cursor's row, or None to start at `offset`."""
    if cursor is None:
        return None
    if offset:
        raise invalid(
            400,
            "invalid query parameters",
            [{"field": "offset", "message": "cannot be combined with cursor"}],
        )
    return decode_cursor(kind, cursor)


def split_page(rows: list[R], limit: int) -> tuple[list[R], R | None]:
    """Split `limit` + 1 fetched rows into the page and, if there is a next page, its last row."""
    page = rows[:limit]
    return page, (page[-1] if len(rows) > limit else None)
