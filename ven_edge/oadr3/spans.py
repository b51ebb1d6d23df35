"""Intervals laid end to end: the one walk from an event's intervals to absolute spans.

User Guide 3.1.0 §7.3-§7.4: an interval with its own start begins there; one without follows on
the end of the one before (the first begins at the event's start). Both the event's overall span
(vtn_lite's ``wire.timing``, on its pydantic models) and the timeline's interval spans
(:mod:`ven_edge.oadr3.timeline`) are this walk. Pydantic-free, so the daemon can use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ven_edge.oadr3.timefmt import IsoDuration


def follow_on_spans(
    first_start: datetime, periods: Iterable[tuple[datetime | None, IsoDuration | None]]
) -> list[tuple[datetime, datetime | None]]:
    """``(start, end)`` of each interval given as ``(own start or None, duration)``.

    A duration of ``None`` (or one that runs past the datetime range) never ends: its end is
    ``None`` and nothing can follow it, so the walk stops there.
    """
    spans: list[tuple[datetime, datetime | None]] = []
    cursor = first_start
    for own_start, duration in periods:
        start = own_start if own_start is not None else cursor
        end = duration.end_from(start) if duration is not None else None
        spans.append((start, end))
        if end is None:
            break
        cursor = end
    return spans
