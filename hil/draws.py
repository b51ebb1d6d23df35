"""Hot-water draw profiles: the DOE 24-hour test patterns and hourly fixture fractions.

A profile is a list of draws (start, volume, flow rate) repeating every day; ``litres_between``
turns it into litres for any simulation step, splitting draws that straddle step boundaries.
Data files and their provenance: ``sample_data/draws/`` and ``sample_data/SOURCES.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DRAWS_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "draws"
DOE_PATTERNS_CSV = DRAWS_DIR / "doe_24h_uef_draw_patterns.csv"
HOURLY_FRACTIONS_CSV = DRAWS_DIR / "oshpxml_water_fixtures_hourly_fractions.csv"

DAY_S = 86_400.0
LITRES_PER_GALLON = 3.785411784
# 10 CFR 430 Subpart B App. E usage bins (as HPWHsim names them): name in the CSV per profile.
DOE_BINS = {
    "doe-very-small": "VerySmall",
    "doe-low": "Low",
    "doe-medium": "Medium",
    "doe-high": "High",
}
# Hourly fractions need a daily volume and a flow; defaults are the DOE Medium day (55 gal) at
# the DOE test's 1.7 gpm draw rate.
HOURLY_DEFAULT_DAILY_L = 55 * LITRES_PER_GALLON
HOURLY_FLOW_L_PER_MIN = 1.7 * LITRES_PER_GALLON
PROFILE_NAMES: tuple[str, ...] = (*DOE_BINS, "hourly-fractions", "none")
#: The DOE bins the benches and the fleet sample give their households.
HOUSEHOLD_PATTERNS: tuple[str, ...] = ("doe-low", "doe-medium", "doe-high")


class DrawProfileError(ValueError):
    """A draw profile name or file is not usable."""


@dataclass(frozen=True)
class Draw:
    start_s: float  # from the start of the day
    volume_l: float
    flow_l_per_min: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.volume_l / self.flow_l_per_min * 60.0


@dataclass(frozen=True)
class DrawProfile:
    """Draws that repeat every ``period_s`` seconds."""

    name: str
    draws: tuple[Draw, ...]
    period_s: float = DAY_S

    @property
    def daily_volume_l(self) -> float:
        return sum(d.volume_l for d in self.draws) * DAY_S / self.period_s

    def litres_between(self, t0_s: float, t1_s: float) -> float:
        """Litres drawn during [t0, t1) (seconds on the simulation's time line)."""
        if t1_s <= t0_s or not self.draws:
            return 0.0
        total = 0.0
        first_period = int(t0_s // self.period_s) - 1  # a draw may spill over midnight
        last_period = int(t1_s // self.period_s)
        for period in range(first_period, last_period + 1):
            base = period * self.period_s
            for draw in self.draws:
                start = base + draw.start_s
                end = base + draw.end_s
                overlap = min(end, t1_s) - max(start, t0_s)
                if overlap > 0:
                    total += overlap / 60.0 * draw.flow_l_per_min
        return total

    def flow_at(self, t_s: float) -> float:
        """Flow in L/min at instant t (0 between draws)."""
        offset = t_s % self.period_s
        return sum(
            d.flow_l_per_min
            for d in self.draws
            if d.start_s <= offset < d.end_s or d.start_s <= offset + self.period_s < d.end_s
        )


def _hhmm_to_s(text: str) -> float:
    hours, minutes = text.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


def doe_profile(name: str) -> DrawProfile:
    """A DOE 24-hour simulated-use test pattern ("doe-low", "doe-medium", ...)."""
    try:
        bin_name = DOE_BINS[name]
    except KeyError:
        raise DrawProfileError(
            f"unknown DOE draw profile {name!r}; known: {', '.join(DOE_BINS)}"
        ) from None
    with DOE_PATTERNS_CSV.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["usage_bin"] == bin_name]
    draws = tuple(
        Draw(
            start_s=_hhmm_to_s(row["start_hhmm_from_test_start"]),
            # Gallons are the published figures; the L columns are rounded conversions.
            volume_l=float(row["volume_gal"]) * LITRES_PER_GALLON,
            flow_l_per_min=float(row["flow_gpm"]) * LITRES_PER_GALLON,
        )
        for row in rows
    )
    return DrawProfile(name=name, draws=draws)


def hourly_fraction_profile(daily_volume_l: float = HOURLY_DEFAULT_DAILY_L) -> DrawProfile:
    """OpenStudio-HPXML fixture fractions × a daily volume, one draw at the top of each hour."""
    if not daily_volume_l >= 0:
        raise DrawProfileError(f"daily volume must be ≥ 0 L, got {daily_volume_l!r}")
    with HOURLY_FRACTIONS_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fractions = [float(row["fraction_of_daily_fixture_hot_water"]) for row in rows]
    # The published fractions sum to 1.002; normalise so the day holds exactly the volume asked.
    scale = daily_volume_l / sum(fractions)
    draws = tuple(
        Draw(
            start_s=_hhmm_to_s(row["hour_start"]),
            volume_l=f * scale,
            flow_l_per_min=HOURLY_FLOW_L_PER_MIN,
        )
        for row, f in zip(rows, fractions, strict=True)
        if f > 0
    )
    return DrawProfile(name="hourly-fractions", draws=draws)


def load_draw_profile(name: str) -> DrawProfile:
    """A profile by name: one of ``PROFILE_NAMES``."""
    if name in DOE_BINS:
        return doe_profile(name)
    if name == "hourly-fractions":
        return hourly_fraction_profile()
    if name == "none":
        return DrawProfile(name="none", draws=())
    raise DrawProfileError(f"unknown draw profile {name!r}; known: {', '.join(PROFILE_NAMES)}")
