"""The DOE 24-hour simulated-use test on the simulated tank: its Uniform Energy Factor.

10 CFR 430 Subpart B, Appendix E (docs/hpwh.md §8): 125 °F (51.7 °C) set point, 58 °F (14.4 °C)
mains, 67.5 °F (19.7 °C) air; the first draw of the usage bin's pattern starts at a cut-out, with
the tank at the set point; the heater runs on its own controls (the model file's logic) for 24 h.
The heater itself is tested, so no mixing valve: draws leave at the outlet temperature.

    UEF = Σ delivered heat / Q_da,   Q_da = Q − ΔE_stored / η_r

Q is the electricity over the 24 h, ΔE_stored the change of the water's stored heat between the
start and the end of the test, η_r the recovery efficiency measured over the first recovery (heat
the sources put into the water ÷ their electricity, from the first draw until every source has
stopped). The ambient and mains corrections of the procedure vanish: the simulation holds both
exactly at the test values.

Rated figures and their sources: ``sample_data/hpwh_models/rated_uef.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from hil.draws import load_draw_profile
from hil.hpwh_model import MODEL_NAMES, MODELS_DIR, load_model
from hil.tank import Conditions, StratifiedTank
from hil.thermal import ThermalControls

RATINGS_CSV = MODELS_DIR / "rated_uef.csv"
#: 10 CFR 430 App. E test conditions.
TEST_SETPOINT_C = 51.7
TEST_CONDITIONS = Conditions(ambient_c=19.7, inlet_c=14.4)
STEP_S = 60.0
DAY_S = 86_400.0


@dataclass(frozen=True)
class Rating:
    """A product's rated UEF (None when no public figure was found) and its DOE usage bin."""

    model: str
    product: str
    draws: str
    rated_uef: float | None
    source: str


@dataclass(frozen=True)
class UefResult:
    model: str
    draws: str
    delivered_wh: float
    electric_wh: float
    element_wh: float
    stored_change_wh: float
    recovery_efficiency: float
    uef: float

    def error(self, rated: float) -> float:
        """Relative error against a rated figure (negative: the simulation is less efficient)."""
        return self.uef / rated - 1.0


def load_ratings(path: Path = RATINGS_CSV) -> dict[str, Rating]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row["model"]: Rating(
            model=row["model"],
            product=row["product"],
            draws=row["usage_bin"],
            rated_uef=float(row["rated_uef"]) if row["rated_uef"] else None,
            source=row["source"],
        )
        for row in rows
    }


def simulated_uef(model: str, draws: str | None = None) -> UefResult:
    """Run the 24-hour test on ``model`` with the pattern ``draws`` (default: its usage bin)."""
    product = load_model(model)
    if draws is None:
        draws = load_ratings()[model].draws
    tank = StratifiedTank(
        product,
        load_draw_profile(draws),
        conditions=TEST_CONDITIONS,
        initial_temp_c=TEST_SETPOINT_C,
    )
    # The heater's own thermostat: the file's compressor turn-on differential.
    controls = ThermalControls(
        setpoint_c=TEST_SETPOINT_C,
        deadband_c=product.hp_turn_on_differential_c,
        element_allowed=True,
        heat_pump_allowed=True,
    )
    start_heat = tank.heat_content_wh
    first_recovery: tuple[float, float] | None = None  # (heat Wh, electricity Wh)
    started = False
    for _ in range(round(DAY_S / STEP_S)):
        reading = tank.advance(STEP_S, controls)
        totals = reading.totals
        if first_recovery is None:
            if reading.power_w > 0:
                started = True
            elif started:
                first_recovery = (totals.hp_heat_wh + totals.element_heat_wh, totals.electric_wh)
    totals = tank.totals()
    heat_wh, electric_wh = first_recovery or (
        totals.hp_heat_wh + totals.element_heat_wh,
        totals.electric_wh,
    )
    eta_r = heat_wh / electric_wh if electric_wh > 0 else 1.0
    stored_change = tank.heat_content_wh - start_heat
    adjusted = totals.electric_wh - stored_change / eta_r
    return UefResult(
        model=model,
        draws=draws,
        delivered_wh=totals.delivered_wh,
        electric_wh=totals.electric_wh,
        element_wh=totals.element_electric_wh,
        stored_change_wh=stored_change,
        recovery_efficiency=eta_r,
        uef=totals.delivered_wh / adjusted,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated UEF of each HPWH model file.")
    parser.add_argument("models", nargs="*", default=list(MODEL_NAMES))
    args = parser.parse_args(argv)
    ratings = load_ratings()
    out = sys.stdout
    out.write(
        f"{'model':16s} {'draws':10s} {'kWh_del':>7s} {'kWh_el':>6s} {'elem':>5s} "
        f"{'ΔE kWh':>6s} {'η_r':>5s} {'UEF':>5s} {'rated':>5s} {'error':>6s}\n"
    )
    for model in args.models:
        result = simulated_uef(model)
        rated = ratings[model].rated_uef if model in ratings else None
        out.write(
            f"{model:16s} {result.draws:10s} {result.delivered_wh / 1000:7.2f} "
            f"{result.electric_wh / 1000:6.2f} {result.element_wh / 1000:5.2f} "
            f"{result.stored_change_wh / 1000:6.2f} {result.recovery_efficiency:5.2f} "
            f"{result.uef:5.2f} "
            + (f"{rated:5.2f} {result.error(rated):+6.1%}" if rated else "    —      —")
            + "\n"
        )


if __name__ == "__main__":
    main()
