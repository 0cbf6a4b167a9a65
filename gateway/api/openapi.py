"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Component schemas come from the models themselves (`models_json_schema`): request models in
validation mode, response models in serialization mode, so the document describes exactly what
is accepted and what is sent. Query parameters are the fields of each operation's query model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway import keys
from gateway.api.operations import Operation
from gateway.api.schemas import MAX_ID, Problem
from gateway.http.problem import PROBLEM_CONTENT_TYPE
from gateway.http.sessions import COOKIE_NAME, CSRF_HEADER

REF_TEMPLATE = "#/components/schemas/{model}"
VERSION = "1.0.0"

DESCRIPTION = """\
The admin side of the notification gateway: notifications and platform alerts, and the rules
that make them.

Every `/api/v1/admin/` endpoint needs `Authorization: Bearer <token>` (or the dashboard's
session cookie). A read token may use the GET endpoints; an admin token may use all of them
(create one with `gateway token create --scope admin --name NAME`). An ingest token is
refused (403).

Errors are RFC 9457 problem documents (`application/problem+json`); invalid input lists each
failing field under `errors`. Timestamps are ISO-8601 in UTC. Lists are newest first and page
with `limit` and `offset`, or with the opaque `cursor` from the previous page's `next_cursor`.
"""

HEADER_DESCRIPTIONS = {
    "Location": "The URL of the created record",
    "ETag": "A weak validator; send it back as If-None-Match",
}


async def openapi_json(request: web.Request) -> web.Response:
    """Serve the OpenAPI document."""
    return web.json_response(request.app[keys.OPENAPI])


def build_document(operations: Sequence[Operation]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document describing `operations`."""
    schemas = _component_schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.openapi_path, {})[operation.method.lower()] = _operation(
            operation, schemas
        )
    # Query models are documented as parameters, not as schemas of their own.
    for operation in operations:
        if operation.query is not None:
            schemas.pop(operation.query.__name__, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Admin notification gateway",
            "version": VERSION,
            "description": DESCRIPTION,
        },
        "tags": [{"name": tag} for tag in dict.fromkeys(op.tag for op in operations)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`gw_…`) of scope read or admin",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE_NAME,
                    "description": "A dashboard session (POST /api/v1/auth/login); a viewer "
                    f"may read, an admin may write, sending {CSRF_HEADER} from its own pages",
                },
            },
        },
    }


def _component_schemas(operations: Iterable[Operation]) -> dict[str, Any]:
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
    for operation in operations:
        for model in (operation.query, operation.body):
            if model is not None:
                models[(model, "validation")] = None
        for reply in operation.replies:
            if reply.model is not None:
                models[(reply.model, "serialization")] = None
    _, defs = models_json_schema(list(models), ref_template=REF_TEMPLATE)
    return dict(sorted(defs.get("$defs", {}).items()))


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": operation.name,
        "summary": operation.summary,
        "tags": [operation.tag],
    }
    if operation.handler is not None and operation.handler.__doc__:
        out["description"] = operation.handler.__doc__.strip()
    scope = operation.scope
    if scope is None:
        out["security"] = []
    else:
        out["security"] = [{"bearer": []}, {"session": []}]
        out["x-scope"] = scope
    parameters = _path_parameters(operation) + _query_parameters(operation, schemas)
    if operation.etag:
        parameters.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "The ETag of the copy the client holds; 304 if it is current",
                "schema": {"type": "string"},
            }
        )
    if parameters:
        out["parameters"] = parameters
    if operation.body is not None:
        out["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": _ref(operation.body)}},
        }
    responses: dict[str, Any] = {}
    for reply in operation.replies:
        response: dict[str, Any] = {"description": reply.description}
        if reply.status not in (204, 304):
            schema = _ref(reply.model) if reply.model is not None else _bare(reply.media_type)
            response["content"] = {reply.media_type: {"schema": schema}}
        if reply.headers:
            response["headers"] = {
                name: {"description": HEADER_DESCRIPTIONS[name], "schema": {"type": "string"}}
                for name in reply.headers
            }
        responses[str(reply.status)] = response
    for status, description in operation.error_responses().items():
        response = {
            "description": description,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": _ref(Problem)}},
        }
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "Bearer challenge",
                    "schema": {"type": "string"},
                }
            }
        responses[str(status)] = response
    out["responses"] = dict(sorted(responses.items()))
    return out


def _path_parameters(operation: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "The record's id; anything but a number in range is 404",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in operation.path_params
    ]


def _query_parameters(operation: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if operation.query is None:
        return []
    model = schemas[operation.query.__name__]
    required = set(model.get("required", ()))
    parameters = []
    for name, prop in model["properties"].items():
        schema = _without_null(prop)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": schema,
        }
        if "description" in schema:
            parameter["description"] = schema.pop("description")
        if schema.get("type") == "array":
            parameter["style"] = "form"
            parameter["explode"] = True
        parameters.append(parameter)
    return parameters


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """Drop the null branch and the title of an optional parameter: absent means null."""
    schema = {key: value for key, value in prop.items() if key != "title"}
    options = schema.get("anyOf")
    if options is not None:
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            del schema["anyOf"]
            schema = {**kept[0], **schema}
        else:
            schema["anyOf"] = kept
    if schema.get("default", "") is None:
        del schema["default"]
    return schema


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _bare(media_type: str) -> dict[str, Any]:
    return {"type": "object"} if media_type == "application/json" else {"type": "string"}
