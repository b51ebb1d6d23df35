"""The control core: what the heater should be told now, and when to look again (sans-I/O).

Inputs are plain values: the current :class:`ControlPlan` (a timeline of CTA-2045 commands with
their reasons, made by a :data:`Planner` from the grid signals and the device state), a
:class:`DeviceView` of what the heater reports, and ``now``. The output of :meth:`Controller.step`
is at most one :class:`SendCommand` for the daemon to hand to the UCM; the daemon reports back
with :meth:`Controller.record`. No clocks, sockets or tasks live here, so every decision is tested
exactly without a heater.

Rules (docs/gateway.md; docs/cta2045.md §8, §14, §16):

* Send only what changes: the same command for the same event is not repeated while the heater's
  own timer still runs.
* Every curtailment or load-up is sent with a finite duration (a lease, at most
  ``max_command_s``) and renewed ``renew_margin_s`` before the heater's quantised timer expires,
  so a gateway that dies leaves the heater to fall back to normal by itself (docs/cta2045.md §16.4).
* End Shed when an event ends or is cancelled, even when a duration was given (docs/cta2045.md §15,
  Intwine REST §3.2): the heater's timer is quantised and may run longer than the event.
* Customer override (opted-out states 11/12, Customer Override 0x11, or an application NAK with
  reason 0x05) is respected: nothing new is sent for that command until the override clears or
  the plan asks for something else; it is recorded for the reports and the page.
* The outside-communication heartbeat is the UCM's job, not this module's.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from ven_edge.signals import SignalTimeline

# CTA-2045 Basic DR event-duration encoding (docs/cta2045.md §8.2): byte n means 2·n² seconds;
# 0xFF is "longer than the largest value", so 254 is the longest exact duration.
_DURATION_SECONDS_PER_N2: Final = 2
_DURATION_MAX_N: Final = 254
MAX_ENCODABLE_DURATION_S: Final = _DURATION_SECONDS_PER_N2 * _DURATION_MAX_N**2

# Operational-state codes that mean the customer opted out (docs/cta2045.md §8.3).
OP_IDLE_OPTED_OUT: Final = 11
OP_RUNNING_OPTED_OUT: Final = 12
OPTED_OUT_STATES: Final = frozenset({OP_IDLE_OPTED_OUT, OP_RUNNING_OPTED_OUT})

# How often the plan is rebuilt even when nothing changed (docs/gateway.md, "The control core").
REPLAN_INTERVAL: Final = timedelta(minutes=15)


class CommandKind(enum.StrEnum):
    """The CTA-2045 Basic DR commands the plan uses (docs/cta2045.md §8.1)."""

    NORMAL = "NORMAL"  # End Shed / Run Normal (0x02)
    SHED = "SHED"  # 0x01
    LOAD_UP = "LOAD_UP"  # 0x17
    ADVANCED_LOAD_UP = "ADVANCED_LOAD_UP"  # Intermediate 0C 00
    CRITICAL_PEAK = "CRITICAL_PEAK"  # 0x0A
    GRID_EMERGENCY = "GRID_EMERGENCY"  # 0x0B


class Outcome(enum.Enum):
    """What came of a sent command, as far as the control core cares."""

    ACCEPTED = "accepted"  # link ACK and application ACK
    OVERRIDDEN = "overridden"  # application NAK 0x05: customer override in effect
    REJECTED = "rejected"  # any other NAK: not supported, invalid, busy
    FAILED = "failed"  # no answer, link down


def quantised_duration_s(seconds: float) -> int:
    """The longest encodable duration not longer than ``seconds`` (docs/cta2045.md §8.2).

    Rounding down means the heater's timer never outlives the lease: the core renews it. At least
    one step (2 s) so that a command is never sent as 0, which means "until End Shed".
    """
    if seconds >= MAX_ENCODABLE_DURATION_S:
        return MAX_ENCODABLE_DURATION_S
    n = max(1, math.isqrt(max(0, int(seconds)) // _DURATION_SECONDS_PER_N2))
    return _DURATION_SECONDS_PER_N2 * n * n


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """One entry of the command timeline: from ``start`` to ``end`` (None: open-ended)."""

    start: datetime
    end: datetime | None
    kind: CommandKind
    reason: str
    event_id: str | None = None
    wh: int | None = None  # Advanced Load Up energy

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

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "price": self.price,
            "heat_kwh": self.heat_kwh,
            "soc_kwh": self.soc_kwh,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanStep:
        return cls(
            start=_aware(data["start"]),
            price=None if data.get("price") is None else float(data["price"]),
            heat_kwh=float(data["heat_kwh"]),
            soc_kwh=None if data.get("soc_kwh") is None else float(data["soc_kwh"]),
        )


@dataclass(frozen=True, slots=True)
class ControlPlan:
    """A command timeline (sorted, non-overlapping) and the steps it came from."""

    made_at: datetime
    commands: tuple[PlannedCommand, ...] = ()
    steps: tuple[PlanStep, ...] = ()
    step_minutes: int = 15
    price_unit: str | None = None

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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ControlPlan:
        return cls(
            made_at=_aware(data["made_at"]),
            commands=tuple(PlannedCommand.from_json(c) for c in data.get("commands", [])),
            steps=tuple(PlanStep.from_json(s) for s in data.get("steps", [])),
            step_minutes=int(data.get("step_minutes", 15)),
            price_unit=data.get("price_unit"),
        )


@dataclass(frozen=True, slots=True)
class DeviceView:
    """What the control core needs to know about the heater."""

    connected: bool
    op_state: int | None = None
    override: bool = False  # Customer Override 0x11 in effect
    stored_kwh: float | None = None
    capacity_kwh: float | None = None
    tank_temp_f: float | None = None
    energy_used_kwh: float | None = None  # cumulative, for USAGE reports
    #: Completed commissionings of the UCM session: a rise after the first means the port was
    #: lost and reopened, and the heater may have lost the command it was running.
    commissionings: int = 0

    @property
    def opted_out(self) -> bool:
        return self.override or self.op_state in OPTED_OUT_STATES


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What a planner reads: the grid signals, the heater, and the time."""

    now: datetime
    signals: SignalTimeline
    device: DeviceView


