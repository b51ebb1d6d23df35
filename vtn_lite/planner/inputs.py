"""Planning inputs from the gateways' reports: the last good ones per VEN, and each VEN's tank
problem for the fleet LP (docs/fleet-planner.md, "Inputs and schedules").

A report is read when it arrives (:meth:`InputBook.check` refuses one that cannot be planned
with, so the API answers 400 and the VEN's last good inputs stay) and kept when it is stored.
Inputs older than ``stale_after`` are not planned with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from ven_edge.oadr3.planning import STEP, PlanningInputs, PlanningReportError, parse_planning_report
from ven_edge.plan.problem import Problem, Source

log = logging.getLogger(__name__)

#: A plan covers a day of quarter hours (docs/fleet-planner.md).
PLAN_STEPS = 96


@dataclass(frozen=True, slots=True)
class VenInputs:
    """One VEN's last good planning inputs and when they arrived (epoch seconds)."""

    ven_name: str
    inputs: PlanningInputs
    received: float


class InputBook:
    """The last good planning inputs of every VEN, and the last refusal of each."""

    def __init__(self) -> None:
        self.latest: dict[str, VenInputs] = {}
        #: VEN name -> (when, why) of its last refused report, for the console.
        self.refused: dict[str, tuple[float, str]] = {}

    def check(self, ven_name: str, body: object, at: float) -> PlanningInputs:
        """The inputs of a report ``ven_name`` sends; raises :class:`PlanningReportError` (and
        logs it) when they cannot be planned with. The VEN's last good inputs stay."""
        try:
            return parse_planning_report(body)
        except PlanningReportError as exc:
            log.warning("planning report from VEN %s refused: %s", ven_name, exc)
            self.refused[ven_name] = (at, str(exc))
            raise

    def accept(self, ven_name: str, inputs: PlanningInputs, at: float) -> None:
        known = self.latest.get(ven_name)
        if known is None or known.received <= at:
            self.latest[ven_name] = VenInputs(ven_name, inputs, at)

    def fresh(
        self, now: float, stale_after: float
    ) -> tuple[dict[str, VenInputs], dict[str, float]]:
        """(inputs young enough to plan with, VEN name -> when the stale ones arrived)."""
        fresh: dict[str, VenInputs] = {}
        stale: dict[str, float] = {}
        for name, entry in self.latest.items():
            if now - entry.received <= stale_after:
                fresh[name] = entry
            else:
                stale[name] = entry.received
        return fresh, stale


def quarter_hour(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def to_problem(inputs: PlanningInputs, start: datetime, n: int = PLAN_STEPS) -> Problem:
    """The tank problem over ``n`` quarter hours from ``start``. The report's intervals are
    matched to the plan's by their start; past the report's end its forecast is read as
    repeating (a day of quarter hours repeats daily). The stored energy is the reported one."""
    shift = round((start - inputs.start) / STEP)
    hours = STEP / timedelta(hours=1)
    m = inputs.n

    def at(series: tuple[float, ...], k: int) -> float:
        return series[(k + shift) % m]

    cop = tuple(at(inputs.hp_cop, k) for k in range(n))
    sources = [
        Source(
            "heat_pump",
            cop,
            tuple(at(inputs.hp_kw, k) * cop[k] * hours for k in range(n)),
            (0.0,) * n,
        )
    ]
    element = tuple(at(inputs.element_kw, k) * hours for k in range(n))
    if any(v > 0 for v in element):
        sources.append(Source("element", (1.0,) * n, element, (0.0,) * n))
    return Problem(
        step_hours=hours,
        price=(0.0,) * n,  # the program's prices replace it (vtn_lite.fleet.model)
        load_kwh=tuple(at(inputs.draw_kwh, k) for k in range(n)),
        soc_kwh=inputs.stored_kwh,
        soc_min_kwh=inputs.reserve_kwh,
        soc_max_kwh=inputs.capacity_kwh,
        soc_end_min_kwh=inputs.end_min_kwh,
        sources=tuple(sources),
    )
