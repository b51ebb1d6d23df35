"""The daemon's utility side: :class:`~ven_edge.oadr3.link.VtnLink` plus the webhook endpoint.

The link registers, subscribes, polls (a slow safety net once the subscription works), backs off
with full jitter on VTN errors and delivers the report outbox. This port adds what the daemon
owns: the HTTP endpoint the VTN calls, the device readings for reports, and queueing reports on
plan time while the VTN is unreachable, so a day without the VTN arrives later, none lost and
none twice (the outbox persists each report before it is sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from aiohttp import web

from ven_edge.config import VtnConfig
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.encodings import StateKind, state_meaning
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.link import LinkTiming, VtnLink
from ven_edge.oadr3.mqttpush import MqttPush
from ven_edge.oadr3.outbox import ReportOutbox
from ven_edge.oadr3.planning import fleet_schedules
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reports import ReportScheduler
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import WebhookReceiver
from ven_edge.ports import GridLabels
from ven_edge.signals import SignalTimeline
from ven_edge.status_model import PushHealth, VtnHealth
from ven_edge.store import StateStore
from ven_edge.units import WH_PER_KWH

log = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/oadr3/notify"
#: aiohttp reads and discards the rest of a body its handler left unread (a refused one) for
#: ``lingering_time`` seconds, 10 by default; on a fast link that is gigabytes a sender can make
#: the gateway swallow (0.1 s already takes 50 MB on loopback), so none: the answer is written and
#: the connection closed. Clients that read while they send (aiohttp, httpx) still see the 4xx.
LINGERING_TIME_S: Final = 0.0
OUTBOX_DOC: Final = "report_outbox"


def operating_state(op_state: int | None, *, opted_out: bool = False) -> str | None:
    """The OpenADR 3 OPERATING_STATE name (Definition 3.1.0 Table 4) of a CTA-2045 operational
    state: RUNNING_/IDLE_ and what the state means (encodings.STATE_MEANINGS); None for a code
    the table lacks. ``opted_out`` reports an opt-out the state does not show (some heaters keep
    reporting 0/1 under override, docs/cta2045.md §14)."""
    meaning = state_meaning(op_state)
    if meaning is None:
        return None
    kind = StateKind.OPTED_OUT if opted_out else meaning.kind
    if kind is StateKind.ERROR:
        return "SGD_ERROR_CONDITION"
    return f"{'RUNNING' if meaning.running else 'IDLE'}_{kind.value}"


def vtn_settings(vtn: VtnConfig) -> VtnSettings:
    """The OpenADR 3 client settings of ``[vtn]`` (the daemon and ``ven-edge check`` alike)."""
    if vtn.url is None:
        raise ValueError("vtn.url is not set")
    secret = vtn.client_secret
    return VtnSettings(
        base_url=vtn.url,
        version=vtn.version,
        client_id=vtn.client_id,
        client_secret=None if secret is None else secret.reveal(),
        ven_name=vtn.ven_name,
        resource_name=vtn.resource_name,
        targets=vtn.targets,
        verify_tls=vtn.verify_tls,
        ca_file=None if vtn.ca_file is None else str(vtn.ca_file),
        request_timeout_s=vtn.request_timeout_s,
    )


def readings_of(device: DeviceSnapshot, previous_used_wh: int | None) -> DeviceReadings:
    """Report values from the heater's state; usage is the energy used since the last call, in
    the kWh of OpenADR's USAGE reports (docs/openadr3.md §6)."""
    state = operating_state(device.operational_state, opted_out=device.opted_out)
    charge = None
    stored, capacity = device.stored_energy_wh, device.energy_capacity_wh
    if stored is not None and capacity:
        charge = max(0.0, min(100.0, 100.0 * stored / capacity))
    usage = None
    used = device.energy_used_wh
    if used is not None and previous_used_wh is not None:
        usage = max(0, used - previous_used_wh) / WH_PER_KWH
    return DeviceReadings(operating_state=state, charge_percent=charge, usage_kwh=usage)