Planner = Callable[[PlanInputs], ControlPlan]


@dataclass(frozen=True, slots=True)
class SendCommand:
    """One command for the UCM: ``duration_s`` is already quantised (None for End Shed)."""

    kind: CommandKind
    duration_s: int | None
    reason: str
    event_id: str | None = None
    wh: int | None = None

    @property
    def key(self) -> tuple[CommandKind, str | None, int | None]:
        return (self.kind, self.event_id, self.wh)


@dataclass(frozen=True, slots=True)
class ControlSettings:
    max_command_s: float = 4 * 3600.0  # lease length for one command
    renew_margin_s: float = 120.0  # renew this long before the heater's timer runs out
    retry_s: float = 30.0  # after a failed send
    replan_interval: timedelta = REPLAN_INTERVAL

    def __post_init__(self) -> None:
        if not 0 < self.renew_margin_s < self.max_command_s:
            raise ValueError("renew_margin_s must be positive and below max_command_s")
        if self.retry_s <= 0:
            raise ValueError("retry_s must be positive")


@dataclass(slots=True)
class _Sent:
    command: SendCommand
    at: datetime
    outcome: Outcome | None = None
    expires: datetime | None = None  # when the heater's own timer ends


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """A command the customer's override refused (reported to the VTN, shown on the page)."""

    at: datetime
    kind: CommandKind
    event_id: str | None


