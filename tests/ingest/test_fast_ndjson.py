"""The whole-body NDJSON parse: the same events, errors and counts as the per-line loop.

`_parse_ndjson_whole` takes a body only when no line can meet a limit or fail; whatever it
returns must be exactly what `_parse_ndjson_lines` gives for that body, and `parse_log_body`
must give the per-line result for every body, whichever path it took.
"""

import json
import tracemalloc
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.ingest import formats
from gateway.ingest.formats import ParsedBody, parse_log_body
from gateway.ingest.limits import IngestLimits

NDJSON = "application/x-ndjson"
LIMITS = IngestLimits()
BOM = b"\xef\xbb\xbf"


def outcome(parsed: ParsedBody) -> tuple[list[tuple[int, Any]], list[tuple[int, str]], int]:
    return (
        [(record.line, record.event) for record in parsed.events],
        [(error.line, error.error) for error in parsed.errors],
        parsed.received,
    )


def structlog_line(index: int, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "event": "order.created",
            "level": "info",
            "timestamp": "2026-11-25T08:00:00Z",
            "n": index,
            **extra,
        }
    )


def nested(depth: int) -> bytes:
    """A line holding an object nested `depth` levels deep (`{}` is depth 1)."""
    return b'{"event":"x","a":' + b"[" * (depth - 2) + b"{}" + b"]" * (depth - 2) + b"}"


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
levels = st.sampled_from(["info", "error", "warning", "INFO", "Error", 30, 50, None, ["x"], True])
keys = st.sampled_from(
    ["event", "msg", "message", "level", "levelname", "severity", "timestamp", "time", "ts"]
)


@st.composite
def logger_objects(draw: st.DrawFn) -> dict[str, Any]:
    """An object as some logger writes it: canonical keys or their aliases, and other fields."""
    obj: dict[str, Any] = {key: draw(json_scalars) for key in draw(st.lists(keys, max_size=5))}
    if draw(st.booleans()):
        obj.update(event="order.created", level=draw(levels), timestamp="2026-11-25T08:00:00Z")
    obj.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4)))
    return obj


