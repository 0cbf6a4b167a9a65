"""Durations: the accepted notations, the refused ones, and the canonical spelling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.durations import DurationError, format_duration, parse_duration


class TestParse:
    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ("30s", timedelta(seconds=30)),
            ("10m", timedelta(minutes=10)),
            ("1h", timedelta(hours=1)),
            ("1d", timedelta(days=1)),
            ("1h30m", timedelta(minutes=90)),
            (90, timedelta(seconds=90)),
            ("366d", timedelta(days=366)),
        ],
    )
    def test_accepted(self, written: object, expected: timedelta) -> None:
        """Seconds, or numbers with units s, m, h, d (combinable), are durations."""
        assert parse_duration(written) == expected

    @pytest.mark.parametrize(
        "written", ["", "10", "10x", "1.5h", "-5m", "h", "1 h", True, 1.5, None, "367d", 0, -1]
    )
    def test_refused(self, written: object) -> None:
        """Anything else, zero, negatives and more than a year are refused."""
        with pytest.raises(DurationError):
            parse_duration(written)


class TestFormat:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (timedelta(seconds=30), "30s"),
            (timedelta(hours=1), "1h"),
            (timedelta(minutes=90), "1h30m"),
            (timedelta(days=1, seconds=1), "1d1s"),
            (timedelta(0), "0s"),
        ],
    )
    def test_format(self, value: timedelta, expected: str) -> None:
        """A duration is written with its largest units first, as the file would."""
        assert format_duration(value) == expected
