"""Brute-force protection for ``POST /auth/token`` (sans-I/O; the caller passes the time).

Three independent limits, each answered with 429 and ``Retry-After`` (RFC 6585 §4):

* failed attempts per client id (someone guessing one client's secret),
* failed attempts per remote address (someone guessing across client ids),
* all token requests per remote address, as a token bucket (CPU protection: every request
  costs one scrypt hash by design).

Successful logins do not count as failures, so ordinary clients, the demo and the benchmark
(100 clients fetching tokens at once from one address) are not slowed. Memory is bounded: each
table keeps at most ``max_keys`` entries and forgets the least recently seen one when full,
which under a flood of addresses only ever loosens the limit for the forgotten key.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class AuthLimits:
    """Limits from ``[server]``; 0 switches the respective limit off."""

    window: float = 300.0
    max_failures_per_client: int = 10
    max_failures_per_address: int = 50
    rate_per_address: float = 10.0
    burst_per_address: int = 200
    max_keys: int = 10_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a token request is refused now and when to try again."""

    reason: str
    retry_after: int


class _BoundedTable(Generic[V]):
    """A dict that forgets its least recently used key beyond ``max_keys`` entries."""

    def __init__(self, max_keys: int) -> None:
        self._max = max_keys
        self._entries: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class AuthRateLimiter:
    """Decides whether a token request may be checked, and records failures."""

    def __init__(self, limits: AuthLimits) -> None:
        self.limits = limits
        self._client_failures: _BoundedTable[deque[float]] = _BoundedTable(limits.max_keys)
        self._address_failures: _BoundedTable[deque[float]] = _BoundedTable(limits.max_keys)
        # address -> (tokens left, time of the last refill)
        self._buckets: _BoundedTable[tuple[float, float]] = _BoundedTable(limits.max_keys)

    def tracked_keys(self) -> int:
        return len(self._client_failures) + len(self._address_failures) + len(self._buckets)

    def admit(self, address: str, client_id: str, now: float) -> Refusal | None:
        """Call before checking the secret; a request that is admitted takes a bucket token."""
        limits = self.limits
        refusal = self._window_refusal(
            self._address_failures, address, limits.max_failures_per_address, now
        )
        if refusal is not None:
            return Refusal(f"too many failed token requests from {address}", refusal)
        refusal = self._window_refusal(
            self._client_failures, client_id, limits.max_failures_per_client, now
        )
        if refusal is not None:
            return Refusal(f"too many failed token requests for client {client_id!r}", refusal)
        if limits.rate_per_address > 0 and limits.burst_per_address > 0:
            tokens, last = self._buckets.get(address) or (float(limits.burst_per_address), now)
            tokens = min(
                float(limits.burst_per_address),
                tokens + max(0.0, now - last) * limits.rate_per_address,
            )
            if tokens < 1.0:
                self._buckets.put(address, (tokens, now))
                wait = (1.0 - tokens) / limits.rate_per_address
                return Refusal(f"too many token requests from {address}", _seconds(wait))
            self._buckets.put(address, (tokens - 1.0, now))
        return None

    def failed(self, address: str, client_id: str, now: float) -> None:
        """A wrong secret or unknown client id."""
        self._record(self._address_failures, address, self.limits.max_failures_per_address, now)
        self._record(self._client_failures, client_id, self.limits.max_failures_per_client, now)

    def succeeded(self, client_id: str) -> None:
        # The rightful owner proved the secret: earlier typos of theirs no longer count.
        self._client_failures.pop(client_id)

    def _window_refusal(
        self, table: _BoundedTable[deque[float]], key: str, limit: int, now: float
    ) -> int | None:
        if limit <= 0:
            return None
        failures = table.get(key)
        if failures is None or len(failures) < limit:
            return None
        # The deque holds the last ``limit`` failures; blocked until the oldest leaves the window.
        free_at = failures[0] + self.limits.window
        if free_at <= now:
            return None
        return _seconds(free_at - now)

    def _record(self, table: _BoundedTable[deque[float]], key: str, limit: int, now: float) -> None:
        if limit <= 0:
            return
        failures = table.get(key)
        if failures is None:
            failures = deque(maxlen=limit)
        failures.append(now)
        table.put(key, failures)


def _seconds(wait: float) -> int:
    """Retry-After is whole seconds (RFC 9110 §10.2.3); never 0 while still refused."""
    return max(1, math.ceil(wait))
