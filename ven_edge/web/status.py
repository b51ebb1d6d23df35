"""The status snapshot the daemon hands to the web page, and its JSON form (``GET /api/status``).

The daemon builds one :class:`StatusSnapshot` from what it knows (device state from the CTA-2045
UCM, events from the OpenADR client, the current plan, link health) and the web app serialises it.
The JSON form is a stable contract documented in docs/status-api.md: fields are only ever
added, never renamed or removed.

All times in the JSON are RFC 3339 with the gateway's local UTC offset, so that the page shows the
same wall-clock times as the heater-state text ("until 19:00") whatever zone the viewer is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal, get_args

from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot
from ven_edge.cta2045.encodings import OperationalState, StateKind, state_meaning
from ven_edge.status_model import (
    TEXT_NOT_CONNECTED,
    HeaterLinkHealth,
    JSONObject,
    PlanBasis,
    SnapshotError,
    VtnHealth,
    device_json,
    json_time,
    local_time,
    require_aware,
)
from ven_edge.units import c_to_f, wh_to_kwh

HeaterMode = Literal["normal", "saving", "preheating", "opted_out", "fault", "unknown"]
HEATER_MODES: tuple[HeaterMode, ...] = get_args(HeaterMode)

TEXT_HEATING = "Heating normally"
TEXT_IDLE = "Idle"
TEXT_SAVING = "Saving energy: utility event"
TEXT_SAVING_FOR_PRICE = "Saving energy: high prices"
TEXT_PREHEATING = "Pre-heating"
TEXT_PREHEATED = "Pre-heating (tank full)"
TEXT_OPTED_OUT = "Opted out"
TEXT_FAULT = "Heater fault"
TEXT_NOT_FOLLOWING = "Not following the utility event"

# What an operational state means (encodings.STATE_MEANINGS) → the page's mode, its plain words
# (idle or heating), and whether the words take the event's end time: "... until 19:00".
_MODE: dict[StateKind, tuple[HeaterMode, tuple[str, str], bool]] = {
    StateKind.NORMAL: ("normal", (TEXT_IDLE, TEXT_HEATING), False),
    StateKind.CURTAILED: ("saving", (TEXT_SAVING, TEXT_SAVING), True),
    StateKind.HEIGHTENED: ("preheating", (TEXT_PREHEATED, TEXT_PREHEATING), True),
    StateKind.ERROR: ("fault", (TEXT_FAULT, TEXT_FAULT), False),
    StateKind.OPTED_OUT: ("opted_out", (TEXT_OPTED_OUT, TEXT_OPTED_OUT), True),
}
# States whose words say more than their meaning: the heater ignores the event (it behaves as in
# normal operation), or follows a price stream (docs/cta2045.md §8.3).
_OWN_WORDS: dict[OperationalState, str] = {
    OperationalState.VARIABLE_NOT_FOLLOWING: TEXT_NOT_FOLLOWING,
    OperationalState.RUNNING_PRICE_STREAM: "Heating, following prices",
    OperationalState.IDLE_PRICE_STREAM: "Idle, following prices",
}


def until_text(end: datetime, *, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """``"until 19:00"`` in local time; ``"until Tue 07:00"`` when not on the day of ``now``."""
    require_aware("end", end)
    local_end = local_time(end, tz)
    if now is not None:
        require_aware("now", now)
        if local_time(now, tz).date() != local_end.date():
            return f"until {local_end:%a %H:%M}"
    return f"until {local_end:%H:%M}"


def describe_heater(
    state_code: int | None,
    *,
    event_end: datetime | None = None,
    override: bool = False,
    fault: bool = False,
    for_price: bool = False,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> tuple[HeaterMode, str]:
    """Map what the heater reports to a mode and words a homeowner understands.

    ``state_code`` is the CTA-2045 operational state (docs/cta2045.md §8.3), None if the heater has
    not answered (not connected). ``event_end`` is the end of the active grid event, if any;
    ``override`` is the heater's Customer Override (0x11, §8.1), which some heaters report with
    the normal codes 0/1 instead of 11/12 (§14); ``fault`` is a fault seen by the gateway (for
    example the link failing). ``for_price`` says the gateway sheds for the price, not at the
    utility's request, so a saving heater is said to save for high prices. ``tz`` is the zone for
    the end time, default the gateway's zone.
    """
    if fault:
        return "fault", TEXT_FAULT
    if state_code is None:
        return "unknown", TEXT_NOT_CONNECTED
    meaning = state_meaning(state_code)
    if meaning is None:
        return "unknown", f"Heater state unknown (code {state_code})"
    mode, words, takes_end = _MODE[meaning.kind]
    text = _OWN_WORDS.get(OperationalState(state_code), words[meaning.running])
    if override and mode != "fault":
        mode, text, takes_end = "opted_out", TEXT_OPTED_OUT, True
    if for_price and mode == "saving":
        text = TEXT_SAVING_FOR_PRICE
    if takes_end and event_end is not None:
        if mode == "opted_out":
            text = f"{text}: utility event"
        text = f"{text} {until_text(event_end, now=now, tz=tz)}"
    return mode, text


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _in_f(celsius: float | None) -> float | None:
    return None if celsius is None else c_to_f(celsius)


@dataclass(frozen=True, slots=True)
class HeaterStatus:
    """What the water heater is doing, in codes and in words. Values are the device model's
    (°C, Wh, W); the JSON adds °F and kWh for the page."""

    state_code: int | None
    mode: HeaterMode
    state_text: str
    tank_temp_c: float | None = None
    set_point_c: float | None = None
    stored_wh: float | None = None
    capacity_wh: float | None = None
    power_w: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in HEATER_MODES:
            raise SnapshotError(
                f"heater mode {self.mode!r} is not one of {', '.join(HEATER_MODES)}"
            )

    @classmethod
    def from_device(
        cls,
        device: DeviceSnapshot,
        *,
        event_end: datetime | None = None,
        fault: bool = False,
        for_price: bool = False,
        now: datetime | None = None,
        tz: tzinfo | None = None,
    ) -> HeaterStatus:
        """The heater's status with mode and words from :func:`describe_heater`; the state is
        unknown while the heater does not answer."""
        state_code = device.operational_state if device.ready else None
        mode, text = describe_heater(
            state_code,
            event_end=event_end,
            override=device.override_active,
            fault=fault,
            for_price=for_price,
            now=now,
            tz=tz,
        )
        return cls(
            state_code=state_code,
            mode=mode,
            state_text=text,
            tank_temp_c=device.present_temperature_c,
            set_point_c=device.set_point_c,
            stored_wh=device.stored_energy_wh,
            capacity_wh=device.energy_capacity_wh,
            # A float, as the JSON has always carried it ("power_w": 450.0).
            power_w=None if device.power_w is None else float(device.power_w),
        )

    @property
    def stored_pct(self) -> float | None:
        """Stored energy as a share of capacity, 0–100, None when either is unknown."""
        if self.stored_wh is None or self.capacity_wh is None or self.capacity_wh <= 0:
            return None
        return min(100.0, max(0.0, 100.0 * self.stored_wh / self.capacity_wh))

    def as_json(self) -> JSONObject:
        return {
            "state_code": self.state_code,
            "mode": self.mode,
            "state_text": self.state_text,
            "tank_temp_f": _round(_in_f(self.tank_temp_c), 1),
            "tank_temp_c": _round(self.tank_temp_c, 1),
            "set_point_f": _round(_in_f(self.set_point_c), 1),
            "stored_kwh": _round(wh_to_kwh(self.stored_wh), 2),
            "capacity_kwh": _round(wh_to_kwh(self.capacity_wh), 2),
            "stored_pct": _round(self.stored_pct, 0),
            "power_w": _round(self.power_w, 0),
        }


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One grid event as the homeowner sees it. ``end`` is None for an open-ended event."""

    id: str
    program: str | None
    kind: str
    start: datetime
    end: datetime | None
    summary: str
    program_name: str | None = None  # the program's name from the VTN; ``program`` is its id

    def __post_init__(self) -> None:
        require_aware("event start", self.start)
        require_aware("event end", self.end)

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "id": self.id,
            "program": self.program,
            "program_name": self.program_name,
            "kind": self.kind,
            "start": json_time(self.start, tz),
            "end": json_time(self.end, tz),
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class Events:
    current: EventInfo | None = None
    next: EventInfo | None = None

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "current": None if self.current is None else self.current.as_json(tz),
            "next": None if self.next is None else self.next.as_json(tz),
        }


