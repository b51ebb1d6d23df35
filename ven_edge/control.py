"""The control core: what the heater should be told now, and when to look again (sans-I/O).

Inputs are plain values: the current :class:`ControlPlan` (a timeline of CTA-2045 commands with
their reasons, made by a :data:`Planner` from the grid signals and the device state), the
heater's :class:`~ven_edge.cta2045.device.DeviceSnapshot`, and ``now``. The output of
:meth:`Controller.step` is at most one :class:`SendCommand` for the daemon to hand to the UCM;
the daemon reports back with :meth:`Controller.record`. No clocks, sockets or tasks live here,
so every decision is tested exactly without a heater.

When a frame goes out (leases, renewals, transport retries, refusals, the customer's
override) is decided by :mod:`ven_edge.command_policy`; this module turns the plan into the
command in force and the end of its run, and records overrides for the reports and the page.

* Send only what changes: the same command for the same event is not repeated while the heater's
  own timer still runs; entries that differ only in interval or wording are one command.
* Every curtailment or load-up is sent with a finite duration (a lease), so a gateway that dies
  leaves the heater to fall back to normal by itself (docs/cta2045.md §16.4).
* End Shed when an event ends or is cancelled, even when a duration was given (docs/cta2045.md §15,
  Intwine REST §3.2).
* Customer override (opted-out states 11/12, Customer Override 0x11, or an application NAK with
  reason 0x05) is respected and recorded for the reports and the page.
* The outside-communication heartbeat is the UCM's job, not this module's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from ven_edge.command_policy import CommandPolicy, Delivery, Outcome, PolicySettings, Wanted
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.signals import SignalTimeline

# How often the plan is rebuilt even when nothing changed.
REPLAN_INTERVAL: Final = timedelta(minutes=15)
# A re-planned load-up energy is the same command unless it moved by at least this many Wh and
# this share of the energy in force: re-sending Advanced Load Up for a few Wh is a flood, not a
# better plan (docs/gateway.md, "Commands").
WH_RESEND_MIN: Final = 500
WH_RESEND_SHARE: Final = 0.25


def same_energy(sent: int | None, planned: int | None) -> bool:
    """Is ``planned`` close enough to the energy ``sent`` that it need not go out again?"""
    if sent is None or planned is None:
        return sent == planned
    change = abs(planned - sent)
    return change < WH_RESEND_MIN or change < WH_RESEND_SHARE * max(abs(sent), abs(planned))


CommandKey = tuple[CommandKind, str | None, int | None]


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """One entry of the command timeline: from ``start`` to ``end`` (None: open-ended)."""

    start: datetime
    end: datetime | None
    kind: CommandKind
    reason: str
    event_id: str | None = None
    wh: int | None = None  # Advanced Load Up energy

    @property
    def key(self) -> CommandKey:
        """The command's identity: entries with the same key are one command to the heater."""
        return (self.kind, self.event_id, self.wh)

    def covers(self, now: datetime) -> bool:
        return self.start <= now and (self.end is None or now < self.end)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "kind": self.kind.value,
            "reason": self.reason,
            "event_id": self.event_id,
            "wh": self.wh,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedCommand:
        end = data.get("end")
        return cls(
            start=_aware(data["start"]),
            end=None if end is None else _aware(end),
            kind=CommandKind(data["kind"]),
            reason=str(data["reason"]),
            event_id=data.get("event_id"),
            wh=data.get("wh"),
        )


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One planning step for display: price, planned heat and stored energy at its start."""

    start: datetime
    price: float | None
    heat_kwh: float
    soc_kwh: float | None
    #: Planned electricity in the step (kWh, all heat sources), when the planner knows it.
    input_kwh: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "price": self.price,
            "heat_kwh": self.heat_kwh,
            "soc_kwh": self.soc_kwh,
            "input_kwh": self.input_kwh,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanStep:
        return cls(
            start=_aware(data["start"]),
            price=None if data.get("price") is None else float(data["price"]),
            heat_kwh=float(data["heat_kwh"]),
            soc_kwh=None if data.get("soc_kwh") is None else float(data["soc_kwh"]),
            input_kwh=_optional_float(data.get("input_kwh")),
        )


@dataclass(frozen=True, slots=True)
class PlanSource:
    """Whose plan runs: the utility's fleet schedule or the gateway's own, and why
    (docs/status-api.md, ``plan.source``). ``reason`` is one of ``following``, ``no_schedule``,
    ``not_started``, ``stale`` and ``comfort``; ``until`` is the end of the schedule followed
    (or the start of one not begun), ``since`` when a stale one ended."""

    fleet: bool
    reason: str
    until: datetime | None = None
    since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "reason": self.reason,
            "until": None if self.until is None else self.until.isoformat(),
            "since": None if self.since is None else self.since.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanSource:
        until, since = data.get("until"), data.get("since")
        return cls(
            fleet=bool(data["fleet"]),
            reason=str(data["reason"]),
            until=None if until is None else _aware(until),
            since=None if since is None else _aware(since),
        )


@dataclass(frozen=True, slots=True)
class ControlPlan:
    """A command timeline (sorted, non-overlapping) and the steps it came from."""

    made_at: datetime
    commands: tuple[PlannedCommand, ...] = ()
    steps: tuple[PlanStep, ...] = ()
    step_minutes: int = 15
    price_unit: str | None = None
    #: The day's expected cost of following the plan and of normal mode over the same horizon,
    #: in ``price_unit`` (None when the prices do not cover the horizon).
    expected_cost: float | None = None
    normal_cost: float | None = None
    #: Whose plan this is, when the gateway is enrolled in fleet planning (None: not).
    source: PlanSource | None = None

    def __post_init__(self) -> None:
        for command in self.commands:
            if command.end is not None and command.end <= command.start:
                raise ValueError(f"plan command {command.kind} from {command.start} lasts no time")
        for before, after in zip(self.commands, self.commands[1:], strict=False):
            if before.end is None or before.end > after.start:
                raise ValueError(
                    f"plan commands overlap: {before.kind} from {before.start} and "
                    f"{after.kind} from {after.start}"
                )

    def active(self, now: datetime) -> PlannedCommand | None:
        for command in self.commands:
            if command.covers(now):
                return command
        return None

    def run_end(self, now: datetime) -> datetime | None:
        """The end of the command in force at ``now``, through the adjacent entries that are the
        same command (same key); None when open-ended or when nothing is in force."""
        index = next((i for i, c in enumerate(self.commands) if c.covers(now)), None)
        if index is None:
            return None
        current = self.commands[index]
        for following in self.commands[index + 1 :]:
            if current.end != following.start or following.key != current.key:
                break
            current = following
        return current.end

    def next_change(self, now: datetime) -> datetime | None:
        """The first start or end of a command after ``now``."""
        times = [t for c in self.commands for t in (c.start, c.end) if t is not None and t > now]
        return min(times, default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "made_at": self.made_at.isoformat(),
            "commands": [c.to_json() for c in self.commands],
            "steps": [s.to_json() for s in self.steps],
            "step_minutes": self.step_minutes,
            "price_unit": self.price_unit,
            "expected_cost": self.expected_cost,
            "normal_cost": self.normal_cost,
            "source": None if self.source is None else self.source.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ControlPlan:
        source = data.get("source")
        return cls(
            made_at=_aware(data["made_at"]),
            commands=tuple(PlannedCommand.from_json(c) for c in data.get("commands", [])),
            steps=tuple(PlanStep.from_json(s) for s in data.get("steps", [])),
            step_minutes=int(data.get("step_minutes", 15)),
            price_unit=data.get("price_unit"),
            expected_cost=_optional_float(data.get("expected_cost")),
            normal_cost=_optional_float(data.get("normal_cost")),
            source=PlanSource.from_json(source) if isinstance(source, dict) else None,
        )


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What a planner reads: the grid signals, the heater, and the time."""

    now: datetime
    signals: SignalTimeline
    device: DeviceSnapshot
    #: Expected thermal draw (kWh) in ``[start, end)``, learned from the heater
    #: (:mod:`ven_edge.household`); None: the planner's configured profile.
    draw: Callable[[datetime, datetime], float] | None = None
    #: The event id of this gateway's fleet schedule (docs/fleet-planner.md), when it has one.
    fleet_event: str | None = None


