"""Fleet planning on the wire: the planning-inputs report and the fleet schedule (sans-I/O).

A VTN that plans a fleet of water heaters together (docs/fleet-planner.md, "Inputs and
schedules") asks each gateway for what its planner knows with a report-only event (User Guide
3.1.0 §8.6, "State of charge report request") whose ``reportDescriptors`` include
``USAGE_FORECAST``. The gateway answers all the planning descriptors of that event with one report,
because the values belong together (the stored energy and the forecast from the same moment):

* ``STORAGE_CHARGE_LEVEL`` (PERCENT, first interval): stored heat now, % of the usable capacity;
* ``STORAGE_USABLE_CAPACITY`` (KWH, first interval): the heat the tank may hold;
* ``STORAGE_MAX_CHARGE_POWER`` (KW, per interval): electric power of all heat sources together;
* ``USAGE_FORECAST`` (KWH, FORECAST, per interval): the heat the household is expected to draw,
  standby loss included; thermal kWh, since the electricity it takes is what the VTN plans;
* ``HPWH_HEAT_SOURCES`` (private, per interval): heat-pump kW electric, its COP, element kW;
* ``HPWH_COMFORT_LIMITS`` (private, KWH, first interval): the reserve the tank keeps and the
  least it holds at the end of the horizon.

Intervals lie on the quarter-hour grid from the quarter hour in progress. A report without the
private payloads still plans: one source of COP 1 at ``STORAGE_MAX_CHARGE_POWER``, no reserve,
and the tank ending where it starts.

Everything parsed here comes from the network: :func:`parse_planning_report` bounds every number
and length before any arithmetic and raises :class:`PlanningReportError` naming the JSON path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ven_edge.oadr3 import timefmt
from ven_edge.oadr3.eventparse import Event

STORAGE_CHARGE_LEVEL: Final = "STORAGE_CHARGE_LEVEL"
STORAGE_USABLE_CAPACITY: Final = "STORAGE_USABLE_CAPACITY"
STORAGE_MAX_CHARGE_POWER: Final = "STORAGE_MAX_CHARGE_POWER"
USAGE_FORECAST: Final = "USAGE_FORECAST"
#: Private payload types (Definition 3.1.0 allows privately defined strings for payloadType).
HEAT_SOURCES: Final = "HPWH_HEAT_SOURCES"
COMFORT_LIMITS: Final = "HPWH_COMFORT_LIMITS"
#: The report descriptor that marks an event as a planning request.
PLANNING_MARKER: Final = USAGE_FORECAST
#: The planning payloads: (payload type, units, reading type), as the request asks for them
#: and the report describes them.
PLANNING_DESCRIPTORS: Final = (
    (STORAGE_CHARGE_LEVEL, "PERCENT", None),
    (STORAGE_USABLE_CAPACITY, "KWH", None),
    (STORAGE_MAX_CHARGE_POWER, "KW", None),
    (USAGE_FORECAST, "KWH", "FORECAST"),
    (HEAT_SOURCES, None, None),
    (COMFORT_LIMITS, "KWH", None),
)
#: Every payload type one planning report answers.
PLANNING_PAYLOADS: Final = frozenset(kind for kind, _, _ in PLANNING_DESCRIPTORS)
#: The name the report scheduler gives the combined planning report.
PLANNING_INPUTS: Final = "PLANNING_INPUTS"
#: The event payload type of a fleet schedule (kW per interval, Definition 3.1.0 Table 1).
IMPORT_CAPACITY_LIMIT: Final = "IMPORT_CAPACITY_LIMIT"

STEP: Final = timedelta(minutes=15)
#: Two days of quarter hours: more is not a day-ahead plan, and bounds the work a report costs.
MAX_INTERVALS: Final = 192
#: Bounds a water heater cannot exceed (kW, kWh): a value beyond them is a broken report.
MAX_KW: Final = 100.0
MAX_KWH: Final = 1000.0
MAX_COP: Final = 10.0


class PlanningReportError(ValueError):
    """A planning report that cannot be used; ``where`` is the JSON path of the first defect."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PlanningInputs:
    """What a gateway's planner knows about its heater, per quarter hour from ``start``.

    Energies are heat (thermal kWh), powers electric kW; every series has one value per
    interval."""

    start: datetime
    stored_kwh: float
    capacity_kwh: float
    reserve_kwh: float
    end_min_kwh: float
    draw_kwh: tuple[float, ...]
    hp_kw: tuple[float, ...]
    hp_cop: tuple[float, ...]
    element_kw: tuple[float, ...]
    step: timedelta = STEP

    @property
    def n(self) -> int:
        return len(self.draw_kwh)

    def __post_init__(self) -> None:
        _check_inputs(self)


