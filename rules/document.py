"""Parse the rules file's YAML into plain values while remembering where each one was written.

Every value and every mapping key gets a `Position`, addressed by its path from the root
(`("rules", 0, "match", "event")`), so later stages can report problems at the exact spot.
Environment references are substituted here, while the scalar's style is still known: in an
unquoted scalar the substituted text is typed as YAML would type it (`gte: ${MIN:-5}` is the
number 5); a quoted scalar stays a string.

Only the JSON-like subset of YAML is accepted: mappings with string keys, lists, strings,
numbers, booleans and null. Timestamps stay strings, as they would arrive in a JSON event.
Anchors, aliases and `<<` merge keys work as usual; a key written twice is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from rules.environ import has_reference, secret_variable, substitute
from rules.errors import START, Issues, Position, quote

Loc = tuple[str | int, ...]
"""A path from the document root: mapping keys and list indexes."""

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + name for name in ("null", "bool", "int", "float", "str"))
_TIMESTAMP = _TAG + "timestamp"
_MERGE = _TAG + "merge"
_MAX_NODES = 200_000  # aliases can expand exponentially ("billion laughs"); stop well before


@dataclass(slots=True)
class Document:
    """The file's values and, for each path, where its value and its key were written."""

    data: Any
    values: dict[Loc, Position] = field(default_factory=dict)
    keys: dict[Loc, Position] = field(default_factory=dict)
    unset_secrets: dict[Loc, str] = field(default_factory=dict)
    """Secrets whose `${NAME}` is unset or empty: path -> NAME."""

    def at(self, loc: Loc) -> Position:
        """Return where the value at `loc` (or its nearest written ancestor) starts."""
        return self._lookup(self.normalise(loc), self.values)

    def key_at(self, loc: Loc) -> Position:
        """Return where the mapping key at `loc` is written, else where its value is."""
        normal = self.normalise(loc)
        return self.keys.get(normal) or self._lookup(normal, self.values)

    def normalise(self, loc: Loc) -> Loc:
        """Map a validator's path onto the document's, skipping indexes of wrapped scalars.

        The schema accepts one mapping where a list is expected (`notify: {...}`) and wraps
        it; the validator then reports `notify.0.title` for what the file has at
        `notify.title`.
        """
        current = self.data
        out: list[str | int] = []
        for part in loc:
            if isinstance(part, int):
                if not isinstance(current, list):
                    continue
                if not 0 <= part < len(current):
                    break
                current = current[part]
            elif isinstance(current, dict):
                if part not in current:
                    out.append(part)
                    break
                current = current[part]
            else:
                break
            out.append(part)
        return tuple(out)

    @staticmethod
    def _lookup(loc: Loc, table: Mapping[Loc, Position]) -> Position:
        for end in range(len(loc), -1, -1):
            found = table.get(loc[:end])
            if found is not None:
                return found
        return START


def position(mark: yaml.Mark | None) -> Position:
    """Convert a YAML mark (0-based) to a `Position` (1-based)."""
    return START if mark is None else Position(mark.line + 1, mark.column + 1)


