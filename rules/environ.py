"""Substitute environment variables into the rules file's string values.

`${NAME}` is replaced by the variable's value; `${NAME:-text}` falls back to `text` when the
variable is unset or empty (as in the shell); `$${` writes a literal `${`. A reference to an
unset variable without a default is an error, except in a webhook secret, where it disables
the source. A variable set to an empty string substitutes as empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")
_BODY = re.compile(rf"(?P<name>{_NAME})(?::-(?P<default>.*))?", re.DOTALL)
_SECRET = re.compile(rf"\$\{{(?P<name>{_NAME})\}}")


@dataclass(slots=True)
class Substitution:
    """The text after substitution, and what could not be substituted."""

    text: str
    missing: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every reference was resolved."""
        return not self.missing and not self.malformed


def has_reference(text: str) -> bool:
    """Tell whether `text` may need substitution (cheap pre-check)."""
    return "${" in text


def substitute(text: str, environ: Mapping[str, str]) -> Substitution:
    """Replace every `${...}` reference in `text` using `environ`."""
    result = Substitution(text="")

    def replace(found: re.Match[str]) -> str:
        written = found.group(0)
        if written == "$${":
            return "${"
        body = found.group("body")
        parsed = _BODY.fullmatch(body) if body is not None else None
        if parsed is None:
            result.malformed.append(written)
            return written
        value = environ.get(parsed.group("name"))
        default = parsed.group("default")
        if default is not None and not value:
            return default  # as in the shell, `:-` also covers a variable set to ""
        if value is None:
            result.missing.append(parsed.group("name"))
            return ""
        return value

    result.text = _TOKEN.sub(replace, text)
    return result


def secret_variable(text: str) -> str | None:
    """Return NAME when `text` is exactly `${NAME}`, the only form a secret may take."""
    found = _SECRET.fullmatch(text)
    return found.group("name") if found else None
