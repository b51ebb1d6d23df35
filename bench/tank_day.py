"""Stratified tank: time per simulated day and daily energy, for every product model.

Run: python bench/tank_day.py. A day is 1440 one-minute steps under the DOE 24-h test's normal
thermostat (51.7 °C, 8 °C heat-pump deadband; docs/hpwh.md §6.3). The baseline, run in the same
process, is the one-node ``EnergyBucketModel`` over the same 1440 steps, so the ratio shows what
the stratified physics (draw mixing, map interpolation, thermostat logic) costs per step.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hil.hpwh_model import MODEL_NAMES
from hil.scenarios import build_thermal_model
from hil.thermal import EnergyBucketModel, ThermalControls

NORMAL = ThermalControls(
    setpoint_c=51.7, deadband_c=8.0, element_allowed=True, heat_pump_allowed=True
)
STEPS, STEP_S = 1440, 60.0
REPEATS = 5


def time_day(make: object) -> tuple[float, object]:
    timings = []
    result = None
    for _ in range(REPEATS):
        model = make()  # type: ignore[operator]
        started = time.perf_counter()
        for _ in range(STEPS):
            model.advance(STEP_S, NORMAL)
        timings.append(time.perf_counter() - started)
        result = model
    return statistics.median(timings), result


def main() -> None:
    base_s, _ = time_day(EnergyBucketModel)
    print(f"baseline one-node bucket: {base_s * 1000:.2f} ms per simulated day (1-min steps)")
    header = (
        f"{'model':16s} {'draws':16s} {'ms/day':>7s} {'×base':>6s} {'days/s':>7s} "
        f"{'kWh_el':>7s} {'elem':>5s} {'kWh_th':>7s} {'COP':>5s} {'HP h':>5s} {'min °C':>6s}"
    )
    print(header)
    for name in MODEL_NAMES:
        for draws in ("doe-medium", "doe-high", "hourly-fractions"):
            elapsed, thermal = time_day(
                lambda name=name, draws=draws: build_thermal_model(name, draws, initial_temp_c=51.7)
            )
            reading = thermal.reading  # type: ignore[attr-defined]
            t = reading.totals
            print(
                f"{name:16s} {draws:16s} {elapsed * 1000:7.1f} {elapsed / base_s:6.1f} "
                f"{1 / elapsed:7.0f} {t.electric_wh / 1000:7.2f} "
                f"{t.element_electric_wh / 1000:5.2f} {t.delivered_wh / 1000:7.2f} "
                f"{t.delivered_wh / t.electric_wh:5.2f} {t.hp_runtime_s / 3600:5.1f} "
                f"{reading.min_delivered_c:6.1f}"
            )
    # At --speed 60 a simulated day lasts 24 real minutes; the physics cost is negligible.
    started = time.perf_counter()
    week = build_thermal_model("Rheem2020Prem50", "doe-medium")
    for _ in range(7):
        for _ in range(STEPS):
            week.advance(STEP_S, NORMAL)
    print(f"7 simulated days, Rheem2020Prem50: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
