"""Compile the rules' text fields as sandboxed Jinja2 templates, once, at load.

A template sees the event's top-level fields as variables (`{{ store_name }}`,
`{{ payload.order.id }}`), plus `source`: the name of the source the event came from (`logs`
for log lines; it takes precedence over an event field of the same name). Filters and tests
are Jinja's own (`{{ name | upper }}`, `{{ error_message | truncate(80) }}`,
`{{ labels | tojson }}`, `{{ x | default("n/a") }}`).

Rendering never fails an event:

- a field the event lacks renders as an empty string and is counted as missing (so is any
  output of an undefined value, including an attribute the sandbox refuses, such as
  `{{ ''.__class__ }}`); `default(...)` and `{% if field %}` do not count;
- null renders as an empty string, not "None";
- an error while rendering (a sandbox violation, a type error) renders the whole field as
  empty and counts as one missing field;
- output is cut to the field's bound (`Bound`); keys and fingerprints longer than theirs
  keep a hash of the full text so that distinct long keys stay distinct.

Values are rendered as plain text (no HTML escaping): escaping belongs to whoever displays them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from enum import IntEnum
from typing import Any, NoReturn, Protocol

from jinja2 import ChainableUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment


class Bound(IntEnum):
    """The longest output each kind of field may have, in characters."""

    TITLE = 500
    TEXT = 10_000
    URL = 2_000
    KEY = 255
    VALUE = 1_000


class RenderContext:
    """The variables for rendering one event's outcomes, and the count of missing fields."""

    __slots__ = ("missing", "vars")

    def __init__(self, event: Mapping[str, Any], source: str) -> None:
        # Built once per matched event and shared by every template rendered for it.
        self.vars: dict[str, Any] = {**_GLOBALS, **event, "source": source}
        self.missing = 0


class Template(Protocol):
    """A compiled text field."""

    source: str

    def render(self, context: RenderContext) -> str:
        """Render to a bounded string; never raises."""
        ...


class Value(Protocol):
    """A compiled metadata value: a template, or a literal kept as it is."""

    def value(self, context: RenderContext) -> Any:
        """Return the value for this event; never raises."""
        ...


_CURRENT: ContextVar[RenderContext | None] = ContextVar("rules_render_context", default=None)


def _note_missing() -> None:
    context = _CURRENT.get()
    if context is not None:
        context.missing += 1


class MissingField(ChainableUndefined):
    """An undefined value that renders empty and is counted; chains through `a.b.c`."""

    __slots__ = ()

    def __str__(self) -> str:
        _note_missing()
        return ""

    def __iter__(self) -> Iterator[Any]:
        _note_missing()
        return iter(())


class _Refused(MissingField):
    """What the sandbox returns for an unsafe attribute: using it raises, so it is counted."""

    __slots__ = ()

    def __str__(self) -> str:
        self._fail_with_undefined_error()