def parse_document(
    text: str,
    issues: Issues,
    environ: Mapping[str, str],
    is_secret: Callable[[Loc], bool],
) -> Document | None:
    """Parse `text`; record problems in `issues`; return None when nothing usable was read."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        issues.error(position(mark), f"YAML syntax error: {problem}")
        return None
    except yaml.YAMLError as exc:  # e.g. a byte the reader cannot decode
        issues.error(START, f"YAML syntax error: {exc}")
        return None
    if root is None:
        issues.error(START, "the file is empty; expected a mapping with version and rules")
        return None
    builder = _Builder(issues, environ, is_secret)
    try:
        data = builder.build(root, ())
    except _TooLarge:
        issues.error(position(root.start_mark), "the file expands to too many values")
        return None
    builder.document.data = data
    return builder.document


class _TooLarge(Exception):
    pass


class _Builder:
    """Turn a YAML node tree into plain values, recording positions along the way."""

    def __init__(
        self, issues: Issues, environ: Mapping[str, str], is_secret: Callable[[Loc], bool]
    ) -> None:
        self.issues = issues
        self.environ = environ
        self.is_secret = is_secret
        self.document = Document(data=None)
        self.constructor = SafeConstructor()
        self.resolver = Resolver()
        self.active: set[int] = set()
        self.count = 0

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooLarge
        self.document.values[loc] = position(node.start_mark)
        if id(node) in self.active:
            self.error(position(node.start_mark), "an alias refers to itself")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]
            assert isinstance(node, yaml.ScalarNode)
            return self.scalar(node, loc)
        finally:
            self.active.discard(id(node))

    def error(self, at: Position, message: str) -> None:
        """Report a value that cannot be read; it stands in as null, which is not judged."""
        self.issues.error(at, message)
        self.issues.settle(at)

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self.merge_sources(value_node, loc, merged))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issues.error(position(key_node.start_mark), "a mapping key must be a string")
                continue
            # Keys are names: take the text as written, so `on:` or `1:` stay strings.
            key = str(key_node.value)
            if key in explicit:
                first = self.document.keys[(*loc, key)]
                self.issues.error(
                    position(key_node.start_mark),
                    f"duplicate key {quote(key)} (first written at line {first.line})",
                )
                continue
            self.document.keys[(*loc, key)] = position(key_node.start_mark)
            explicit[key] = self.build(value_node, (*loc, key))
        if not merged:
            return explicit
        for key in explicit:
            merged.pop(key, None)
        return merged | explicit

    def merge_sources(self, node: yaml.Node, loc: Loc, already: dict[str, Any]) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: dict[str, Any] = {}
        here = self.document.values[loc]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.issues.error(position(source.start_mark), "a `<<` merge needs a mapping")
                continue
            values = self.build(source, loc)
            self.document.values[loc] = here  # the merging mapping keeps its own position
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                # As in YAML's merge rules, an earlier mapping wins over a later one.
                if key not in out and key not in already:
                    out[key] = value
        return out

    def scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        if node.tag == _TIMESTAMP:
            return str(node.value)
        if node.tag not in _SCALAR_TAGS:
            self.error(position(node.start_mark), f"unsupported YAML tag {quote(node.tag)}")
            return None
        try:
            value = self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.error(position(node.start_mark), f"invalid value: {exc.problem}")
            return None
        if self.is_secret(loc):
            return self.secret(node, value, loc)
        if not isinstance(value, str):
            return value
        if not has_reference(value):
            return value
        return self.substituted(node, value)

    def substituted(self, node: yaml.ScalarNode, value: str) -> Any:
        result = substitute(value, self.environ)
        at = position(node.start_mark)
        for token in result.malformed:
            self.issues.error(
                at,
                f"malformed variable reference {quote(token)}; "
                "write ${NAME} or ${NAME:-default}",
            )
        for name in result.missing:
            self.issues.error(
                at,
                f"environment variable {name} is not set (in {quote(value)}); "
                f"set it or write ${{{name}:-default}}",
            )
        if not result.ok:
            self.issues.settle(at)  # what stands in for the value is not worth judging
        if node.style is not None:  # quoted or block scalar: stays a string
            return result.text
        tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
            yaml.ScalarNode, result.text, (True, False)
        )
        if tag not in _SCALAR_TAGS or tag == _TAG + "str":
            return result.text
        return self.constructor.construct_object(
            yaml.ScalarNode(tag, result.text, node.start_mark, node.end_mark), deep=True
        )

    def secret(self, node: yaml.ScalarNode, value: Any, loc: Loc) -> str:
        at = position(node.start_mark)
        name = secret_variable(value) if isinstance(value, str) else None
        if name is None:
            # Never quote the value: it may be the secret itself.
            self.issues.error(
                at,
                "secrets come from the environment: write the secret as ${NAME}, "
                "with no default and nothing around it",
            )
            return ""
        secret = self.environ.get(name, "")
        if not secret:
            self.document.unset_secrets[loc] = name
        return secret