@dataclass(frozen=True, slots=True)
class PlanInterval:
    """One planning step: the price over it, the heat planned and the stored energy at its start."""

    start: datetime
    price: float | None
    heat_kwh: float
    soc_kwh: float | None

    def __post_init__(self) -> None:
        require_aware("plan interval start", self.start)

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "start": json_time(self.start, tz),
            "price": self.price,
            "heat_kwh": _round(self.heat_kwh, 3),
            "soc_kwh": _round(self.soc_kwh, 3),
        }


@dataclass(frozen=True, slots=True)
class PlanCommand:
    """A CTA-2045 command the plan sends (``kind`` e.g. "SHED", "LOAD_UP") and why."""

    start: datetime
    end: datetime | None
    kind: str
    reason: str

    def __post_init__(self) -> None:
        require_aware("plan command start", self.start)
        require_aware("plan command end", self.end)

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "start": json_time(self.start, tz),
            "end": json_time(self.end, tz),
            "kind": self.kind,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """The current plan; empty (no start, no intervals) before the first one is made."""

    step_minutes: int
    start: datetime | None = None
    intervals: tuple[PlanInterval, ...] = ()
    commands: tuple[PlanCommand, ...] = ()
    price_unit: str | None = None
    #: The plan's expected cost over its horizon and that of normal operation, in the price's
    #: currency; None when the planner does not say.
    expected_cost: float | None = None
    normal_cost: float | None = None
    #: Whose plan runs (fleet planning, docs/fleet-planner.md); None when not enrolled.
    source: PlanBasis | None = None

    @property
    def expected_saving(self) -> float | None:
        if self.expected_cost is None or self.normal_cost is None:
            return None
        return self.normal_cost - self.expected_cost

    def __post_init__(self) -> None:
        if self.step_minutes <= 0:
            raise SnapshotError(f"plan step_minutes must be positive, got {self.step_minutes}")
        require_aware("plan start", self.start)

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {
            "step_minutes": self.step_minutes,
            "start": json_time(self.start, tz),
            "price_unit": self.price_unit,
            "expected_cost": _round(self.expected_cost, 4),
            "normal_cost": _round(self.normal_cost, 4),
            "expected_saving": _round(self.expected_saving, 4),
            "intervals": [interval.as_json(tz) for interval in self.intervals],
            "commands": [command.as_json(tz) for command in self.commands],
            "source": None if self.source is None else self.source.as_json(tz),
        }


