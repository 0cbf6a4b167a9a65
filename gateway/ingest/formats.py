"""Split a log body into events by its media type, reporting each bad line by number.

One bad line never costs the others: valid lines become events, invalid ones become errors
with their 1-based line number (for a JSON array, the item's 1-based index). Blank lines are
skipped silently but keep the numbering.

Media types (parameters such as charset are ignored; the body must be UTF-8):

- `application/x-ndjson`, `application/jsonl`: one JSON object per line.
- `application/json`: one object, or an array of objects.
- `text/plain`: one logfmt line per line; a line that starts with `{` is read as JSON.

NDJSON is the hot path. A body whose lines are all valid JSON and all clear of the limits (the
usual body) is parsed with the loop over its lines run in C (`_parse_ndjson_whole`); any other
body goes line by line (`_parse_ndjson_lines`), with the same results either way. Lines are
parsed straight from bytes by orjson and normalised in place, since the parse result is ours;
a line that already has the canonical keys (structlog's) skips normalisation altogether, and
only lines dense in brackets are walked for their depth.
"""

import io
from dataclasses import dataclass, field
from enum import Enum
from itertools import count, repeat
from operator import itemgetter
from typing import Any, Final, NamedTuple

import orjson

from gateway.ingest.limits import IngestLimits, NestingTooDeep, nesting_exceeds
from gateway.ingest.logfmt import LogfmtError, parse_logfmt
from gateway.ingest.normalize import CANONICAL_LEVELS, normalize_owned

NDJSON_TYPES: Final = frozenset(("application/x-ndjson", "application/jsonl"))
JSON_TYPE: Final = "application/json"
LOGFMT_TYPE: Final = "text/plain"
MEDIA_TYPES: Final = (*sorted(NDJSON_TYPES), JSON_TYPE, LOGFMT_TYPE)

_BOM: Final = b"\xef\xbb\xbf"
_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
# Maps every byte but "\n" to "x"; with horizontal whitespace deleted first, each non-blank
# line starts with "x", so counting them needs no per-line objects (see _count_nonblank_lines).
_MARK_CONTENT: Final = bytes(0x0A if byte == 0x0A else 0x78 for byte in range(256))
_HORIZONTAL_SPACE: Final = b" \t\r\x0b\x0c"
# Maps "[" to "{" and deletes every byte but brackets and "\n": each line's run of "{" is
# then as long as its bracket count (see _lines_with_many_brackets).
_BRACKETS_AS_BRACES: Final = bytes.maketrans(b"[", b"{")
_NOT_BRACKET_OR_NEWLINE: Final = bytes(byte for byte in range(256) if byte not in b"{[\n")
_LEVEL: Final = itemgetter("level")
_HAS: Final = dict.__contains__


