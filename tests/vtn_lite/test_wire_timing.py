"""Event spans (User Guide §7.3, §7.4, §7.9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vtn_lite.wire.models import EventRequest
from vtn_lite.wire.timing import event_span

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _event(**fields: Any) -> EventRequest:
    return EventRequest.model_validate({"programID": "p", **fields})


def _intervals(count: int, **period: str) -> list[dict[str, Any]]:
    extra = {"intervalPeriod": period} if period else {}
    return [
        {"id": i, "payloads": [{"type": "PRICE", "values": [i]}], **extra} for i in range(count)
    ]


def test_follow_on_intervals_use_the_event_period() -> None:
    span = event_span(
        _event(
            intervalPeriod={"start": "2026-03-01T00:00:00Z", "duration": "PT1H"},
            intervals=_intervals(24),
        ),
        NOW,
    )
    assert span is not None
    assert (span.start, span.end) == (NOW - timedelta(hours=12), NOW + timedelta(hours=12))
    assert span.covers(NOW)
    assert not span.is_over(NOW)


def test_event_duration_overrides_and_p9999y_never_ends() -> None:
    looped = event_span(
        _event(
            duration="P9999Y",
            intervalPeriod={"start": "2026-01-01", "duration": "PT1H"},
            intervals=_intervals(24),
        ),
        NOW,
    )
    assert looped is not None
    assert looped.end is None
    truncated = event_span(
        _event(
            duration="PT12H",
            intervalPeriod={"start": "2026-03-01T00:00:00Z", "duration": "PT1H"},
            intervals=_intervals(24),
        ),
        NOW,
    )
    assert truncated is not None
    assert truncated.end == NOW
    assert truncated.is_over(NOW)


def test_now_start_and_cancellation() -> None:
    now_event = event_span(
        _event(
            intervalPeriod={"start": "0001-01-01", "duration": "PT30M"}, intervals=_intervals(2)
        ),
        NOW,
    )
    assert now_event is not None
    assert (now_event.start, now_event.end) == (NOW, NOW + timedelta(hours=1))
    cancelled = event_span(
        _event(intervalPeriod={"start": "0001-01-01", "duration": "PT0S"}, intervals=[]), NOW
    )
    assert cancelled is not None
    assert cancelled.end == cancelled.start == NOW
    assert cancelled.is_over(NOW)


def test_intervals_with_their_own_starts_and_no_timing() -> None:
    gapped = _intervals(2, duration="PT1H")
    gapped[0]["intervalPeriod"]["start"] = "2026-03-01T08:00:00Z"
    gapped[1]["intervalPeriod"] = {"start": "2026-03-01T15:00:00Z", "duration": "PT2H"}
    span = event_span(_event(intervals=gapped), NOW)
    assert span is not None
    assert (span.start.hour, span.end.hour if span.end else None) == (8, 17)
    assert event_span(_event(intervals=_intervals(3)), NOW) is None


@given(st.integers(0, 48), st.integers(1, 240))
def test_span_length_is_count_times_duration(count: int, minutes: int) -> None:
    span = event_span(
        _event(
            intervalPeriod={"start": "2026-03-01T00:00:00Z", "duration": f"PT{minutes}M"},
            intervals=_intervals(count),
        ),
        NOW,
    )
    assert span is not None
    assert span.end is not None
    expected = minutes * count if count else minutes
    assert span.end - span.start == timedelta(minutes=expected)
