"""The fleet planning problem and its answer: frozen dataclasses, no solver imports.

A fleet is a set of heaters, each with its own tank problem
(:class:`ven_edge.plan.problem.Problem`: tank dynamics, comfort bounds, sources with COP and
bounds per step), planned together against the program's prices and a per-group import limit in
kW (a feeder or a transformer). The heater's own ``price`` series is ignored: the program's
``FleetProblem.price`` replaces it. Energies are thermal kWh per step unless named electrical;
powers are electrical kW (electrical energy = heat / COP). docs/fleet-planner.md describes the
LP and the decomposition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ven_edge.plan.problem import Problem


class FleetError(ValueError):
    """The fleet problem is malformed (lengths, names, non-finite numbers)."""


class PlannerUnavailable(RuntimeError):
    """The fleet planner's solver (scipy) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "the fleet planner needs scipy: install the planner extra: "
            "pip install 'ven-edge[planner]'"
        )


@dataclass(frozen=True)
class FleetHeater:
    """One enrolled heater: the VEN that reports it, its group (feeder) and its tank problem."""

    ven_name: str
    group: str
    problem: Problem


@dataclass(frozen=True)
class FleetProblem:
    """Heaters planned over ``len(price)`` steps of ``step_hours``.

    ``limits_kw`` maps a group to its per-step import limit (electrical kW, all of the group's
    heaters together); a group without an entry is unconstrained."""

    step_hours: float
    price: tuple[float, ...]
    heaters: tuple[FleetHeater, ...]
    limits_kw: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: {})

    @property
    def n(self) -> int:
        return len(self.price)

    def __post_init__(self) -> None:
        n = len(self.price)
        if n == 0:
            raise FleetError("price: at least one step is needed")
        if not (math.isfinite(self.step_hours) and self.step_hours > 0):
            raise FleetError(f"step_hours: must be > 0, got {self.step_hours}")
        for t, p in enumerate(self.price):
            if not math.isfinite(p):
                raise FleetError(f"price[{t}]: expected a finite number, got {p!r}")
        names: set[str] = set()
        for heater in self.heaters:
            if heater.ven_name in names:
                raise FleetError(f"heater {heater.ven_name!r} is listed twice")
            names.add(heater.ven_name)
            if heater.problem.n != n:
                raise FleetError(
                    f"heater {heater.ven_name!r}: {heater.problem.n} steps, the prices have {n}"
                )
            if not math.isclose(heater.problem.step_hours, self.step_hours):
                raise FleetError(
                    f"heater {heater.ven_name!r}: step of {heater.problem.step_hours} h, "
                    f"the fleet's is {self.step_hours} h"
                )
        for group, limit in self.limits_kw.items():
            if len(limit) != n:
                raise FleetError(f"limit of group {group!r}: {len(limit)} values, expected {n}")
            for t, v in enumerate(limit):
                # A limit below zero cannot be met by heaters that only import; it is kept (and
                # reported infeasible) rather than rejected, so the operator sees the answer.
                if not math.isfinite(v):
                    raise FleetError(f"limit of group {group!r}[{t}]: not finite ({v!r})")

    def groups(self) -> dict[str, list[FleetHeater]]:
        """Heaters by group, in the order given."""
        out: dict[str, list[FleetHeater]] = {}
        for heater in self.heaters:
            out.setdefault(heater.group, []).append(heater)
        return out


@dataclass(frozen=True)
class HeaterSchedule:
    """One heater's plan: electrical power per step (all sources), heat per source per step,
    stored energy at each step boundary (n + 1 values) and the cost at the program's prices.

    ``unserved_kwh`` is above zero only for a heater that cannot keep its own comfort bounds
    even alone (its tank cannot serve the draw): it is then planned alone by the exact scheduler
    for the least unserved energy, and its power counts against its group's limit as given."""

    ven_name: str
    group: str
    power_kw: tuple[float, ...]
    heat_kwh: Mapping[str, tuple[float, ...]]
    soc_kwh: tuple[float, ...]
    cost: float
    unserved_kwh: float = 0.0


@dataclass(frozen=True)
class GroupResult:
    """One group's outcome.

    ``feasible`` is False when no schedule keeps the group within its limit (or a heater cannot
    keep its comfort bounds even alone). The schedules are then the ones that exceed the limit
    least: the limit raised by the same ``min_raise_kw`` in every step.
    ``min_feasible_limit_kw`` is the smallest *flat* limit (the same kW in every step) the group
    can keep: the least possible peak of its aggregate. ``min_raise_kw`` is the smallest amount
    to add to the given limit in every step for it to be feasible (0 when it is; with a flat
    limit, limit + raise = the smallest flat limit). Both are None for an unconstrained group
    and when some heater is infeasible alone (no limit helps it).

    ``gap`` is the relative distance of the cost from a lower bound: the monolithic LP's optimum
    or, when the decomposition ran alone, the Lagrangian bound; 0 for a monolithic LP, None when
    no bound is known."""

    group: str
    feasible: bool
    aggregate_kw: tuple[float, ...]
    limit_kw: tuple[float, ...] | None
    min_feasible_limit_kw: float | None
    method: str
    gap: float | None
    solve_seconds: float
    cost: float = 0.0
    min_raise_kw: float | None = None
    lower_bound: float | None = None


@dataclass(frozen=True)
class FleetPlan:
    """Schedules by VEN name, results by group, and the fleet's total cost."""

    schedules: Mapping[str, HeaterSchedule]
    groups: Mapping[str, GroupResult]
    cost: float
