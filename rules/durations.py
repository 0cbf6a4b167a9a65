"""Parse and format durations: `30s`, `10m`, `1h`, `1d`, `1h30m`, or a whole number of seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+[smhd])+")
_PART = re.compile(r"(\d+)([smhd])")
_MAX = timedelta(days=366)  # a window beyond a year is a typo, and overflows nothing


class DurationError(ValueError):
    """The value is not a duration this file format accepts."""


def parse_duration(value: object) -> timedelta:
    """Return the positive duration `value` stands for, or raise `DurationError`."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and _DURATION.fullmatch(value.strip()):
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    else:
        raise DurationError(
            "use a whole number of seconds or a number with a unit s, m, h or d "
            '(e.g. "30s", "10m", "1h", "1d")'
        )
    if seconds <= 0:
        raise DurationError("a duration must be positive")
    if seconds > _MAX.total_seconds():
        raise DurationError("a duration may not exceed 366 days")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Write `value` in the file's own notation, largest units first (`1h30m`)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
