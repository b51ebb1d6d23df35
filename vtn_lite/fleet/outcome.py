"""What a group solver hands back, and the schedules read off a heat array."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vtn_lite.fleet.arrays import Array, HeaterArrays
from vtn_lite.fleet.model import FleetHeater, HeaterSchedule


@dataclass(frozen=True)
class GroupOutcome:
    schedules: list[HeaterSchedule]
    feasible: bool
    min_flat_kw: float | None = None
    min_raise_kw: float | None = None
    lower_bound: float | None = None


def schedules_from_heat(
    heaters: Sequence[FleetHeater],
    arrays: HeaterArrays,
    heat: Array,
    price: Array,
    step_hours: float,
) -> list[HeaterSchedule]:
    """Each heater's schedule from ``heat`` (H, S, n); the stored energy follows from the heat
    and the draw, so it is consistent with the heat whatever the solver's tolerance."""
    electric = heat / arrays.cop  # (H, S, n)
    power = electric.sum(axis=1) / step_hours
    costs = (electric.sum(axis=1) * price).sum(axis=1)
    soc = np.concatenate(
        [arrays.soc0[:, None], arrays.soc0[:, None] + np.cumsum(heat.sum(axis=1) - arrays.load, 1)],
        axis=1,
    )
    out = []
    for i, heater in enumerate(heaters):
        names = [s.name for s in heater.problem.sources]
        out.append(
            HeaterSchedule(
                ven_name=heater.ven_name,
                group=heater.group,
                power_kw=tuple(power[i].tolist()),
                heat_kwh={name: tuple(heat[i, s].tolist()) for s, name in enumerate(names)},
                soc_kwh=tuple(soc[i].tolist()),
                cost=float(costs[i]),
            )
        )
    return out
