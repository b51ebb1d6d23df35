"""The heater's own thermostat on the planner's stored-heat tank, under each CTA-2045 command.

The scheduler plans heat; the heater does not follow heat, it follows its thermostat under the
command in force (docs/planner.md, "What the heater does with a command"). Its lower sensor
turns the heat pump on once the water there is the dead band below the set point, and the heat
pump then runs until the tank is back at the set point, whatever command comes meanwhile:

* Normal: the model file's compressor turn-on differential (``HpwhModel.hp_differential_c``).
* Shed: the same, widened by ``shed_extra_c``: the heat pump still runs, later (and the
  resistance element stays off).
* Load Up: the set point raised by ``load_up_boost_c`` with a 1 °C dead band.

On a stratified tank the lower sensor sees the cold water first: measured on the simulated
heater's four model files, the heat pump starts when the mean tank temperature has fallen by
about half the sensor's differential below where it stopped (``SENSOR_SHARE``).
:func:`run` plays a command per step through this thermostat and returns what it heats and
costs; ``normal_mode`` in :mod:`ven_edge.plan.tank_costs` is :func:`run` with Normal throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.problem import Problem

#: The compressor turn-on differential (°C at the lower third) when no model file says:
#: 32 °F, the Rheem and A. O. Smith model files' 17.8–19.4 °C rounded down.
DEFAULT_DIFFERENTIAL_C: Final = 17.8
#: How much wider the dead band is under Shed (°C): the simulated heater's (hil/scenarios.py).
SHED_EXTRA_C: Final = 6.0
#: The set-point raise and the dead band under Load Up (°C; docs/cta2045.md §8–§9).
LOAD_UP_BOOST_C: Final = 5.0
LOAD_UP_DEADBAND_C: Final = 1.0
#: Fall of the mean tank temperature, as a share of the lower sensor's differential, at which
#: the heat pump starts (measured on the simulated heater, four model files × three DOE draw
#: patterns, bench/thermostat_starts.py: 0.39–0.58 in Normal, 0.43–0.61 under Shed).
SENSOR_SHARE: Final = 0.5
#: The earliest of those shares: the heater that starts soonest after a draw.
EARLIEST_SENSOR_SHARE: Final = 0.39
#: A heater starting late: at or beyond every household's median under Shed (the highest,
#: 0.60) and about the latest start measured (0.61). A shed is cut short only where even it
#: would recover in the shed (docs/planner.md, "Sheds cut short in the dear quarter,
#: measured", where 0.57 and 0.65 are measured beside it).
LATE_SENSOR_SHARE: Final = 0.6
#: How far below the set point the mean tank temperature is when the heat pump stops (°C): the
#: top reaches the set point, the bottom stays cooler (measured as above: 3.9 °C on all four).
STOP_BELOW_C: Final = 3.9
#: Heat per kelvin of the tank as a share of its heat at the set point, when no model file
#: gives the thermal mass: the set point 38.4 °C above the mains (52.8 °C over 14.4 °C).
DEFAULT_SPAN_C: Final = 38.4


@dataclass(frozen=True, slots=True)
class Thermostat:
    """The heater's thermostat in stored heat (kWh above the planner's zero).

    ``full_kwh`` is where the heat pump stops at the set point (:meth:`of` takes the heat of
    the whole tank at the set point); ``bands`` the fall below the
    stop level that starts it, per command; ``load_up_kwh`` the heat a Load Up adds on top."""

    full_kwh: float
    normal_band_kwh: float
    shed_band_kwh: float
    load_up_kwh: float
    load_up_band_kwh: float

    @classmethod
    def of(
        cls,
        full_kwh: float,
        kwh_per_k: float | None,
        differential_c: float | None,
        shed_extra_c: float = SHED_EXTRA_C,
    ) -> Thermostat:
        """The thermostat of a tank holding ``full_kwh`` at its set point, with ``kwh_per_k``
        of thermal mass (None: ``full_kwh`` over :data:`DEFAULT_SPAN_C`)."""
        per_k = kwh_per_k if kwh_per_k is not None and kwh_per_k > 0 else full_kwh / DEFAULT_SPAN_C
        normal = DEFAULT_DIFFERENTIAL_C if differential_c is None else differential_c
        return cls(
            full_kwh=full_kwh - STOP_BELOW_C * per_k,
            normal_band_kwh=SENSOR_SHARE * normal * per_k,
            shed_band_kwh=SENSOR_SHARE * (normal + shed_extra_c) * per_k,
            load_up_kwh=LOAD_UP_BOOST_C * per_k,
            load_up_band_kwh=SENSOR_SHARE * LOAD_UP_DEADBAND_C * per_k,
        )

    @classmethod
    def topping_up(cls, full_kwh: float) -> Thermostat:
        """A thermostat with no dead band: it replaces each step's draw at once, up to
        ``full_kwh`` (load ups as Normal)."""
        return cls(full_kwh, 0.0, 0.0, 0.0, 0.0)

    def starting_at(self, share: float) -> Thermostat:
        """The same thermostat with its heat pump starting once the mean tank has fallen by
        ``share`` (not :data:`SENSOR_SHARE`) of the differential, in Normal and under Shed."""
        k = share / SENSOR_SHARE
        return replace(
            self, normal_band_kwh=k * self.normal_band_kwh, shed_band_kwh=k * self.shed_band_kwh
        )

    def early(self) -> Thermostat:
        """The heater that starts soonest: at :data:`EARLIEST_SENSOR_SHARE`."""
        return self.starting_at(EARLIEST_SENSOR_SHARE)

    def late(self) -> Thermostat:
        """A heater that starts late: at :data:`LATE_SENSOR_SHARE`."""
        return self.starting_at(LATE_SENSOR_SHARE)

    def start_below(self, kind: CommandKind) -> float:
        """Stored heat below which the heat pump starts under ``kind``."""
        if kind is CommandKind.SHED:
            return self.full_kwh - self.shed_band_kwh
        if kind in (CommandKind.LOAD_UP, CommandKind.ADVANCED_LOAD_UP):
            return self.full_kwh + self.load_up_kwh - self.load_up_band_kwh
        return self.full_kwh - self.normal_band_kwh

    def stop_at(self, kind: CommandKind) -> float:
        """Stored heat at which a running heat pump stops under ``kind``."""
        if kind in (CommandKind.LOAD_UP, CommandKind.ADVANCED_LOAD_UP):
            return self.full_kwh + self.load_up_kwh
        return self.full_kwh


@dataclass(frozen=True, slots=True)
class Run:
    """What the thermostat does over the horizon: cost, heat per step, stored heat at each
    step's start and the end, and the steps in which the heat pump started."""

    cost: float
    heat: tuple[float, ...]
    soc: tuple[float, ...]
    starts: tuple[int, ...]

    @property
    def end(self) -> float:
        return self.soc[-1]


