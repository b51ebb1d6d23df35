"""Keeps the gateway connected to its VTN: register, subscribe, poll, queue and deliver reports.

:class:`VtnLink` is the one task the daemon runs for OpenADR 3. Each cycle it (re)registers if
needed, renews the webhook subscription, polls, queues due reports and flushes the outbox; then it
sleeps until the poll interval passes or a push notification arrives. Failures are retried with
full-jitter backoff (:class:`~ven_edge.oadr3.backoff.Backoff`); the last good timeline stays in
force meanwhile. While the VTN does not answer, one cheap request probes it at least once per
poll interval (jittered), so a returning VTN is polled within one interval. Nothing that goes
wrong in one cycle ends the loop: an unforeseen exception is logged with its traceback (once per
distinct error) and retried like a VTN error.

A VTN that refuses the registration (a 3.0.1 gateway against a 3.1.0 VTN, Definition 3.1.0
changeLog: 3.1 is not backward compatible) is still polled: events are readable without it. The
refusal is logged with the version the VTN speaks, when a probe can tell. Subscriptions of this
gateway that call back a URL it no longer serves (webhook disabled or moved) are deleted at
start-up, so the VTN stops calling a dead endpoint.

Randomized starts, report sequence numbers and the registration survive restarts through the
:class:`~ven_edge.store.StateStore` document ``oadr3_link``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ven_edge.errorlog import ErrorOnce
from ven_edge.oadr3.backoff import Backoff, CycleRetry
from ven_edge.oadr3.client import Registration, VtnClient, version_mismatch
from ven_edge.oadr3.errors import (
    Oadr3Error,
    PayloadError,
    VtnHttpError,
    VtnUnreachableError,
)
from ven_edge.oadr3.eventstore import PollResult
from ven_edge.oadr3.mqttpush import MqttPush, MqttUnusable, parse_binding, parse_topics
from ven_edge.oadr3.outbox import ReportOutbox
from ven_edge.oadr3.planning import PLANNING_INPUTS, PlanningInputs
from ven_edge.oadr3.push import NotificationSink
from ven_edge.oadr3.readinglog import ReadingLog
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reports import ReportScheduler, build_due_report
from ven_edge.oadr3.webhook import WebhookReceiver
from ven_edge.redact import redact_text
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore

LOG = logging.getLogger(__name__)

STATE_DOCUMENT = "oadr3_link"
#: How often the reading history is saved between cycles (e.g. during a VTN outage).
HISTORY_SAVE_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class LinkTiming:
    """Intervals in seconds. With a working subscription polling is only the safety net."""

    poll_s: float = 60.0
    poll_when_subscribed_s: float = 600.0
    subscription_renew_s: float = 3600.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    #: Polls a notification asks for (a changed program, one that could not be used) come at
    #: most this often: a VTN sending a flood of them gets one poll per few seconds, not one each.
    forced_poll_gap_s: float = 5.0


@dataclass
class VtnLinkHealth:
    """For the status page: is the VTN reachable, since when, what went wrong last."""

    connected: bool = False
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    subscribed: bool = False
    #: Since when the webhook subscription has worked (None while it does not).
    subscribed_since: datetime | None = None
    #: Why no webhook subscription works, and why MQTT is not used (None when nothing is wrong).
    webhook_problem: str | None = None
    mqtt_problem: str | None = None
    pending_reports: int = 0
    registration: Registration | None = None
    notifications: int = 0
    polls: int = 0
    probes: int = 0
    #: Why the VTN refused the registration (polling goes on without it), e.g. a version mismatch.
    registration_problem: str | None = None
    errors_in_last_poll: list[str] = field(default_factory=list)


TimelineCallback = Callable[[SignalTimeline], Awaitable[None] | None]


class VtnLink:
    """Runs the VTN side of the gateway until cancelled (``await link.run()`` in a task)."""

    def __init__(
        self,
        client: VtnClient,
        *,
        on_timeline: TimelineCallback | None = None,
        receiver: WebhookReceiver | None = None,
        callback_url: str | None = None,
        mqtt: MqttPush | None = None,
        outbox: ReportOutbox | None = None,
        scheduler: ReportScheduler | None = None,
        readings: Callable[[], DeviceReadings] | None = None,
        store: StateStore | None = None,
        timing: LinkTiming | None = None,
        backoff: Backoff | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history: ReadingLog | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        planning: Callable[[], PlanningInputs | None] | None = None,
    ) -> None:
        self.client = client
        #: What the gateway's planner knows, for planning requests (ven_edge.oadr3.planning).
        self.planning = planning
        self.on_timeline = on_timeline
        self.receiver = receiver
        self.callback_url = callback_url
        self.mqtt = mqtt
        self.outbox = outbox
        self.scheduler = scheduler
        self.readings = readings
        #: What the device reported over time, for reports covering past intervals.
        self.history = history if history is not None else ReadingLog()
        self.store = store
        self.timing = timing or LinkTiming()
        self.backoff = backoff or Backoff(self.timing.backoff_base_s, self.timing.backoff_cap_s)
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._sleep = sleep
        self.health = VtnLinkHealth()
        self._subscription_id: str | None = None
        self._subscribed_at: float | None = None
        self._registration_retry_at: float | None = None
        self._version_hint: str | None = None  # probed once, after the first refusal
        self._subscriptions_tidied = False
        self._mqtt_tried_at: float | None = None
        self._mqtt_problem: str | None = None
        self._retry = CycleRetry(self.backoff, LOG, "VTN cycle")
        # Repeats at DEBUG: _failed says each distinct failure at WARNING already.
        self._crashes = ErrorOnce(LOG, repeats=logging.DEBUG)
        self._persisted_at: datetime | None = None
        self._cycling = asyncio.Lock()  # run() and an external cycle() never interleave
        self._restore()
        for sink in (receiver, mqtt):
            if sink is not None and sink.client is None:
                sink.client = client

    # -- persistence -----------------------------------------------------------------------
    def _restore(self) -> None:
        if self.store is None:
            return
        document = self.store.load(STATE_DOCUMENT, default={}) or {}
        if not isinstance(document, dict):
            return
        self.client.timeline_builder.restore_state(document.get("anchors") or {})
        if self.scheduler is not None:
            self.scheduler.restore_state(document.get("reports") or {})
        self.history.restore_state(document.get("readings") or {})
        registration = document.get("registration")
        if isinstance(registration, dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self.client.registration = Registration.from_json(registration)

    def _persist(self) -> None:
        if self.store is None:
            return
        self._persisted_at = self._wall_clock()
        registration = self.client.registration
        self.store.save_soon(
            STATE_DOCUMENT,
            {
                "anchors": self.client.timeline_builder.export_state(),
                "reports": self.scheduler.export_state() if self.scheduler else {},
                "readings": self.history.export_state(),
                "registration": registration.to_json() if registration else None,
            },
        )

    # -- one cycle -------------------------------------------------------------------------
    async def cycle(self) -> PollResult:
        """Register, subscribe, poll, queue and flush reports once; raises on VTN errors."""
        async with self._cycling:
            return await self._cycle()

    async def _cycle(self) -> PollResult:
        client = self.client
        if client.settings.authenticated and self.health.registration is None:
            # A refused token fails the whole cycle (nothing works without it), unlike a refused
            # registration: get it first so the two are told apart.
            await client.ensure_token()
            await self._register()
        await self._tidy_subscriptions()
        await self._ensure_mqtt()
        if self.mqtt is None or not self.mqtt.started:
            await self._ensure_subscription()
        result = await client.poll_once()
        self.health.polls += 1
        self.health.errors_in_last_poll = [str(e) for e in result.errors]
        self.queue_due_reports()
        if self.outbox is not None:
            await self.outbox.flush(client)
            self.health.pending_reports = len(self.outbox.pending)
        self._persist()
        if result.changed:
            await self._notify(result.timeline)
        return result

    async def _register(self) -> None:
        """Register, or say why the VTN refused and carry on polling without it."""
        now = self._monotonic()
        if self._registration_retry_at is not None and now < self._registration_retry_at:
            return
        try:
            self.health.registration = await self.client.register()
        except (VtnHttpError, PayloadError) as exc:
            if _vtn_down(exc):
                raise  # a VTN in trouble (5xx, 429) refuses nothing: retry the whole cycle
            # The VTN answered but refused: events may still be readable (polling needs no VEN
            # object), so the cycle goes on; the registration is tried again now and then.
            self._registration_retry_at = now + self.timing.subscription_renew_s
            if self._version_hint is None:
                self._version_hint = await self._probe_version()
            problem = f"registration refused ({exc})"
            if self._version_hint:
                problem += f"; {self._version_hint}"
            if problem != self.health.registration_problem:
                LOG.error("%s; polling events without it", problem)
            self.health.registration_problem = problem
            return
        self._registration_retry_at = None
        if self.health.registration_problem is not None:
            LOG.info("registration accepted now")
        self.health.registration_problem = None

    async def _probe_version(self) -> str:
        try:
            spoken = await self.client.detect_version()
        except Oadr3Error as exc:
            LOG.debug("could not probe the VTN's OpenADR version: %s", exc)
            return ""
        return version_mismatch(self.client.settings.version, spoken) or ""

    async def _tidy_subscriptions(self) -> None:
        """Once per start: delete this gateway's subscriptions that call back elsewhere."""
        if self._subscriptions_tidied:
            return
        keep = self.callback_url if self.receiver is not None else None
        try:
            await self.client.delete_stale_subscriptions(keep)
        except Oadr3Error as exc:
            if _vtn_down(exc):
                raise  # the poll would fail too: the whole cycle is retried
            # Not worth failing the cycle over, nor retrying at every poll.
            LOG.warning("stale webhook subscriptions not checked: %s", exc)
        self._subscriptions_tidied = True

    async def _ensure_mqtt(self) -> None:
        """Subscribe by MQTT when the VTN offers it (3.1.0 ``GET /notifiers``); webhooks and
        polling stay the fallbacks. Looked at again every ``subscription_renew_s`` while MQTT is
        not in use or its broker keeps refusing (a fresh token, new topics)."""
        mqtt = self.mqtt
        if mqtt is None or self.client.settings.version != "3.1.0":
            return
        now = self._monotonic()
        recent = (
            self._mqtt_tried_at is not None
            and now - self._mqtt_tried_at < self.timing.subscription_renew_s
        )
        if recent or (mqtt.started and mqtt.connected):
            return
        self._mqtt_tried_at = now
        registration = self.client.registration
        try:
            binding = parse_binding(
                await self.client.request("GET", "/notifiers"),
                None,
                certificate=mqtt.has_certificate,
            )
            if binding is None:
                mqtt.stop()
                self._mqtt_problem = self.health.mqtt_problem = None
                return  # not offered: webhooks or polling
            if registration is None:
                raise MqttUnusable("its topics are per VEN and this gateway is not registered")
            ven = f"/notifiers/mqtt/topics/vens/{registration.ven_id}"
            answers = [await self.client.request("GET", f"{ven}/{kind}") for kind in _MQTT_KINDS]
            topics = parse_topics(answers)
            password = binding.password
            if password is None and binding.method == "OAUTH2_BEARER_TOKEN":
                password = await self.client.ensure_token()
            mqtt.start(binding, topics, password)
        except (Oadr3Error, MqttUnusable) as exc:
            if isinstance(exc, Oadr3Error) and _vtn_down(exc):
                self._mqtt_tried_at = None  # asked again as soon as the VTN answers
                raise  # the poll would fail too: the whole cycle is retried
            problem = redact_text(str(exc)) or type(exc).__name__
            if problem != self._mqtt_problem:
                LOG.warning(
                    "MQTT notifications not used (%s); webhooks or polling instead", problem
                )
            self._mqtt_problem = self.health.mqtt_problem = problem
            return
        self._mqtt_problem = self.health.mqtt_problem = None

    async def _ensure_subscription(self) -> None:
        if self.receiver is None or self.callback_url is None:
            return
        now = self._monotonic()
        due = (
            self._subscribed_at is None
            or now - self._subscribed_at >= self.timing.subscription_renew_s
        )
        if not due:
            return
        try:
            self._subscription_id = await self.client.ensure_subscription(
                self.callback_url, self.receiver.bearer_token
            )
        except Oadr3Error as exc:
            # Push is an accelerator: without it, polling at the normal pace still works.
            self.health.subscribed = False
            self.health.subscribed_since = None
            self.health.webhook_problem = redact_text(str(exc))
            LOG.warning("webhook subscription failed (polling instead): %s", exc)
            return
        self._subscribed_at = now
        if not self.health.subscribed:
            self.health.subscribed_since = self._wall_clock()
        self.health.subscribed = True
        self.health.webhook_problem = None

    def queue_due_reports(self) -> int:
        """Queue the reports due now into the outbox (also while the VTN is unreachable).

        Returns how many were queued; each cycle calls this, and the daemon may call it between
        cycles to keep the cadence during a long outage.
        """
        if self.scheduler is None or self.outbox is None or self.readings is None:
            return 0
        queued = 0
        client = self.client
        now = self._wall_clock()
        readings = self.readings()
        self.history.record(now, readings)
        resource = client.settings.resource_name
        anchors = client.timeline_builder.first_seen
        planning: list[PlanningInputs | None] = []  # built once, when a planning report is due
        for due in self.scheduler.due(
            client.events.values(), client.timeline, now, first_seen=anchors
        ):
            program = due.program_id if client.settings.version == "3.0.1" else None
            if due.payload_type == PLANNING_INPUTS and not planning:
                planning.append(self._planning_inputs())
            try:
                body = build_due_report(
                    due,
                    readings,
                    resource_name=resource,
                    now=now,
                    program_id=program,
                    history=self.history,
                    planning=planning[0] if planning else None,
                )
            except ValueError as exc:
                LOG.error("report %s not built: %s", due.name, exc)
                continue
            if body is None:
                LOG.info("report %s waits: no %s reading yet", due.name, due.payload_type)
                self.scheduler.forget(due)
                continue
            queued += self.outbox.add(body)
        self.health.pending_reports = len(self.outbox.pending)
        stale = self._persisted_at is None or now - self._persisted_at >= HISTORY_SAVE_INTERVAL
        if queued or stale:
            # Sequence numbers name the reports: persist them with the queued reports, or a
            # restart during an outage would reuse names the outbox then refuses. The reading
            # history is saved now and then, so a restart loses only minutes of it.
            self._persist()
        return queued

    def _planning_inputs(self) -> PlanningInputs | None:
        if self.planning is None:
            return None
        try:
            return self.planning()
        except Exception as exc:
            # The planner's view is a report's content: without it the report waits, and the
            # link goes on with everything else.
            self._crashes.log(exc, "planning inputs not available (%s)")
            return None

    def record_readings(self, readings: DeviceReadings, at: datetime | None = None) -> None:
        """Remember what the device reports (call on each device state change), so interval
        reports have the values between cycles; cycles also record ``readings()``.

        A ``usage_kwh`` without its window is taken as the energy since the previous record, so
        pass each meter difference once (as :func:`ven_edge.grid_port.readings_of` makes them),
        never the same difference here and again through ``readings()``."""
        self.history.record(at or self._wall_clock(), readings)

    async def _notify(self, timeline: SignalTimeline) -> None:
        if self.on_timeline is None:
            return
        result = self.on_timeline(timeline)
        if inspect.isawaitable(result):
            await result

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        """Cycle until cancelled; push notifications wake it early."""
        next_cycle = last_cycle = self._monotonic()
        while True:
            if self._monotonic() >= next_cycle:
                last_cycle = self._monotonic()
                # This cycle polls: re-reads asked for until now are answered by it.
                for sink in self._sinks():
                    sink.take_reread()
                next_cycle = last_cycle + await self._cycle_or_backoff()
            if not await self._wait_for_push(max(0.0, next_cycle - self._monotonic())):
                continue  # the interval has passed: cycle again
            self.health.notifications += 1
            # EVENT changes were applied by the receiver already: hand them on at once. Other
            # objects (a changed program), notifications that could not be used and a (re)connect
            # are re-read by polling right away, or as soon as the last cycle is
            # forced_poll_gap_s old: many such notifications in a row make one poll. Pushes
            # never postpone the safety-net poll.
            await self._notify(self.client.timeline)
            # Every sink is asked (no short cut): each one's re-read flag is cleared by asking.
            rereads = [sink.take_reread() for sink in self._sinks()]
            if any(rereads):
                soonest = max(self._monotonic(), last_cycle + self.timing.forced_poll_gap_s)
                next_cycle = min(next_cycle, soonest)

    async def _cycle_or_backoff(self) -> float:
        """Run one cycle (after a probe, while failing); the seconds to wait before the next."""
        if self.health.consecutive_failures:
            self.health.probes += 1
            problem = await self.client.probe()
            if problem is not None:
                return self._failed(problem, vtn_down=True)
        try:
            await self.cycle()
        except Oadr3Error as exc:
            return self._failed(str(exc), vtn_down=_vtn_down(exc))
        except Exception as exc:
            # A bug or an input nobody foresaw must not end the VTN link (the daemon would lose
            # its utility for good): log it with the traceback, keep the last good state, retry.
            reason = self._crashes.log(exc, "VTN cycle crashed (%s); last good state kept")
            return self._failed(reason, vtn_down=False)
        self._retry.succeeded(self.health, self._wall_clock())
        if self.health.subscribed or (self.mqtt is not None and self.mqtt.connected):
            return self.timing.poll_when_subscribed_s
        return self.timing.poll_s

    def _failed(self, reason: str, *, vtn_down: bool) -> float:
        """Record a failed attempt; the delay before the next one.

        A VTN that does not answer (or answers 5xx/429) is probed again within one poll interval:
        the draw is capped at ``poll_s``, so it is seen soon after it returns, and fully
        jittered, so a fleet that lost it together does not come back in one herd. A VTN that
        answers but whose cycle fails gets the full exponential backoff up to its cap
        (:class:`~ven_edge.oadr3.backoff.CycleRetry`)."""
        return self._retry.failed(self.health, reason, vtn_down=vtn_down, poll_s=self.timing.poll_s)

    def _sinks(self) -> list[NotificationSink]:
        return [s for s in (self.receiver, self.mqtt) if s is not None]

    async def _wait_for_push(self, delay: float) -> bool:
        """Sleep ``delay`` seconds or until a notification (webhook or MQTT); True when woken
        by one."""
        sinks = self._sinks()
        if not sinks:
            await self._sleep(delay)
            return False
        pushes = [asyncio.ensure_future(sink.wait()) for sink in sinks]
        nap = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait((*pushes, nap), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*pushes, nap):
                task.cancel()
            await asyncio.gather(*pushes, nap, return_exceptions=True)
        return any(push.done() and not push.cancelled() for push in pushes)


# Object types whose per-VEN topics the link follows: events carry the signals; a changed program
# is re-read by polling.
_MQTT_KINDS = ("events", "programs")


def _vtn_down(exc: Oadr3Error) -> bool:
    """True when the VTN is not there (or overloaded) rather than refusing what we sent."""
    if isinstance(exc, VtnUnreachableError):
        return True
    return isinstance(exc, VtnHttpError) and (exc.status >= 500 or exc.status == 429)
