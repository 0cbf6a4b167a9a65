"""Parse one logfmt line (`level=error msg="sync failed" retry`) into a dict.

The grammar, as Heroku and go-logfmt write it: pairs separated by spaces or tabs; a key is any
run of characters other than space, tab, `=` and `"`; `key=value` takes a bare value up to the
next space or tab, `key="..."` a quoted one with backslash escapes (`\\"`, `\\\\`, `\\n`,
`\\t`, `\\r`, `\\b`, `\\f`, `\\/`, `\\uXXXX`), `key=` the empty string, and a bare `key` alone
means `True`. Values stay strings: logfmt carries no types, and guessing would turn a zip code
into a number. A repeated key keeps its last value.

The scanner walks the line with `str.find` and a cursor, so its cost is linear in the line
and it has no pattern to backtrack on.
"""

from typing import Final

_SPACES: Final = " \t"
_KEY_END: Final = frozenset(' \t="')
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_ESCAPES: Final[dict[str, str]] = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
}


class LogfmtError(ValueError):
    """A line that is not logfmt; `column` is 1-based, in characters."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"{reason} at column {column}")
        self.reason = reason
        self.column = column


def parse_logfmt(line: str) -> dict[str, str | bool]:
    """Return the fields of one logfmt line; raise `LogfmtError` where it breaks the grammar."""
    fields: dict[str, str | bool] = {}
    end = len(line)
    i = 0
    while True:
        while i < end and line[i] in _SPACES:
            i += 1
        if i >= end:
            return fields
        start = i
        while i < end and line[i] not in _KEY_END:
            i += 1
        if i == start:
            reason = "expected a key before '='" if line[i] == "=" else "unexpected '\"'"
            raise LogfmtError(reason, i + 1)
        key = line[start:i]
        if i >= end or line[i] in _SPACES:
            fields[key] = True
            continue
        if line[i] == '"':
            raise LogfmtError("unexpected '\"' in a key", i + 1)
        i += 1  # past "="
        if i >= end or line[i] in _SPACES:
            fields[key] = ""
            continue
        if line[i] == '"':
            fields[key], i = _quoted_value(line, i)
            if i < end and line[i] not in _SPACES:
                raise LogfmtError("expected a space after the closing quote", i + 1)
            continue
        stop = line.find(" ", i)
        if stop < 0:
            stop = end
        tab = line.find("\t", i, stop)
        if tab >= 0:
            stop = tab
        fields[key] = line[i:stop]
        i = stop


def _quoted_value(line: str, opening: int) -> tuple[str, int]:
    """Return the unescaped value of the quoted string at `opening`, and the index past it."""
    first = opening + 1
    search = first
    while True:
        closing = line.find('"', search)
        if closing < 0:
            raise LogfmtError("unterminated quoted value", opening + 1)
        # The quote is escaped when an odd number of backslashes precedes it.
        backslash = closing
        while backslash > first and line[backslash - 1] == "\\":
            backslash -= 1
        if (closing - backslash) % 2 == 0:
            break
        search = closing + 1
    raw = line[first:closing]
    value = _unescape(raw, first) if "\\" in raw else raw
    return value, closing + 1


def _unescape(raw: str, offset: int) -> str:
    """Resolve the backslash escapes in `raw`, which starts at index `offset` of its line."""
    parts: list[str] = []
    pos = 0
    while True:
        slash = raw.find("\\", pos)
        if slash < 0:
            parts.append(raw[pos:])
            return "".join(parts)
        parts.append(raw[pos:slash])
        code = raw[slash + 1 : slash + 2]
        if code in _ESCAPES:
            parts.append(_ESCAPES[code])
            pos = slash + 2
        elif code == "u":
            char, pos = _unicode_escape(raw, slash, offset)
            parts.append(char)
        else:
            raise LogfmtError(f"invalid escape '\\{code}'", offset + slash + 1)


def _unicode_escape(raw: str, slash: int, offset: int) -> tuple[str, int]:
    """Decode `\\uXXXX` at `slash`, joining a surrogate pair; a lone surrogate is an error."""
    code = _hex4(raw, slash + 2, offset)
    if 0xD800 <= code <= 0xDBFF and raw[slash + 6 : slash + 8] == "\\u":
        low = _hex4(raw, slash + 8, offset)
        if 0xDC00 <= low <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), slash + 12
    if 0xD800 <= code <= 0xDFFF:
        # Text holding a lone surrogate cannot be encoded as UTF-8 again, so refuse it here.
        raise LogfmtError("unpaired surrogate in '\\u' escape", offset + slash + 1)
    return chr(code), slash + 6


def _hex4(raw: str, start: int, offset: int) -> int:
    digits = raw[start : start + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        raise LogfmtError("'\\u' needs four hex digits", offset + start - 1)
    return int(digits, 16)
