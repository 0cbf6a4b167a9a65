"""parse_logfmt: quoting, escapes, bare keys and empty values; then lines that break the grammar."""

import time

import pytest

from gateway.ingest.logfmt import LogfmtError, parse_logfmt

GOOD: dict[str, tuple[str, dict[str, str | bool]]] = {
    "pairs": ("level=info msg=hello", {"level": "info", "msg": "hello"}),
    "quoted value with spaces": (
        'msg="order sync failed" store=42',
        {"msg": "order sync failed", "store": "42"},
    ),
    "escaped quote, newline, tab, backslash": (
        r'msg="say \"hi\"\n\tback\\slash"',
        {"msg": 'say "hi"\n\tback\\slash'},
    ),
    "other escapes": (r'a="\/\r\b\f"', {"a": "/\r\b\f"}),
    "escaped backslash before the closing quote": (r'a="x\\" b=1', {"a": "x\\", "b": "1"}),
    "unicode escape": (r'name="Jos\u00e9"', {"name": "José"}),
    "surrogate pair escape": (r'face="\ud83d\ude00"', {"face": "\U0001f600"}),
    "bare key": ("debug level=info", {"debug": True, "level": "info"}),
    "bare key at the end": ("level=info retry", {"level": "info", "retry": True}),
    "empty value": ("key= other=1", {"key": "", "other": "1"}),
    "empty value at the end": ("key=", {"key": ""}),
    "empty quoted value": ('key=""', {"key": ""}),
    "tabs separate pairs": ("a=1\tb=2\t\tc", {"a": "1", "b": "2", "c": True}),
    "equals sign inside a bare value": ("url=/a?b=c&d=e", {"url": "/a?b=c&d=e"}),
    "quote inside a bare value": ('size=5"', {"size": '5"'}),
    "dotted keys": ("log.level=warn http.status=503", {"log.level": "warn", "http.status": "503"}),
    "repeated key keeps the last": ("a=1 a=2", {"a": "2"}),
    "UTF-8 bare value": ("user=José city=Zürich", {"user": "José", "city": "Zürich"}),
    "surrounding and repeated spaces": ("   a=1     b=2   ", {"a": "1", "b": "2"}),
    "empty line": ("", {}),
    "unescaped newline-free long value": ("v=" + "x" * 10_000, {"v": "x" * 10_000}),
}

HOSTILE: dict[str, tuple[str, str]] = {
    "unterminated quote": ('msg="unterminated', "unterminated quoted value at column 5"),
    "unterminated after an escaped quote": (r'a="x\"', "unterminated quoted value at column 3"),
    "key missing before =": ("=value", "expected a key before '=' at column 1"),
    "key missing later in the line": ("a=1 =2", "expected a key before '=' at column 5"),
    "text right after a closing quote": (
        'key="a"b',
        "expected a space after the closing quote at column 8",
    ),
    "quote inside a key": ('ke"y=1', "unexpected '\"' in a key at column 3"),
    "quoted key": ('"quoted"=1', "unexpected '\"' at column 1"),
    "unknown escape": (r'a="\q"', "invalid escape '\\q' at column 4"),
    "short unicode escape": (r'a="\u12"', "'\\u' needs four hex digits at column 4"),
    "non-hex unicode escape": (r'a="\uZZZZ"', "'\\u' needs four hex digits at column 4"),
    "lone high surrogate": (r'a="\ud800"', "unpaired surrogate in '\\u' escape at column 4"),
    "lone low surrogate": (r'a="\udc00"', "unpaired surrogate in '\\u' escape at column 4"),
    "high surrogate with a bad partner": (
        r'a="\ud800\u0041"',
        "unpaired surrogate in '\\u' escape at column 4",
    ),
    "bad low half of a pair": (r'a="\ud83d\uXYZW"', "'\\u' needs four hex digits at column 10"),
}


class TestParseLogfmt:
    @pytest.mark.parametrize(("line", "expected"), GOOD.values(), ids=GOOD.keys())
    def test_good_lines(self, line: str, expected: dict[str, str | bool]) -> None:
        """Each line parses to exactly these fields; values stay strings, bare keys are True."""
        assert parse_logfmt(line) == expected

    @pytest.mark.parametrize(("line", "message"), HOSTILE.values(), ids=HOSTILE.keys())
    def test_hostile_lines(self, line: str, message: str) -> None:
        """A line that breaks the grammar raises with the reason and a 1-based column."""
        with pytest.raises(LogfmtError) as caught:
            parse_logfmt(line)
        assert str(caught.value) == message

    def test_many_escaped_quotes_scan_in_linear_time(self) -> None:
        """A long run of escaped quotes with no closing quote fails fast, not quadratically."""
        line = 'a="' + '\\"' * 30_000
        started = time.perf_counter()
        with pytest.raises(LogfmtError, match="unterminated"):
            parse_logfmt(line)
        assert time.perf_counter() - started < 1

    def test_many_backslashes_scan_in_linear_time(self) -> None:
        """Runs of backslashes before quotes are each counted once."""
        line = 'a="' + ("\\\\" * 50 + '\\"') * 500 + '"'
        started = time.perf_counter()
        fields = parse_logfmt(line)
        assert fields["a"] == ("\\" * 50 + '"') * 500
        assert time.perf_counter() - started < 1