def _check_inputs(p: PlanningInputs) -> None:
    n = p.n
    if not 1 <= n <= MAX_INTERVALS:
        raise PlanningReportError("intervals", f"expected 1 to {MAX_INTERVALS}, got {n}")
    for name in ("hp_kw", "hp_cop", "element_kw"):
        if len(getattr(p, name)) != n:
            raise PlanningReportError(name, f"expected {n} values, got {len(getattr(p, name))}")
    _bounded("capacity_kwh", p.capacity_kwh, 0.0, MAX_KWH)
    if p.capacity_kwh <= 0:
        raise PlanningReportError("capacity_kwh", "must be above 0")
    _bounded("stored_kwh", p.stored_kwh, 0.0, p.capacity_kwh)
    _bounded("reserve_kwh", p.reserve_kwh, 0.0, p.capacity_kwh)
    _bounded("end_min_kwh", p.end_min_kwh, p.reserve_kwh, p.capacity_kwh)
    for k in range(n):
        _bounded(f"draw_kwh[{k}]", p.draw_kwh[k], 0.0, MAX_KWH)
        _bounded(f"hp_kw[{k}]", p.hp_kw[k], 0.0, MAX_KW)
        _bounded(f"element_kw[{k}]", p.element_kw[k], 0.0, MAX_KW)
        _bounded(f"hp_cop[{k}]", p.hp_cop[k], 0.0, MAX_COP)
        if p.hp_cop[k] <= 0:
            raise PlanningReportError(f"hp_cop[{k}]", "must be above 0")


