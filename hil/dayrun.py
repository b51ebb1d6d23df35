"""A plan-driven simulated day, sans I/O: the control core commands the simulated heater.

The gateway's own :class:`~ven_edge.control.Controller` and a planner decide; their commands are
encoded as CTA-2045 Basic DR frames and handled by :class:`hil.heater.SimulatedHeater` on its
stratified tank (:mod:`hil.scenarios`), with an Outside Communication heartbeat every minute as
the UCM sends it. Time is simulated, so a day takes a second or two. The same heater left alone
(no command at all: the normal thermostat) is the baseline.

The household sits behind a thermostatic mixing valve (49 °C by default, ``mixing_valve_c``;
docs/hpwh-simulation.md): draws are volumes of mixed water, so a strategy that stores heat by
raising the tank temperature is not credited with heat the household never asked for, and the
outlet temperature is read at the valve. The heater's normal thermostat is the model file's own
logic (:func:`hil.scenarios.heater_config_for`).

Used by the end-to-end tests (comfort and cost on real prices) and by ``bench/ven.py``.

:func:`lp_optimum` is the reference for a day: the exact scheduler given the heat the normal
thermostat put into the water hour by hour, at the day's effective efficiency, free to move it
within the tank's usable capacity (perfect foresight; the tank's stratification and standby
losses are not in it, so it is a bound to compare against, not a schedule the heater can follow).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from hil.heater import HeaterConfig, SimulatedHeater
from hil.scenarios import build_thermal_model, heater_config_for
from hil.tank import DEFAULT_VALVE_C
from ven_edge.command_policy import Outcome
from ven_edge.control import CommandKind, Controller, PlanInputs, Planner, SendCommand
from ven_edge.cta2045 import messages
from ven_edge.cta2045.device import DeviceSnapshot, LinkHealth
from ven_edge.cta2045.encodings import AppNakReason
from ven_edge.signals import SignalInterval, SignalTimeline

_BUILDERS = {
    CommandKind.SHED: messages.shed,
    CommandKind.LOAD_UP: messages.load_up,
    CommandKind.CRITICAL_PEAK: messages.critical_peak,
    CommandKind.GRID_EMERGENCY: messages.grid_emergency,
}
HEARTBEAT_S = 60.0
COMFORT_FLOOR_C = 43.0  # 110 °F: the lowest outlet temperature accepted (docs/hpwh.md §5.2)


@dataclass(frozen=True, slots=True)
class HourPrice:
    start: datetime
    price: float  # $/kWh


def load_prices(path: Path, *, hours: int = 24, skip_hours: int = 0) -> list[HourPrice]:
    """Hourly prices from a CSV with ``interval_start_utc`` and ``price_usd_per_kwh`` columns."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    picked = rows[skip_hours : skip_hours + hours]
    if len(picked) < hours:
        raise ValueError(f"{path} has {len(rows)} hourly prices, {skip_hours + hours} needed")
    return [
        HourPrice(
            datetime.fromisoformat(r["interval_start_utc"].replace("Z", "+00:00")).astimezone(UTC),
            float(r["price_usd_per_kwh"]),
        )
        for r in picked
    ]


PRICES_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "prices"
HOEP_2016_CSV = PRICES_DIR / "ontario-hoep-2016" / "price2016.csv"
#: Added to the wholesale HOEP for retail-like prices (sample_data/SOURCES.md).
HOEP_RETAIL_ADDER = 0.10


def load_hoep_days(days: Sequence[int], path: Path = HOEP_2016_CSV) -> list[list[HourPrice]]:
    """Days of 2016 (0 = 1 January) of Ontario HOEP + 0.10 $/kWh, 24 hourly prices each.

    The file's ``hour`` runs 1–24 (hour ending); times are taken as UTC, which only matters for
    labels: the simulated day starts at the first price.
    """
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for day in days:
        picked = rows[day * 24 : (day + 1) * 24]
        if len(picked) < 24:
            raise ValueError(f"{path} has no day {day}")
        out.append(
            [
                HourPrice(
                    datetime.strptime(r["date"], "%d/%m/%Y").replace(tzinfo=UTC)
                    + timedelta(hours=int(r["hour"]) - 1),
                    float(r["HOEP"]) + HOEP_RETAIL_ADDER,
                )
                for r in picked
            ]
        )
    return out


def price_timeline(prices: Sequence[HourPrice], event_id: str = "prices") -> SignalTimeline:
    return SignalTimeline(
        tuple(
            SignalInterval(
                p.start, p.start + timedelta(hours=1), "PRICE", (p.price,), None, event_id
            )
            for p in prices
        )
    )


@dataclass(slots=True)
class DayResult:
    cost: float = 0.0
    energy_kwh: float = 0.0
    peak_energy_kwh: float = 0.0  # in the hours of the top price quarter
    min_outlet_c: float = 100.0  # at the mixing valve's outlet when one is fitted
    hourly_kwh: list[float] = field(default_factory=list)
    delivered_kwh: float = 0.0
    hourly_heat_kwh: list[float] = field(default_factory=list)  # heat put into the water
    commands: list[tuple[datetime, SendCommand, Outcome]] = field(default_factory=list)
    end_stored_kwh: float = 0.0  # heat above the mains temperature at the end of the day


_ANSWERING: Final = LinkHealth(connected=True)


