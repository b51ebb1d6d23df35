"""A bounded history of device readings, so reports can cover past intervals (sans-I/O).

Interval reports (UG §7.5) cover whole event intervals, often after they are over, so the gateway
keeps what the device reported: operating-state and charge-level samples (the value holds until
the next sample) and energy readings (kWh over a window, CTA-2045 commodity code 0, counted in
proportion to their overlap with an interval). An energy reading without a window start is the
energy used since the previous :meth:`ReadingLog.record`. The history is JSON-serialisable for the
daemon's state store.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ven_edge.oadr3.readings import DeviceReadings

LOG = logging.getLogger(__name__)

#: Samples kept at most; a sample per state change or per ``RESAMPLE`` is far below this in the
#: few days an event's reports can look back.
MAX_SAMPLES = 5000
#: How long history is kept (a day-ahead event plus a VTN outage of a day).
MAX_AGE = timedelta(days=3)
#: An unchanged value is still sampled this often, so means and peaks have support.
RESAMPLE = timedelta(minutes=5)
#: Distinct bad readings logged; a device stuck sending nonsense does not flood the log.
MAX_LOGGED_PROBLEMS = 100
#: How far back a USAGE forecast looks for the average rate of use.
FORECAST_LOOKBACK = timedelta(hours=24)

#: readingType values (Definition 3.1.0 "Reading Type Enumerations") and how they combine the
#: samples in an interval; DIRECT_READ/ESTIMATED take the value in force at the interval's end.
MEAN_READINGS = frozenset({"MEAN", "AVERAGE"})
PEAK_READING = "PEAK"


@dataclass(frozen=True)
class Sample:
    at: datetime
    state: str | None
    percent: float | None


@dataclass(frozen=True)
class EnergyReading:
    start: datetime
    duration: timedelta
    kwh: float


def _at(sample: Sample) -> datetime:
    return sample.at


def _start(reading: EnergyReading) -> datetime:
    return reading.start


class ReadingLog:
    """Remembers readings; answers "what was the value over [start, end)" for reports.

    Samples are kept in time order and energy readings in order of their start, so a question
    about one interval bisects to the readings that can matter instead of reading them all: a
    report covering many intervals after an outage stays short work for the event loop."""

    def __init__(self) -> None:
        self._samples: list[Sample] = []
        self._energy: list[EnergyReading] = []
        self._longest = timedelta(0)  # no energy reading lasts longer (may be stale-high)
        self._problems: set[str] = set()
        self._last_at: datetime | None = None

    def __len__(self) -> int:
        return len(self._samples) + len(self._energy)

    # -- recording -------------------------------------------------------------------------
    def record(self, at: datetime, readings: DeviceReadings) -> None:
        """Add what the device reports at ``at`` (unchanged values are thinned out; values no
        report may carry are logged once and left out)."""
        readings, problems = readings.checked()
        for problem in problems:
            if problem not in self._problems and len(self._problems) < MAX_LOGGED_PROBLEMS:
                self._problems.add(problem)
                LOG.warning("device reading ignored: %s", problem)
        if readings.operating_state is not None or readings.charge_percent is not None:
            sample = Sample(at, readings.operating_state, readings.charge_percent)
            last = self._samples[-1] if self._samples else None
            if last is None or (
                at >= last.at
                and (
                    (last.state, last.percent) != (sample.state, sample.percent)
                    or at - last.at >= RESAMPLE
                )
            ):
                self._samples.append(sample)
        if readings.usage_kwh is not None:
            # Without its window, an energy reading is the energy used since the previous
            # reading was recorded (as a meter difference taken at each call is).
            start = readings.usage_start or self._last_at or at
            duration = readings.usage_duration
            if duration is None:
                duration = at - start if readings.usage_start is None else timedelta(0)
            energy = EnergyReading(start, max(duration, timedelta(0)), readings.usage_kwh)
            # The same meter window read twice (each cycle re-reads the latest) counts once.
            window = (energy.start, energy.duration)
            if all((e.start, e.duration) != window for e in self._energy[-8:]):
                insort(self._energy, energy, key=_start)
                self._longest = max(self._longest, energy.duration)
        if self._last_at is None or at > self._last_at:
            self._last_at = at
        self._trim(at)

    def _trim(self, now: datetime) -> None:
        cutoff = now - MAX_AGE
        keep_from = 0
        while keep_from < len(self._samples) - 1 and self._samples[keep_from + 1].at <= cutoff:
            keep_from += 1  # the newest sample before the cutoff still holds after it
        del self._samples[:keep_from]
        self._energy = [e for e in self._energy if e.start + e.duration > cutoff]
        del self._samples[:-MAX_SAMPLES]
        del self._energy[:-MAX_SAMPLES]

    # -- questions -------------------------------------------------------------------------
    def _values(self, field: str, start: datetime, end: datetime) -> tuple[Any, list[Any]]:
        """The value in force at ``end`` and the values sampled in ``[start, end)``."""
        samples = self._samples
        before_end = bisect_left(samples, end, key=_at)
        at_end: Any = None
        for k in range(before_end - 1, -1, -1):
            at_end = getattr(samples[k], field)
            if at_end is not None:
                break
        from_start = bisect_left(samples, start, key=_at)
        inside = [
            value
            for sample in samples[from_start:before_end]
            if (value := getattr(sample, field)) is not None
        ]
        if at_end is not None and not inside:
            inside.append(at_end)  # held over from before the interval
        return at_end, inside

    def state(self, start: datetime, end: datetime) -> str | None:
        """The operating state in force at the end of ``[start, end)``."""
        at_end, _ = self._values("state", start, end)
        return str(at_end) if at_end is not None else None

    def percent(self, start: datetime, end: datetime, reading_type: str) -> float | None:
        """The charge level over ``[start, end)``, combined as ``reading_type`` asks."""
        at_end, inside = self._values("percent", start, end)
        if at_end is None:
            return None
        if reading_type in MEAN_READINGS:
            return round(float(sum(inside)) / len(inside), 2)
        if reading_type == PEAK_READING:
            return round(float(max(inside)), 2)
        return round(float(at_end), 2)

    def energy(self, start: datetime, end: datetime) -> float | None:
        """kWh used in ``[start, end)``; None when no reading overlaps it."""
        total, seen = 0.0, False
        # Only readings that start before ``end`` and less than the longest reading before
        # ``start`` can overlap [start, end).
        first = bisect_left(self._energy, start - self._longest, key=_start)
        last = bisect_left(self._energy, end, key=_start)
        for reading in self._energy[first:last]:
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

    def latest_state(self) -> str | None:
        return next((s.state for s in reversed(self._samples) if s.state is not None), None)

    def latest_percent(self) -> float | None:
        found = next((s.percent for s in reversed(self._samples) if s.percent is not None), None)
        return round(found, 2) if found is not None else None

    def energy_rate(self, now: datetime) -> float | None:
        """Average kWh per second over the last :data:`FORECAST_LOOKBACK`; None without data."""
        used = self.energy(now - FORECAST_LOOKBACK, now)
        windows = [e for e in self._energy if e.start + e.duration > now - FORECAST_LOOKBACK]
        if used is None or not windows:
            return None
        first = max(min(e.start for e in windows), now - FORECAST_LOOKBACK)
        seconds = (now - first).total_seconds()
        return used / seconds if seconds > 0 else None

    # -- persistence -----------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        return {
            "samples": [[s.at.isoformat(), s.state, s.percent] for s in self._samples],
            "energy": [
                [e.start.isoformat(), e.duration.total_seconds(), e.kwh] for e in self._energy
            ],
        }

    def restore_state(self, document: Mapping[str, Any]) -> None:
        try:
            samples = [_sample(row) for row in document.get("samples") or []]
            energy = [_energy(row) for row in document.get("energy") or []]
        except (TypeError, ValueError, IndexError) as exc:
            LOG.warning("ignoring an unreadable reading history: %s", exc)
            return
        self._samples = sorted(samples, key=_at)[-MAX_SAMPLES:]
        self._energy = sorted(energy, key=_start)[-MAX_SAMPLES:]
        self._longest = max((e.duration for e in self._energy), default=timedelta(0))


def _sample(row: Sequence[Any]) -> Sample:
    state, percent = row[1], row[2]
    return Sample(
        datetime.fromisoformat(str(row[0])),
        str(state) if state is not None else None,
        float(percent) if percent is not None else None,
    )


def _energy(row: Sequence[Any]) -> EnergyReading:
    return EnergyReading(
        datetime.fromisoformat(str(row[0])), timedelta(seconds=float(row[1])), float(row[2])
    )