class VtnGridPort:
    """:class:`~ven_edge.ports.GridPort` over a :class:`VtnLink`."""

    def __init__(
        self,
        client: VtnClient,
        store: StateStore,
        *,
        clock: Callable[[], datetime],
        webhook: WebhookReceiver | None = None,
        callback_url: str | None = None,
        mqtt: MqttPush | None = None,
        bind: tuple[str, int] | None = None,
        poll_s: float = 60.0,
        report_cadence: timedelta = timedelta(minutes=15),
    ) -> None:
        if webhook is not None and callback_url is None:
            raise ValueError("a webhook receiver needs the callback URL the VTN calls")
        self.client = client
        self.webhook = webhook
        self.mqtt = mqtt
        self._bind = bind
        self._runner: web.AppRunner | None = None
        self._listener: Callable[[SignalTimeline], None] | None = None
        self._device = DeviceSnapshot()
        self._used_wh: int | None = None
        self._fleet_event: str | None = None
        self._foreign: frozenset[str] = frozenset()
        self.outbox = ReportOutbox(store, OUTBOX_DOC)
        self.link = VtnLink(
            client,
            on_timeline=self._timeline,
            receiver=webhook,
            callback_url=callback_url,
            mqtt=mqtt,
            outbox=self.outbox,
            scheduler=ReportScheduler(client.settings.ven_name, report_cadence),
            readings=self._readings,
            store=store,
            timing=LinkTiming(poll_s=poll_s, poll_when_subscribed_s=max(poll_s, 10 * poll_s)),
            wall_clock=clock,
        )

    def _timeline(self, timeline: SignalTimeline) -> None:
        # Fleet schedules for other VENs never limit this heater (docs/fleet-planner.md).
        mine, foreign = fleet_schedules(self.client.events.values(), self.client.settings.ven_name)
        if foreign - self._foreign:
            log.warning(
                "ignoring fleet schedule events %s: they are for other VENs",
                ", ".join(sorted(foreign - self._foreign)),
            )
        if mine != self._fleet_event:
            log.info("fleet schedule: %s", mine or "none")
        self._fleet_event, self._foreign = mine, foreign
        if foreign:
            timeline = SignalTimeline(
                tuple(i for i in timeline.intervals if i.event_id not in foreign)
            )
        if self._listener is not None:
            self._listener(timeline)

    def _readings(self) -> DeviceReadings:
        readings = readings_of(self._device, self._used_wh)
        if self._device.energy_used_wh is not None:
            self._used_wh = self._device.energy_used_wh
        return readings

    def set_listener(self, callback: Callable[[SignalTimeline], None]) -> None:
        self._listener = callback

    async def start(self) -> None:
        """Serve the webhook endpoint (``bind``) when one is configured."""
        if self.webhook is None or self._bind is None:
            return
        app = web.Application(client_max_size=self.webhook.max_body_bytes + 1024)
        self.webhook.add_routes(app, WEBHOOK_PATH)
        runner = web.AppRunner(app, access_log=None, lingering_time=LINGERING_TIME_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, *self._bind).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("webhook endpoint on %s:%d%s", *self._bind, WEBHOOK_PATH)

    async def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.close()

    async def run(self) -> None:
        await self.link.run()

    def queue_reports(self, device: DeviceSnapshot) -> None:
        self._device = device
        # The link queues at each successful cycle too; between cycles (and while the VTN is
        # down) this keeps the cadence. The outbox refuses a report name it already holds.
        self.link.queue_due_reports()

    def labels(self) -> GridLabels:
        """Program names and the price unit, from what the client last fetched."""
        programs = self.client.programs
        names = {
            pid: name
            for pid, program in programs.items()
            if isinstance(name := program.get("programName"), str)
        }
        unit = None
        for event in self.client.events.values():
            if unit is None and any(p.type == PRICE for i in event.intervals for p in i.payloads):
                # An event's own descriptors describe its payloads; its program's are the default.
                unit = price_unit_of(
                    (d.payload_type, d.currency, d.units) for d in event.payload_descriptors
                ) or price_unit_of(_raw_descriptors(programs.get(event.program_id)))
        return GridLabels(program_names=names, price_unit=unit, fleet_event=self._fleet_event)

    def health(self) -> VtnHealth:
        h = self.link.health
        reg = self.client.registration
        return VtnHealth(
            ok=h.connected,
            url=self.client.settings.base_url,
            ven_id=None if reg is None else reg.ven_id,
            last_contact=h.last_success,
            # A refused registration (with its fix) matters more than an old transient error.
            last_error=h.registration_problem or h.last_error,
            push=self.push_health(),
        )

    def push_health(self) -> PushHealth:
        """How the VTN's changes reach the gateway: MQTT while it is in use (whatever its broker
        is doing: the link polls at the normal pace until the SUBACK), else a working webhook
        subscription, else polling alone, with why push is not working."""
        h = self.link.health
        mqtt = self.mqtt
        if mqtt is not None and mqtt.started and mqtt.state.state != "stopped":
            state = mqtt.state
            broker = mqtt.binding.uri if mqtt.binding is not None else None
            return PushHealth("mqtt", state.state, state.since, broker, state.problem)
        if h.subscribed:
            return PushHealth("webhook", "subscribed", h.subscribed_since)
        problem = h.mqtt_problem or h.webhook_problem
        return PushHealth("polling", "polling", problem=problem)


PRICE: Final = "PRICE"


def price_unit_of(descriptors: Iterable[tuple[str, str | None, str | None]]) -> str | None:
    """``"USD/KWH"`` from a PRICE payload descriptor's currency and units (OpenADR 3.0.1
    ``payloadDescriptor``); the one given alone when the other is absent."""
    for kind, currency, units in descriptors:
        if kind != PRICE:
            continue
        if currency and units:
            return f"{currency}/{units}"
        if currency or units:
            return currency or units
    return None


def _raw_descriptors(
    program: Mapping[str, Any] | None,
) -> Iterable[tuple[str, str | None, str | None]]:
    raw = None if program is None else program.get("payloadDescriptors")
    if not isinstance(raw, list):
        return
    for item in raw:
        if isinstance(item, Mapping):
            kind, currency, units = (
                item.get("payloadType"),
                item.get("currency"),
                item.get("units"),
            )
            yield (
                kind if isinstance(kind, str) else "",
                currency if isinstance(currency, str) else None,
                units if isinstance(units, str) else None,
            )
