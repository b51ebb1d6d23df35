"""A group's heaters as numpy arrays: the one place that reads the per-heater problems.

Heaters may have different numbers of sources (a heater without an element has one); the arrays
pad to the most sources any heater has with sources of zero capacity, which the LP's presolve
drops and which never carry heat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vtn_lite.fleet.model import FleetHeater

Array = NDArray[np.float64]
Index = NDArray[np.intp]


@dataclass(frozen=True)
class HeaterArrays:
    """``H`` heaters, ``S`` sources (padded), ``n`` steps."""

    load: Array  # (H, n) thermal draw per step
    soc0: Array  # (H,)
    soc_min: Array  # (H,)
    soc_max: Array  # (H,)
    soc_end: Array  # (H,) lower bound at the end: max(soc_min, soc_end_min)
    heat_lo: Array  # (H, S, n)
    heat_hi: Array  # (H, S, n)
    cop: Array  # (H, S, n)

    @property
    def shape(self) -> tuple[int, int, int]:
        h, s, n = self.cop.shape
        return h, s, n

    @classmethod
    def of(cls, heaters: Sequence[FleetHeater]) -> HeaterArrays:
        problems = [h.problem for h in heaters]
        n = problems[0].n
        width = max(len(p.sources) for p in problems)
        count = len(problems)
        heat_lo = np.zeros((count, width, n))
        heat_hi = np.zeros((count, width, n))
        cop = np.ones((count, width, n))
        for i, p in enumerate(problems):
            for s, src in enumerate(p.sources):
                heat_lo[i, s] = src.min_kwh
                heat_hi[i, s] = src.max_kwh
                cop[i, s] = src.cop
        soc_min = np.array([p.soc_min_kwh for p in problems])
        return cls(
            load=np.array([p.load_kwh for p in problems], dtype=np.float64).reshape(count, n),
            soc0=np.array([p.soc_kwh for p in problems]),
            soc_min=soc_min,
            soc_max=np.array([p.soc_max_kwh for p in problems]),
            soc_end=np.maximum(soc_min, [p.soc_end_min_kwh for p in problems]),
            heat_lo=heat_lo,
            heat_hi=heat_hi,
            cop=cop,
        )
