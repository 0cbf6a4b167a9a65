"""normalize_event: each logger's naming mapped to event/level/timestamp; hostile shapes after."""

import copy
from typing import Any

import orjson
import pytest

from gateway.ingest.limits import NestingTooDeep
from gateway.ingest.normalize import CANONICAL_LEVELS, normalize_event

GOOD: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "structlog is already canonical": (
        {"event": "order sync failed", "level": "error", "timestamp": "t", "store_id": 42},
        {"event": "order sync failed", "level": "error", "timestamp": "t", "store_id": 42},
    ),
    "structlog with an upper-case level": (
        {"event": "e", "level": "WARNING", "timestamp": "t"},
        {"event": "e", "level": "warning", "timestamp": "t"},
    ),
    "python-json-logger": (
        {"message": "sync failed", "levelname": "ERROR", "asctime": "2024-05-01 12:00:00,123"},
        {
            "message": "sync failed",
            "levelname": "ERROR",
            "asctime": "2024-05-01 12:00:00,123",
            "event": "sync failed",
            "level": "error",
            "timestamp": "2024-05-01 12:00:00,123",
        },
    ),
    "python-json-logger with a timestamp field": (
        {"message": "m", "levelname": "INFO", "timestamp": "2024-05-01T12:00:00Z"},
        {
            "message": "m",
            "levelname": "INFO",
            "timestamp": "2024-05-01T12:00:00Z",
            "event": "m",
            "level": "info",
        },
    ),
    "pino numeric level and epoch time": (
        {"level": 50, "time": 1714564800000, "msg": "boom", "pid": 7},
        {
            "level": "error",
            "time": 1714564800000,
            "msg": "boom",
            "pid": 7,
            "event": "boom",
            "timestamp": 1714564800000,
        },
    ),
    "unknown numeric level becomes its digits": (
        {"event": "e", "level": 35},
        {"event": "e", "level": "35"},
    ),
    "ECS dotted keys": (
        {"@timestamp": "t", "log.level": "WARN", "message": "disk low", "ecs.version": "1.6.0"},
        {
            "@timestamp": "t",
            "log.level": "WARN",
            "message": "disk low",
            "ecs.version": "1.6.0",
            "event": "disk low",
            "level": "warn",
            "timestamp": "t",
        },
    ),
    "ECS nested log object": (
        {"log": {"level": "error", "logger": "app"}, "message": "x"},
        {
            "log": {"level": "error", "logger": "app"},
            "message": "x",
            "event": "x",
            "level": "error",
        },
    ),
    "Google severity": (
        {"severity": "CRITICAL", "message": "db down", "time": "t"},
        {
            "severity": "CRITICAL",
            "message": "db down",
            "time": "t",
            "event": "db down",
            "level": "critical",
            "timestamp": "t",
        },
    ),
    "ts alias": ({"msg": "m", "ts": 1.5}, {"msg": "m", "ts": 1.5, "event": "m", "timestamp": 1.5}),
    "msg is preferred over message": (
        {"msg": "first", "message": "second"},
        {"msg": "first", "message": "second", "event": "first"},
    ),
    "a present event is never replaced": (
        {"event": "mine", "message": "other"},
        {"event": "mine", "message": "other"},
    ),
    "a present null counts as present": (
        {"event": None, "msg": "m", "level": None, "levelname": "INFO"},
        {"event": None, "msg": "m", "level": None, "levelname": "INFO"},
    ),
    "null sources are passed over": (
        {"msg": None, "message": "m", "time": None, "ts": 3},
        {"msg": None, "message": "m", "time": None, "ts": 3, "event": "m", "timestamp": 3},
    ),
    "nothing to map": ({"foo": 1, "bar": [1, 2]}, {"foo": 1, "bar": [1, 2]}),
    "docker line carrying JSON": (
        {"log": '{"event":"boot","level":"INFO","port":8080}\n', "stream": "stderr", "time": "t0"},
        {"event": "boot", "level": "info", "port": 8080, "stream": "stderr", "timestamp": "t0"},
    ),
    "docker line whose JSON has its own stream and time": (
        {"log": '{"msg":"m","stream":"own","time":"t1"}', "stream": "stdout", "time": "t0"},
        {"msg": "m", "stream": "own", "time": "t1", "event": "m", "timestamp": "t1"},
    ),
    "docker line with attrs": (
        {"log": '{"event":"e"}\n', "stream": "stdout", "time": "t0", "attrs": {"tag": "web"}},
        {"event": "e", "stream": "stdout", "attrs": {"tag": "web"}, "timestamp": "t0"},
    ),
    "docker line carrying plain text": (
        {"log": "  Listening on :8080\r\n", "stream": "stdout", "time": "t0"},
        {
            "log": "  Listening on :8080\r\n",
            "stream": "stdout",
            "time": "t0",
            "message": "Listening on :8080",
            "event": "Listening on :8080",
            "timestamp": "t0",
        },
    ),
    "docker line carrying text that only looks like JSON": (
        {"log": "{not json}\n", "stream": "stdout", "time": "t0"},
        {
            "log": "{not json}\n",
            "stream": "stdout",
            "time": "t0",
            "message": "{not json}",
            "event": "{not json}",
            "timestamp": "t0",
        },
    ),
    "docker line carrying a JSON array is text": (
        {"log": "[1, 2]\n", "stream": "stdout", "time": "t0"},
        {
            "log": "[1, 2]\n",
            "stream": "stdout",
            "time": "t0",
            "message": "[1, 2]",
            "event": "[1, 2]",
            "timestamp": "t0",
        },
    ),
    "a log string beside other keys is not a docker line": (
        {"log": '{"event":"inner"}', "event": "outer"},
        {"log": '{"event":"inner"}', "event": "outer"},
    ),
}