def _bounded(where: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise PlanningReportError(where, f"{value!r} is outside [{low}, {high}]")


def is_planning_request(payload_types: Sequence[str]) -> bool:
    """Whether an event whose report descriptors ask for ``payload_types`` is a planning
    request (it asks for the usage forecast)."""
    return PLANNING_MARKER in payload_types


# -- the gateway: building the report ----------------------------------------------------------


def planning_report(
    inputs: PlanningInputs,
    *,
    event_id: str,
    client_name: str,
    resource_name: str,
    name: str,
    program_id: str | None = None,
) -> dict[str, Any]:
    """The ``reportRequest`` body answering a planning request (module docstring)."""
    descriptors = [
        {
            "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
            "payloadType": kind,
            **({"units": units} if units else {}),
            **({"readingType": reading} if reading else {}),
        }
        for kind, units, reading in PLANNING_DESCRIPTORS
    ]
    duration = timefmt.format_duration(timefmt.duration_from_timedelta(inputs.step))
    intervals = []
    for k in range(inputs.n):
        hp, cop, element = inputs.hp_kw[k], inputs.hp_cop[k], inputs.element_kw[k]
        payloads: list[dict[str, Any]] = [
            {"type": USAGE_FORECAST, "values": [_round(inputs.draw_kwh[k])]},
            {"type": STORAGE_MAX_CHARGE_POWER, "values": [_round(hp + element)]},
            {"type": HEAT_SOURCES, "values": [_round(hp), _round(cop), _round(element)]},
        ]
        if k == 0:
            percent = 100.0 * inputs.stored_kwh / inputs.capacity_kwh
            payloads += [
                {"type": STORAGE_CHARGE_LEVEL, "values": [_round(percent)]},
                {"type": STORAGE_USABLE_CAPACITY, "values": [_round(inputs.capacity_kwh)]},
                {
                    "type": COMFORT_LIMITS,
                    "values": [_round(inputs.reserve_kwh), _round(inputs.end_min_kwh)],
                },
            ]
        start = timefmt.format_datetime(inputs.start + k * inputs.step)
        intervals.append(
            {
                "id": k,
                "intervalPeriod": {"start": start, "duration": duration},
                "payloads": payloads,
            }
        )
    body: dict[str, Any] = {
        "eventID": event_id,
        "clientName": client_name,
        "reportName": name,
        "payloadDescriptors": descriptors,
        "resources": [{"resourceName": resource_name, "intervals": intervals}],
    }
    if program_id is not None:
        body["programID"] = program_id
    return body


def _round(value: float) -> float:
    # Six decimals: watt-hours and tenths of a percent are far below what planning resolves,
    # and the report stays a third shorter than with full floats.
    return round(value, 6)


# -- the VTN: reading the report ---------------------------------------------------------------


def _mapping(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise PlanningReportError(where, f"expected an object, got {type(raw).__name__}")
    return raw


def _list(raw: object, where: str, most: int) -> Sequence[Any]:
    if not isinstance(raw, list):
        raise PlanningReportError(where, f"expected an array, got {type(raw).__name__}")
    if len(raw) > most:
        raise PlanningReportError(where, f"more than {most} entries ({len(raw)})")
    return raw


def _number(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise PlanningReportError(where, f"expected a number, got {type(raw).__name__}")
    try:
        value = float(raw)
    except OverflowError:
        raise PlanningReportError(where, "number too large") from None
    if not math.isfinite(value):
        raise PlanningReportError(where, f"expected a finite number, got {raw!r}")
    return value


def _period(raw: object, where: str) -> tuple[datetime, timedelta]:
    period = _mapping(raw, where)
    start_text, duration_text = period.get("start"), period.get("duration")
    if not isinstance(start_text, str) or not isinstance(duration_text, str):
        raise PlanningReportError(where, "needs a start and a duration")
    try:
        start = timefmt.to_utc_in_range(timefmt.parse_datetime(start_text))
        duration = timefmt.parse_duration(duration_text)
    except timefmt.TimeFormatError as exc:
        raise PlanningReportError(where, str(exc)) from None
    if duration.has_calendar_units or duration.negative or duration.is_infinite:
        raise PlanningReportError(f"{where}.duration", f"{duration_text!r} is not {STEP}")
    if duration.as_timedelta() != STEP:
        raise PlanningReportError(f"{where}.duration", f"{duration_text!r} is not {STEP}")
    return start, STEP


def parse_planning_report(body: object) -> PlanningInputs:
    """The planning inputs of a report body (module docstring); raises
    :class:`PlanningReportError` for anything that cannot be planned with."""
    data = _mapping(body, "")
    resources = _list(data.get("resources"), "resources", 1)
    if len(resources) != 1:
        raise PlanningReportError("resources", "expected exactly one resource")
    resource = _mapping(resources[0], "resources[0]")
    raw_intervals = _list(resource.get("intervals"), "resources[0].intervals", MAX_INTERVALS)
    if not raw_intervals:
        raise PlanningReportError("resources[0].intervals", "no intervals")
    draw: list[float] = []
    total: list[float] = []
    sources: list[tuple[float, float, float] | None] = []
    scalars: dict[str, tuple[float, ...]] = {}
    start: datetime | None = None
    for k, raw in enumerate(raw_intervals):
        where = f"resources[0].intervals[{k}]"
        interval = _mapping(raw, where)
        at, _ = _period(interval.get("intervalPeriod"), f"{where}.intervalPeriod")
        if start is None:
            start = at
        elif at != start + k * STEP:
            raise PlanningReportError(f"{where}.intervalPeriod.start", "intervals not contiguous")
        values: dict[str, tuple[float, ...]] = {}
        for j, raw_payload in enumerate(_list(interval.get("payloads"), f"{where}.payloads", 16)):
            pw = f"{where}.payloads[{j}]"
            payload = _mapping(raw_payload, pw)
            kind = payload.get("type")
            if kind not in PLANNING_PAYLOADS:
                continue  # DATA_QUALITY and anything else a later version adds
            assert isinstance(kind, str)
            raw_values = _list(payload.get("values"), f"{pw}.values", 3)
            values[kind] = tuple(_number(v, f"{pw}.values[{i}]") for i, v in enumerate(raw_values))
        if k == 0:
            scalars = values
        forecast = values.get(USAGE_FORECAST)
        power = values.get(STORAGE_MAX_CHARGE_POWER)
        if not forecast or not power:
            raise PlanningReportError(
                where, f"needs {USAGE_FORECAST} and {STORAGE_MAX_CHARGE_POWER}"
            )
        draw.append(forecast[0])
        total.append(power[0])
        split = values.get(HEAT_SOURCES)
        if split is not None and len(split) != 3:
            raise PlanningReportError(where, f"{HEAT_SOURCES} needs 3 values, got {len(split)}")
        sources.append(None if split is None else (split[0], split[1], split[2]))
    assert start is not None
    level = scalars.get(STORAGE_CHARGE_LEVEL)
    capacity = scalars.get(STORAGE_USABLE_CAPACITY)
    if not level or not capacity:
        raise PlanningReportError(
            "resources[0].intervals[0]",
            f"needs {STORAGE_CHARGE_LEVEL} and {STORAGE_USABLE_CAPACITY}",
        )
    _bounded("STORAGE_CHARGE_LEVEL", level[0], 0.0, 100.0)
    _bounded("STORAGE_USABLE_CAPACITY", capacity[0], 0.0, MAX_KWH)
    stored = capacity[0] * level[0] / 100.0
    comfort = scalars.get(COMFORT_LIMITS)
    if comfort is not None and len(comfort) != 2:
        raise PlanningReportError(COMFORT_LIMITS, f"needs 2 values, got {len(comfort)}")
    reserve, end = (0.0, stored) if comfort is None else comfort
    if all(s is not None for s in sources):
        hp = tuple(s[0] for s in sources if s is not None)
        cop = tuple(s[1] for s in sources if s is not None)
        element = tuple(s[2] for s in sources if s is not None)
    elif any(s is not None for s in sources):
        raise PlanningReportError(HEAT_SOURCES, "given for some intervals, not all")
    else:
        hp, cop, element = tuple(total), (1.0,) * len(total), (0.0,) * len(total)
    return PlanningInputs(
        start=start,
        stored_kwh=stored,
        capacity_kwh=capacity[0],
        reserve_kwh=reserve,
        end_min_kwh=min(max(end, reserve), capacity[0]),
        draw_kwh=tuple(draw),
        hp_kw=hp,
        hp_cop=cop,
        element_kw=element,
    )


# -- the fleet schedule --------------------------------------------------------------------------


def schedule_target(targets: Sequence[str], ven_name: str) -> bool:
    """Whether an event with ``targets`` (3.1 target strings) is addressed to ``ven_name``: a
    fleet schedule names its VEN (docs/fleet-planner.md, "Inputs and schedules")."""
    return ven_name in targets


def fleet_schedules(events: Iterable[Event], ven_name: str) -> tuple[str | None, frozenset[str]]:
    """(this VEN's fleet schedule, the other fleet schedules) among ``events``, by event id.

    A planning program is the program of a planning request; a fleet schedule is an event of it
    carrying ``IMPORT_CAPACITY_LIMIT``. One that names ``ven_name`` in its targets is this
    VEN's (the newest, if a VTN left an older one listed); every other one is for another VEN
    and must not limit this heater (a VTN that does not filter by target, or a push)."""
    listed = list(events)
    programs = {
        e.program_id
        for e in listed
        if is_planning_request([d.payload_type for d in e.report_descriptors])
    }
    mine: list[Event] = []
    others: set[str] = set()
    for event in listed:
        if event.program_id not in programs or not any(
            p.type == IMPORT_CAPACITY_LIMIT for i in event.intervals for p in i.payloads
        ):
            continue
        if schedule_target(event.targets, ven_name):
            mine.append(event)
        else:
            others.add(event.id)
    if not mine:
        return None, frozenset(others)
    newest = max(mine, key=lambda e: (e.modified is not None, e.modified or _EPOCH))
    others.update(e.id for e in mine if e is not newest)
    return newest.id, frozenset(others)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
