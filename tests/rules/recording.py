"""Test events for rule evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Recording(Mapping[str, Any]):
    """An event that records which of its fields evaluation reads or asks about."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
