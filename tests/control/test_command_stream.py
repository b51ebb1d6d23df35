"""The daemon's command stream over whole events, on its own clock: how many frames go out.

The daemon runs its real control step (rule planner, controller, policy) against a heater that
answers every frame at once; the test moves the clock to each deadline the controller names, as
the control loop does, and a frame takes :data:`FRAME_S` of it. Nothing here sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.devices import answering
from ven_edge.command_policy import Delivery, Outcome
from ven_edge.control import CommandKind, SendCommand
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.daemon import Daemon
from ven_edge.plan.rule_planner import plan_by_rules
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.store import StateStore
from ven_edge.web.status import until_text

T0 = datetime(2026, 1, 14, 17, 0, tzinfo=UTC)
FRAME_S = 0.15  # a Basic DR request with its link ACK and App ACK on the wire (docs/cta2045.md §5)
#: A stream that never settles is stopped here and reported, rather than looping for ever.
MAX_STEPS = 20_000


@dataclass
class StepClock:
    """Plan time that moves only when told."""

    at: datetime
    speed: float = 1.0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class AnsweringHeater:
    """A heater that takes every frame: it keeps the frames and the lease it is running."""

    clock: StepClock
    answer: Callable[[SendCommand], Delivery] = lambda _c: Delivery(Outcome.ACCEPTED)
    frames: list[tuple[datetime, SendCommand]] = field(default_factory=list)
    commissionings: int = 1

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def set_listener(self, callback: Callable[[], None]) -> None:
        return None

    def device(self) -> DeviceSnapshot:
        return answering(operational_state=0, commissionings=self.commissionings)

    def commands(self) -> str:
        return "basic"

    async def send(self, command: SendCommand) -> Delivery:
        self.frames.append((self.clock.now(), command))
        self.clock.at += timedelta(seconds=FRAME_S)
        return self.answer(command)

    def dr_frames(self) -> list[tuple[datetime, SendCommand]]:
        return [(t, c) for t, c in self.frames if c.kind is not CommandKind.NORMAL]

    def end_sheds(self) -> list[datetime]:
        return [t for t, c in self.frames if c.kind is CommandKind.NORMAL]


def simple_event(
    start: datetime, minutes: int, interval_min: int, level: int = 1
) -> SignalTimeline:
    """One SIMPLE event of ``minutes`` cut into intervals of ``interval_min`` minutes."""
    step = timedelta(minutes=interval_min)
    return SignalTimeline(
        tuple(
            SignalInterval(start + i * step, start + (i + 1) * step, "SIMPLE", (level,), 0, "ev-1")
            for i in range(minutes // interval_min)
        )
    )


def rule_daemon(tmp_path: Path, heater: AnsweringHeater) -> Daemon:
    """The daemon with the rule planner and no VTN, on the heater's clock."""
    return Daemon(
        heater=heater,
        grid=None,
        planner=plan_by_rules,
        store=StateStore(tmp_path / "state"),
        clock=heater.clock,
    )


async def run_event(
    tmp_path: Path, timeline: SignalTimeline, until: datetime, heater: AnsweringHeater | None = None
) -> AnsweringHeater:
    clock = StepClock(T0 - timedelta(minutes=5))
    heater = heater or AnsweringHeater(clock)
    heater.clock = clock
    daemon = rule_daemon(tmp_path, heater)
    daemon.set_signals(timeline)
    for _ in range(MAX_STEPS):
        if clock.now() >= until:
            return heater
        await daemon.control_step()
        clock.at = max(clock.at, daemon.controller.next_deadline(clock.now()))
    raise AssertionError(f"{len(heater.frames)} frames and the stream never settled")


