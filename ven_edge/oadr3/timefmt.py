"""OpenADR 3 time values: RFC 3339 date-times and ISO 8601 durations.

Lenient on input, strict on output (docs/openadr3.md §10): peers send timestamps with a space
instead of ``T``, without a zone, or as the "now" sentinels of the User Guide; OpenADR durations
use calendar units (``P1M``, ``P1Y``) and ``P9999Y`` for "infinity", which must not be turned into
a ``timedelta`` blindly.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

# User Guide §7.3 / YAML intervalPeriod: a start of "0001-01-01" means "now". The 3.1 changelog
# (#339) spells it "0000-01-01" and older texts "0000-00-00"; all three are accepted.
NOW_SENTINEL = datetime(1, 1, 1, tzinfo=UTC)
_NOW_PREFIXES = ("0000-00-00", "0000-01-01", "0001-01-01")

# Duration pattern of the 3.1.0 YAML (components/schemas/duration), with named groups.
_DURATION_RE = re.compile(
    r"^(?P<neg>-?)P(?=\d|T\d)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<d>\d+)(?P<dw>[DW]))?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
# User Guide §7.3: "P9999Y" indicates infinity.
INFINITY_YEARS = 9999

_DATETIME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?)?$"
)


class TimeFormatError(ValueError):
    """A date-time or duration string that cannot be understood."""


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 date-time leniently; always returns an aware datetime.

    Accepts ``T``, ``t`` or a space between date and time, a missing zone (taken as UTC, as the
    reference VTN writes naive UTC), a date without time, and the "now" sentinels, which all
    return :data:`NOW_SENTINEL`.
    """
    value = text.strip()
    if value.startswith(_NOW_PREFIXES):
        match = _DATETIME_RE.match(value.replace("0000-00-00", "0001-01-01", 1))
        if match is not None:
            return NOW_SENTINEL
    match = _DATETIME_RE.match(value)
    if match is None:
        raise TimeFormatError(f"not an RFC 3339 date-time: {text!r}")
    try:
        day = date.fromisoformat(match["date"])
        clock = match["time"] or "00:00:00"
        if len(clock) == 5:
            clock += ":00"
        zone = match["zone"] or "Z"
        if zone in ("Z", "z"):
            zone = "+00:00"
        elif ":" not in zone:
            zone = f"{zone[:3]}:{zone[3:]}"
        parsed = datetime.fromisoformat(f"{day.isoformat()}T{clock.replace(',', '.')}{zone}")
    except ValueError as exc:
        raise TimeFormatError(f"not an RFC 3339 date-time: {text!r} ({exc})") from None
    return parsed


def format_datetime(moment: datetime) -> str:
    """RFC 3339 with an explicit zone; UTC is written ``Z`` (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset()
    timespec = "microseconds" if moment.microsecond else "seconds"
    if offset == timedelta(0):
        return moment.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"
    return moment.isoformat(timespec=timespec)


def is_now(moment: datetime) -> bool:
    """True for the "now" sentinel start (any of its spellings)."""
    return moment.year == 1 and moment.month == 1 and moment.day == 1


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO 8601 duration that keeps its calendar units (years and months stay calendar)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: Decimal = Decimal(0)
    negative: bool = False

    @property
    def is_infinite(self) -> bool:
        """``P9999Y`` (User Guide §7.3: "may indicate infinity")."""
        return self.years >= INFINITY_YEARS and not self.negative

    @property
    def has_calendar_units(self) -> bool:
        return bool(self.years or self.months)

    def as_timedelta(self) -> timedelta:
        """The exact length; refused for durations with years or months (their length varies)."""
        if self.has_calendar_units:
            raise TimeFormatError(
                f"{format_duration(self)} has calendar units; use end_from(start) instead"
            )
        span = timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=float(self.seconds),
        )
        return -span if self.negative else span

    def end_from(self, start: datetime) -> datetime | None:
        """``start`` plus this duration in calendar arithmetic; ``None`` means "never ends"."""
        if self.is_infinite:
            return None
        sign = -1 if self.negative else 1
        total_months = start.month - 1 + sign * (self.years * 12 + self.months)
        year = start.year + total_months // 12
        month = total_months % 12 + 1
        try:
            day = min(start.day, calendar.monthrange(year, month)[1])
            shifted = start.replace(year=year, month=month, day=day)
        except ValueError:
            return None if sign > 0 else datetime.min.replace(tzinfo=start.tzinfo)
        rest = Duration(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
            negative=self.negative,
        )
        try:
            return shifted + rest.as_timedelta()
        except OverflowError:
            return None if sign > 0 else datetime.min.replace(tzinfo=start.tzinfo)


ZERO_DURATION = Duration()
INFINITE_DURATION = Duration(years=INFINITY_YEARS)


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration as constrained by the OpenADR 3 YAML pattern."""
    match = _DURATION_RE.match(text.strip())
    if match is None:
        raise TimeFormatError(f"not an ISO 8601 duration: {text!r}")
    count = int(match["d"] or 0)
    weeks, days = (count, 0) if match["dw"] == "W" else (0, count)
    return Duration(
        years=int(match["y"] or 0),
        months=int(match["mo"] or 0),
        weeks=weeks,
        days=days,
        hours=int(match["h"] or 0),
        minutes=int(match["mi"] or 0),
        seconds=Decimal(match["s"] or 0),
        negative=match["neg"] == "-",
    )


def format_duration(span: Duration) -> str:
    """Canonical text (``PT0S`` for zero); the output always matches the YAML pattern.

    The YAML pattern allows only one of days or weeks, so weeks and days together are written
    as days.
    """
    date_part = ""
    if span.years:
        date_part += f"{span.years}Y"
    if span.months:
        date_part += f"{span.months}M"
    if span.weeks and not span.days:
        date_part += f"{span.weeks}W"
    elif span.days or span.weeks:
        date_part += f"{span.days + 7 * span.weeks}D"
    time_part = ""
    if span.hours:
        time_part += f"{span.hours}H"
    if span.minutes:
        time_part += f"{span.minutes}M"
    if span.seconds:
        seconds = format(span.seconds.normalize(), "f")
        time_part += f"{seconds}S"
    if not date_part and not time_part:
        return "PT0S"
    sign = "-" if span.negative else ""
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")


def duration_from_timedelta(span: timedelta) -> Duration:
    """The day/hour/minute/second duration of an exact span."""
    negative = span < timedelta(0)
    span = abs(span)
    seconds_total = span.seconds
    seconds = Decimal(seconds_total % 60)
    if span.microseconds:
        seconds += Decimal(span.microseconds) / Decimal(1_000_000)
    return Duration(
        days=span.days,
        hours=seconds_total // 3600,
        minutes=seconds_total % 3600 // 60,
        seconds=seconds,
        negative=negative,
    )
