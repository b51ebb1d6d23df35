"""OpenADR 3 time values: RFC 3339 date-times and ISO 8601 durations.

Lenient on input, strict on output (docs/openadr3.md §10): peers send timestamps with a space
instead of ``T``, without a zone, or as the "now" sentinels of the User Guide; OpenADR durations
use calendar units (``P1M``, ``P1Y``) and ``P9999Y`` for "infinity", which must not be turned into
a ``timedelta`` blindly.

Peers are not trusted to stay within the ranges Python's ``datetime`` can hold, so values are
bounded when parsed, before any arithmetic (a hostile ``PT999999999H`` or a start in year 9999
must be refused or clamped, never raise ``OverflowError`` later):

* text longer than :data:`MAX_TEXT_CHARS` is refused (RFC 3339 date-times and the durations
  OpenADR uses are well under 40 characters);
* a duration longer than :data:`MAX_DURATION` (counting a year as 366 days and a month as 31) is
  refused, except the ``P9999Y`` infinity convention (User Guide §7.3), which any duration of
  9999 years or more stands for;
* absolute date-times are checked by :func:`to_utc_in_range` against
  ``[EARLIEST, LATEST]`` (the "now" sentinels of year 1 are apart);
* :func:`shift` and :meth:`IsoDuration.end_from` check the result range before adding, and answer
  ``None`` ("beyond the end of time") instead of overflowing.
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

#: Longest date-time or duration text read (an RFC 3339 date-time with microseconds and an
#: offset has 32 characters); also keeps ``int()`` far from its 4300-digit limit.
MAX_TEXT_CHARS = 64
#: Earliest absolute date-time taken from a peer: OpenADR schedules nothing before the Unix epoch,
#: and bounding the past keeps the arithmetic (randomized starts, offsets) inside the range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
#: Latest absolute date-time: the end of Python's datetime range.
LATEST = datetime.max.replace(tzinfo=UTC)

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
    _check_length(text, "date-time")
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


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise TimeFormatError(f"{what} longer than {MAX_TEXT_CHARS} characters: {text[:24]!r}...")


def to_utc_in_range(moment: datetime) -> datetime:
    """``moment`` in UTC, refused unless it lies in ``[EARLIEST, LATEST]``.

    Comparing and subtracting aware datetimes never overflows, unlike ``astimezone``, which
    fails for ``9999-12-31T23:00:00-05:00``; so the range is checked first.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment < EARLIEST or moment > LATEST:
        raise TimeFormatError(
            f"{format_datetime(moment)} is outside {EARLIEST.year}..{LATEST.year}"
        )
    return EARLIEST + (moment - EARLIEST)


def shift(moment: datetime, span: timedelta) -> datetime | None:
    """``moment + span``, or ``None`` when the result would fall outside the datetime range."""
    if span > timedelta(0):
        room = datetime.max.replace(tzinfo=moment.tzinfo) - moment
        return None if span > room else moment + span
    room = moment - datetime.min.replace(tzinfo=moment.tzinfo)
    return None if -span > room else moment + span


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
class IsoDuration:
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
        """``start`` plus this duration in calendar arithmetic; ``None`` means "never ends".

        A result beyond the datetime range is ``None`` too (it never ends in practice); a
        negative duration reaching before year 1 gives the earliest datetime.
        """
        if self.is_infinite:
            return None
        sign = -1 if self.negative else 1
        earliest = datetime.min.replace(tzinfo=start.tzinfo)
        total_months = start.month - 1 + sign * (self.years * 12 + self.months)
        year = start.year + total_months // 12
        month = total_months % 12 + 1
        if year > datetime.max.year:
            return None
        if year < datetime.min.year:
            return earliest
        day = min(start.day, calendar.monthrange(year, month)[1])
        shifted = start.replace(year=year, month=month, day=day)
        rest = IsoDuration(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
            negative=self.negative,
        )
        end = shift(shifted, rest.as_timedelta())
        return end if end is not None or sign > 0 else earliest

    @property
    def nominal_days(self) -> Decimal:
        """The length in days, counting a year as 366 days and a month as 31 (an upper bound)."""
        seconds = (self.hours * 60 + self.minutes) * 60 + self.seconds
        whole = self.years * 366 + self.months * 31 + self.weeks * 7 + self.days
        return whole + seconds / 86400


ZERO_DURATION = IsoDuration()
INFINITE_DURATION = IsoDuration(years=INFINITY_YEARS)
#: Longest finite duration read: the infinity convention's 9999 years (any longer span cannot
#: end inside the datetime range anyway). Keeps ``as_timedelta`` inside ``timedelta``'s range.
MAX_DURATION = INFINITE_DURATION
_MAX_DURATION_DAYS = MAX_DURATION.nominal_days


def parse_duration(text: str) -> IsoDuration:
    """Parse an ISO 8601 duration as constrained by the OpenADR 3 YAML pattern.

    Durations longer than :data:`MAX_DURATION` are refused unless they are the infinity
    convention (9999 years or more, User Guide §7.3).
    """
    _check_length(text, "duration")
    match = _DURATION_RE.match(text.strip())
    if match is None:
        raise TimeFormatError(f"not an ISO 8601 duration: {text!r}")
    count = int(match["d"] or 0)
    weeks, days = (count, 0) if match["dw"] == "W" else (0, count)
    parsed = IsoDuration(
        years=int(match["y"] or 0),
        months=int(match["mo"] or 0),
        weeks=weeks,
        days=days,
        hours=int(match["h"] or 0),
        minutes=int(match["mi"] or 0),
        seconds=Decimal(match["s"] or 0),
        negative=match["neg"] == "-",
    )
    if parsed.years < INFINITY_YEARS and parsed.nominal_days > _MAX_DURATION_DAYS:
        raise TimeFormatError(
            f"duration {text.strip()} exceeds the limit {format_duration(MAX_DURATION)}"
        )
    return parsed


def format_duration(span: IsoDuration) -> str:
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


def duration_from_timedelta(span: timedelta) -> IsoDuration:
    """The day/hour/minute/second duration of an exact span."""
    negative = span < timedelta(0)
    span = abs(span)
    seconds_total = span.seconds
    seconds = Decimal(seconds_total % 60)
    if span.microseconds:
        seconds += Decimal(span.microseconds) / Decimal(1_000_000)
    return IsoDuration(
        days=span.days,
        hours=seconds_total // 3600,
        minutes=seconds_total % 3600 // 60,
        seconds=seconds,
        negative=negative,
    )
