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

import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from ven_edge.redact import redact_text


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


class LinkHealthFields(Protocol):
    """What a VTN link shows of its connection (the OpenADR 3 and 2.0b links' health)."""

    connected: bool
    last_success: datetime | None
    last_error: str | None
    consecutive_failures: int


class CycleRetry:
    """The success and failure bookkeeping of a VTN link's cycles, shared by the OpenADR 3 and
    2.0b links.

    A VTN that does not answer (or answers 5xx/429) is probed again within one poll interval:
    the draw is capped at ``poll_s``, so it is seen soon after it returns, and fully jittered, so
    a fleet that lost it together does not come back in one herd. A VTN that answers but whose
    cycle fails gets the full exponential backoff up to its cap. Each distinct reason is logged
    once at WARNING: a VTN down for a day is probed thousands of times."""

    def __init__(self, backoff: Backoff, log: logging.Logger, what: str) -> None:
        self.backoff = backoff
        self._log = log
        self._what = what
        self._last_failure: str | None = None

    def succeeded(self, health: LinkHealthFields, now: datetime) -> None:
        if health.consecutive_failures:
            self._log.info(
                "VTN answering again after %d failed attempts", health.consecutive_failures
            )
        self._last_failure = None
        health.connected = True
        health.consecutive_failures = 0
        health.last_success = now
        self.backoff.reset()

    def failed(
        self, health: LinkHealthFields, reason: str, *, vtn_down: bool, poll_s: float
    ) -> float:
        """Record a failed attempt (``reason`` redacted); the delay before the next one."""
        reason = redact_text(reason) or ""
        health.connected = False
        health.consecutive_failures += 1
        health.last_error = reason
        delay = self.backoff.next_delay(poll_s if vtn_down else None)
        level = logging.WARNING if reason != self._last_failure else logging.DEBUG
        self._log.log(level, "%s failed (%s); retrying in %.1f s", self._what, reason, delay)
        self._last_failure = reason
        return max(delay, 1e-3)
