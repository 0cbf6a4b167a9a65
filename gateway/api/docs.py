"""The API reference page, rendered on the server from the OpenAPI document.

The page has no script and loads nothing from elsewhere: it is served under the same strict
Content-Security-Policy as everything else. The template is autoescaped and receives plain
data; a type is a list of (text, anchor) parts, so links are built by the template.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web

from gateway import keys

TypeParts = list[tuple[str, str | None]]


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gateway.api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def docs_page(request: web.Request) -> web.Response:
    """Serve the API reference page."""
    context = page_context(request.app[keys.OPENAPI])
    html = _environment().get_template("docs.html").render(context)
    return web.Response(text=html, content_type="text/html")


async def docs_stylesheet(request: web.Request) -> web.Response:
    """Serve the reference page's stylesheet."""
    css = resources.files("gateway.api").joinpath("static/docs.css").read_text("utf-8")
    return web.Response(
        text=css, content_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


def page_context(document: dict[str, Any]) -> dict[str, Any]:
    """Return what the template shows: the operations by tag, then the schemas."""
    sections: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in document["tags"]}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            sections[operation["tags"][0]].append(_operation(path, method, operation))
    return {
        "title": document["info"]["title"],
        "version": document["info"]["version"],
        "description": document["info"]["description"].split("\n\n"),
        "sections": [{"tag": tag, "operations": ops} for tag, ops in sections.items() if ops],
        "schemas": [
            _schema(name, schema) for name, schema in document["components"]["schemas"].items()
        ],
    }


def _operation(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    body = operation.get("requestBody")
    return {
        "anchor": operation["operationId"],
        "method": method.upper(),
        "path": path,
        "summary": operation["summary"],
        "description": operation.get("description", ""),
        "scope": operation.get("x-scope"),
        "parameters": [
            {
                "name": parameter["name"],
                "in": parameter["in"],
                "required": parameter["required"],
                "type": type_parts(parameter["schema"]),
                "description": parameter.get("description", ""),
            }
            for parameter in operation.get("parameters", ())
        ],
        "body": None
        if body is None
        else {
            "required": body["required"],
            "type": type_parts(body["content"]["application/json"]["schema"]),
        },
        "responses": [
            {
                "status": status,
                "description": response["description"],
                "media_types": [
                    {"name": media, "type": type_parts(content["schema"])}
                    for media, content in response.get("content", {}).items()
                ],
            }
            for status, response in operation["responses"].items()
        ],
    }


def _schema(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    return {
        "name": name,
        "description": schema.get("description", ""),
        "enum": [str(value) for value in schema.get("enum", ())],
        "properties": [
            {
                "name": prop_name,
                "type": type_parts(prop),
                "required": prop_name in required,
                "description": prop.get("description", ""),
            }
            for prop_name, prop in schema.get("properties", {}).items()
        ],
    }


def type_parts(schema: dict[str, Any]) -> TypeParts:
    """Describe a JSON schema's type in a few words, linking to named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [(name, f"schema-{name}")]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            parts: TypeParts = []
            for index, option in enumerate(schema[combinator]):
                if index:
                    parts.append((" | ", None))
                parts.extend(type_parts(option))
            return parts
    if "enum" in schema:
        return [(" | ".join(str(value) for value in schema["enum"]), None)]
    kind = schema.get("type", "any")
    if kind == "array":
        return [("array of ", None), *type_parts(schema.get("items", {}))]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [("object of ", None), *type_parts(schema["additionalProperties"])]
    text = str(kind)
    if "format" in schema:
        text += f" ({schema['format']})"
    limits = [
        f"{label} {schema[key]}"
        for key, label in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
            ("maxItems", "items ≤"),
        )
        if key in schema
    ]
    if "default" in schema:
        limits.append(f"default {schema['default']}")
    if limits:
        text += f", {', '.join(limits)}"
    return [(text, None)]
