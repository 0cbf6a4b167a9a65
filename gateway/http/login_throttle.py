"""Throttle password guessing: failed sign-ins counted per account and per client address.

The counts live in this process's memory. That is enough for one gateway process; with
several processes behind one address, each keeps its own counts, so the effective limit is
the per-process limit times the number of processes. Counts are lost on restart, which is
acceptable for a guard whose window is minutes long.

Every attempt is counted as a failure when it starts and forgiven when it succeeds, so a
burst of concurrent guesses cannot slip through while the first ones are still being
verified. A success clears the account's failures; the address keeps its others.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW_SECONDS = 15 * 60.0
# Bounds the memory an attacker can make us spend by trying many names or addresses; past
# it, the keys that failed least recently are forgotten first.
MAX_KEYS = 10_000


class _Counter:
    """Failure times per key within a sliding window."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float | None:
        failures = self._live(key, now)
        if failures is None or len(failures) < self.limit:
            return None
        return failures[0] + self.window - now

    def add(self, key: str, now: float) -> None:
        failures = self._live(key, now)
        if failures is None:
            failures = self._failures[key] = deque()
        failures.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def forgive_one(self, key: str) -> None:
        failures = self._failures.get(key)
        if failures:
            failures.pop()
            if not failures:
                del self._failures[key]

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _live(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures


class LoginThrottle:
    """Refuse sign-in attempts for an account or address that failed too often lately."""

    def __init__(
        self,
        *,
        account_limit: int = ACCOUNT_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window: float = WINDOW_SECONDS,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Counter(account_limit, window, max_keys)
        self._addresses = _Counter(address_limit, window, max_keys)
        self._clock = clock

    def attempt(self, account: str, address: str) -> int | None:
        """Count an attempt; return the seconds to wait instead when it is not allowed."""
        now = self._clock()
        waits = [
            wait
            for wait in (
                self._accounts.retry_after(account, now),
                self._addresses.retry_after(address, now),
            )
            if wait is not None
        ]
        if waits:
            return max(1, math.ceil(max(waits)))
        self._accounts.add(account, now)
        self._addresses.add(address, now)
        return None

    def succeeded(self, account: str, address: str) -> None:
        """Forgive the attempt that just succeeded and the account's earlier failures."""
        self._accounts.clear(account)
        self._addresses.forgive_one(address)
