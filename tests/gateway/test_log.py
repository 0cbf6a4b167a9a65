"""Logging set-up: rich stays out of a server that logs JSON."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from gateway.log import keep_rich_out, setup_logging
keep_rich_out(sys.argv[1])
import structlog
setup_logging(sys.argv[1])
structlog.get_logger().info("probe")
print(sys.modules.get("rich") is not None)
"""


@pytest.mark.parametrize(("fmt", "rich_loaded"), [("json", False), ("console", True)])
def test_rich_is_kept_out_of_json_logging(fmt: str, rich_loaded: bool) -> None:
    """JSON logging never loads rich; console output does (rich is a test dependency)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, fmt], capture_output=True, text=True, check=True
    ).stdout
    assert "probe" in out
    assert out.strip().splitlines()[-1] == str(rich_loaded)
