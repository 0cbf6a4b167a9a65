"""parse_log_body: good bodies in every media type, then hostile ones with their exact errors."""

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from gateway.ingest.formats import (
    LineError,
    ParsedBody,
    ParsedLine,
    UnsupportedMediaType,
    parse_log_body,
)
from gateway.ingest.limits import IngestLimits

NDJSON = "application/x-ndjson"
JSONL = "application/jsonl"
JSON = "application/json"
TEXT = "text/plain"
LIMITS = IngestLimits()


def nested(depth: int) -> bytes:
    """Return a JSON object nested `depth` levels deep (`{}` is depth 1)."""
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def nested_array_value(depth: int) -> bytes:
    """Return an object whose value is arrays nested so the whole is `depth` levels deep."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def sized_line(size: int) -> bytes:
    """Return a JSON object line of exactly `size` bytes."""
    return b'{"a":"' + b"x" * (size - 8) + b'"}'


@dataclass(frozen=True)
class Case:
    """One body and what parsing it must give: events by line, errors by line, received."""

    content_type: str | None
    body: bytes
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    received: int | None = None
    limits: IngestLimits = LIMITS


def check(case: Case) -> ParsedBody:
    parsed = parse_log_body(case.body, case.content_type, case.limits)
    assert [(e.line, e.event) for e in parsed.events] == case.events
    assert [(e.line, e.error) for e in parsed.errors] == case.errors
    expected_received = (
        case.received if case.received is not None else len(case.events) + len(case.errors)
    )
    assert parsed.received == expected_received
    return parsed


STRUCTLOG = {"event": "order sync failed", "level": "error", "timestamp": "2024-05-01T12:00:00Z"}
STRUCTLOG_LINE = orjson.dumps(STRUCTLOG)

GOOD: dict[str, Case] = {
    "ndjson one line": Case(NDJSON, STRUCTLOG_LINE, [(1, STRUCTLOG)]),
    "ndjson trailing newline": Case(NDJSON, STRUCTLOG_LINE + b"\n", [(1, STRUCTLOG)]),
    "jsonl with parameters and capitals": Case(
        "Application/JSONL; charset=utf-8", STRUCTLOG_LINE, [(1, STRUCTLOG)]
    ),
    "ndjson CRLF and blank lines keep numbering": Case(
        NDJSON,
        b'{"event":"a"}\r\n\r\n   \n\t\r\n{"event":"b"}\r\n',
        [(1, {"event": "a"}), (5, {"event": "b"})],
    ),
    "ndjson byte order mark": Case(NDJSON, b"\xef\xbb\xbf" + STRUCTLOG_LINE, [(1, STRUCTLOG)]),
    "ndjson lines are normalised": Case(
        NDJSON,
        b'{"message":"hi","levelname":"WARNING","asctime":"t"}\n{"msg":"yo","level":30}',
        [
            (
                1,
                {
                    "message": "hi",
                    "levelname": "WARNING",
                    "asctime": "t",
                    "event": "hi",
                    "level": "warning",
                    "timestamp": "t",
                },
            ),
            (2, {"msg": "yo", "level": "info", "event": "yo"}),
        ],
    ),
    "ndjson upper-case level is lowered": Case(
        JSONL,
        b'{"event":"e","level":"ERROR","timestamp":"t"}',
        [(1, {"event": "e", "level": "error", "timestamp": "t"})],
    ),
    "ndjson docker json-file line": Case(
        NDJSON,
        orjson.dumps(
            {"log": '{"event":"boot","level":"info"}\n', "stream": "stderr", "time": "t0"}
        ),
        [(1, {"event": "boot", "level": "info", "stream": "stderr", "timestamp": "t0"})],
    ),
    "ndjson depth 32 is allowed": Case(NDJSON, nested(32), [(1, orjson.loads(nested(32)))]),
    "ndjson arrays count toward depth, 32 allowed": Case(
        NDJSON, nested_array_value(32), [(1, orjson.loads(nested_array_value(32)))]
    ),
    "ndjson dense brackets inside strings are not nesting": Case(
        NDJSON, b'{"a":"' + b"{[" * 40 + b'"}', [(1, {"a": "{[" * 40})]
    ),
    "ndjson line of exactly the limit": Case(
        NDJSON,
        sized_line(64 * 1024) + b"\r\n",
        [(1, {"a": "x" * (64 * 1024 - 8)})],
    ),
    "ndjson exactly max_lines": Case(
        NDJSON,
        b"{}\n\n{}\n{}",
        [(1, {}), (3, {}), (4, {})],
        limits=IngestLimits(max_lines=3),
    ),
    "ndjson empty body": Case(NDJSON, b""),
    "ndjson only blank lines": Case(NDJSON, b"\n \r\n\t\n"),
    "json one object is line 1": Case(JSON, STRUCTLOG_LINE, [(1, STRUCTLOG)]),
    "json array items are lines by index": Case(
        "application/json; charset=utf-8",
        b'[{"event":"a"},\n\n{"event":"b"}]',
        [(1, {"event": "a"}), (2, {"event": "b"})],
    ),
    "json empty array": Case(JSON, b"[]"),
    "json blank body": Case(JSON, b"  \n"),
    "json depth 32 inside an array item": Case(
        JSON, b"[" + nested(32) + b"]", [(1, orjson.loads(nested(32)))]
    ),
    "logfmt lines": Case(
        TEXT,
        b'level=INFO msg="order synced" store=42 retry\nts=2024-05-01 event=x key=\n',
        [
            (
                1,
                {
                    "level": "info",
                    "msg": "order synced",
                    "store": "42",
                    "retry": True,
                    "event": "order synced",
                },
            ),
            (2, {"ts": "2024-05-01", "event": "x", "key": "", "timestamp": "2024-05-01"}),
        ],
    ),
    "text line that is a JSON object is read as JSON": Case(
        "text/plain; charset=utf-8",
        b'a=1\r\n  {"event": "json", "n": 2}  \r\n\r\nb=2',
        [(1, {"a": "1"}), (2, {"event": "json", "n": 2}), (4, {"b": "2"})],
    ),
    "text with UTF-8 values": Case(TEXT, "user=José".encode(), [(1, {"user": "José"})]),
}

HOSTILE: dict[str, Case] = {
    "invalid JSON between valid lines": Case(
        NDJSON,
        b'{"a": 1}\n{"a": tru}\n{"b": 2}\n',
        [(1, {"a": 1}), (3, {"b": 2})],
        [(2, "invalid JSON: invalid literal, expected 'true' at column 7")],
    ),
    "content after the object": Case(
        NDJSON,
        b'{"a": 1} trailing',
        errors=[(1, "invalid JSON: unexpected content after document at column 10")],
    ),
    "two objects on one line": Case(
        NDJSON,
        b'{"a":1}{"b":2}',
        errors=[(1, "invalid JSON: unexpected content after document at column 8")],
    ),
    "non-object lines": Case(
        NDJSON,
        b'[1, 2]\n"text"\n42\n1.5\nnull\ntrue\n{"ok": 1}',
        [(7, {"ok": 1})],
        [
            (1, "expected a JSON object, got array"),
            (2, "expected a JSON object, got string"),
            (3, "expected a JSON object, got number"),
            (4, "expected a JSON object, got number"),
            (5, "expected a JSON object, got null"),
            (6, "expected a JSON object, got boolean"),
        ],
    ),
    "invalid UTF-8 in an NDJSON line": Case(
        NDJSON,
        b'{"a": "ok"}\n{"a": "\xff\xfe"}\n',
        [(1, {"a": "ok"})],
        [(2, "invalid UTF-8")],
    ),
    "invalid UTF-8 in a logfmt line": Case(
        TEXT, b"a=1\nb=\xc3\x28\nc=3", [(1, {"a": "1"}), (3, {"c": "3"})], [(2, "invalid UTF-8")]
    ),
    "lone surrogate escape": Case(
        NDJSON,
        b'{"a": "\\ud800"}',
        errors=[(1, "invalid JSON: no low surrogate in string at column 8")],
    ),
    "depth 33": Case(NDJSON, nested(33), errors=[(1, "nesting deeper than 32")]),
    "depth 33 through arrays": Case(
        NDJSON, nested_array_value(33), errors=[(1, "nesting deeper than 32")]
    ),
    "depth 33 among shallow lines": Case(
        NDJSON,
        b"{}\n" + nested(33) + b"\n" + nested(32) + b"\n{}",
        [(1, {}), (3, orjson.loads(nested(32))), (4, {})],
        [(2, "nesting deeper than 32")],
    ),
    "every line too deep, past the line limit": Case(
        NDJSON,
        (nested(33) + b"\n") * 5,
        errors=[
            (1, "nesting deeper than 32"),
            (2, "nesting deeper than 32"),
            (3, "nesting deeper than 32"),
            (4, "too many lines: limit 3"),
        ],
        received=5,
        limits=IngestLimits(max_lines=3),
    ),
    "depth beyond the JSON parser's own ceiling": Case(
        NDJSON, b"[" * 2000 + b"]" * 2000, errors=[(1, "nesting deeper than 32")]
    ),
    "depth 33 in a text/plain JSON line": Case(
        TEXT, b"a=1\n" + nested(33), [(1, {"a": "1"})], [(2, "nesting deeper than 32")]
    ),
    "depth 33 in a json body": Case(JSON, nested(33), errors=[(1, "nesting deeper than 32")]),
    "depth 33 in one json array item": Case(
        JSON,
        b"[{}, " + nested(33) + b", {}]",
        [(1, {}), (3, {})],
        [(2, "nesting deeper than 32")],
    ),
    "depth 33 inside a docker line's text": Case(
        NDJSON,
        orjson.dumps({"log": nested(33).decode(), "stream": "stdout", "time": "t"}),
        errors=[(1, "nesting deeper than 32")],
    ),
    "oversize line": Case(
        NDJSON,
        b"{}\n" + sized_line(70_000) + b"\r\n{}",
        [(1, {}), (3, {})],
        [(2, "line is 70000 bytes, limit 65536")],
    ),
    "oversize line one byte over": Case(
        NDJSON,
        sized_line(64 * 1024 + 1),
        errors=[(1, "line is 65537 bytes, limit 65536")],
    ),
    "oversize blank line is still blank": Case(NDJSON, b" " * 70_000 + b"\n{}", [(2, {})]),
    "too many lines: the rest are counted, not parsed": Case(
        NDJSON,
        b'{}\n{}\n\n{}\n{"x": 1}\nnot json\n\n  \n[1]\n',
        [(1, {}), (2, {}), (4, {})],
        [(5, "too many lines: limit 3")],
        received=6,
        limits=IngestLimits(max_lines=3),
    ),
    "too many lines: blank lines after the limit are not lines": Case(
        NDJSON,
        b"{}\n\n \n",
        [(1, {})],
        limits=IngestLimits(max_lines=1),
    ),
    "too many lines in text/plain": Case(
        TEXT,
        b"a=1\nb=2\nc=3\r\nd=4",
        [(1, {"a": "1"}), (2, {"b": "2"})],
        [(3, "too many lines: limit 2")],
        received=4,
        limits=IngestLimits(max_lines=2),
    ),
    "too many items in a json array": Case(
        JSON,
        b"[{}, {}, 1, {}, {}]",
        [(1, {}), (2, {})],
        [(3, "too many lines: limit 2")],
        received=5,
        limits=IngestLimits(max_lines=2),
    ),
    "invalid json body": Case(
        JSON,
        b'{"a": 1,\n "b": }',
        errors=[
            (1, "invalid JSON: unexpected character, expected a JSON value at line 2 column 7")
        ],
    ),
    "json body that is not an object or array": Case(
        JSON, b'"just text"', errors=[(1, "expected a JSON object or array, got string")]
    ),
    "json array of non-objects": Case(
        JSON,
        b'[{"a": 1}, [], null]',
        [(1, {"a": 1})],
        [(2, "expected a JSON object, got array"), (3, "expected a JSON object, got null")],
    ),
    "invalid UTF-8 in a json body": Case(JSON, b'{"a": "\xff"}', errors=[(1, "invalid UTF-8")]),
    "unterminated logfmt quote": Case(
        TEXT,
        b'msg="unterminated\nok=1',
        [(2, {"ok": "1"})],
        [(1, "invalid logfmt: unterminated quoted value at column 5")],
    ),
    "broken JSON on a text/plain line": Case(
        TEXT, b'{"a":', errors=[(1, "invalid JSON: unexpected end of data at column 6")]
    ),
}


class TestParseLogBody:
    @pytest.mark.parametrize("case", GOOD.values(), ids=GOOD.keys())
    def test_good_bodies(self, case: Case) -> None:
        """Each media type yields its events by line number, with no errors."""
        check(case)

    @pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
    def test_hostile_bodies(self, case: Case) -> None:
        """Bad lines become errors at their exact line; the good lines around them survive."""
        check(case)

    @pytest.mark.parametrize(
        "content_type",
        [None, "", "application/xml", "text/html", "application/x-ndjson-seq", "multipart/form"],
    )
    def test_unsupported_media_type(self, content_type: str | None) -> None:
        """A missing or unknown Content-Type is refused, naming the value received."""
        with pytest.raises(UnsupportedMediaType) as caught:
            parse_log_body(b"{}", content_type, LIMITS)
        assert caught.value.content_type == content_type

    def test_default_line_limit(self) -> None:
        """With the default limits, line 10,001 is the first refused."""
        parsed = parse_log_body(b"{}\n" * 10_001, NDJSON, LIMITS)
        assert len(parsed.events) == 10_000
        assert parsed.errors == [LineError(10_001, "too many lines: limit 10000")]
        assert parsed.received == 10_001

    def test_huge_count_of_tiny_lines_is_counted_quickly(self) -> None:
        """A 10 MiB body of tiny lines past the limit is counted exactly, without parsing."""
        body = b"{}\n" * (10 * 1024 * 1024 // 3)
        started = time.perf_counter()
        parsed = parse_log_body(body, NDJSON, LIMITS)
        assert parsed.received == 10 * 1024 * 1024 // 3
        assert len(parsed.events) == 10_000
        assert time.perf_counter() - started < 5

    def test_parsed_records_are_typed(self) -> None:
        """Events and errors are ParsedLine and LineError records."""
        parsed = parse_log_body(b'{"a": 1}\n[]', NDJSON, LIMITS)
        assert parsed.events == [ParsedLine(1, {"a": 1})]
        assert isinstance(parsed.events[0], ParsedLine)
        assert isinstance(parsed.errors[0], LineError)

    def test_mixed_body_keeps_line_order(self) -> None:
        """Events and errors each come in line order."""
        lines = [b"{}" if n % 3 else b"oops" for n in range(1, 301)]
        parsed = parse_log_body(b"\n".join(lines), NDJSON, LIMITS)
        assert [e.line for e in parsed.events] == [n for n in range(1, 301) if n % 3]
        assert [e.line for e in parsed.errors] == list(range(3, 301, 3))
        assert parsed.received == 300
