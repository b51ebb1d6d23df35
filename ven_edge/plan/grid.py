"""The plan's steps on the clock.

Steps lie on multiples of the step length from the hour (docs/planner.md, "Steps on the clock"),
whatever the time of the re-plan: a plan made at 18:11:04 with 15-minute steps has the steps
18:11:04–18:15, 18:15–18:30, ..., so that two plans made minutes apart share every boundary and
a command changes only where both put one. A price boundary inside a step splits the step
(hourly prices starting at 19:04 give the steps 19:00–19:04 and 19:04–19:15), unless the prices
either side of it are shorter than a step: those are averaged into the step (:func:`average`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta

from ven_edge.signal_profile import Profile

#: Steps never number more than this (a week of 5-minute steps, as the problem's limit): beyond
#: it, price boundaries no longer split steps.
MAX_STEPS = 7 * 24 * 12


def grid_floor(t: datetime, step: timedelta) -> datetime:
    """The last multiple of ``step`` from the hour at or before ``t``."""
    hour = t.replace(minute=0, second=0, microsecond=0)
    return hour + step * ((t - hour) // step)


def step_bounds(
    now: datetime,
    step: timedelta,
    horizon: timedelta,
    prices: Profile | None = None,
    edges: Iterable[datetime] = (),
) -> list[datetime]:
    """The step boundaries from ``now`` to the end of the horizon (the grid point ``horizon``
    after the step ``now`` is in): ``now``, every grid point after it, and every price edge
    (and each of ``edges``) inside a step."""
    first = grid_floor(now, step)
    count = max(1, round(horizon / step))
    end = first + step * count
    points = {first + step * k for k in range(1, count)}
    points.add(now)
    points.add(end)
    cuts = set(price_cuts(prices, now, end, step)) if prices is not None else set()
    cuts.update(e for e in edges if now < e < end)
    if len(points) + len(cuts) <= MAX_STEPS + 1:
        points |= cuts
    return sorted(points)


def price_cuts(prices: Profile, start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The price edges in ``(start, end)`` that split a step: those with a piece of at least a
    step (or no price at all) on one side. Shorter prices are averaged into their step."""
    edges = prices.edges
    out = []
    j = bisect_right(edges, start)
    while j < len(edges) and edges[j] < end:
        before = edges[j] - edges[j - 1] if j > 0 else step
        after = edges[j + 1] - edges[j] if j + 1 < len(edges) else step
        gap = (j > 0 and prices.chosen[j - 1] is None) or prices.chosen[j] is None
        if gap or before >= step or after >= step:
            out.append(edges[j])
        j += 1
    return out