_MAX_REPEAT = 100_000  # longest string or list `*` may build
_MAX_EXPONENT = 100


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with `*` and `**` bounded so that no template can exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> _Refused:
        return _Refused(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe",
            obj,
            attribute,
            SecurityError,
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                _refuse(f"exponent {right} is too large")
        elif isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            sequence, times = (
                (left, right) if isinstance(left, str | list | tuple) else (right, left)
            )
            if isinstance(times, int) and len(sequence) * times > _MAX_REPEAT:
                _refuse("repetition is too long")
        return super().call_binop(context, operator, left, right)


def _refuse(message: str) -> NoReturn:
    raise SecurityError(message)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_ENV = _Sandbox(
    undefined=MissingField,
    autoescape=False,
    finalize=_finalize,
    keep_trailing_newline=True,
)
_GLOBALS: dict[str, Any] = dict(_ENV.globals)
_MARKUP = ("{{", "{%", "{#")
_SINGLE_NAME = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")
_PLAIN_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_LITERAL_NAMES = frozenset({"true", "false", "none", "True", "False", "None"})


class TemplateError(ValueError):
    """A template does not compile; the message says why."""


def bound(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bound_key(text: str, limit: int = Bound.KEY) -> str:
    """Cut a key to `limit` characters, keeping a hash of the whole so long keys stay distinct."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{text[: limit - 17]}~{digest}"


class _Constant:
    """No markup at all: the text is cut once, at load."""

    __slots__ = ("source", "text")

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text

    def render(self, context: RenderContext) -> str:
        return self.text


class _Interpolation:
    """Literal text and plain `{{ name }}`s only: render by lookup, exactly as Jinja would."""

    __slots__ = ("cut", "head", "pairs", "source")

    def __init__(self, source: str, parts: tuple[str, ...], cut: Callable[[str], str]) -> None:
        self.source = source
        # ("a ", "x", " b", "y", "") -> head "a ", pairs (("x", " b"), ("y", ""))
        self.head = parts[0]
        self.pairs = tuple(zip(parts[1::2], parts[2::2], strict=True))
        self.cut = cut

    def render(self, context: RenderContext) -> str:
        variables = context.vars
        out = [self.head]
        try:
            for name, literal in self.pairs:
                value = variables.get(name, _ABSENT)
                if type(value) is str:
                    out.append(value)
                elif value is _ABSENT:
                    context.missing += 1
                elif value is not None:
                    out.append(str(value))
                out.append(literal)
        except Exception:  # a value whose str() fails: the field renders empty
            context.missing += 1
            return ""
        return self.cut("".join(out))


class _Jinja:
    """Anything else: a sandboxed Jinja template."""

    __slots__ = ("cut", "new_context", "root", "source")

    def __init__(self, source: str, cut: Callable[[str], str]) -> None:
        template = _ENV.from_string(source)
        self.source = source
        self.new_context = template.new_context
        self.root = template.root_render_func
        self.cut = cut

    def render(self, context: RenderContext) -> str:
        token = _CURRENT.set(context)
        try:
            return self.cut("".join(self.root(self.new_context(context.vars, shared=True))))
        except Exception:  # sandbox refusals and type errors: the field renders empty
            context.missing += 1
            return ""
        finally:
            _CURRENT.reset(token)


_ABSENT = object()


class TemplateCompiler:
    """Compile template fields, sharing one compiled template per distinct source text."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, bool], Template] = {}

    def text(self, source: str, limit: int) -> Template:
        """Compile a text field bounded to `limit`; raise `TemplateError` if it does not compile."""
        return self._compile(source, limit, key=False)

    def key(self, source: str) -> Template:
        """Compile a dedup key or fingerprint; raise `TemplateError` if it does not compile."""
        return self._compile(source, Bound.KEY, key=True)

    def value(self, literal: Any) -> Value:
        """Compile a metadata value: strings are templates, other scalars stay as they are."""
        if not isinstance(literal, str):
            return _Literal(literal)
        found = _SINGLE_NAME.fullmatch(literal.strip())
        if found and found.group(1) not in _LITERAL_NAMES:
            return _NativeValue(found.group(1))
        return _RenderedValue(self.text(literal, Bound.VALUE))

    def _compile(self, source: str, limit: int, *, key: bool) -> Template:
        cache_key = (source, limit, key)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        compiled = _compile(source, limit, key)
        self._cache[cache_key] = compiled
        return compiled


def _compile(source: str, limit: int, key: bool) -> Template:
    def cut(text: str) -> str:
        return bound_key(text, limit) if key else bound(text, limit)

    if not any(marker in source for marker in _MARKUP):
        return _Constant(source, cut(source))
    parts = _interpolation_parts(source)
    if parts is not None:
        return _Interpolation(source, parts, cut)
    try:
        return _Jinja(source, cut)
    except TemplateSyntaxError as exc:
        where = f" (template line {exc.lineno})" if "\n" in source.strip() else ""
        raise TemplateError(f"{exc.message}{where}") from None


def _interpolation_parts(source: str) -> tuple[str, ...] | None:
    """Split `a {{ x }} b` into ("a ", "x", " b"); None if the template needs Jinja."""
    parts = tuple(_PLAIN_NAME.split(source))
    literals, names = parts[0::2], parts[1::2]
    if any(marker in text for text in literals for marker in _MARKUP):
        return None
    if any(name in _LITERAL_NAMES for name in names):
        return None
    return parts


class _Literal:
    __slots__ = ("literal",)

    def __init__(self, literal: Any) -> None:
        self.literal = literal

    def value(self, context: RenderContext) -> Any:
        return self.literal


class _RenderedValue:
    __slots__ = ("template",)

    def __init__(self, template: Template) -> None:
        self.template = template

    def value(self, context: RenderContext) -> Any:
        return self.template.render(context)


class _NativeValue:
    """`{{ name }}` alone as a metadata value keeps the field's JSON type (7 stays a number)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def value(self, context: RenderContext) -> Any:
        value = context.vars.get(self.name, _ABSENT)
        if value is _ABSENT:
            context.missing += 1
            return None
        if type(value) is str:
            return bound(value, Bound.VALUE)
        if value is None or type(value) in (int, float, bool):
            return value
        try:
            if not isinstance(value, dict | list):  # not JSON data: its text, as Jinja renders
                return bound(str(value), Bound.VALUE)
            encoded = json.dumps(value, ensure_ascii=False, default=str)
        except Exception:  # e.g. a circular structure: as with templates, empty and counted
            context.missing += 1
            return None
        # Small structures (labels, annotations) stay structured; big ones become bounded text.
        return value if len(encoded) <= Bound.VALUE else bound(encoded, Bound.VALUE)