class TestNormalizeEvent:
    @pytest.mark.parametrize(("event", "expected"), GOOD.values(), ids=GOOD.keys())
    def test_good_events(self, event: dict[str, Any], expected: dict[str, Any]) -> None:
        """Each logger's fields gain exactly the canonical keys, and keep everything else."""
        assert normalize_event(event) == expected

    @pytest.mark.parametrize(("event", "expected"), GOOD.values(), ids=GOOD.keys())
    def test_input_is_not_mutated(self, event: dict[str, Any], expected: dict[str, Any]) -> None:
        """The input dict, and anything nested in it, is left exactly as it was."""
        before = copy.deepcopy(event)
        normalize_event(event)
        assert event == before

    @pytest.mark.parametrize(("event", "expected"), GOOD.values(), ids=GOOD.keys())
    def test_keys_stay_strings(self, event: dict[str, Any], expected: dict[str, Any]) -> None:
        """Every key of the result is a string."""
        assert all(type(key) is str for key in normalize_event(event))

    @pytest.mark.parametrize("level", sorted(CANONICAL_LEVELS))
    def test_canonical_events_are_left_alone(self, level: str) -> None:
        """An event with event, timestamp and a canonical level is unchanged (NDJSON skips it)."""
        event = {"event": "e", "level": level, "timestamp": "t", "log": "x", "msg": "m"}
        assert normalize_event(event) == event

    def test_docker_text_too_deep(self) -> None:
        """JSON inside a docker line is held to the nesting limit like any other event."""
        deep = '{"a":' * 32 + "{}" + "}" * 32
        line = {"log": deep, "stream": "stdout", "time": "t"}
        with pytest.raises(NestingTooDeep, match="nesting deeper than 32"):
            normalize_event(line)
        assert normalize_event(line, max_depth=33)["a"]

    def test_docker_text_at_the_limit(self) -> None:
        """JSON inside a docker line nested exactly to the limit is accepted."""
        inner = '{"a":' * 31 + "{}" + "}" * 31
        event = normalize_event({"log": inner, "stream": "stdout", "time": "t"})
        assert event == {**orjson.loads(inner), "stream": "stdout", "timestamp": "t"}

    def test_docker_unwraps_once(self) -> None:
        """A docker line inside a docker line is unwrapped one level only."""
        inner = orjson.dumps({"log": "deeper\n", "stream": "stdout", "time": "t1"}).decode()
        event = normalize_event({"log": inner, "stream": "stderr", "time": "t0"})
        assert event == {"log": "deeper\n", "stream": "stdout", "time": "t1", "timestamp": "t1"}

    def test_odd_level_types_are_kept(self) -> None:
        """A level that is neither text nor a number is kept as it came."""
        assert normalize_event({"level": [1]})["level"] == [1]
        assert normalize_event({"levelname": True})["level"] is True
