"""Piecewise views of a :class:`~ven_edge.signals.SignalTimeline`, built in one sorted sweep.

The planners ask the same questions of a timeline at every plan step and at every instruction
edge: which interval of a kind is in force at ``t`` and where the next change is. Asked of the
timeline one at a time, each question scans every interval, so a day of ten-second prices costs
steps × intervals. A :class:`Profile` answers them from one pass instead: the instants at which
anything may change (every interval's and packed sub-interval's edges) cut time into *pieces*,
and a sweep with a heap of the intervals in force picks the one that takes effect in each piece.
Building costs O(N log N) for N edges; a look-up is a bisection.

The answers are those of :meth:`SignalTimeline.winner_at` (priority, then the later start, then
the larger event id, then timeline order: :func:`~ven_edge.signals.winner`) or of any other
strict ranking of the candidates given to :func:`profile`.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from ven_edge.signals import SignalInterval, SignalTimeline, Value


@dataclass(frozen=True, slots=True)
class Profile:
    """``chosen[j]`` is in force over ``[edges[j], edges[j + 1])`` (None: nothing is); before the
    first edge and from the last one on, nothing is."""

    edges: tuple[datetime, ...] = ()
    chosen: tuple[SignalInterval | None, ...] = ()

    def at(self, t: datetime) -> SignalInterval | None:
        """The interval in force at ``t``, or None."""
        j = bisect_right(self.edges, t) - 1
        return None if j < 0 else self.chosen[j]

    def value_at(self, t: datetime) -> Value | None:
        """The value in force at ``t`` (sub-interval aware), or None."""
        chosen = self.at(t)
        return None if chosen is None else chosen.value_at(t)

    def pieces(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, SignalInterval | None]]:
        """``[start, end)`` cut at every change, in order: ``(from, to, interval in force)``.

        The same cuts as walking :meth:`SignalTimeline.next_change_after` from ``start``."""
        edges = self.edges
        j = bisect_right(edges, start)  # the first change after ``start``
        t = start
        while t < end:
            nxt = edges[j] if j < len(edges) else None
            piece_end = end if nxt is None or nxt > end else nxt
            yield t, piece_end, self.chosen[j - 1] if j > 0 else None
            t = piece_end
            j += 1


def profile(
    candidates: Sequence[SignalInterval],
    preferred: Sequence[int],
    cuts: Callable[[SignalInterval], Sequence[datetime]] = SignalInterval.boundaries,
) -> Profile:
    """The profile of ``candidates`` (sorted by start) where, among the intervals in force, the
    one first in ``preferred`` (every candidate's index, most preferred first) wins; ``cuts``
    gives the instants at which an interval's value may change."""
    rank = [0] * len(candidates)
    for position, k in enumerate(preferred):
        rank[k] = position
    edges = sorted({t for interval in candidates for t in cuts(interval)})
    heap: list[tuple[int, int]] = []
    chosen: list[SignalInterval | None] = []
    following = 0
    for edge in edges:
        while following < len(candidates) and candidates[following].start <= edge:
            heapq.heappush(heap, (rank[following], following))
            following += 1
        # Intervals over by now leave when they reach the top: none comes back later.
        while heap and candidates[heap[0][1]].end <= edge:
            heapq.heappop(heap)
        chosen.append(candidates[heap[0][1]] if heap else None)
    return Profile(tuple(edges), tuple(chosen))


def winner_profile(timeline: SignalTimeline, kind: str) -> Profile:
    """Which interval of ``kind`` is in force when, as :meth:`SignalTimeline.winner_at` says."""
    candidates = [i for i in timeline.intervals if i.kind == kind]
    # winner(): the highest priority; among equals the later start, then the larger event id,
    # then the first in timeline order. Two stable sorts give that order over all candidates;
    # restricted to those in force at an instant it is the order winner() applies to them.
    newest = [(i.start, i.event_id) for i in candidates]
    order = sorted(range(len(candidates)), key=newest.__getitem__, reverse=True)  # stable
    ranks = [priority_rank(i) for i in candidates]
    order.sort(key=ranks.__getitem__)
    return profile(candidates, order)


def priority_rank(interval: SignalInterval) -> tuple[bool, int]:
    """Lower sorts first: a lower number is a higher priority, no priority is the lowest."""
    return (interval.priority is None, 0 if interval.priority is None else interval.priority)
