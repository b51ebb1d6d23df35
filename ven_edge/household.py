"""The household's hot-water draw per hour of the week, learned from the heater's own readings.

What the heater reports over CTA-2045 (docs/cta2045.md §9.3): the energy stored in the tank
(commodity 7, present energy storage), the electricity used so far (commodity 0, cumulative) and,
polled apart, the tank temperature. Between two readings the household took

    draw = max(0, stored_before − stored_after + heat_put_in − standby_loss)

kWh of heat from the tank: a drop in stored energy is hot water leaving, and the heat the heater
put in meanwhile would otherwise hide the part of a draw that overlaps heating. The heat put in is
worked out from the electricity used by :class:`HeatFromElectricity`. Without a model of the
heater (:func:`resistance_heat`) it is one kWh of heat per kWh, a floor for every heater, so the
estimate never invents a draw while the heater only heats, but with a heat pump it misses
(COP − 1) × the electricity of the minutes a draw and heating overlap. With the heater's model
file (:class:`CompressorFirst`) the electricity up to the compressor's input power over the
pair is heat at the compressor's COP at the tank's temperature, and only what is beyond that
(the element, which the heater's own controls bring in when the compressor cannot keep up) is
one kWh per kWh. A pair in which the element ran briefly while the compressor was off is
credited too much heat (at most (COP − 1) × the compressor's input power × the pair's length);
with the UCM's minute polls that is a few watt-hours. The tank's standby loss is
a slow drop too: it is measured on the pairs where the heater did not heat and the stored energy
fell slower than :data:`STANDBY_MAX_KW` (no draw is that slow) and taken off every pair, so the
profile is the household's draws alone, as the default is (the planner adds the standby loss
from the tank's model itself).

Readings are paired as they come (the UCM polls every minute); a pair further apart than
:data:`MAX_PAIR_GAP` is not attributed (the gateway was off or the link down). The energy balance
holds over a pair of any length; what a longer pair loses is where in it the draw fell, since each
pair's draw is spread evenly over the local hours it spans. An hour is the longest pair taken: its
draw lands in the right hour or the next one, which is what a heater polled slowly (or a demo
clock running hundreds of times faster than the poll timer, docs/hil.md) still gives. A
local hour covered for at least :data:`MIN_HOUR_COVERAGE` of its length becomes one observation
(scaled to the whole hour) of its hour of the week, in the gateway's local time. A bin keeps the
mean of its first :data:`MAX_WEEKS_AVERAGED` observations, then an exponential mean with that
weight, so a household that changes its habits is followed within a couple of months.

The forecast for an hour of the week blends that bin with the same hour of day over the whole
week, and that with the default profile, each by how many observations it rests on
(:data:`PRIOR_WEEKS` of weight for the wider estimate): a single week does not make one Tuesday's
shower a rule, and a new gateway starts from the default.

Default: the OpenStudio-HPXML water-fixture hourly fractions (:data:`DEFAULT_HOURLY_FRACTIONS`)
times :data:`DEFAULT_DAILY_KWH`, the DOE 24-hour test's medium draw pattern (55 gal a day heated
from 14.4 °C to 51.7 °C, 10 CFR 430 Subpart B Appendix E). Sources: sample_data/SOURCES.md.

A heater with another serial number (Device Information, docs/cta2045.md §9.2) starts afresh.
Readings no heater can give (not finite, negative, a counter going backwards, more energy than
:data:`MAX_POWER_KW` allows in the time) are left out with a log line that says which and why.

The persisted document (``household`` in the state directory) is versioned and has a fixed size:
168 bins, the hour being gathered and the last reading.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final, Protocol

log = logging.getLogger(__name__)

HOURS_PER_WEEK: Final = 168
HOUR: Final = timedelta(hours=1)
DOCUMENT_VERSION: Final = 1

#: OpenStudio-HPXML default WaterFixturesScheduleFractions, hours 00–23 local time
#: (sample_data/draws/oshpxml_water_fixtures_hourly_fractions.csv; they sum to 1.002 as
#: published and are normalised below).
DEFAULT_HOURLY_FRACTIONS: Final = (
    0.012, 0.006, 0.004, 0.005, 0.010, 0.034, 0.078, 0.087, 0.080, 0.067, 0.056, 0.047,
    0.040, 0.035, 0.033, 0.031, 0.039, 0.051, 0.060, 0.060, 0.055, 0.048, 0.038, 0.026,
)  # fmt: skip
#: The DOE medium draw pattern: 208 L a day heated by 37.3 K at 1.163 Wh/(L·K).
DEFAULT_DAILY_KWH: Final = 9.0

#: Readings further apart than this are not paired (nothing is known about when in between the
#: water was drawn; module docstring).
MAX_PAIR_GAP: Final = timedelta(hours=1)
#: An hour is an observation when readings cover at least this share of it.
MIN_HOUR_COVERAGE: Final = 0.75
#: Observations averaged before a bin becomes an exponential mean with this weight.
MAX_WEEKS_AVERAGED: Final = 8
#: Weight, in observations, of the wider estimate a bin is blended with.
PRIOR_WEEKS: Final = 2.0
#: No water heater takes or gives heat faster than this (a 50 kW tankless unit is far beyond any
#: storage heater's element; a shower at 12 L/min heated 40 K is 33 kW).
MAX_POWER_KW: Final = 60.0
#: Stored energy above this is not a water heater's (a 120-gal tank at 80 °C holds ~30 kWh).
MAX_STORED_KWH: Final = 200.0
#: A tank that loses heat faster than this without heating is being drawn from (an 80-gal tank
#: at 60 °C loses about 0.1 kW; the slowest tap draw, 2 L/min warmed 30 K, takes 4 kW).
STANDBY_MAX_KW: Final = 0.3
#: Readings the standby loss is averaged over (an exponential mean): four hours of minute polls.
STANDBY_SAMPLES: Final = 240
#: Distinct problems logged per kind, so a heater stuck sending nonsense does not flood the log.
MAX_LOGGED_PER_KIND: Final = 5


def default_profile() -> tuple[float, ...]:
    """The default draw, kWh per hour of the week (Monday 00:00 local first)."""
    total = sum(DEFAULT_HOURLY_FRACTIONS)
    day = tuple(DEFAULT_DAILY_KWH * f / total for f in DEFAULT_HOURLY_FRACTIONS)
    return day * 7


def hour_of_week(local: datetime) -> int:
    return local.weekday() * 24 + local.hour


def _hour_floor(at: datetime, tz: tzinfo | None) -> datetime:
    """The start (UTC) of the local hour holding ``at``."""
    local = at.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DrawForecast:
    """Expected draw per hour of the week in the gateway's local time (immutable: handed to the
    planner's thread). ``tz`` None is the system's local zone."""

    kwh_by_hour_of_week: tuple[float, ...]
    tz: tzinfo | None = None
    learned: bool = False  # False: the default profile alone

    def __post_init__(self) -> None:
        if len(self.kwh_by_hour_of_week) != HOURS_PER_WEEK:
            raise ValueError(f"a week has 168 hours, got {len(self.kwh_by_hour_of_week)}")

    def __call__(self, start: datetime, end: datetime) -> float:
        """kWh expected in ``[start, end)``, each local hour counted by its overlap."""
        total = 0.0
        cursor = start
        while cursor < end:
            floor = _hour_floor(cursor, self.tz)
            upto = min(end, floor + HOUR)
            slot = hour_of_week(cursor.astimezone(self.tz))
            total += self.kwh_by_hour_of_week[slot] * ((upto - cursor) / HOUR)
            cursor = upto
        return total


DEFAULT_FORECAST: Final = DrawForecast(default_profile())


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    stored_kwh: float
    used_kwh: float | None


class HeatFromElectricity(Protocol):
    """Heat (kWh) the heater put into the water with ``used_kwh`` of electricity over ``hours``,
    the tank at ``tank_c`` (None: not read yet)."""

    def __call__(self, used_kwh: float, hours: float, tank_c: float | None) -> float: ...


def resistance_heat(heat_per_kwh: float = 1.0) -> HeatFromElectricity:
    """A fixed heat per kWh (1.0: a floor for any heater, module docstring)."""
    if not 0.0 <= heat_per_kwh <= 10.0:
        raise ValueError(f"heat_per_kwh {heat_per_kwh} is not a heater's")

    def heat(used_kwh: float, hours: float, tank_c: float | None) -> float:
        return heat_per_kwh * used_kwh

    return heat


@dataclass(frozen=True, slots=True)
class CompressorFirst:
    """A heat-pump heater: the electricity up to the compressor's input power over the pair is
    heat at its COP, the rest the element's kWh for kWh (module docstring). ``input_kw`` and
    ``cop`` are the compressor's at a water temperature (°C), from the model file's map at the
    air temperature assumed; ``default_c`` stands for the tank before its temperature is read."""

    input_kw: Callable[[float], float]
    cop: Callable[[float], float]
    default_c: float

    def __call__(self, used_kwh: float, hours: float, tank_c: float | None) -> float:
        water_c = self.default_c if tank_c is None or not math.isfinite(tank_c) else tank_c
        compressor = min(used_kwh, max(0.0, self.input_kw(water_c)) * hours)
        return compressor * max(1.0, self.cop(water_c)) + (used_kwh - compressor)


class Household:
    """Learns the draw profile; :meth:`observe` each reading, :meth:`forecast` for planning."""

    def __init__(
        self,
        *,
        tz: tzinfo | None = None,
        heat_per_kwh: float = 1.0,
        heat: HeatFromElectricity | None = None,
    ) -> None:
        self.tz = tz
        self.heat = heat if heat is not None else resistance_heat(heat_per_kwh)
        self._logged: dict[str, int] = {}
        self.changed = False  # the document changed since the flag was last cleared
        self._clear(None)

    def _clear(self, serial: str | None) -> None:
        self.serial = serial
        self._means = [0.0] * HOURS_PER_WEEK
        self._counts = [0] * HOURS_PER_WEEK
        self._hour_start: datetime | None = None  # UTC start of the local hour being gathered
        self._hour_kwh = 0.0
        self._hour_covered_s = 0.0
        self._last: Reading | None = None
        self._standby_kw = 0.0
        self._standby_samples = 0

    # -- learning --------------------------------------------------------------------------

    @property
    def standby_kw(self) -> float:
        """The tank's standby loss as measured so far (0 before any quiet reading)."""
        return self._standby_kw

    @property
    def observations(self) -> int:
        return sum(self._counts)

    def _problem(self, kind: str, message: str, *args: object) -> None:
        seen = self._logged.get(kind, 0)
        if seen < MAX_LOGGED_PER_KIND:
            self._logged[kind] = seen + 1
            log.warning("household reading ignored: " + message, *args)

    def reset(self, serial: str | None) -> None:
        """Forget everything learned (another heater, or on request)."""
        self._clear(serial)
        self.changed = True

    def observe(
        self,
        at: datetime,
        *,
        stored_kwh: float | None,
        used_kwh: float | None,
        capacity_kwh: float | None = None,
        serial: str | None = None,
        tank_c: float | None = None,
    ) -> None:
        """One reading of the heater at ``at`` (aware); ``tank_c`` its tank temperature."""
        if serial is not None and serial != self.serial:
            if self.serial is not None:
                log.info(
                    "heater serial number changed from %s to %s: the household's draw profile "
                    "starts afresh",
                    self.serial,
                    serial,
                )
                self.reset(serial)
            else:
                self.serial = serial
                self.changed = True
        if stored_kwh is None:
            return
        ceiling = MAX_STORED_KWH
        if capacity_kwh is not None and math.isfinite(capacity_kwh) and capacity_kwh > 0:
            ceiling = min(ceiling, 2.0 * capacity_kwh)
        if not math.isfinite(stored_kwh) or not 0.0 <= stored_kwh <= ceiling:
            self._problem(
                "stored",
                "stored energy %r kWh at %s is not within 0–%.1f kWh",
                stored_kwh,
                at.isoformat(),
                ceiling,
            )
            return
        if used_kwh is not None and (not math.isfinite(used_kwh) or used_kwh < 0):
            self._problem(
                "used",
                "energy-used counter %r kWh at %s is not a finite non-negative number",
                used_kwh,
                at.isoformat(),
            )
            return
        reading = Reading(at, stored_kwh, used_kwh)
        last = self._last
        if last is not None and at <= last.at:
            if at < last.at:
                self._problem(
                    "time",
                    "reading at %s is older than the previous one at %s",
                    at.isoformat(),
                    last.at.isoformat(),
                )
            return
        self._last = reading
        if last is None:
            return
        gap = at - last.at
        if gap > MAX_PAIR_GAP:
            # A gateway whose heater is polled less often than this (or an accelerated demo
            # clock) has a gap at every reading: said a few times, not at every poll.
            seen = self._logged.get("gap", 0)
            self._logged["gap"] = seen + 1
            log.log(
                logging.INFO if seen < MAX_LOGGED_PER_KIND else logging.DEBUG,
                "no heater readings from %s to %s: that time is left out of the draw profile",
                last.at.isoformat(),
                at.isoformat(),
            )
            return
        used = 0.0
        if used_kwh is not None and last.used_kwh is not None:
            used = used_kwh - last.used_kwh
            if used < 0:
                self._problem(
                    "backwards",
                    "energy-used counter went back from %.3f to %.3f kWh at %s",
                    last.used_kwh,
                    used_kwh,
                    at.isoformat(),
                )
                return
        hours = gap / HOUR
        limit = MAX_POWER_KW * hours
        drop = last.stored_kwh - stored_kwh
        if used > limit or abs(drop) > limit:
            self._problem(
                "jump",
                "%.3f kWh used and %.3f kWh stored change in %.0f s at %s exceed %.0f kW",
                used,
                stored_kwh - last.stored_kwh,
                gap.total_seconds(),
                at.isoformat(),
                MAX_POWER_KW,
            )
            return
        if used == 0 and 0 <= drop <= STANDBY_MAX_KW * hours:
            self._standby_samples = min(self._standby_samples + 1, STANDBY_SAMPLES)
            self._standby_kw += (drop / hours - self._standby_kw) / self._standby_samples
        loss = self._standby_kw * hours
        heat = self.heat(used, hours, tank_c) if used > 0 else 0.0
        self._add(last.at, at, max(0.0, drop + heat - loss))

    def _add(self, start: datetime, end: datetime, kwh: float) -> None:
        """Spread ``kwh`` drawn in ``[start, end)`` over the local hours it spans."""
        total_s = (end - start).total_seconds()
        cursor = start
        while cursor < end:
            floor = _hour_floor(cursor, self.tz)
            if self._hour_start != floor:
                self._close_hour()
                self._hour_start = floor
            upto = min(end, floor + HOUR)
            seconds = (upto - cursor).total_seconds()
            self._hour_kwh += kwh * seconds / total_s
            self._hour_covered_s += seconds
            cursor = upto
            if upto == floor + HOUR:
                self._close_hour()

    def _close_hour(self) -> None:
        start, covered, kwh = self._hour_start, self._hour_covered_s, self._hour_kwh
        self._hour_start, self._hour_covered_s, self._hour_kwh = None, 0.0, 0.0
        if start is None or covered < MIN_HOUR_COVERAGE * HOUR.total_seconds():
            return
        slot = hour_of_week(start.astimezone(self.tz))
        count = min(self._counts[slot] + 1, MAX_WEEKS_AVERAGED)
        self._means[slot] += (kwh * HOUR.total_seconds() / covered - self._means[slot]) / count
        self._counts[slot] = count
        self.changed = True

    # -- planning --------------------------------------------------------------------------

    def forecast(self) -> DrawForecast:
        """Each hour of the week: its own mean, blended with the same hour of every day, blended
        with the default (see the module docstring)."""
        if self.observations == 0:
            return DrawForecast(DEFAULT_FORECAST.kwh_by_hour_of_week, self.tz)
        default = DEFAULT_FORECAST.kwh_by_hour_of_week
        out = []
        for slot in range(HOURS_PER_WEEK):
            same = range(slot % 24, HOURS_PER_WEEK, 24)
            n_day = sum(self._counts[s] for s in same)
            day_sum = sum(self._means[s] * self._counts[s] for s in same)
            daily = (day_sum + PRIOR_WEEKS * default[slot]) / (n_day + PRIOR_WEEKS)
            n = self._counts[slot]
            out.append((self._means[slot] * n + PRIOR_WEEKS * daily) / (n + PRIOR_WEEKS))
        return DrawForecast(tuple(out), self.tz, learned=True)

    # -- persistence -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        last = self._last
        return {
            "version": DOCUMENT_VERSION,
            "serial": self.serial,
            "means_kwh": list(self._means),
            "counts": list(self._counts),
            "hour": None
            if self._hour_start is None
            else [self._hour_start.isoformat(), self._hour_kwh, self._hour_covered_s],
            "last": None if last is None else [last.at.isoformat(), last.stored_kwh, last.used_kwh],
            "standby": [self._standby_kw, self._standby_samples],
        }

    def restore(self, document: Mapping[str, Any]) -> None:
        """Take a persisted document; an unusable one is logged and the profile starts afresh."""
        try:
            version = document.get("version")
            if version != DOCUMENT_VERSION:
                raise ValueError(f"version {version!r} is not {DOCUMENT_VERSION}")
            means = [float(m) for m in document["means_kwh"]]
            counts = [int(c) for c in document["counts"]]
            if len(means) != HOURS_PER_WEEK or len(counts) != HOURS_PER_WEEK:
                raise ValueError("a profile has 168 hours")
            if not all(math.isfinite(m) and 0 <= m <= MAX_POWER_KW for m in means):
                raise ValueError("a bin is not a plausible hour's draw")
            if not all(0 <= c <= MAX_WEEKS_AVERAGED for c in counts):
                raise ValueError("a bin's count is out of range")
            serial = document.get("serial")
            standby = document.get("standby", [0.0, 0])
            standby_kw, standby_samples = _amount(standby[0]), int(standby[1])
            if standby_kw > STANDBY_MAX_KW or not 0 <= standby_samples <= STANDBY_SAMPLES:
                raise ValueError(f"standby loss {standby!r} is out of range")
            hour = document.get("hour")
            last = document.get("last")
            hour_state = (
                None if hour is None else (_aware(hour[0]), _amount(hour[1]), _amount(hour[2]))
            )
            if hour_state is not None and hour_state[2] > HOUR.total_seconds():
                raise ValueError("the hour being gathered covers more than an hour")
            last_reading = (
                None
                if last is None
                else Reading(
                    _aware(last[0]),
                    _amount(last[1]),
                    None if last[2] is None else _amount(last[2]),
                )
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            log.error("persisted household profile unusable (%s); starting from the default", exc)
            return
        self.serial = None if serial is None else str(serial)
        self._means, self._counts = means, counts
        if hour_state is not None:
            self._hour_start, self._hour_kwh, self._hour_covered_s = hour_state
        self._last = last_reading
        self._standby_kw, self._standby_samples = standby_kw, standby_samples


def _amount(value: Any) -> float:
    """A persisted energy or duration: a finite number, not negative."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{value!r} is not a finite non-negative number")
    return number


def _aware(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return value
