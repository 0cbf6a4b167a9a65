"""IngestLimits and the nesting check: defaults, refused settings, and the depth boundary."""

import time
from typing import Any

import pytest

from gateway.ingest.limits import IngestLimits, nesting_exceeds


def nested_dicts(depth: int) -> dict[str, Any]:
    """Return dicts nested `depth` levels deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


class TestIngestLimits:
    def test_defaults(self) -> None:
        """The defaults are 10 MiB, 64 KiB lines, 10,000 lines and depth 32."""
        limits = IngestLimits()
        assert limits.max_body_bytes == 10 * 1024 * 1024
        assert limits.max_line_bytes == 64 * 1024
        assert limits.max_lines == 10_000
        assert limits.max_depth == 32

    def test_frozen(self) -> None:
        """Limits cannot be changed after they are made."""
        limits = IngestLimits()
        with pytest.raises(AttributeError):
            limits.max_lines = 1  # type: ignore[misc]

    @pytest.mark.parametrize(
        "options",
        [{"max_body_bytes": 0}, {"max_line_bytes": -1}, {"max_lines": True}, {"max_depth": 1.5}],
        ids=["zero", "negative", "bool", "float"],
    )
    def test_refused_values(self, options: dict[str, Any]) -> None:
        """A limit that is not a positive integer is refused, naming the field."""
        with pytest.raises(ValueError, match=next(iter(options))):
            IngestLimits(**options)


DEPTHS: dict[str, tuple[Any, int]] = {
    "scalar": (1, 0),
    "empty object": ({}, 1),
    "flat object": ({"a": 1, "b": "x", "c": None}, 1),
    "object in an object": ({"a": {}}, 2),
    "array in an object": ({"a": []}, 2),
    "wide but shallow": ({str(n): [n] for n in range(1000)}, 2),
    "32 levels": (nested_dicts(32), 32),
    "arrays to 32 levels": ({"a": [[[[]]]]}, 5),
}


class TestNestingExceeds:
    @pytest.mark.parametrize(("value", "depth"), DEPTHS.values(), ids=DEPTHS.keys())
    def test_depth_boundary(self, value: Any, depth: int) -> None:
        """A value of depth d passes a limit of d and fails a limit of d - 1."""
        assert not nesting_exceeds(value, max(depth, 1))
        if depth > 1:
            assert nesting_exceeds(value, depth - 1)

    def test_depth_33_against_32(self) -> None:
        """Depth 33 exceeds the default limit; depth 32 does not."""
        assert nesting_exceeds(nested_dicts(33), 32)
        assert not nesting_exceeds(nested_dicts(32), 32)

    def test_deep_values_do_not_recurse(self) -> None:
        """A value far deeper than the interpreter's recursion limit is checked quickly."""
        value: list[Any] = []
        for _ in range(200_000):
            value = [value]
        started = time.perf_counter()
        assert nesting_exceeds(value, 32)
        assert time.perf_counter() - started < 1