Planner = Callable[[PlanInputs], ControlPlan]


@dataclass(frozen=True, slots=True)
class SendCommand:
    """One command for the UCM: ``duration_s`` is already encodable (None for End Shed)."""

    kind: CommandKind
    duration_s: int | None
    reason: str
    event_id: str | None = None
    wh: int | None = None

    @property
    def key(self) -> CommandKey:
        return (self.kind, self.event_id, self.wh)


@dataclass(frozen=True, slots=True)
class ControlSettings:
    policy: PolicySettings = field(default_factory=PolicySettings)
    replan_interval: timedelta = REPLAN_INTERVAL


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """A command the customer's override refused (reported to the VTN, shown on the page)."""

    at: datetime
    kind: CommandKind
    event_id: str | None


_NORMAL_KEY: Final[CommandKey] = (CommandKind.NORMAL, None, None)


@dataclass(slots=True)
class Controller:
    """Decides, step by step, which command the heater should receive."""

    settings: ControlSettings = field(default_factory=ControlSettings)
    plan: ControlPlan | None = None
    policy: CommandPolicy = field(init=False, repr=False)
    _last: SendCommand | None = field(default=None, init=False, repr=False)
    overrides: list[OverrideRecord] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.policy = CommandPolicy(self.settings.policy)

    def set_plan(self, plan: ControlPlan) -> None:
        self.plan = plan

    def desired(self, now: datetime) -> PlannedCommand | None:
        return None if self.plan is None else self.plan.active(now)

    def run_end(self, now: datetime) -> datetime | None:
        """The end of the command in force, through the adjacent plan entries that are the same
        command (None: open-ended, or nothing in force)."""
        return None if self.plan is None else self.plan.run_end(now)

    @property
    def last_sent(self) -> SendCommand | None:
        return self._last

    def step(self, now: datetime, device: DeviceSnapshot) -> SendCommand | None:
        """The command to send now, or None when the heater already does the right thing."""
        if not device.ready:
            return None
        self.policy.observe(
            now,
            op_state=device.operational_state,
            opted_out=device.opted_out,
            commissionings=device.commissionings,
        )
        planned = self.desired(now)
        wanted = self._wanted(planned, now)
        if device.opted_out and not wanted.normal and planned is not None:
            self._note_override(now, planned.kind, planned.event_id)
        decision = self.policy.decide(now, wanted)
        if decision is None:
            return None
        if planned is None or wanted.normal:
            reason = "back to normal operation" if planned is None else planned.reason
            return SendCommand(CommandKind.NORMAL, None, reason)
        return SendCommand(
            kind=planned.kind,
            duration_s=decision.duration_s,
            reason=planned.reason,
            event_id=planned.event_id,
            wh=self._energy(planned),
        )

    def record(self, command: SendCommand, result: Outcome | Delivery, now: datetime) -> None:
        """What came of ``command``, sent at ``now``."""
        delivery = result if isinstance(result, Delivery) else Delivery(result)
        normal = command.kind is CommandKind.NORMAL
        self.policy.record(now, command.key, normal, command.duration_s, delivery)
        self._last = command
        if delivery.outcome is Outcome.OVERRIDDEN:
            self._note_override(now, command.kind, command.event_id)

    def next_deadline(self, now: datetime) -> datetime:
        """When :meth:`step` may answer differently without any new input."""
        candidates = [now + self.settings.replan_interval]
        if self.plan is not None:
            change = self.plan.next_change(now)
            if change is not None:
                candidates.append(change)
        due = self.policy.next_deadline(self._wanted(self.desired(now), now))
        if due is not None:
            candidates.append(due)
        return max(now, min(candidates))

    def _wanted(self, planned: PlannedCommand | None, now: datetime) -> Wanted:
        if planned is None or planned.kind is CommandKind.NORMAL:
            return Wanted(_NORMAL_KEY, normal=True, end=None)
        key = (planned.kind, planned.event_id, self._energy(planned))
        return Wanted(key, normal=False, end=self.run_end(now))

    def _energy(self, planned: PlannedCommand) -> int | None:
        """The planned energy, or the one in force when the change is not worth a frame."""
        last = self._last
        if (
            last is not None
            and (last.kind, last.event_id) == (planned.kind, planned.event_id)
            and same_energy(last.wh, planned.wh)
        ):
            return last.wh
        return planned.wh

    def _note_override(self, now: datetime, kind: CommandKind, event_id: str | None) -> None:
        latest = self.overrides[-1] if self.overrides else None
        if latest is None or (latest.kind, latest.event_id) != (kind, event_id):
            self.overrides.append(OverrideRecord(now, kind, event_id))
            del self.overrides[:-50]  # bounded: the page and reports need only the recent ones


def merge_commands(commands: Sequence[PlannedCommand]) -> tuple[PlannedCommand, ...]:
    """Join adjacent entries with the same kind, event, energy and reason; drop NORMAL gaps and
    entries that last no time (end at or before start)."""
    merged: list[PlannedCommand] = []
    for command in sorted(commands, key=lambda c: c.start):
        if command.kind is CommandKind.NORMAL or (
            command.end is not None and command.end <= command.start
        ):
            continue
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.end == command.start
            and (previous.kind, previous.event_id, previous.wh, previous.reason)
            == (command.kind, command.event_id, command.wh, command.reason)
        ):
            merged[-1] = replace(previous, end=command.end)
        else:
            merged.append(command)
    return tuple(merged)


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return value


def _optional_float(value: object) -> float | None:
    """A stored cost: absent, null or not a finite number reads as unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None
