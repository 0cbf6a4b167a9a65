"""Validate a part of the file against its schema model, reporting errors at file positions.

Pydantic's errors are rewritten into the file's own words: the field is named, the offending
value quoted, and for an unknown field the allowed ones are listed.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rules.document import Document, Loc
from rules.errors import Issues, Position, quote
from rules.schema import Strict

M = TypeVar("M", bound=Strict)

_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "timedelta_type": "a duration",
}


@dataclass(frozen=True, slots=True)
class Failures:
    """Where one part of the file failed validation: paths relative to that part.

    Pydantic reports every failing field of a part at once, but then returns nothing for the
    part; these paths tell which of its values did validate, so they can still be compiled
    (and their own problems reported) without blaming any value twice.
    """

    paths: tuple[Loc, ...] = ()

    def intact(self, path: Loc) -> bool:
        """Tell whether nothing failed at `path` or above it (below it, something may have)."""
        return not any(path[: len(failed)] == failed for failed in self.paths)

    def clean(self, path: Loc) -> bool:
        """Tell whether nothing failed at, above or below `path`: the value there is valid."""
        size = len(path)
        return not any(
            path[: len(failed)] == failed or failed[:size] == path for failed in self.paths
        )

    def inside(self, path: Loc) -> Failures:
        """Return the failures below `path`, relative to it."""
        size = len(path)
        return Failures(tuple(failed[size:] for failed in self.paths if failed[:size] == path))


def validate(model: type[M], data: Any, loc: Loc, doc: Document, issues: Issues) -> M | None:
    """Return `data` validated as `model`, or None after recording every error in `issues`."""
    return check(model, data, loc, doc, issues)[0]


def check(
    model: type[M], data: Any, loc: Loc, doc: Document, issues: Issues
) -> tuple[M | None, Failures]:
    """Validate as `validate` does; also return where validation failed, relative to `loc`."""
    try:
        return model.model_validate(data), _NONE
    except ValidationError as exc:
        failed = []
        for error in exc.errors(include_url=False):
            at, message = describe_error(model, error, loc, doc)
            issues.error(at, message)
            failed.append(tuple(error["loc"]))
        return None, Failures(tuple(failed))


_NONE = Failures()


def describe_error(
    model: type[Strict], error: ErrorDetails, loc: Loc, doc: Document
) -> tuple[Position, str]:
    """Return where a pydantic error points in the file and what to say about it."""
    inner = tuple(error["loc"])
    where = (*loc, *inner)
    kind = error["type"]
    if kind == "missing":
        owner = _what(model, inner[:-1])
        return doc.at(where[:-1]), f"missing required field {quote(inner[-1])} in {owner}"
    if kind == "extra_forbidden":
        owner_model = model_at(model, inner[:-1])
        allowed = ", ".join(owner_model.model_fields) if owner_model else "?"
        owner = owner_model.what if owner_model else "mapping"
        return (
            doc.key_at(where),
            f"unknown field {quote(inner[-1])} in {owner}; allowed fields: {allowed}",
        )
    at = doc.at(where)
    if kind == "rules":  # our own validators' messages are already complete
        return at, error["msg"]
    label = _label(model, inner)
    value = quote(error["input"])
    if kind in _EXPECTED:
        return at, f"{label} must be {_EXPECTED[kind]}, got {value}"
    if kind == "string_too_short":
        return at, f"{label} must not be empty"
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return at, f"{label} must be at most {limit} characters, got {value}"
    return at, f"{label}: {error['msg'].lower()}, got {value}"


def model_at(model: type[BaseModel], path: Sequence[str | int]) -> type[Strict] | None:
    """Return the schema model that validates the value at `path` inside `model`, if any."""
    current: Any = model
    for part in path:
        current = _step(_unwrap(current), part)
        if current is None:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, Strict):
        return current
    return None


def _step(kind: Any, part: str | int) -> Any:
    if isinstance(part, str):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(part)
            return field.annotation if field else None
        if get_origin(kind) is dict:
            return get_args(kind)[1]
        return None
    if get_origin(kind) in (list, tuple):
        return get_args(kind)[0]
    return None


def _unwrap(kind: Any) -> Any:
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin is Union or origin is types.UnionType:
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        else:
            return kind


def _what(model: type[Strict], path: Sequence[str | int]) -> str:
    found = model_at(model, path)
    return found.what if found else "mapping"


def _label(model: type[Strict], path: Sequence[str | int]) -> str:
    """Name the value at `path` as messages do: `title`, `affected_stores[1]`, `a rule`."""
    last = max((index for index, part in enumerate(path) if isinstance(part, str)), default=-1)
    if last < 0:
        return f"a {model.what}"
    indexes = "".join(f"[{part}]" for part in path[last + 1 :])
    return f"{path[last]}{indexes}"
