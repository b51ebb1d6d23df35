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


class _Delays:
    """What both delay sources hold: bounds, the random source, attempts since the last reset."""

    def __init__(self, base: float, cap: float, rand: Callable[[], float]) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self._rand = rand
        self.attempts = 0

    def reset(self) -> None:
        self.attempts = 0


class Backoff(_Delays):
    """Delay source: :meth:`next_delay` after each failure, :meth:`reset` after a success."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 300.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(base, cap, rand)

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


class DecorrelatedBackoff(_Delays):
    """Reconnect delays with "decorrelated jitter": each delay is drawn uniformly between ``base``
    and three times the previous one, never above ``cap`` (AWS Architecture Blog, "Exponential
    Backoff And Jitter", 2015).

    For a broker connection (:class:`~ven_edge.oadr3.mqttloop.LoopDriver`) rather than
    :class:`Backoff`'s full jitter: a broker restart drops every gateway at the same instant, and
    a full-jitter draw near zero sends thousands of them back while the broker is still starting.
    Here no delay is below ``base`` and the draws still spread the fleet over a window that widens
    with each failure, so 10,000 gateways do not reconnect in lock-step. The random source is
    injectable so tests are deterministic; a draw outside ``[0, 1]`` is clamped, so a delay
    always lies in ``[base, cap]``.
    """

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 120.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(base, cap, rand)
        self._previous = base

    def next_delay(self) -> float:
        """A draw in ``[base, min(cap, 3 * previous)]``; counts one more attempt."""
        high = min(self.cap, 3.0 * self._previous)
        share = min(1.0, max(0.0, self._rand()))
        delay = self.base + share * (high - self.base)
        self._previous = delay
        self.attempts += 1
        return delay

    def reset(self) -> None:
        super().reset()
        self._previous = self.base
