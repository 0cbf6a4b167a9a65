"""Test events for rule evaluation: one that records what is read, and random ones."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
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


def random_event(rng: random.Random, values: Sequence[Any], present: float) -> dict[str, Any]:
    """An event over a few field names, each present with probability `present`, holding one
    of `values` or, one time in five, a short list of them."""
    return {
        key: rng.choice(values)
        if rng.random() < 0.8
        else [rng.choice(values) for _ in range(rng.randrange(3))]
        for key in ("event", "level", "n", "tags", "page", "msg")
        if rng.random() < present
    }