@st.composite
def docker_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A Docker json-file line, its `log` text a JSON object (maybe deep) or plain text."""
    inner = draw(
        st.one_of(
            logger_objects().map(lambda obj: orjson.dumps(obj).decode()),
            st.integers(min_value=1, max_value=8).map(lambda depth: nested(depth).decode()),
            st.text(max_size=20),
        )
    )
    return {"log": inner + "\n", "stream": "stdout", "time": "2026-11-25T08:00:00Z"}


def render(obj: Any, spaced: bool) -> bytes:
    # json.dumps with spaces after separators: the same value, other bytes than orjson's.
    return json.dumps(obj, ensure_ascii=False).encode() if spaced else orjson.dumps(obj)


VALID_KINDS = ["object", "object", "object", "docker", "value", "nested"]
ANY_KINDS = [*VALID_KINDS, "blank", "broken", "long", "bytes"]


@st.composite
def lines(draw: st.DrawFn, valid_only: bool = False) -> bytes:
    kind = draw(st.sampled_from(VALID_KINDS if valid_only else ANY_KINDS))
    if kind == "object":
        return render(draw(logger_objects()), draw(st.booleans()))
    if kind == "docker":
        return render(draw(docker_objects()), draw(st.booleans()))
    if kind == "value":
        return render(draw(json_values), draw(st.booleans()))
    if kind == "nested":
        return nested(draw(st.integers(min_value=2, max_value=9)))
    if kind == "blank":
        return draw(st.sampled_from([b"", b" ", b"\t", b"\r", b"  \r"]))
    if kind == "broken":
        whole = render(draw(logger_objects()), False)
        return whole[: draw(st.integers(min_value=0, max_value=len(whole) - 1))]
    if kind == "long":
        return structlog_line(0, pad="x" * draw(st.integers(min_value=0, max_value=300)))
    return draw(st.binary(max_size=20))


@st.composite
def bodies(draw: st.DrawFn, valid_only: bool = False) -> bytes:
    """A body of mixed lines; `valid_only`: each line valid JSON, mostly taken whole."""
    parts: list[bytes] = draw(st.lists(lines(valid_only), max_size=14))
    endings = [draw(st.sampled_from([b"\n", b"\r\n"])) for _ in parts]
    body = b"".join(line + ending for line, ending in zip(parts, endings, strict=True))
    unended = draw(st.booleans())
    if parts and unended:
        body = body[: -len(endings[-1])]  # no ending after the last line
    if draw(st.booleans()):
        body += b"\n" * draw(st.integers(min_value=1, max_value=3))
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        body = BOM + body
    return body


@st.composite
def limits(draw: st.DrawFn) -> IngestLimits:
    if draw(st.booleans()):
        return LIMITS
    return IngestLimits(
        max_line_bytes=draw(st.integers(min_value=1, max_value=400)),
        max_lines=draw(st.integers(min_value=1, max_value=16)),
        max_depth=draw(st.integers(min_value=1, max_value=8)),
    )


class TestSameAsPerLine:
    @given(body=bodies(), limits=limits())
    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @example(body=b'{"event":"a","level":"info","timestamp":1}\n' * 3, limits=LIMITS)
    @example(body=b'{"a":[1\n2]}\n', limits=LIMITS)
    @example(body=b'{"x":"}]","a":[{}\n{"y":"[["}]},{}\n', limits=LIMITS)
    @example(body=BOM + b'{"msg":"m","levelname":"ERROR"}\r\n[1]\r\n', limits=LIMITS)
    def test_whole_body_parse_agrees_with_the_per_line_loop(
        self, body: bytes, limits: IngestLimits
    ) -> None:
        """Every body parses to the same events, errors and count as line by line."""
        per_line = outcome(formats._parse_ndjson_lines(body, limits))
        whole = formats._parse_ndjson_whole(body, limits)
        if whole is not None:
            assert outcome(whole) == per_line
        assert outcome(parse_log_body(body, NDJSON, limits)) == per_line

    @given(body=bodies(valid_only=True), limits=limits())
    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def test_valid_lines_agree_with_the_per_line_loop(
        self, body: bytes, limits: IngestLimits
    ) -> None:
        """Bodies of valid JSON lines, which mostly take the whole-body path, agree too."""
        per_line = outcome(formats._parse_ndjson_lines(body, limits))
        whole = formats._parse_ndjson_whole(body, limits)
        if whole is not None:
            assert outcome(whole) == per_line
        assert outcome(parse_log_body(body, NDJSON, limits)) == per_line


class TestWholeBodyIsTaken:
    """The fast path must actually run for clean bodies, or it saves nothing."""

    def test_clean_structlog_body(self) -> None:
        """Canonical lines are taken whole, numbered from 1, as ParsedLine records."""
        body = b"\n".join(structlog_line(index) for index in range(50)) + b"\n"
        whole = formats._parse_ndjson_whole(body, LIMITS)
        assert whole is not None
        assert [record.line for record in whole.events] == list(range(1, 51))
        assert all(type(record) is formats.ParsedLine for record in whole.events)
        assert whole.events[7].event["n"] == 7
        assert whole.received == 50
        assert not whole.errors

    def test_lines_that_need_normalising(self) -> None:
        """Aliased keys are normalised on the whole-body path too."""
        body = b'{"msg":"boom","levelname":"ERROR","time":"t"}\n{"event":"e","level":50}\n'
        whole = formats._parse_ndjson_whole(body, LIMITS)
        assert whole is not None
        assert [record.event["level"] for record in whole.events] == ["error", "error"]
        assert whole.events[0].event["event"] == "boom"
        assert whole.events[0].event["timestamp"] == "t"

    def test_crlf_bom_and_trailing_blank_lines(self) -> None:
        """CRLF endings, a BOM and blank lines after the last line keep the whole-body path."""
        body = BOM + structlog_line(1) + b"\r\n" + structlog_line(2) + b"\r\n\n\n"
        whole = formats._parse_ndjson_whole(body, LIMITS)
        assert whole is not None
        assert [record.line for record in whole.events] == [1, 2]

    def test_non_objects_and_deep_lines_are_reported_by_line(self) -> None:
        """A valid body with bad values still goes whole, each bad line reported."""
        limits = IngestLimits(max_depth=3)
        body = structlog_line(1) + b"\n[1,2]\n" + nested(4) + b"\n" + structlog_line(4) + b"\n"
        whole = formats._parse_ndjson_whole(body, limits)
        assert whole is not None
        assert [record.line for record in whole.events] == [1, 4]
        assert [(error.line, error.error) for error in whole.errors] == [
            (2, "expected a JSON object, got array"),
            (3, "nesting deeper than 3"),
        ]
        assert whole.received == 4


class TestLimitsLeaveItToThePerLineLoop:
    """A body that could meet a limit, or holds a blank or invalid line, is not taken whole."""

    def test_more_lines_than_the_limit(self) -> None:
        body = b"\n".join(structlog_line(index) for index in range(3))
        assert formats._parse_ndjson_whole(body, IngestLimits(max_lines=2)) is None
        parsed = parse_log_body(body, NDJSON, IngestLimits(max_lines=2))
        assert [(e.line, e.error) for e in parsed.errors] == [(3, "too many lines: limit 2")]

    def test_many_tiny_lines_are_never_split_into_a_list(self) -> None:
        """Past max_lines, the body is left to the lazy per-line loop before any split."""
        body = b"{}\n" * 1_000_000
        tracemalloc.start()
        try:
            assert formats._parse_ndjson_whole(body, LIMITS) is None
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 100_000  # a list of a million lines would take 8 MB of pointers alone

    def test_a_line_at_the_size_limit(self) -> None:
        line = structlog_line(0)
        assert formats._parse_ndjson_whole(line, IngestLimits(max_line_bytes=len(line))) is None
        parsed = parse_log_body(line + b"x\n", NDJSON, IngestLimits(max_line_bytes=len(line)))
        assert [(e.line, e.error) for e in parsed.errors] == [
            (1, f"line is {len(line) + 1} bytes, limit {len(line)}")
        ]

    def test_blank_and_invalid_lines(self) -> None:
        for middle in (b"", b"   ", b"\r", b"{", b"\xff"):
            body = structlog_line(1) + b"\n" + middle + b"\n" + structlog_line(3) + b"\n"
            assert formats._parse_ndjson_whole(body, LIMITS) is None

    def test_lines_valid_only_when_joined(self) -> None:
        """Lines that would form objects if joined are each an error, as line by line."""
        body = b'{"x":"}]","a":[{}\n{"y":"[["}]},{}\n'
        parsed = parse_log_body(body, NDJSON, LIMITS)
        assert not parsed.events
        assert [error.line for error in parsed.errors] == [1, 2]