@dataclass(slots=True)
class Controller:
    """Decides, step by step, which command the heater should receive."""

    settings: ControlSettings = field(default_factory=ControlSettings)
    plan: ControlPlan | None = None
    _last: _Sent | None = field(default=None, init=False, repr=False)
    _blocked_key: tuple[CommandKind, str | None, int | None] | None = field(
        default=None, init=False, repr=False
    )
    _was_opted_out: bool = field(default=False, init=False, repr=False)
    _commissionings: int = field(default=0, init=False, repr=False)
    overrides: list[OverrideRecord] = field(default_factory=list, init=False)

    def set_plan(self, plan: ControlPlan) -> None:
        self.plan = plan

    def desired(self, now: datetime) -> PlannedCommand | None:
        return None if self.plan is None else self.plan.active(now)

    @property
    def last_sent(self) -> SendCommand | None:
        return None if self._last is None else self._last.command

    def step(self, now: datetime, device: DeviceView) -> SendCommand | None:
        """The command to send now, or None when the heater already does the right thing."""
        if not device.connected:
            return None
        if device.commissionings > self._commissionings:
            if self._commissionings > 0:
                self._forget_heater_state(now)
            self._commissionings = device.commissionings
        planned = self.desired(now)
        wanted = self._command_for(planned, now)
        last = self._last
        if self._was_opted_out and not device.opted_out:
            # The customer ended the override: the refused command may be tried again, and the
            # heater runs normally again, as after start-up.
            self._blocked_key = None
            if last is not None and last.outcome is Outcome.OVERRIDDEN:
                self._last = last = None
        self._was_opted_out = device.opted_out
        if device.opted_out and wanted.kind is not CommandKind.NORMAL:
            self._note_override(now, wanted)
            return None
        if self._blocked_key is not None and wanted.key != self._blocked_key:
            self._blocked_key = None  # the plan moved on
        if wanted.key == self._blocked_key:
            return None
        if last is None:
            # At start-up the UCM sends End Shed during commissioning (docs/cta2045.md §7), so the
            # heater is known to run normally: nothing to send unless the plan wants more.
            return None if wanted.kind is CommandKind.NORMAL else wanted
        if last.outcome is Outcome.FAILED:
            retry_at = last.at + timedelta(seconds=self.settings.retry_s)
            if wanted.key != last.command.key or now >= retry_at:
                return wanted
            return None
        if wanted.key != last.command.key:
            if wanted.kind is CommandKind.NORMAL and last.command.kind is CommandKind.NORMAL:
                return None
            return wanted
        if wanted.kind is CommandKind.NORMAL or last.outcome is not Outcome.ACCEPTED:
            return None
        if last.expires is not None and now >= last.expires - timedelta(
            seconds=self.settings.renew_margin_s
        ):
            return wanted  # renew the lease before the heater's own timer ends
        return None

    def _forget_heater_state(self, now: datetime) -> None:
        """Reconnected after a lost port: the heater may have power-cycled or let its timer run
        out meanwhile, so the command in force is re-sent (with its remaining duration), as
        after a failed send; an End Shed last sent needs nothing (a heater restarts normal)."""
        last = self._last
        if last is None or last.outcome is Outcome.OVERRIDDEN:
            return
        if last.command.kind is CommandKind.NORMAL:
            self._last = None
            return
        retry_now = now - timedelta(seconds=self.settings.retry_s)
        self._last = _Sent(command=last.command, at=retry_now, outcome=Outcome.FAILED)

    def record(self, command: SendCommand, outcome: Outcome, now: datetime) -> None:
        """What came of ``command``, sent at ``now``."""
        expires = None
        if command.duration_s is not None and outcome is Outcome.ACCEPTED:
            expires = now + timedelta(seconds=command.duration_s)
        self._last = _Sent(command=command, at=now, outcome=outcome, expires=expires)
        if outcome is Outcome.OVERRIDDEN:
            self._blocked_key = command.key
            self._note_override(now, command)
        elif outcome is Outcome.REJECTED:
            # Not supported or invalid: do not hammer the heater with the same request.
            self._blocked_key = command.key

    def next_deadline(self, now: datetime) -> datetime:
        """When :meth:`step` may answer differently without any new input."""
        candidates = [now + self.settings.replan_interval]
        if self.plan is not None:
            change = self.plan.next_change(now)
            if change is not None:
                candidates.append(change)
        last = self._last
        if last is not None:
            if last.outcome is Outcome.FAILED:
                candidates.append(last.at + timedelta(seconds=self.settings.retry_s))
            elif last.expires is not None:
                candidates.append(last.expires - timedelta(seconds=self.settings.renew_margin_s))
        return max(now, min(candidates))

    def _command_for(self, planned: PlannedCommand | None, now: datetime) -> SendCommand:
        if planned is None or planned.kind is CommandKind.NORMAL:
            reason = "back to normal operation" if planned is None else planned.reason
            return SendCommand(CommandKind.NORMAL, None, reason)
        remaining = self.settings.max_command_s
        if planned.end is not None:
            remaining = min(remaining, (planned.end - now).total_seconds())
        return SendCommand(
            kind=planned.kind,
            duration_s=quantised_duration_s(remaining),
            reason=planned.reason,
            event_id=planned.event_id,
            wh=planned.wh,
        )

    def _note_override(self, now: datetime, command: SendCommand) -> None:
        latest = self.overrides[-1] if self.overrides else None
        if latest is None or (latest.kind, latest.event_id) != (command.kind, command.event_id):
            self.overrides.append(OverrideRecord(now, command.kind, command.event_id))
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
