"""Draw profiles: DOE daily volumes, litres per step independent of the step size."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.draws import (
    DAY_S,
    LITRES_PER_GALLON,
    PROFILE_NAMES,
    Draw,
    DrawProfile,
    DrawProfileError,
    hourly_fraction_profile,
    load_draw_profile,
)

# Daily volumes of the DOE 24-h test bins, gal (docs/hpwh.md §8; 10 CFR 430 Subpart B App. E).
DOE_DAILY_GAL = {"doe-very-small": 10, "doe-low": 38, "doe-medium": 55, "doe-high": 84}


@pytest.mark.parametrize(("name", "gallons"), DOE_DAILY_GAL.items())
def test_doe_daily_volume(name: str, gallons: float) -> None:
    profile = load_draw_profile(name)
    assert profile.daily_volume_l == pytest.approx(gallons * LITRES_PER_GALLON)
    assert profile.litres_between(0, DAY_S) == pytest.approx(gallons * LITRES_PER_GALLON)


def test_medium_first_draw_timing() -> None:
    medium = load_draw_profile("doe-medium")
    # Draw 1: 15 gal at 1.7 gpm from 0:00 lasts 8.8 min; nothing flows at 0:20.
    assert medium.flow_at(60) == pytest.approx(1.7 * LITRES_PER_GALLON)
    assert medium.flow_at(20 * 60) == 0
    assert medium.litres_between(0, 300) == pytest.approx(5 * 1.7 * LITRES_PER_GALLON)


@given(cuts=st.lists(st.floats(min_value=0, max_value=2 * DAY_S), max_size=40))
def test_any_partition_of_two_days_sums_to_two_daily_volumes(cuts: list[float]) -> None:
    profile = load_draw_profile("doe-high")
    edges = [0.0, *sorted(cuts), 2 * DAY_S]
    total = sum(profile.litres_between(a, b) for a, b in itertools.pairwise(edges))
    assert total == pytest.approx(2 * profile.daily_volume_l, rel=1e-9)


def test_draw_across_midnight_is_counted_on_both_days() -> None:
    profile = DrawProfile("late", (Draw(start_s=DAY_S - 60, volume_l=10, flow_l_per_min=5),))
    assert profile.litres_between(DAY_S - 60, DAY_S) == pytest.approx(5)
    assert profile.litres_between(DAY_S, DAY_S + 60) == pytest.approx(5)
    assert profile.litres_between(0, 60) == pytest.approx(5)  # the previous day's spill-over
    assert profile.flow_at(30) == pytest.approx(5)


def test_hourly_fractions_hold_the_daily_volume() -> None:
    profile = hourly_fraction_profile(200.0)
    assert len(profile.draws) == 24
    assert profile.litres_between(0, DAY_S) == pytest.approx(200.0)
    # 07:00 is the published peak hour (0.087 of the day).
    assert max(profile.draws, key=lambda d: d.volume_l).start_s == 7 * 3600


def test_every_named_profile_loads_and_unknown_is_an_error() -> None:
    for name in PROFILE_NAMES:
        assert load_draw_profile(name).name == name
    with pytest.raises(DrawProfileError, match="unknown draw profile 'doe-huge'; known: doe-"):
        load_draw_profile("doe-huge")
    with pytest.raises(DrawProfileError, match="daily volume"):
        hourly_fraction_profile(-1)
