"""Give every event the canonical keys the rules match on, whichever logger produced it.

Each logging library names the same things differently: structlog writes `event`, `level` and
`timestamp`; python-json-logger `message`, `levelname` and `asctime`/`time`; pino `msg`,
a numeric `level` and `time`; Elastic's ECS loggers `message`, `log.level` and `@timestamp`;
Google's `severity`. Docker's json-file driver wraps whatever the process printed in
`{"log": ..., "stream": ..., "time": ...}`.

A canonical key is added when the event lacks it, from the first of its sources holding a
non-null value, and never replaces a field that is present (even as null), with one exception:
`level` is always made a lower-case name. Every other field is kept as it came. An event with
no source for a canonical key simply lacks it; nothing is invented.
"""

from typing import Any, Final

import orjson

from gateway.ingest.limits import DEFAULT_MAX_DEPTH, NestingTooDeep, nesting_exceeds

EVENT_SOURCES: Final = ("msg", "message")
LEVEL_SOURCES: Final = ("levelname", "severity", "log.level")
TIMESTAMP_SOURCES: Final = ("time", "ts", "@timestamp", "asctime")

# pino and bunyan write levels as numbers.
NUMERIC_LEVELS: Final[dict[int, str]] = {
    10: "trace",
    20: "debug",
    30: "info",
    40: "warn",
    50: "error",
    60: "fatal",
}
# Level names already in canonical form: an event with `event`, `timestamp` and one of these
# as `level` has nothing to normalise, which lets the ingest loop skip the call.
CANONICAL_LEVELS: Final = frozenset(
    ("trace", "debug", "info", "notice", "warn", "warning", "error", "critical", "fatal")
)
# Every key Docker's json-file driver writes; "attrs" appears with the labels/env log options.
_DOCKER_KEYS: Final = frozenset(("log", "stream", "time", "attrs"))


def normalize_event(obj: dict[str, Any], *, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Return a copy of `obj` with the canonical `event`, `level` and `timestamp` keys.

    Raises `NestingTooDeep` when a Docker line's `log` text holds a JSON object nested deeper
    than `max_depth`. `obj` itself is not modified; nested values are shared, not copied.
    """
    return normalize_owned(dict(obj), max_depth)


def normalize_owned(event: dict[str, Any], max_depth: int) -> dict[str, Any]:
    """Normalise an event the caller owns (a fresh parse result), changing it in place.

    The return value may be a different dict: a Docker line is replaced by the event it wraps.
    """
    log = event.get("log")
    if type(log) is str and _DOCKER_KEYS.issuperset(event):
        return _unwrap_docker(event, log, max_depth)
    return _add_canonical_keys(event)


def canonical_level(level: Any) -> Any:
    """Return a level as a lower-case name; pino's numbers become names, other types stay."""
    if type(level) is str:
        return level.lower()
    if type(level) is int:
        return NUMERIC_LEVELS.get(level, str(level))
    return level


def _add_canonical_keys(event: dict[str, Any]) -> dict[str, Any]:
    if "event" not in event:
        _copy_first(event, "event", EVENT_SOURCES)
    if "level" in event:
        event["level"] = canonical_level(event["level"])
    else:
        level = _level_from_aliases(event)
        if level is not None:
            event["level"] = canonical_level(level)
    if "timestamp" not in event:
        _copy_first(event, "timestamp", TIMESTAMP_SOURCES)
    return event


def _copy_first(event: dict[str, Any], key: str, sources: tuple[str, ...]) -> None:
    """Set `key` to the first of `sources` that holds a value (not null)."""
    for source in sources:
        value = event.get(source)
        if value is not None:
            event[key] = value
            return


def _level_from_aliases(event: dict[str, Any]) -> Any:
    for key in LEVEL_SOURCES:
        value = event.get(key)
        if value is not None:
            return value
    # ECS written nested rather than dotted: {"log": {"level": "error"}}
    nested = event.get("log")
    if type(nested) is dict:
        return nested.get("level")
    return None


def _unwrap_docker(outer: dict[str, Any], text: str, max_depth: int) -> dict[str, Any]:
    """Return the event a Docker json-file line carries: the inner JSON object, or its text."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            inner = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            inner = None
        if type(inner) is dict:
            if nesting_exceeds(inner, max_depth):
                raise NestingTooDeep(max_depth)
            event = _add_canonical_keys(inner)
            for key in ("stream", "attrs"):
                if key not in event and key in outer:
                    event[key] = outer[key]
            if "timestamp" not in event and outer.get("time") is not None:
                event["timestamp"] = outer["time"]
            return event
    outer["message"] = stripped
    return _add_canonical_keys(outer)
