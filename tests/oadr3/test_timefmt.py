"""RFC 3339 date-times and ISO 8601 durations as OpenADR 3 uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.oadr3.timefmt import (
    NOW_SENTINEL,
    IsoDuration,
    TimeFormatError,
    duration_from_timedelta,
    format_datetime,
    format_duration,
    is_now,
    parse_datetime,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T03:53:46Z", datetime(2026, 11, 22, 3, 53, 46, tzinfo=UTC)),
        ("2026-11-22 03:53:46", datetime(2026, 11, 22, 3, 53, 46, tzinfo=UTC)),
        ("2025-02-13 19:00:00.000Z", datetime(2025, 2, 13, 19, tzinfo=UTC)),
        (
            "2026-01-01T00:00:00-08:00",
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-8))),
        ),
        ("2026-01-01T00:00+0100", datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))),
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime_lenient(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected
    assert parse_datetime(text).tzinfo is not None


@pytest.mark.parametrize(
    "text",
    ["0001-01-01", "0001-01-01T00:00:00", "0000-01-01", "0000-00-00", "0000-00-00T00:00:00Z"],
)
def test_now_sentinels(text: str) -> None:
    parsed = parse_datetime(text)
    assert parsed == NOW_SENTINEL
    assert is_now(parsed)
    assert format_datetime(parsed) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize("text", ["", "12:22:12", "2026-13-01T00:00:00Z", "yesterday", "2026-1-1"])
def test_parse_datetime_rejects(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_datetime(text)


def test_format_datetime_always_has_zone() -> None:
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)).endswith(".120000Z")
    plus_two = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2026, 1, 2, tzinfo=plus_two)) == "2026-01-02T00:00:00+02:00"


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])))
def test_datetime_round_trip(moment: datetime) -> None:
    assert parse_datetime(format_datetime(moment)) == moment


def test_durations() -> None:
    assert parse_duration("PT1H").as_timedelta() == timedelta(hours=1)
    assert parse_duration("P1W").as_timedelta() == timedelta(weeks=1)
    assert parse_duration("PT0.5S").as_timedelta() == timedelta(milliseconds=500)
    assert parse_duration("-PT15M").as_timedelta() == timedelta(minutes=-15)
    infinite = parse_duration("P9999Y")
    assert infinite.is_infinite
    assert infinite.end_from(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert format_duration(infinite) == "P9999Y"
    month = parse_duration("P1M")
    with pytest.raises(TimeFormatError):
        month.as_timedelta()
    assert month.end_from(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert format_duration(IsoDuration()) == "PT0S"
    assert format_duration(IsoDuration(weeks=1, days=2)) == "P9D"


@pytest.mark.parametrize("text", ["P", "PT", "1H", "P1H", "PT1D", "P1.5D", "P-1D", "P1Y2"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_duration(text)


@given(st.timedeltas(min_value=timedelta(days=-9999), max_value=timedelta(days=9999)))
def test_timedelta_round_trip(span: timedelta) -> None:
    duration = duration_from_timedelta(span)
    assert duration.as_timedelta() == span
    assert parse_duration(format_duration(duration)) == duration


@given(st.text(max_size=30))
def test_parse_duration_never_crashes(text: str) -> None:
    try:
        duration = parse_duration(text)
    except TimeFormatError:
        return
    assert parse_duration(format_duration(duration)).end_from(NOW_SENTINEL.replace(year=2000)) == (
        duration.end_from(NOW_SENTINEL.replace(year=2000))
    )


@given(st.text(max_size=40))
def test_parse_datetime_never_crashes(text: str) -> None:
    try:
        parsed = parse_datetime(text)
    except TimeFormatError:
        return
    assert parsed.tzinfo is not None


def test_decimal_seconds_are_kept() -> None:
    assert parse_duration("PT1.25S").seconds == Decimal("1.25")
