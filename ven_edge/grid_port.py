"""The daemon's utility side over :class:`~ven_edge.oadr3.client.VtnClient`.

Push: when a webhook receiver is given, the port subscribes to EVENT and PROGRAM changes after
registration; a notification is applied to the client's events at once and handed to the daemon
(re-plan within a second), and the slow poll stays as a safety net.

Reports: every :meth:`VtnGridPort.report` call queues what the events' reportDescriptors ask for
(OPERATING_STATE, STORAGE_CHARGE_LEVEL, USAGE) in the disk outbox, whether or not the VTN is
reachable, and delivers the queue when the last poll succeeded: nothing lost, nothing twice.

Registration ids and the timeline builder's per-event anchors (randomizeStart is drawn once per
event) are persisted, so a restarted gateway finds its VEN without creating a new one and keeps
its randomised starts. Every client error becomes :class:`~ven_edge.ports.GridError`; the daemon
backs off and keeps the last good signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from aiohttp import web

from ven_edge.control import DeviceView, OverrideRecord
from ven_edge.oadr3.client import Registration, VtnClient
from ven_edge.oadr3.errors import Oadr3Error
from ven_edge.oadr3.reports import (
    DeviceReadings,
    ReportOutbox,
    ReportScheduler,
    build_due_report,
)
from ven_edge.oadr3.webhook import Notification, WebhookReceiver
from ven_edge.ports import GridError, GridHealth
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore

log = logging.getLogger(__name__)

REGISTRATION_DOC: Final = "registration"
ANCHORS_DOC: Final = "event_anchors"
WEBHOOK_PATH: Final = "/oadr3/notify"
REPORT_SCHEDULE_DOC: Final = "report_schedule"
OUTBOX_DOC: Final = "report_outbox"

# CTA-2045 operational-state codes (cta2045.md §8.3) → OpenADR 3 OPERATING_STATE names
# (Definition 3.1.0 Table 4). Codes 7–10, 13 and 14 have no OpenADR name: cycling and variable
# following are curtailment, "not following" and price-stream operation are normal operation.
OPERATING_STATE_NAMES: Final[dict[int, str]] = {
    0: "IDLE_NORMAL",
    1: "RUNNING_NORMAL",
    2: "RUNNING_CURTAILED",
    3: "RUNNING_HEIGHTENED",
    4: "IDLE_CURTAILED",
    5: "SGD_ERROR_CONDITION",
    6: "IDLE_HEIGHTENED",
    7: "RUNNING_CURTAILED",
    8: "IDLE_CURTAILED",
    9: "RUNNING_CURTAILED",
    10: "RUNNING_NORMAL",
    11: "IDLE_OPTED_OUT",
    12: "RUNNING_OPTED_OUT",
    13: "RUNNING_NORMAL",
    14: "IDLE_NORMAL",
}


def readings_of(device: DeviceView, previous_used_kwh: float | None) -> DeviceReadings:
    """Report values from the heater's state; usage is the energy used since the last call."""
    state = None if device.op_state is None else OPERATING_STATE_NAMES.get(device.op_state)
    if device.opted_out and state is not None and not state.endswith("OPTED_OUT"):
        # Some heaters keep reporting 0/1 under override (cta2045.md §14): report the opt-out.
        state = "RUNNING_OPTED_OUT" if state.startswith("RUNNING") else "IDLE_OPTED_OUT"
    charge = None
    if device.stored_kwh is not None and device.capacity_kwh:
        charge = max(0.0, min(100.0, 100.0 * device.stored_kwh / device.capacity_kwh))
    usage = None
    if device.energy_used_kwh is not None and previous_used_kwh is not None:
        usage = max(0.0, device.energy_used_kwh - previous_used_kwh)
    return DeviceReadings(operating_state=state, charge_percent=charge, usage_kwh=usage)