@dataclass(frozen=True, slots=True)
class Health:
    heater_link: HeaterLinkHealth
    vtn: VtnHealth

    def as_json(self, tz: tzinfo | None) -> JSONObject:
        return {"heater_link": self.heater_link.as_json(tz), "vtn": self.vtn.as_json(tz)}


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    version: str
    uptime_s: float
    #: False while the system clock is not synchronised: nothing is planned or reported.
    clock_synchronised: bool = True

    def as_json(self) -> JSONObject:
        return {
            "version": self.version,
            "uptime_s": round(self.uptime_s),
            "clock_synchronised": self.clock_synchronised,
        }


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Everything the status page shows, at one instant."""

    generated_at: datetime
    heater: HeaterStatus
    health: Health
    gateway: GatewayInfo
    events: Events = field(default_factory=Events)
    plan: Plan = field(default_factory=lambda: Plan(step_minutes=15))
    #: The heater's Device Information reply and the DR messages the gateway chose for it.
    device: DeviceInformationReply | None = None
    commands: str | None = None

    def __post_init__(self) -> None:
        require_aware("generated_at", self.generated_at)

    def as_json(self, tz: tzinfo | None = None) -> JSONObject:
        """The ``GET /api/status`` document; times in ``tz`` (default: the gateway's zone)."""
        return {
            "generated_at": json_time(self.generated_at, tz),
            "heater": self.heater.as_json(),
            "events": self.events.as_json(tz),
            "plan": self.plan.as_json(tz),
            "health": self.health.as_json(tz),
            "device": None if self.device is None else device_json(self.device, self.commands),
            "gateway": self.gateway.as_json(),
        }
