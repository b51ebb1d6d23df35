"""The gateway daemon: heater, utility, control core, status page and persisted state, wired.

One asyncio task per concern, all owned and cancelled on shutdown:

* **control**: wakes on new signals, on a heater state change, at the control core's next
  deadline (command boundary, lease renewal, retry) and at least every 15 minutes; re-plans and
  sends at most the one command that changes.
* **grid**: the OpenADR 3 link (:mod:`ven_edge.grid_port`): registers, polls (a slow safety net
  when webhooks work), hands pushed changes over at once, backs off exponentially with full
  jitter on VTN errors and delivers reports; **reports** queues the due ones on plan time.
* **watchdog**: ``WATCHDOG=1`` at half the systemd interval, only under systemd.

Until the system clock is synchronised (:mod:`ven_edge.clocksync`; a Raspberry Pi has no
real-time clock) the daemon neither plans, nor commands from a persisted plan, nor queues
reports, nor learns the household's draws: each would be at the wrong time. The heater keeps the
normal operation commissioning left it in, and the page and the systemd status say why.

The household's draw profile (:mod:`ven_edge.household`) is learned from every heater reading and
handed to each plan.

What must survive a reboot is saved atomically in the state directory (:mod:`ven_edge.store`):
the signal timeline and the plan. On start the persisted plan is used at once, so a gateway that
restarts in the middle of an event commands the heater again as soon as commissioning is done,
before the VTN has answered (or when it never does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from ven_edge import __version__
from ven_edge.clock import Clock
from ven_edge.clocksync import AlwaysSynchronised, ClockSync
from ven_edge.command_policy import Outcome
from ven_edge.control import (
    Controller,
    ControlPlan,
    ControlSettings,
    PlanInputs,
    Planner,
    SendCommand,
)
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.errorlog import ErrorOnce
from ven_edge.household import Household
from ven_edge.oadr3.backoff import Backoff
from ven_edge.oadr3.planning import PlanningInputs
from ven_edge.ports import GridLabels, GridPort, HeaterPort
from ven_edge.redact import redact_text
from ven_edge.sdnotify import Notifier
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.status_model import HeaterLinkHealth, PlanBasis, VtnHealth
from ven_edge.store import StateStore
from ven_edge.units import wh_to_kwh
from ven_edge.web import status as ws

log = logging.getLogger(__name__)

SIGNALS_DOC: Final = "signals"
PLAN_DOC: Final = "plan"
HOUSEHOLD_DOC: Final = "household"
#: Wall seconds between looks at the clock's synchronisation while it is not synchronised.
CLOCK_POLL_S: Final = 10.0
#: Waits before the grid task is restarted after a failure: full jitter, doubling from the base
#: up to the cap.
GRID_RESTART_BASE_S = 1.0
GRID_RESTART_CAP_S = 60.0


class StartupError(Exception):
    """A part of the gateway did not start; everything started before it was stopped."""

    def __init__(self, part: str, cause: BaseException) -> None:
        self.part = part
        self.cause = cause
        detail = redact_text(str(cause)) or type(cause).__name__
        super().__init__(f"cannot start {part}: {detail}")


async def _start(
    stack: contextlib.AsyncExitStack,
    part: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
) -> None:
    """Start one part and register its stop; a failure to start becomes :class:`StartupError`.

    The stop is registered before the start: a part that half-started (a session opened, its
    port not) is stopped too; every ``stop`` here is safe to call on a part not started."""
    stack.push_async_callback(stop)
    try:
        await start()
    except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
        raise StartupError(part, exc) from exc


async def _cancel_all(tasks: list[asyncio.Task[object]]) -> None:
    for task in tasks:
        task.cancel()
    # Failures were raised by run() already; here they must not stop the unwinding.
    await asyncio.gather(*tasks, return_exceptions=True)


#: Builds the planning inputs: (timeline, heater, draw forecast, now, fleet event) -> inputs.
PlanningBuilder = Callable[
    [
        SignalTimeline,
        DeviceSnapshot,
        Callable[[datetime, datetime], float] | None,
        datetime,
        str | None,
    ],
    PlanningInputs,
]

# Grid events shown on the page, with the summary used when the event has no name. Instructions
# come before prices: with both in force, the instruction is what the homeowner should see.
_EVENT_SUMMARIES: Final = {
    "SIMPLE": "The utility asks to use less",
    "ALERT_GRID_EMERGENCY": "Grid emergency",
    "ALERT_BLACK_START": "Grid black start",
    "ALERT_FLEX_ALERT": "Flex alert: use less at peak times",
    "IMPORT_CAPACITY_LIMIT": "Limit on power drawn from the grid",
    "PRICE": "Electricity prices from the utility",
}
_PRICE_KINDS: Final = frozenset({"PRICE"})


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    report_tick_s: float = 60.0  # plan-time seconds between checks for due reports
    control: ControlSettings = field(default_factory=ControlSettings)

    def __post_init__(self) -> None:
        if not self.report_tick_s > 0:
            raise ValueError("report_tick_s must be positive")


class Daemon:
    """Runs until :meth:`run`'s ``stop`` event is set."""

    def __init__(
        self,
        *,
        heater: HeaterPort,
        grid: GridPort | None,
        planner: Planner,
        store: StateStore,
        clock: Clock,
        settings: DaemonSettings | None = None,
        notifier: Notifier | None = None,
        on_status: Callable[[], None] | None = None,
        household: Household | None = None,
        clock_sync: ClockSync | None = None,
    ) -> None:
        self.settings = settings or DaemonSettings()
        self.heater = heater
        self.grid = grid
        self.planner = planner
        self.store = store
        self.clock = clock
        self.notifier = notifier or Notifier({})
        self._on_status = on_status
        self.household = household or Household()
        # Without a ClockSync the clock is right by construction (a simulated clock).
        self.clock_sync: ClockSync = clock_sync or AlwaysSynchronised()
        self._synchronised: bool | None = None
        self._last_reading: tuple[int | None, int | None] | None = None
        self.controller = Controller(settings=self.settings.control)
        self.timeline = SignalTimeline()
        self._wake = asyncio.Event()
        self._replan_needed = True
        self._last_replan: datetime | None = None
        self._saved_shape: tuple[tuple[CommandKind, str | None, int | None], ...] | None = None
        self._saved_plan_at: datetime | None = None
        self._started = time.monotonic()
        self._status_sent = ""
        self.sent: list[tuple[datetime, SendCommand, Outcome]] = []  # recent, for the tests/bench

    # -- persisted state -------------------------------------------------------------------

    def restore(self) -> None:
        """Load the persisted timeline and plan; bad documents are logged and ignored."""
        try:
            self.timeline = timeline_from_json(self.store.load(SIGNALS_DOC, default=[]))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("persisted signals unusable (%s); starting without", exc)
        document = self.store.load(PLAN_DOC)
        if document is not None:
            try:
                self.controller.set_plan(ControlPlan.from_json(document))
            except (KeyError, TypeError, ValueError) as exc:
                log.error("persisted plan unusable (%s); re-planning", exc)
        household = self.store.load(HOUSEHOLD_DOC)
        if isinstance(household, dict):
            self.household.restore(household)
        elif household is not None:
            log.error("persisted household profile is not an object; starting from the default")

    def _save(self, name: str, document: Any) -> None:
        # Written by the store's writer thread (a failure is logged there): an fsync on the
        # event loop would stall the heater's CTA-2045 timers.
        self.store.save_soon(name, document)

    # -- inputs ----------------------------------------------------------------------------

    def set_signals(self, timeline: SignalTimeline) -> None:
        """New signals from the VTN: persist, re-plan and act now if they differ."""
        if timeline == self.timeline:
            return
        self.timeline = timeline
        # Encoded on the writer thread: the timeline is immutable, and a day of ten-second
        # prices takes longer to encode than an event-loop step may last.
        self._save(SIGNALS_DOC, lambda: timeline_to_json(timeline))
        self._replan_needed = True
        self._wake.set()

    def heater_changed(self) -> None:
        self._replan_needed = True
        self._learn()
        self._wake.set()
        self._publish()

    def _learn(self) -> None:
        """Give the household profile the heater's latest reading (only on a right clock)."""
        if not self.clock_synchronised():
            return
        device = self.heater.device()
        if not device.ready:
            return
        reading = (device.stored_energy_wh, device.energy_used_wh)
        if reading == self._last_reading:
            # The heater's state changed, not its readings: these were read earlier, and stamped
            # now they would squeeze the energy of the last poll interval into a few seconds.
            return
        self._last_reading = reading
        info = device.device_info
        # The household profile counts in kWh, as the planner's draw does.
        self.household.observe(
            self.clock.now(),
            stored_kwh=wh_to_kwh(device.stored_energy_wh),
            used_kwh=wh_to_kwh(device.energy_used_wh),
            capacity_kwh=wh_to_kwh(device.energy_capacity_wh),
            serial=None if info is None else info.serial,
            tank_c=device.present_temperature_c,
        )
        if self.household.changed:
            # At most once an hour (when an hour's draw is complete) or on a new heater.
            self.household.changed = False
            self._save(HOUSEHOLD_DOC, self.household.to_json())

    def clock_synchronised(self) -> bool:
        """Whether the system clock is synchronised; a change is logged."""
        synchronised = self.clock_sync.synchronised()
        if synchronised != self._synchronised:
            if synchronised:
                log.info("system clock synchronised: planning and reporting")
            else:
                log.warning(
                    "system clock not synchronised: no planning, commands or reports until it is"
                )
            self._synchronised = synchronised
            self._replan_needed = True
        return synchronised

    # -- the loop --------------------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, *, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Start the parts, serve until ``stop`` is set, stop them in reverse order.

        Start-up runs under one exit stack: when a part fails to start (a port in use, a
        serial device missing) everything started before it is stopped again, and
        :class:`StartupError` says which part failed and why."""
        self.restore()
        self.heater.set_listener(self.heater_changed)
        if self.grid is not None:
            self.grid.set_listener(self.set_signals)
        async with contextlib.AsyncExitStack() as parts:
            parts.callback(log.info, "ven-edge stopped")
            await _start(parts, "the heater link", self.heater.start, self.heater.stop)
            if self.grid is not None:
                await _start(parts, "the webhook endpoint", self.grid.start, self.grid.stop)
            # Unwound in reverse: tasks end before the parts they use are stopped.
            tasks: list[asyncio.Task[object]] = []
            parts.push_async_callback(_cancel_all, tasks)
            parts.callback(self.notifier.stopping)
            tasks.append(asyncio.create_task(self._control_loop(), name="control"))
            if self.grid is not None:
                tasks.append(asyncio.create_task(self._supervise_grid(self.grid), name="grid"))
                tasks.append(asyncio.create_task(self._report_loop(), name="reports"))
            if self.notifier.watchdog_interval_s is not None:
                tasks.append(asyncio.create_task(self._watchdog_loop(), name="watchdog"))
            if ready is not None:
                await ready()
            self.notifier.ready(self.status_line())
            log.info("ven-edge %s running", __version__)
            stop_wait: asyncio.Task[object] = asyncio.create_task(stop.wait())
            tasks.append(stop_wait)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task is stop_wait else task.exception()
                if failure is not None:
                    raise failure

    async def _supervise_grid(self, grid: GridPort) -> None:
        """Run the grid side forever: whatever escapes it is logged and it is restarted.

        The link catches what one cycle raises; this is the last line, so that no VTN input
        and no bug in the OpenADR code ever ends the daemon (the heater keeps its plan).
        Restarts back off with full jitter up to a minute."""
        delays = Backoff(base=GRID_RESTART_BASE_S, cap=GRID_RESTART_CAP_S)
        errors = ErrorOnce(log)
        while True:
            started = time.monotonic()
            try:
                await grid.run()
                log.error("grid task returned; restarting it")
            except Exception as exc:
                errors.log(exc, "grid task failed (%s); restarting it")
            if time.monotonic() - started > GRID_RESTART_CAP_S:
                delays.reset()  # it ran a good while: a new failure starts afresh
            await asyncio.sleep(delays.next_delay())

    async def replan(self, now: datetime) -> None:
        """Plan from the signals and the heater's state now. The planning runs in a worker
        thread: a day of ten-second prices is tens of milliseconds of work that the event loop
        (and the heater's CTA-2045 timers) need not wait for. Signals or heater changes that
        arrive meanwhile ask for another plan."""
        inputs = PlanInputs(
            now=now,
            signals=self.timeline,
            device=self.heater.device(),
            draw=self.household.forecast(),
            fleet_event=None if self.grid is None else self.grid.labels().fleet_event,
        )
        self._replan_needed = False
        try:
            plan = await asyncio.to_thread(self.planner, inputs)
        except Exception:
            # Keep the last good plan: a planner bug must not stop the heater's control.
            log.exception("planning failed; keeping the previous plan")
            self._replan_needed = True
            return
        if plan.price_unit is None and self.grid is not None:
            # The unit the VTN gave with its prices, when the planner was not configured with one.
            plan = replace(plan, price_unit=self.grid.labels().price_unit)
        self._adopt(plan, now)

    def planning_source(self, build: PlanningBuilder) -> Callable[[], PlanningInputs | None]:
        """What the planner knows now, for the VTN's planning requests (docs/fleet-planner.md):
        None while the clock is not synchronised (the forecast would be at the wrong time)."""

        said: list[str] = []  # the last reason, said once rather than at every report

        def inputs() -> PlanningInputs | None:
            if not self.clock_synchronised():
                return None
            fleet = None if self.grid is None else self.grid.labels().fleet_event
            try:
                found = build(
                    self.timeline,
                    self.heater.device(),
                    self.household.forecast(),
                    self.clock.now(),
                    fleet,
                )
            except ValueError as exc:  # BuildError, PlanningReportError: not plannable yet
                if said != [str(exc)]:
                    log.info("no planning inputs for the VTN yet: %s", exc)
                    said[:] = [str(exc)]
                return None
            said.clear()
            return found

        return inputs

    def _adopt(self, plan: ControlPlan, now: datetime) -> None:
        self.controller.set_plan(plan)
        # Written when the sequence of commands changes, else at the re-plan interval: a
        # gateway's SD card should not be rewritten at every heater poll for a chart's sake.
        stale = self._saved_plan_at is None or now - self._saved_plan_at >= (
            self.settings.control.replan_interval
        )
        shape = tuple((c.kind, c.event_id, c.wh) for c in plan.commands)
        if stale or shape != self._saved_shape:
            self._save(PLAN_DOC, plan.to_json())
            self._saved_shape = shape
            self._saved_plan_at = now
        self._last_replan = now

    async def control_step(self) -> SendCommand | None:
        """One pass: re-plan when due, send what changed. Returns what was sent. Nothing is
        planned or sent while the clock is not synchronised."""
        if not self.clock_synchronised():
            return None
        now = self.clock.now()
        due = self._last_replan is None or now - self._last_replan >= (
            self.settings.control.replan_interval
        )
        if self._replan_needed or due:
            await self.replan(now)
        command = self.controller.step(now, self.heater.device())
        if command is None:
            return None
        log.info(
            "sending %s (%s s) for event %s: %s",
            command.kind.value,
            command.duration_s,
            command.event_id,
            command.reason,
        )
        delivery = await self.heater.send(command)
        sent_at = self.clock.now()
        self.controller.record(command, delivery, sent_at)
        self.sent.append((sent_at, command, delivery.outcome))
        del self.sent[:-200]
        if delivery.outcome is Outcome.FAILED:
            log.warning("%s not delivered (%s); retrying", command.kind.value, delivery.detail)
        elif delivery.outcome is not Outcome.ACCEPTED:
            log.warning(
                "%s %s by the heater (%s)",
                command.kind.value,
                delivery.outcome.value,
                delivery.detail,
            )
        self._publish()
        return command

    async def _control_loop(self) -> None:
        while True:
            self._wake.clear()
            await self.control_step()
            now = self.clock.now()
            deadline = self.controller.next_deadline(now)
            if self._last_replan is not None:
                deadline = min(deadline, self._last_replan + self.settings.control.replan_interval)
            delay = max(0.0, (deadline - now).total_seconds())
            if not self._synchronised:
                delay = min(delay, CLOCK_POLL_S * self.clock.speed)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the wake-up when it
            # lands together with a cancellation and drops the cancellation (3.12 rebuilt
            # wait_for on asyncio.timeout for this), so a stop while the heater changes state
            # would never end this loop and `ven-edge run` would ignore SIGTERM.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay / self.clock.speed):
                    await self._wake.wait()

    async def _report_loop(self) -> None:
        """Queue due reports on plan time; the grid port delivers them when the VTN answers."""
        assert self.grid is not None
        errors = ErrorOnce(log)
        while True:
            await self.clock.sleep(self.settings.report_tick_s)
            if not self.clock_synchronised():
                continue  # a report stamped at the wrong time is worse than a late one
            try:
                self.grid.queue_reports(self.heater.device())
            except (OSError, ValueError) as exc:
                log.error("reports not queued: %s", exc)
            except Exception as exc:
                # Like the grid task: whatever a VTN event makes the report code raise must not
                # end the daemon; the next tick tries again.
                errors.log(exc, "reports not queued (%s)")

    async def _watchdog_loop(self) -> None:
        interval = self.notifier.watchdog_interval_s
        assert interval is not None
        while True:
            self.notifier.watchdog()
            self.notifier.status(self.status_line())
            await asyncio.sleep(interval / 2)

    # -- what the page and systemd see -----------------------------------------------------

    def _publish(self) -> None:
        if self._on_status is not None:
            self._on_status()
        if self.notifier.enabled:
            line = self.status_line()
            if line != self._status_sent:  # `systemctl status` shows it; say it when it changes
                self._status_sent = line
                self.notifier.status(line)

    def status_line(self) -> str:
        ready = self.heater.device().ready
        active = self.controller.desired(self.clock.now())
        doing = "normal" if active is None else active.kind.label
        vtn = "no VTN" if self.grid is None else ("VTN ok" if self.grid.health().ok else "VTN down")
        heater = "heater ok" if ready else "heater not connected"
        if not self.clock_synchronised():
            doing = "waiting for the clock to be synchronised"
        return f"{doing}; {heater}; {vtn}"

    def snapshot(self) -> ws.StatusSnapshot:
        """The status page's view of everything (cheap: called per request)."""
        now = self.clock.now()
        device = self.heater.device()
        synchronised = self.clock_synchronised()
        active = self.controller.desired(now) if synchronised else None
        labels = self.grid.labels() if self.grid is not None else GridLabels()
        # The card shows the event the gateway obeys, not merely the first one in force.
        events = events_at(
            self.timeline,
            now,
            obeyed=None if active is None else active.event_id,
            program_names=labels.program_names,
        )
        event_end = None
        if active is not None:
            # The end of the command running now, as the command list shows it: the whole
            # command, not its current interval (an event with one-minute intervals is one
            # command until its last interval ends), nor the end of the event it serves.
            event_end = self.controller.run_end(now)
        elif events.current is not None:
            event_end = events.current.end
        heater = ws.HeaterStatus.from_device(
            device,
            event_end=event_end,
            # The gateway sheds for the price, not at the utility's request: say so.
            for_price=active is not None and active.event_id is None,
            now=now,
        )
        if self.grid is None:
            vtn = VtnHealth(ok=False, url=None, last_error="no VTN configured")
        else:
            vtn = self.grid.health()
        return ws.StatusSnapshot(
            generated_at=now,
            heater=heater,
            health=ws.Health(heater_link=HeaterLinkHealth.of(device), vtn=vtn),
            gateway=ws.GatewayInfo(
                __version__, time.monotonic() - self._started, clock_synchronised=synchronised
            ),
            events=events,
            # A plan made (or persisted) before the clock was right is not shown as the plan.
            plan=plan_for_page(self.controller.plan if synchronised else None, now),
            device=device.device_info,
            commands=self.heater.commands(),
        )


#: What the command list says where the plan sends nothing: the heater on its own thermostat.
NORMAL_REASON: Final = "Normal operation: the heater follows its own thermostat"


def plan_for_page(plan: ControlPlan | None, now: datetime) -> ws.Plan:
    """The plan as the page shows it: the next 24 hours from ``now``; the command list covers
    them without a gap, the stretches without a command shown as normal operation."""
    if plan is None:
        return ws.Plan(step_minutes=15)
    horizon = now + timedelta(hours=24)
    if plan.steps:
        horizon = min(horizon, plan.steps[-1].start + timedelta(minutes=plan.step_minutes))
    commands: list[ws.PlanCommand] = []
    cursor: datetime | None = now
    for c in plan.commands:
        if (c.end is not None and c.end <= now) or c.start >= horizon:
            continue
        if cursor is not None and c.start > cursor:
            commands.append(
                ws.PlanCommand(cursor, c.start, CommandKind.NORMAL.value, NORMAL_REASON)
            )
        commands.append(ws.PlanCommand(c.start, c.end, c.kind.value, c.reason))
        cursor = c.end
    if cursor is not None and cursor < horizon:
        commands.append(ws.PlanCommand(cursor, horizon, CommandKind.NORMAL.value, NORMAL_REASON))
    return ws.Plan(
        step_minutes=plan.step_minutes,
        start=plan.steps[0].start if plan.steps else None,
        intervals=tuple(
            ws.PlanInterval(s.start, s.price, s.heat_kwh, s.soc_kwh)
            for s in plan.steps
            if s.start < horizon
        ),
        commands=tuple(commands),
        price_unit=plan.price_unit,
        expected_cost=plan.expected_cost,
        normal_cost=plan.normal_cost,
        source=None
        if plan.source is None
        else PlanBasis(plan.source.fleet, plan.source.reason, plan.source.until, plan.source.since),
    )


def events_at(
    timeline: SignalTimeline,
    now: datetime,
    obeyed: str | None = None,
    program_names: Mapping[str, str] | None = None,
) -> ws.Events:
    """The current and next grid event (grouped by event id) for the page. The current one is
    the event the gateway obeys (``obeyed``, the event id of the command in force) when it is in
    force; otherwise an instruction in force is shown before a price event in force.
    ``program_names`` maps program ids to the names the VTN gave them."""
    names = program_names or {}
    spans: dict[str, tuple[datetime, datetime, SignalInterval]] = {}
    for interval in timeline.intervals:
        if interval.kind not in _EVENT_SUMMARIES:
            continue
        key = interval.event_id or f"{interval.kind}@{interval.start.isoformat()}"
        start, end, first = spans.get(key, (interval.start, interval.end, interval))
        spans[key] = (min(start, interval.start), max(end, interval.end), first)

    def info(key: str, start: datetime, end: datetime, first: SignalInterval) -> ws.EventInfo:
        return ws.EventInfo(
            id=key,
            program=first.program_id or None,
            program_name=names.get(first.program_id),
            kind=first.kind,
            start=start,
            end=None if end.year >= 9000 else end,
            summary=first.event_name or _EVENT_SUMMARIES[first.kind],
        )

    ongoing = [(k, v) for k, v in spans.items() if v[0] <= now < v[1]]
    ongoing.sort(key=lambda kv: (kv[0] != obeyed, kv[1][2].kind in _PRICE_KINDS, kv[1][0]))
    upcoming = sorted(((k, v) for k, v in spans.items() if v[0] > now), key=lambda kv: kv[1][0])
    return ws.Events(
        current=info(ongoing[0][0], *ongoing[0][1]) if ongoing else None,
        next=info(upcoming[0][0], *upcoming[0][1]) if upcoming else None,
    )


def timeline_to_json(timeline: SignalTimeline) -> list[dict[str, Any]]:
    return [
        {
            "start": i.start.isoformat(),
            "end": i.end.isoformat(),
            "kind": i.kind,
            "values": list(i.values),
            "priority": i.priority,
            "event_id": i.event_id,
            "program_id": i.program_id,
            "event_name": i.event_name,
            "unit": i.unit,
        }
        for i in timeline.intervals
    ]


def timeline_from_json(document: Any) -> SignalTimeline:
    if not isinstance(document, list):
        raise TypeError("signals document must be a list")
    return SignalTimeline(
        tuple(
            SignalInterval(
                start=datetime.fromisoformat(item["start"]),
                end=datetime.fromisoformat(item["end"]),
                kind=str(item["kind"]),
                values=tuple(item["values"]),
                priority=item.get("priority"),
                event_id=str(item.get("event_id", "")),
                program_id=str(item.get("program_id", "")),
                event_name=item.get("event_name"),
                unit=item.get("unit") if isinstance(item.get("unit"), str) else None,
            )
            for item in document
        )
    )