class VtnGridPort:
    """Polls one VTN; webhook notifications and reports plug in through the hooks below."""

    def __init__(
        self,
        client: VtnClient,
        store: StateStore,
        *,
        webhook: WebhookReceiver | None = None,
        callback_url: str | None = None,
        bind: tuple[str, int] | None = None,
        report_cadence: timedelta = timedelta(minutes=15),
    ) -> None:
        self.client = client
        self.store = store
        self.webhook = webhook
        self.callback_url = callback_url
        self.scheduler = ReportScheduler(client.settings.ven_name, report_cadence)
        self.outbox = ReportOutbox(store, OUTBOX_DOC)
        self._listener: Callable[[], None] | None = None
        self._subscribed = False
        self._reachable = False
        self._used_kwh: float | None = None
        self._bind = bind
        self._runner: web.AppRunner | None = None
        if webhook is not None:
            if callback_url is None:
                raise ValueError("a webhook receiver needs the callback URL the VTN calls")
            webhook.client = client
            webhook.on_notification = self._notified
        self._restore()

    def _notified(self, notification: Notification) -> None:
        if notification.object_type in ("EVENT", "PROGRAM"):
            self.notify()

    def _restore(self) -> None:
        reg = self.store.load(REGISTRATION_DOC)
        if isinstance(reg, dict):
            try:
                self.client.registration = Registration.from_json(reg)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("persisted registration unusable (%s); registering again", exc)
        anchors = self.store.load(ANCHORS_DOC)
        if isinstance(anchors, dict):
            try:
                self.client.timeline_builder.restore_state(anchors)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("persisted event anchors unusable (%s)", exc)
        schedule = self.store.load(REPORT_SCHEDULE_DOC)
        if isinstance(schedule, dict):
            self.scheduler.restore_state(schedule)

    async def start(self) -> None:
        """Serve the webhook endpoint (``bind``) when one is configured."""
        if self.webhook is None or self._bind is None:
            return
        app = web.Application(client_max_size=self.webhook.max_body_bytes + 1024)
        self.webhook.add_routes(app, WEBHOOK_PATH)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, *self._bind).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("webhook endpoint on %s:%d%s", *self._bind, WEBHOOK_PATH)

    @property
    def webhook_port(self) -> int | None:
        """The bound port (useful with port 0)."""
        if self._runner is None or not self._runner.addresses:
            return None
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.close()

    def set_listener(self, callback: Callable[[], None]) -> None:
        self._listener = callback

    def notify(self) -> None:
        """A webhook notification arrived: let the daemon fetch at once."""
        if self._listener is not None:
            self._listener()

    def timeline(self) -> SignalTimeline:
        """The timeline from the last good events (updated by notifications too)."""
        return self.client.timeline

    async def poll(self, now: datetime) -> SignalTimeline:
        try:
            if self.client.registration is None:
                registration = await self.client.register()
                self._save(REGISTRATION_DOC, registration.to_json())
            result = await self.client.poll_once()
            if self.webhook is not None and not self._subscribed:
                assert self.callback_url is not None
                await self.client.ensure_subscription(self.callback_url, self.webhook.bearer_token)
                self._subscribed = True
        except Oadr3Error as exc:
            self._reachable = False
            raise GridError(str(exc)) from exc
        self._reachable = True
        if result.changed:
            self._save(ANCHORS_DOC, self.client.timeline_builder.export_state())
        return result.timeline

    async def report(
        self, now: datetime, device: DeviceView, overrides: tuple[OverrideRecord, ...]
    ) -> None:
        """Queue due reports (always) and deliver the queue (when the VTN answered last)."""
        readings = readings_of(device, self._used_kwh)
        if device.energy_used_kwh is not None:
            self._used_kwh = device.energy_used_kwh
        due = self.scheduler.due(self.client.events.values(), self.client.timeline, now)
        for item in due:
            body = build_due_report(
                item,
                readings,
                resource_name=self.client.settings.resource_name,
                now=now,
                program_id=item.program_id if self.client.settings.version == "3.0.1" else None,
            )
            if body is not None:
                self.outbox.add(body)
        if due:
            self._save(REPORT_SCHEDULE_DOC, self.scheduler.export_state())
        if self._reachable and self.outbox.pending:
            await self.outbox.flush(self.client)
            if self.outbox.pending:
                raise GridError(f"{len(self.outbox.pending)} reports still queued")

    def health(self) -> GridHealth:
        reg = self.client.registration
        return GridHealth(
            url=self.client.settings.base_url, ven_id=None if reg is None else reg.ven_id
        )

    def _save(self, name: str, document: Any) -> None:
        try:
            self.store.save(name, document)
        except OSError as exc:
            log.error("cannot save %s: %s", name, exc)
