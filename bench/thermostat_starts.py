"""Where the simulated heater's heat pump starts, per household, in Normal and under Shed.

Run: python bench/thermostat_starts.py. For each model file and DOE draw pattern, four days in
Normal and four under a standing Shed (:mod:`hil.thermostat_starts`); the table gives the median
and range of the share of the differential at which the heat pump started. The planner's
thermostat shares (``ven_edge.plan.thermostat``: 0.39, 0.5, 0.6) are read against it
(docs/planner.md, "What the heater does with a command").
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hil.draws import HOUSEHOLD_PATTERNS
from hil.hpwh_model import MODEL_NAMES
from hil.thermostat_starts import measure


def _shares(values: tuple[float, ...]) -> str:
    if not values:
        return "no start"
    return f"{statistics.median(values):.2f} [{min(values):.2f}–{max(values):.2f}] n={len(values)}"


def main() -> None:
    print(f"{'model':16s} {'draws':11s} {'Normal':24s} Shed")
    for model in MODEL_NAMES:
        for draws in HOUSEHOLD_PATTERNS:
            normal = measure(model, draws, shed=False)
            shed = measure(model, draws, shed=True)
            print(f"{model:16s} {draws:11s} {_shares(normal.shares):24s} {_shares(shed.shares)}")


if __name__ == "__main__":
    main()
