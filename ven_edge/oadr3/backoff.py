"""Retry delays: capped exponential backoff with "full jitter".

Full jitter (a uniform draw in ``[0, min(cap, base * 2**attempt)]``) spreads the retries of many
gateways that lost the same VTN at the same moment, instead of having them reconnect in lock-step
(AWS Architecture Blog, "Exponential Backoff And Jitter", 2015). The random source is injectable so
tests are deterministic.

A caller may lower the cap for one draw (``next_delay(limit=...)``): the VTN link probes a VTN
that does not answer at least once per poll interval, so a returning VTN is seen within one
interval, while the draws stay jittered across the whole interval.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delay source: :meth:`next_delay` after each failure, :meth:`reset` after a success."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 300.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self._rand = rand
        self.attempts = 0

    def ceiling(self, limit: float | None = None) -> float:
        """The upper bound of the next delay (never above ``limit`` when given)."""
        # min() before the power would overflow: 2**attempts grows without bound while failing.
        exponent = min(self.attempts, 62)
        ceiling = min(self.cap, self.base * 2.0**exponent)
        return ceiling if limit is None else max(0.0, min(ceiling, limit))

    def next_delay(self, limit: float | None = None) -> float:
        """A full-jitter draw in ``[0, ceiling(limit)]``; counts one more attempt."""
        delay = self._rand() * self.ceiling(limit)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