def _device(heater: SimulatedHeater) -> DeviceSnapshot:
    """The heater as the UCM session would model it; energies in whole Wh, as the commodity
    reads carry them (docs/cta2045.md §9.3)."""
    state = heater.state
    return DeviceSnapshot(
        operational_state=heater.operational_state,
        override_active=heater.override,
        energy_used_wh=round(state.energy_used_wh),
        energy_capacity_wh=round(state.capacity_wh),
        stored_energy_wh=round(state.stored_wh),
        present_temperature_c=state.tank_temp_c,
        commissioned=True,
        link=_ANSWERING,
    )


def _send(heater: SimulatedHeater, command: SendCommand, t: float) -> Outcome:
    if command.kind is CommandKind.NORMAL:
        request = messages.end_shed()
    elif command.kind in _BUILDERS:
        request = _BUILDERS[command.kind](command.duration_s)
    else:
        return Outcome.REJECTED
    reply = heater.handle(messages.to_data_frame(request), t)
    if reply is None:
        return Outcome.FAILED
    answer = messages.decode(reply)
    if answer.name == "app_ack":
        return Outcome.ACCEPTED
    if answer.name == "app_nak" and answer.fields.get("reason") == AppNakReason.CUSTOMER_OVERRIDE:
        return Outcome.OVERRIDDEN
    return Outcome.REJECTED


def simulate_day(
    prices: Sequence[HourPrice],
    planner: Planner | None,
    *,
    model: str = "Rheem2020Prem50",
    draws: str = "doe-medium",
    step_s: float = 60.0,
    replan_s: float = 900.0,
    mixing_valve_c: float | None = DEFAULT_VALVE_C,
    heater_config: HeaterConfig | None = None,
) -> DayResult:
    """Run the heater through the priced hours; ``planner=None`` is the normal thermostat.

    ``mixing_valve_c=None`` takes the draws at the tank's temperature (no valve);
    ``heater_config`` defaults to the product's own thermostat at the user's 120 °F.
    """
    thermal = build_thermal_model(model, draws, mixing_valve_c=mixing_valve_c)
    config = heater_config or heater_config_for(thermal.tank.model)
    heater = SimulatedHeater(config, thermal, now=0.0)
    timeline = price_timeline(prices)
    ordered = sorted(p.price for p in prices)
    peak_bar = ordered[(3 * len(ordered)) // 4]
    controller = Controller()
    start = prices[0].start
    total_s = 3600.0 * len(prices)
    result = DayResult(hourly_kwh=[0.0] * len(prices), hourly_heat_kwh=[0.0] * len(prices))
    used = heater.state.energy_used_wh
    heat = _heat_wh(heater)
    delivered0 = _delivered_wh(heater)
    t = 0.0
    next_replan = 0.0
    next_beat = 0.0
    while t < total_s:
        now = start + timedelta(seconds=t)
        if planner is not None:
            if t >= next_replan:
                controller.set_plan(planner(PlanInputs(now, timeline, _device(heater))))
                next_replan = t + replan_s
            command = controller.step(now, _device(heater))
            if command is not None:
                outcome = _send(heater, command, t)
                controller.record(command, outcome, now)
                result.commands.append((now, command, outcome))
            if t >= next_beat:
                heater.handle(messages.to_data_frame(messages.outside_comm_status(True)), t)
                next_beat = t + HEARTBEAT_S
        t += step_s
        heater.tick(t)
        state = heater.state
        hour = min(int((t - step_s) // 3600), len(prices) - 1)
        kwh = (state.energy_used_wh - used) / 1000.0
        used = state.energy_used_wh
        result.energy_kwh += kwh
        result.hourly_kwh[hour] += kwh
        result.cost += kwh * prices[hour].price
        if prices[hour].price >= peak_bar:
            result.peak_energy_kwh += kwh
        result.min_outlet_c = min(result.min_outlet_c, state.outlet_temp_c)
        heat_now = _heat_wh(heater)
        result.hourly_heat_kwh[hour] += (heat_now - heat) / 1000.0
        heat = heat_now
    result.delivered_kwh = (_delivered_wh(heater) - delivered0) / 1000.0
    result.end_stored_kwh = heater.state.stored_wh / 1000.0
    return result


def _heat_wh(heater: SimulatedHeater) -> float:
    reading = getattr(heater.thermal, "reading", None)
    if reading is None:
        return 0.0
    return float(reading.totals.hp_heat_wh + reading.totals.element_heat_wh)


def _delivered_wh(heater: SimulatedHeater) -> float:
    reading = getattr(heater.thermal, "reading", None)
    return 0.0 if reading is None else float(reading.totals.delivered_wh)


def lp_optimum(prices: Sequence[HourPrice], normal: DayResult, capacity_kwh: float) -> float:
    """The least cost of supplying ``normal``'s hourly heat on ``prices`` (see module doc)."""
    from ven_edge.plan.problem import Problem, Source
    from ven_edge.plan.scheduler import schedule

    heat = sum(normal.hourly_heat_kwh)
    if heat <= 0 or normal.energy_kwh <= 0:
        return 0.0
    cop = heat / normal.energy_kwh
    n = len(prices)
    start = capacity_kwh / 2
    problem = Problem(
        step_hours=1.0,
        price=tuple(p.price for p in prices),
        load_kwh=tuple(max(0.0, h) for h in normal.hourly_heat_kwh),
        soc_kwh=start,
        soc_min_kwh=0.0,
        soc_max_kwh=capacity_kwh,
        soc_end_min_kwh=start,
        sources=(Source("heater", (cop,) * n, (max(normal.hourly_heat_kwh) * 2,) * n, (0.0,) * n),),
    )
    return schedule(problem).cost
