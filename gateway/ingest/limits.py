"""Size budgets for one ingest request, and the nesting check they share."""

from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_DEPTH = 32
_CONTAINERS = frozenset((dict, list))


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Budgets for one request body; each is a positive integer."""

    max_body_bytes: int = 10 * 1024 * 1024
    """Decoded body size, counted while decompressing."""
    max_line_bytes: int = 64 * 1024
    """One log line, without its line ending."""
    max_lines: int = 10_000
    """Non-blank lines (or array items) parsed from one body; the rest are counted only."""
    max_depth: int = DEFAULT_MAX_DEPTH
    """Nested objects and arrays in one event; `{}` has depth 1."""

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_line_bytes", "max_lines", "max_depth"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


class NestingTooDeep(ValueError):
    """An event nests objects and arrays deeper than the limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nesting deeper than {limit}")
        self.limit = limit


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Return whether `value` nests dicts and lists more than `limit` levels deep.

    Walks an explicit stack rather than recursing, so hostile input cannot exhaust the
    interpreter's stack; only containers are pushed, so flat events cost one pass.
    """
    if type(value) is dict and _CONTAINERS.isdisjoint(map(type, value.values())):
        return limit < 1  # a flat object, the usual event: no walk needed
    if type(value) is not dict and type(value) is not list:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        children = container.values() if type(container) is dict else container
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False
