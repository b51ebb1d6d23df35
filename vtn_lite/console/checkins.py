"""Check-ins per VEN client: last seen, observed interval, connection quality (docs/console.md
"Connection quality"). Sans-I/O: the caller passes the time; the auth path calls :meth:`seen`.

A *check-in* is a burst of authenticated requests: a poll is a token refresh, a programs and an
events request, so requests within ``merge_s`` of the burst's first one count once.

Quality over a window ``W`` at time ``t``::

    span     = t - max(t - W, first check-in seen)
    interval = mean of the middle half of the gaps between recent check-ins
               (the default interval with fewer than two check-ins)
    expected = max(1, span / interval)
    received = check-ins in (t - W, t]
    quality  = min(1, received / expected)

``expected`` is at least 1, so there is no division by zero; a VEN never seen scores 0, and a
silent one decays to 0 as its check-ins leave the window while ``expected`` stays.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

#: Gaps kept per VEN to estimate its interval (about a day at 5-minute polls).
HISTORY: Final = 288
#: A VEN is online while its last check-in is at most this many intervals old.
ONLINE_INTERVALS: Final = 3.0


@dataclass(frozen=True, slots=True)
class CheckinStatus:
    last: float | None
    interval: float
    observed: bool  # interval measured (two check-ins or more), not the default
    received: int
    expected: float
    quality: float  # 0.0 .. 1.0
    online: bool


def observed_interval(times: list[float]) -> float | None:
    """Mean of the middle half of the gaps (robust to outages and to jittery polling)."""
    gaps = sorted(later - earlier for earlier, later in pairwise(times))
    if not gaps:
        return None
    cut = len(gaps) // 4
    middle = gaps[cut : len(gaps) - cut]
    return sum(middle) / len(middle)


def quality_of(
    times: list[float], now: float, *, window: float, default_interval: float
) -> CheckinStatus:
    """The status of one VEN from its check-in times (ascending)."""
    measured = observed_interval(times)
    interval = measured if measured and measured > 0 else default_interval
    last = times[-1] if times else None
    if last is None:
        return CheckinStatus(None, interval, False, 0, 1.0, 0.0, False)
    since = max(now - window, times[0])
    expected = max(1.0, (now - since) / interval)
    received = sum(1 for at in times if now - window < at <= now)
    return CheckinStatus(
        last=last,
        interval=interval,
        observed=measured is not None,
        received=received,
        expected=expected,
        quality=min(1.0, received / expected),
        online=now - last <= ONLINE_INTERVALS * interval,
    )


class CheckinTracker:
    """Check-ins per client id, in memory; :meth:`take_dirty` hands out what to store."""

    def __init__(
        self,
        *,
        window: float = 3600.0,
        default_interval: float = 300.0,
        merge_s: float = 2.0,
        max_clients: int = 100_000,
    ) -> None:
        self.window = window
        self.default_interval = default_interval
        self.merge_s = merge_s
        self._max_clients = max_clients
        self._times: dict[str, deque[float]] = {}
        self._dirty: dict[str, float] = {}
        self._intervals: dict[str, float] = {}  # cache, dropped at each new check-in
        self.revision = 0

    def load(self, last_seen: dict[str, float]) -> None:
        """Seed with stored last check-ins (after a restart the history starts again)."""
        for client_id, at in last_seen.items():
            self._times.setdefault(client_id, deque([at], maxlen=HISTORY + 1))

    def seen(self, client_id: str, now: float) -> None:
        times = self._times.get(client_id)
        if times is None:
            if len(self._times) >= self._max_clients:
                return  # only configured clients authenticate, so this bound is never reached
            times = self._times[client_id] = deque(maxlen=HISTORY + 1)
        if times and now - times[-1] < self.merge_s:
            return  # the same poll: token, programs, events, reports
        times.append(now)
        self._intervals.pop(client_id, None)
        self._dirty[client_id] = now
        self.revision += 1

    def status(self, client_id: str | None, now: float) -> CheckinStatus:
        times = list(self._times.get(client_id, ())) if client_id else []
        return quality_of(times, now, window=self.window, default_interval=self.default_interval)

    def online(self, client_id: str | None, now: float) -> bool:
        """As ``status(...).online``, cheaply enough to filter 10,000 VENs per page view."""
        times = self._times.get(client_id) if client_id else None
        if not times:
            return False
        interval = self._intervals.get(client_id)  # type: ignore[arg-type]
        if interval is None:
            measured = observed_interval(list(times))
            interval = measured if measured and measured > 0 else self.default_interval
            self._intervals[client_id] = interval  # type: ignore[index]
        return now - times[-1] <= ONLINE_INTERVALS * interval

    def take_dirty(self) -> list[tuple[str, float]]:
        dirty, self._dirty = self._dirty, {}
        return sorted(dirty.items())