def run(
    problem: Problem,
    thermostat: Thermostat,
    kinds: Sequence[CommandKind],
    cop_at: Callable[[float], float] | None = None,
) -> Run:
    """Play ``kinds`` (one per step) through the thermostat over ``problem``'s draws and
    prices. The draw comes first in a step, then the heat pump (at the step's rate) if it runs;
    the element, where the heater allows it (not under Shed), holds the problem's reserve.
    ``cop_at(stored)`` is the heat pump's COP with that much stored (default: the problem's)."""
    soc = problem.soc_kwh
    pump = problem.sources[0]
    element = problem.sources[1] if len(problem.sources) > 1 else None
    heating = False
    cost = 0.0
    heats: list[float] = []
    socs = [soc]
    starts: list[int] = []
    for t in range(problem.n):
        kind = kinds[t]
        soc -= problem.load_kwh[t]
        stop = thermostat.stop_at(kind)
        if not heating and soc < thermostat.start_below(kind):
            heating = True
            starts.append(t)
        hp = 0.0
        if heating:
            hp = max(0.0, min(pump.max_kwh[t], stop - soc))
            if soc + hp >= stop - 1e-9:
                heating = False
        el = 0.0
        if element is not None and kind is not CommandKind.SHED and soc + hp < problem.soc_min_kwh:
            el = min(problem.soc_min_kwh - soc - hp, element.max_kwh[t])
            cost += problem.price[t] * el / element.cop[t]
        if hp > 0:
            cop = pump.cop[t] if cop_at is None else cop_at(soc + hp / 2)
            cost += problem.price[t] * hp / cop
        soc += hp + el
        heats.append(hp + el)
        socs.append(soc)
    return Run(cost, tuple(heats), tuple(socs), tuple(starts))