@pytest.mark.parametrize(("minutes", "interval_min"), [(60, 60), (60, 1), (18, 1), (25, 5)])
async def test_an_event_is_one_dr_frame_and_one_end_shed(
    tmp_path: Path, minutes: int, interval_min: int
) -> None:
    end = T0 + timedelta(minutes=minutes)
    heater = await run_event(
        tmp_path, simple_event(T0, minutes, interval_min), end + timedelta(minutes=5)
    )
    frames = heater.dr_frames()
    assert [(c.kind, c.event_id) for _t, c in frames] == [(CommandKind.SHED, "ev-1")]
    at, shed = frames[0]
    assert at == T0
    assert shed.duration_s is not None
    # One frame covers the whole event: the heater's timer never runs out before its end.
    assert at + timedelta(seconds=shed.duration_s) >= end
    assert heater.end_sheds() == [end]


async def test_nothing_is_resent_in_the_last_two_minutes_of_a_long_command(
    tmp_path: Path,
) -> None:
    end = T0 + timedelta(hours=5)  # longer than one 4-hour lease
    heater = await run_event(tmp_path, simple_event(T0, 300, 60), end + timedelta(minutes=5))
    frames = heater.dr_frames()
    assert len(frames) == 2, frames  # one renewal for the one heater timer that ends early
    (first_at, first), (renewed_at, renewal) = frames
    assert first.duration_s is not None
    assert renewal.duration_s is not None
    timer_end = first_at + timedelta(seconds=first.duration_s)
    assert timer_end - timedelta(minutes=3) < renewed_at < timer_end
    assert renewed_at + timedelta(seconds=renewal.duration_s) >= end
    assert not [t for t, _c in frames if t >= end - timedelta(seconds=120)]
    assert heater.end_sheds() == [end]


async def test_failed_frames_are_retried_with_backoff_until_delivered(tmp_path: Path) -> None:
    failures = iter(range(6))

    def flaky(_command: SendCommand) -> Delivery:
        # Six link NAKs in a row (a noisy line), then the heater takes the frame.
        if next(failures, None) is not None:
            return Delivery(Outcome.FAILED, 0x03, "link_nak: CHECKSUM_ERROR")
        return Delivery(Outcome.ACCEPTED)

    clock = StepClock(T0)
    heater = AnsweringHeater(clock, answer=flaky)
    end = T0 + timedelta(hours=1)
    heater = await run_event(tmp_path, simple_event(T0, 60, 1, level=2), end, heater)
    times = [t for t, c in heater.frames if c.kind is CommandKind.CRITICAL_PEAK]
    assert len(times) == 7
    gaps = [round((b - a).total_seconds() - FRAME_S) for a, b in itertools.pairwise(times)]
    assert gaps == [2, 4, 8, 16, 32, 60]


async def test_the_status_card_shows_the_event_the_gateway_obeys(tmp_path: Path) -> None:
    clock = StepClock(T0 + timedelta(minutes=10))
    heater = CurtailedHeater(clock)
    daemon = rule_daemon(tmp_path, heater)
    minute = timedelta(minutes=1)
    # SIMPLE 1 began first; SIMPLE 2 began later with a higher priority (0 before 5), in
    # one-minute intervals: the gateway obeys SIMPLE 2 (Critical Peak) until 18:30.
    first = SignalInterval(T0, T0 + timedelta(hours=2), "SIMPLE", (1,), 5, "simple-1", "p", "one")
    second = tuple(
        SignalInterval(T0 + i * minute, T0 + (i + 1) * minute, "SIMPLE", (2,), 0, "simple-2", "p")
        for i in range(5, 90)
    )
    daemon.set_signals(SignalTimeline((first, *second)))
    command = await daemon.control_step()
    assert command is not None
    assert (command.kind, command.event_id) == (CommandKind.CRITICAL_PEAK, "simple-2")
    snapshot = daemon.snapshot()
    assert snapshot.events.current is not None
    assert snapshot.events.current.id == "simple-2"
    # "until" is the end of the command obeyed, not of its current one-minute interval.
    assert snapshot.heater.state_text.endswith(until_text(T0 + 90 * minute, now=clock.now()))


@dataclass
class CurtailedHeater(AnsweringHeater):
    def device(self) -> DeviceSnapshot:
        return answering(operational_state=4, commissionings=1)  # Idle Curtailed
