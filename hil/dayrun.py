"""A plan-driven simulated day, sans I/O: the control core commands the simulated heater.

The gateway's own :class:`~ven_edge.control.Controller` and a planner decide; their commands are
encoded as CTA-2045 frames (Basic DR, and Advanced Load Up as an Intermediate message with its Wh
and duration) and handled by :class:`hil.heater.SimulatedHeater` on its
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

import contextlib
import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from hil.heater import SUPPORTED_TYPES, HeaterConfig, SimulatedHeater
from hil.scenarios import build_thermal_model, heater_config_for
from hil.tank import DEFAULT_VALVE_C
from ven_edge.command_policy import Outcome
from ven_edge.control import Controller, PlanInputs, Planner, SendCommand
from ven_edge.cta2045 import messages, typed
from ven_edge.cta2045.codec import decode, to_data_frame
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot, LinkHealth
from ven_edge.cta2045.encodings import AppNakReason, ResponseCode
from ven_edge.cta2045.frames import MessageType
from ven_edge.cta2045.ucm import device_info_of
from ven_edge.signals import SignalInterval, SignalTimeline

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
    hourly_delivered_kwh: list[float] = field(default_factory=list)  # heat the household took


_ANSWERING: Final = LinkHealth(connected=True)


@dataclass(frozen=True, slots=True)
class Commissioned:
    """What the UCM learns of the heater at commissioning: the message types it takes and its
    device information (capabilities; docs/cta2045.md §6, §8)."""

    supported_types: frozenset[int] = frozenset()
    device_info: DeviceInformationReply | None = None


def commission(heater: SimulatedHeater, now: float, *, basic_only: bool = False) -> Commissioned:
    """Ask ``heater`` for its device information, as the UCM does; ``basic_only`` models a UCM
    that sends Basic DR messages only (no Intermediate type, no capabilities learnt)."""
    if basic_only:
        return Commissioned(frozenset({MessageType.BASIC_DR, MessageType.DATA_LINK}))
    reply = heater.handle(to_data_frame(messages.device_information_request()), now)
    answer = None if reply is None else decode(reply)
    info = None
    if isinstance(answer, typed.DeviceInformationReply):
        with contextlib.suppress(ValueError):  # no device data: capabilities unknown
            info = device_info_of(answer)
    return Commissioned(frozenset(SUPPORTED_TYPES), info)


def _device(heater: SimulatedHeater, known: Commissioned = Commissioned()) -> DeviceSnapshot:
    """The heater as the UCM session would model it; energies in whole Wh, as the commodity
    reads carry them (docs/cta2045.md §9.3)."""
    state = heater.state
    return DeviceSnapshot(
        supported_types=known.supported_types,
        device_info=known.device_info,
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
    if command.kind is CommandKind.ADVANCED_LOAD_UP:
        return _advanced_load_up(heater, command, t)
    request = messages.basic_command(command.kind, command.duration_s)
    reply = heater.handle(to_data_frame(request), t)
    if reply is None:
        return Outcome.FAILED
    answer = decode(reply)
    if isinstance(answer, typed.AppAck):
        return Outcome.ACCEPTED
    if isinstance(answer, typed.AppNak) and answer.reason is AppNakReason.CUSTOMER_OVERRIDE:
        return Outcome.OVERRIDDEN
    return Outcome.REJECTED


def _advanced_load_up(heater: SimulatedHeater, command: SendCommand, t: float) -> Outcome:
    """Intermediate 0C 00 with the command's Wh and duration, as the gateway sends it
    (:meth:`ven_edge.cta2045.ucm.UcmSession.advanced_load_up`); the heater answers with a
    response code (docs/cta2045.md §9.2)."""
    if not command.wh or command.wh <= 0 or not command.duration_s:
        return Outcome.REJECTED  # the gateway sends Basic Load Up instead (heater_commands)
    request = messages.advanced_load_up(command.wh, command.duration_s)
    reply = heater.handle(to_data_frame(request), t)
    if reply is None:
        return Outcome.FAILED
    answer = decode(reply)
    if not isinstance(answer, typed.IntermediateReply):
        return Outcome.REJECTED  # a link NAK: the heater does not take Intermediate messages
    code = answer.response_code
    if code == ResponseCode.SUCCESS:
        return Outcome.ACCEPTED
    if code == ResponseCode.CUSTOMER_OVERRIDE:
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
    basic_only: bool = False,
) -> DayResult:
    """Run the heater through the priced hours; ``planner=None`` is the normal thermostat.

    ``mixing_valve_c=None`` takes the draws at the tank's temperature (no valve);
    ``heater_config`` defaults to the product's own thermostat at the user's 120 °F.
    The planner sees the heater as commissioning found it (Advanced Load Up among its
    capabilities); ``basic_only`` hides that, so only Basic DR messages are planned.
    """
    thermal = build_thermal_model(model, draws, mixing_valve_c=mixing_valve_c)
    config = heater_config or heater_config_for(thermal.tank.model)
    heater = SimulatedHeater(config, thermal, now=0.0)
    known = commission(heater, 0.0, basic_only=basic_only)
    timeline = price_timeline(prices)
    ordered = sorted(p.price for p in prices)
    peak_bar = ordered[(3 * len(ordered)) // 4]
    controller = Controller()
    start = prices[0].start
    total_s = 3600.0 * len(prices)
    result = DayResult(
        hourly_kwh=[0.0] * len(prices),
        hourly_heat_kwh=[0.0] * len(prices),
        hourly_delivered_kwh=[0.0] * len(prices),
    )
    used = heater.state.energy_used_wh
    heat = _heat_wh(heater)
    delivered0 = delivered = _delivered_wh(heater)
    t = 0.0
    next_replan = 0.0
    next_beat = 0.0
    while t < total_s:
        now = start + timedelta(seconds=t)
        if planner is not None:
            if t >= next_replan:
                controller.set_plan(planner(PlanInputs(now, timeline, _device(heater, known))))
                next_replan = t + replan_s
            command = controller.step(now, _device(heater, known))
            if command is not None:
                outcome = _send(heater, command, t)
                controller.record(command, outcome, now)
                result.commands.append((now, command, outcome))
            if t >= next_beat:
                heater.handle(to_data_frame(messages.outside_comm_status(True)), t)
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
        delivered_now = _delivered_wh(heater)
        result.hourly_delivered_kwh[hour] += (delivered_now - delivered) / 1000.0
        delivered = delivered_now
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


def stored_value(prices: Sequence[HourPrice], normal: DayResult, planned: DayResult) -> float:
    """What the heat the planned day leaves in the tank beyond normal mode's would cost normal
    mode to make: at the normal day's effective COP and the day's mean price (negative when
    the plan ends the day with less)."""
    heat = sum(normal.hourly_heat_kwh)
    cop = heat / normal.energy_kwh if normal.energy_kwh > 0 and heat > 0 else 1.0
    mean_price = sum(p.price for p in prices) / len(prices)
    return -(planned.end_stored_kwh - normal.end_stored_kwh) / cop * mean_price


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
