"""structlog set-up: JSON lines to stdout, readable console output on a terminal.

This module imports structlog only inside its functions, so that `keep_rich_out` can run
before anything has imported it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    import structlog

LogFormat = Literal["auto", "json", "console"]


def uses_console(fmt: LogFormat) -> bool:
    """Tell whether `fmt` means human-readable console output here."""
    return fmt == "console" or (fmt == "auto" and sys.stdout.isatty())


def keep_rich_out(fmt: LogFormat) -> None:
    """Keep `import structlog` from loading rich and pygments when logging JSON.

    structlog imports rich whenever it is installed, only to offer rich tracebacks, which
    the gateway never uses (see `setup_logging`); that costs about 3 MB of memory and a fifth
    of a second of start-up. A None entry in `sys.modules` makes importing rich fail as if it
    were absent. Only for a process that is the gateway server, before structlog is imported:
    once it is, this changes nothing.
    """
    if uses_console(fmt) or "structlog" in sys.modules:
        return
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]


def orjson_dumps(obj: Any, default: Callable[[Any], Any] | None = None, **kw: Any) -> str:
    """Serialise an event dict for structlog's JSON renderer with orjson.

    A few times cheaper than `json.dumps`, and every request writes an access line. What
    orjson refuses (an integer beyond 64 bits, say) still goes through `json.dumps`, so no
    event is lost to the serialiser.
    """
    try:
        return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(obj, default=default, **kw)


def setup_logging(fmt: LogFormat = "auto", level: str = "info") -> None:
    """Configure structlog and the standard library to write one event per line to stdout."""
    import structlog

    use_console = uses_console(fmt)
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor
    if use_console:
        # Plain tracebacks: the default (rich, when installed) prints every frame's local
        # variables, and those can hold tokens, secrets or a database URL with its password.
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    else:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=orjson_dumps)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # A write and a flush per line, without `print`'s argument handling.
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # aiohttp and alembic log through the standard library; keep their noise at warning level.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(name)s %(message)s")
