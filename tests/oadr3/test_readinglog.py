"""The reading history answers from bisected ranges exactly what reading it all answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.readinglog import ReadingLog
from ven_edge.oadr3.readings import DeviceReadings

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


# The former questions, reading every sample and every energy reading (the slow oracle).
def reference_values(log: ReadingLog, field: str, start: datetime, end: datetime) -> Any:
    at_end: Any = None
    inside: list[Any] = []
    for sample in log._samples:
        value = getattr(sample, field)
        if value is None:
            continue
        if sample.at < end:
            at_end = value
        if start <= sample.at < end:
            inside.append(value)
    if at_end is not None and not inside:
        inside.append(at_end)
    return at_end, inside


def reference_energy(log: ReadingLog, start: datetime, end: datetime) -> float | None:
    total, seen = 0.0, False
    for reading in log._energy:
        r_end = reading.start + reading.duration
        if reading.duration <= timedelta(0):
            if start <= reading.start < end:
                total, seen = total + reading.kwh, True
            continue
        overlap = min(end, r_end) - max(start, reading.start)
        if overlap > timedelta(0):
            total += reading.kwh * (overlap / reading.duration)
            seen = True
    return round(total, 4) if seen else None


records = st.lists(
    st.tuples(
        st.integers(0, 5),  # minutes since the previous record
        st.sampled_from([None, "IDLE_NORMAL", "RUNNING_NORMAL", "IDLE_CURTAILED"]),
        st.one_of(st.none(), st.floats(0, 100)),
        st.one_of(st.none(), st.floats(0, 2)),
        st.sampled_from([None, 0, 1, 15, 90]),  # an explicit meter window (minutes), or none
    ),
    max_size=40,
)
questions = st.lists(st.tuples(st.integers(-10, 200), st.integers(0, 120)), min_size=1, max_size=8)


@settings(max_examples=200)
@given(records, questions)
def test_answers_are_those_of_reading_everything(
    rows: list[tuple[int, str | None, float | None, float | None, int | None]],
    asked: list[tuple[int, int]],
) -> None:
    log = ReadingLog()
    at = T0
    for step, state, percent, kwh, window in rows:
        at += step * MIN
        usage_start = None if window is None else at - window * MIN
        log.record(
            at,
            DeviceReadings(
                operating_state=state,
                charge_percent=percent,
                usage_kwh=kwh,
                usage_start=usage_start,
                usage_duration=None if window is None else window * MIN,
            ),
        )
    for offset, length in asked:
        start = T0 + offset * MIN
        end = start + length * MIN
        for field in ("state", "percent"):
            assert log._values(field, start, end) == reference_values(log, field, start, end)
        assert log.energy(start, end) == reference_energy(log, start, end)