class UnsupportedMediaType(ValueError):
    """The Content-Type is missing or is not a log format this gateway parses."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__(f"unsupported media type {content_type!r}")
        self.content_type = content_type


class ParsedLine(NamedTuple):
    """One accepted event and the line it came from."""

    line: int
    event: dict[str, Any]


class LineError(NamedTuple):
    """Why one line (or array item) was rejected."""

    line: int
    error: str


@dataclass(slots=True)
class ParsedBody:
    """The outcome of one body: `received` counts every non-blank line or array item seen."""

    events: list[ParsedLine] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    received: int = 0


def media_type(content_type: str | None) -> str | None:
    """Return the lower-cased media type of a Content-Type value, without its parameters."""
    if content_type is None:
        return None
    return content_type.partition(";")[0].strip().lower()


def parse_log_body(data: bytes, content_type: str | None, limits: IngestLimits) -> ParsedBody:
    """Parse a decoded log body; raise `UnsupportedMediaType` for a type not listed above."""
    kind = media_type(content_type)
    if kind in NDJSON_TYPES:
        return _parse_ndjson(data, limits)
    if kind == LOGFMT_TYPE:
        return _parse_text(data, limits)
    if kind == JSON_TYPE:
        return _parse_document(data, limits)
    raise UnsupportedMediaType(content_type)


def _parse_ndjson(data: bytes, limits: IngestLimits) -> ParsedBody:
    """Parse one JSON object per line: the whole body at once when it allows, else line by line."""
    whole = _parse_ndjson_whole(data, limits)
    return whole if whole is not None else _parse_ndjson_lines(data, limits)


def _parse_ndjson_whole(data: bytes, limits: IngestLimits) -> ParsedBody | None:
    """Parse a body of well-formed lines with no per-line Python work; None when it is not one.

    The per-line loop spends more on its own bookkeeping than orjson spends parsing, and
    most bodies need none of it: no blank line, no line near a limit, nothing to report. For
    such a body the lines are parsed by `map` (each alone, as the per-line loop parses them,
    so a line is accepted here exactly when it is there) and checked in whole-list passes.
    Any line that could meet a limit, any blank or invalid line leaves the body to the
    per-line loop, which then does all the work again: at most twice the parsing, bounded
    by the same limits, for a body that is not well-formed.
    """
    max_lines, max_depth = limits.max_lines, limits.max_depth
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    if body.count(b"\n") > max_lines:
        # Counted before splitting: a body of millions of tiny lines must never become a
        # list; the per-line loop reads it lazily and only counts what is past the limit.
        return None
    lines = body.split(b"\n")
    while lines and not lines[-1]:
        lines.pop()  # the final line ending; trailing blank lines number nothing after them
    # A line shorter than the limit even with its "\n" never meets the per-line size gate, and
    # with at most max_lines lines the count gate is never met either.
    if not lines or len(lines) > max_lines or max(map(len, lines)) >= limits.max_line_bytes:
        return None
    try:
        objs = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:  # a blank or invalid line, reported by the per-line loop
        return None
    result = ParsedBody(received=len(objs))
    dense = _lines_with_many_brackets(data, max_depth, max_lines)
    if not dense and _all_canonical(objs):
        # What ParsedLine._make does per line, with the loop in C.
        result.events = list(map(tuple.__new__, repeat(ParsedLine), zip(count(1), objs)))
        return result
    events, errors = result.events, result.errors
    new_record, record_type, add_event = tuple.__new__, ParsedLine, events.append
    canonical = CANONICAL_LEVELS
    # The steps of _parse_ndjson_lines after its orjson.loads, kept inline there for speed.
    for lineno, obj in enumerate(objs, 1):
        if type(obj) is dict and lineno not in dense:
            level = obj.get("level")
            if not (
                type(level) is str and level in canonical and "event" in obj and "timestamp" in obj
            ):
                try:
                    obj = normalize_owned(obj, max_depth)
                except NestingTooDeep as exc:
                    errors.append(LineError(lineno, str(exc)))
                    continue
            add_event(new_record(record_type, (lineno, obj)))
        else:
            _accept(result, lineno, obj, max_depth)
    return result


def _all_canonical(objs: list[Any]) -> bool:
    """Tell whether every parsed line is an object that normalisation would leave as it is.

    The same test as the per-line loop's (`event`, `timestamp` and a canonical `level`), in a
    few passes that run in C: the `level` lookup fails for anything but an object holding one.
    """
    try:
        levels = set(map(_LEVEL, objs))
    except (KeyError, TypeError):  # a line without `level`, a non-object, an unhashable level
        return False
    # Only a str equals a str, so a level found in CANONICAL_LEVELS is a string.
    return (
        levels <= CANONICAL_LEVELS
        and all(map(_HAS, objs, repeat("event")))
        and all(map(_HAS, objs, repeat("timestamp")))
    )


def _parse_ndjson_lines(data: bytes, limits: IngestLimits) -> ParsedBody:
    """Parse one JSON object per line, applying every limit and reporting each bad line."""
    result = ParsedBody()
    events, errors = result.events, result.errors
    max_line, max_lines, max_depth = limits.max_line_bytes, limits.max_lines, limits.max_depth
    # Only lines with more brackets than the limit can nest deeper than it; finding them in
    # one pass over the body spares every other line a walk of its parsed object.
    dense = _lines_with_many_brackets(data, max_depth, max_lines)
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    # What ParsedLine._make does, minus a Python-level call per line.
    new_record, record_type, add_event = tuple.__new__, ParsedLine, events.append
    canonical = CANONICAL_LEVELS
    stream = _line_stream(data)
    for lineno, raw in enumerate(stream, 1):
        if (lineno > max_lines or len(raw) > max_line) and (
            gate := _gate(result, limits, stream, lineno, raw)
        ) is not _Gate.PARSE:
            if gate is _Gate.STOP:
                break
            continue
        try:
            obj = loads(raw)
        except decode_error as exc:
            if not raw.isspace():  # orjson refuses blank input; a blank line is no error
                errors.append(LineError(lineno, _json_error(raw, exc, max_depth)))
            continue
        if type(obj) is dict and lineno not in dense:
            # structlog's lines already have the canonical keys (see CANONICAL_LEVELS), and
            # normalising them would change nothing: skip the call for them.
            level = obj.get("level")
            if not (
                type(level) is str and level in canonical and "event" in obj and "timestamp" in obj
            ):
                try:
                    obj = normalize_owned(obj, max_depth)
                except NestingTooDeep as exc:
                    errors.append(LineError(lineno, str(exc)))
                    continue
            add_event(new_record(record_type, (lineno, obj)))
        else:
            _accept(result, lineno, obj, max_depth)
    result.received += len(events) + len(errors)
    return result


def _parse_text(data: bytes, limits: IngestLimits) -> ParsedBody:
    """Parse one logfmt line per line; a line starting with `{` is read as a JSON object."""
    result = ParsedBody()
    max_line, max_lines, max_depth = limits.max_line_bytes, limits.max_lines, limits.max_depth
    stream = _line_stream(data)
    for lineno, raw in enumerate(stream, 1):
        if (lineno > max_lines or len(raw) > max_line) and (
            gate := _gate(result, limits, stream, lineno, raw)
        ) is not _Gate.PARSE:
            if gate is _Gate.STOP:
                break
            continue
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"{"):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                result.errors.append(LineError(lineno, _json_error(line, exc, max_depth)))
                continue
        else:
            try:
                obj = parse_logfmt(line.decode())
            except UnicodeDecodeError:
                result.errors.append(LineError(lineno, "invalid UTF-8"))
                continue
            except LogfmtError as exc:
                result.errors.append(LineError(lineno, f"invalid logfmt: {exc}"))
                continue
        _accept(result, lineno, obj, max_depth)
    result.received += len(result.events) + len(result.errors)
    return result


def _line_stream(data: bytes) -> io.BytesIO:
    """Return a reader that yields the body's lines one at a time, past a UTF-8 BOM.

    `io.BytesIO` shares the body's buffer, so a body of many tiny lines is never a list.
    """
    stream = io.BytesIO(data)
    if data.startswith(_BOM):
        stream.seek(len(_BOM))
    return stream


class _Gate(Enum):
    PARSE = "parse"
    SKIP = "skip"
    STOP = "stop"


def _gate(
    result: ParsedBody, limits: IngestLimits, stream: io.BytesIO, lineno: int, raw: bytes
) -> _Gate:
    """Apply the line count and size limits to a line that may break them.

    Return PARSE to go on, SKIP to pass over the line (recording any error), or STOP
    once `max_lines` non-blank lines were taken: then one error stands for the first line
    beyond, and the rest of the body is only counted into `result.received`.
    """
    # Each non-blank line so far left one event or one error, so the sum counts them.
    if lineno > limits.max_lines and len(result.events) + len(result.errors) >= limits.max_lines:
        if raw.isspace():
            return _Gate.SKIP
        result.errors.append(LineError(lineno, f"too many lines: limit {limits.max_lines}"))
        result.received = _count_nonblank_lines(stream.read())
        return _Gate.STOP
    if len(raw) > limits.max_line_bytes and (size := _content_length(raw)) > limits.max_line_bytes:
        if not raw.isspace():
            result.errors.append(
                LineError(lineno, f"line is {size} bytes, limit {limits.max_line_bytes}")
            )
        return _Gate.SKIP
    return _Gate.PARSE


def _parse_document(data: bytes, limits: IngestLimits) -> ParsedBody:
    """Parse an `application/json` body: one object (line 1) or an array (items 1..n)."""
    result = ParsedBody()
    body = memoryview(data)[len(_BOM) :] if data.startswith(_BOM) else data
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not data.strip():
            return result
        result.received = 1
        result.errors.append(LineError(1, _json_error(data, exc, limits.max_depth)))
        return result
    if type(doc) is list:
        result.received = len(doc)
        for index, item in enumerate(doc[: limits.max_lines], 1):
            _accept(result, index, item, limits.max_depth)
        if len(doc) > limits.max_lines:
            result.errors.append(
                LineError(limits.max_lines + 1, f"too many lines: limit {limits.max_lines}")
            )
    elif type(doc) is dict:
        result.received = 1
        _accept(result, 1, doc, limits.max_depth)
    else:
        result.received = 1
        result.errors.append(
            LineError(1, f"expected a JSON object or array, got {json_type_name(doc)}")
        )
    return result


def _accept(result: ParsedBody, line: int, obj: Any, max_depth: int) -> None:
    """Add `obj` as the event of `line`, or the reason it cannot be one."""
    if type(obj) is not dict:
        result.errors.append(LineError(line, f"expected a JSON object, got {json_type_name(obj)}"))
        return
    try:
        if nesting_exceeds(obj, max_depth):
            raise NestingTooDeep(max_depth)
        result.events.append(ParsedLine(line, normalize_owned(obj, max_depth)))
    except NestingTooDeep as exc:
        result.errors.append(LineError(line, str(exc)))


def _json_error(raw: bytes, exc: orjson.JSONDecodeError, max_depth: int) -> str:
    """Describe why a line is not JSON; runs only for lines that failed to parse."""
    try:
        raw.decode()
    except UnicodeDecodeError:
        return "invalid UTF-8"
    if "depth" in exc.msg or "recursion" in exc.msg.lower():
        # orjson's own ceiling is far above ours, so the event is too deep either way.
        return f"nesting deeper than {max_depth}"
    if exc.lineno > 1:
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return f"invalid JSON: {exc.msg} at column {exc.colno}"


def json_type_name(value: Any) -> str:
    """Return the JSON name of a decoded value's type: object, array, string, number..."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _content_length(raw: bytes) -> int:
    """Return the length of a line without its "\\n" or "\\r\\n" ending."""
    if raw.endswith(b"\r\n"):
        return len(raw) - 2
    if raw.endswith(b"\n"):
        return len(raw) - 1
    return len(raw)


def _lines_with_many_brackets(data: bytes, limit: int, most: int) -> frozenset[int]:
    """Return the numbers of the first `most` lines holding more than `limit` brackets.

    No more are needed: parsing stops after `most` non-blank lines, and these are non-blank.
    """
    marks = data.translate(_BRACKETS_AS_BRACES, _NOT_BRACKET_OR_NEWLINE)
    run = b"{" * (limit + 1)
    found: set[int] = set()
    line, counted_to = 1, 0
    pos = marks.find(run)
    while pos >= 0 and len(found) < most:
        line += marks.count(b"\n", counted_to, pos)
        found.add(line)
        counted_to = marks.find(b"\n", pos)
        if counted_to < 0:
            break
        pos = marks.find(run, counted_to)
    return frozenset(found)


def _count_nonblank_lines(data: bytes) -> int:
    """Count the lines of `data` holding anything but whitespace, in a few passes of C."""
    marked = data.translate(_MARK_CONTENT, _HORIZONTAL_SPACE)
    return marked.count(b"\nx") + (marked[:1] == b"x")
