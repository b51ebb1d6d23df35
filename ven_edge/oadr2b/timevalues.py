"""2.0b time values: xcal date-times and durations (oadr_xcal_20b.xsd).

Reading reuses the bounded parsers of :mod:`ven_edge.oadr3.timefmt` (no overflow on hostile
values, date-times before 1970 refused); 2.0b adds that durations have no calendar units here
(an event's length must be exact to be randomised and split into intervals), and writing follows
the xcal patterns: UTC with ``Z``, whole seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from ven_edge.oadr3.timefmt import (
    TimeFormatError,
    parse_datetime,
    parse_duration,
    to_utc_in_range,
)

#: Longest span read as an exact duration: an event may last a year; nothing in a water
#: heater's day needs more, and the bound keeps every sum of spans inside datetime's range.
MAX_SPAN: Final = timedelta(days=366)

__all__ = ["MAX_SPAN", "TimeFormatError", "format_dt", "format_span", "read_dt", "read_span"]


def read_dt(value: str) -> datetime:
    """An aware UTC date-time from xcal text; :class:`TimeFormatError` if unusable."""
    return to_utc_in_range(parse_datetime(value))


def read_span(value: str, *, allow_negative: bool = False) -> timedelta:
    """An exact span from xcal duration text, bounded by :data:`MAX_SPAN`."""
    parsed = parse_duration(value)
    if parsed.has_calendar_units:
        raise TimeFormatError(f"duration {value.strip()} has years or months")
    span = parsed.as_timedelta()
    if span < timedelta(0) and not allow_negative:
        raise TimeFormatError(f"negative duration {value.strip()}")
    if abs(span) > MAX_SPAN:
        raise TimeFormatError(f"duration {value.strip()} exceeds {MAX_SPAN.days} days")
    return span


def format_dt(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss[.ffffff]Z``, the xcal DateTimeType pattern."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    timespec = "microseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=timespec) + "Z"


def format_span(span: timedelta) -> str:
    """``[-]PnDTnHnMnS`` in whole seconds, the xcal DurationValueType pattern."""
    sign = "-" if span < timedelta(0) else ""
    total = int(abs(span).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P"
    if days:
        text += f"{days}D"
    text += "T"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if seconds or text.endswith("T"):
        text += f"{seconds}S"
    return text
