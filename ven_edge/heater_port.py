"""The daemon's heater side over the CTA-2045 UCM session (:mod:`ven_edge.cta2045.ucm`).

Translates the control core's :class:`~ven_edge.control.SendCommand` into the session's typed
command API and its outcomes back (:func:`outcome_of`), and the session's
:class:`~ven_edge.cta2045.device.DeviceSnapshot` into the control core's
:class:`~ven_edge.control.DeviceView` and the status page's fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from ven_edge.config import HeaterConfig
from ven_edge.control import CommandKind, Delivery, DeviceView, Outcome, SendCommand
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.ucm import CommandOutcome, Status, UcmConfig, UcmSession
from ven_edge.ports import HeaterDetails
from ven_edge.web.status import (
    TEXT_NOT_ANSWERING,
    TEXT_NOT_CONNECTED,
    DeviceInfo,
    HeaterLinkHealth,
)

log = logging.getLogger(__name__)

# Customer override in effect: Basic application NAK reason 5 (docs/cta2045.md §8.4), and the
# Intermediate response code 7 (§9.1) that Advanced Load Up is refused with.
APP_NAK_CUSTOMER_OVERRIDE: Final = 0x05
OVERRIDE_REASON_TEXT: Final = "CUSTOMER_OVERRIDE"
WH_PER_KWH: Final = 1000.0


def c_to_f(celsius: float | None) -> float | None:
    return None if celsius is None else celsius * 9.0 / 5.0 + 32.0


def view_of(snapshot: DeviceSnapshot) -> DeviceView:
    """The control core's view of a :class:`~ven_edge.cta2045.device.DeviceSnapshot`."""
    link = snapshot.link
    stored = snapshot.stored_energy_wh
    capacity = snapshot.energy_capacity_wh
    used = snapshot.energy_used_wh
    return DeviceView(
        connected=bool(link.connected and snapshot.commissioned),
        op_state=snapshot.operational_state,
        override=bool(snapshot.override_active),
        stored_kwh=None if stored is None else stored / WH_PER_KWH,
        capacity_kwh=None if capacity is None else capacity / WH_PER_KWH,
        tank_temp_f=c_to_f(snapshot.present_temperature_c),
        energy_used_kwh=None if used is None else used / WH_PER_KWH,
        commissionings=snapshot.commissionings,
    )


def details_of(snapshot: DeviceSnapshot) -> HeaterDetails:
    link = snapshot.link
    info = snapshot.device_info
    errors = link.timeouts + link.checksum_errors + link.link_naks_received + link.link_naks_sent
    # Ok only while the heater answers: the session un-commissions a heater that fell silent.
    ok = bool(link.connected and snapshot.commissioned)
    problem = None if ok else TEXT_NOT_ANSWERING if link.connected else TEXT_NOT_CONNECTED
    return HeaterDetails(
        link=HeaterLinkHealth(
            ok=ok,
            port=link.port or None,
            last_frame=link.last_message_at,
            errors=int(errors),
            problem=problem,
        ),
        device=None
        if info is None
        else DeviceInfo(
            vendor_id=info.vendor_id,
            device_type=info.device_type,
            model=info.model,
            serial=info.serial,
            firmware=info.firmware,
            cta2045_version=info.cta_version,
        ),
        set_point_f=c_to_f(snapshot.set_point_c),
        power_w=None if snapshot.power_w is None else float(snapshot.power_w),
    )


def outcome_of(result: CommandOutcome) -> Delivery:
    """Map the session's command outcome to the control core's.

    Only an application NAK with its reason is the heater refusing; a link NAK (whatever its
    code: docs/cta2045.md §4, "no application reply will follow"), a timeout or a closed port is a
    transport failure the control core retries with backoff. An App NAK without a reason (an
    undecodable or unusable reply) says nothing about the command, so it is retried too.
    """
    status = result.status
    detail = f"{status.value}: {result.reason_text}" if result.reason_text else status.value
    if status is Status.OK:
        return Delivery(Outcome.ACCEPTED, detail=detail)
    if status is Status.APP_NAK and result.reason is not None:
        override = result.reason_text == OVERRIDE_REASON_TEXT or (
            result.reason == APP_NAK_CUSTOMER_OVERRIDE and result.reason_text is None
        )
        outcome = Outcome.OVERRIDDEN if override else Outcome.REJECTED
        return Delivery(outcome, result.reason, detail)
    return Delivery(Outcome.FAILED, result.reason, detail)


class UcmHeaterPort:
    """:class:`~ven_edge.ports.HeaterPort` over a UCM session."""

    def __init__(self, session: UcmSession, *, temperature_poll_s: float = 60.0) -> None:
        self.session = session
        self.temperature_poll_s = temperature_poll_s
        self._listener: Callable[[], None] | None = None
        self._temperatures: asyncio.Task[None] | None = None
        session.on_change(self._changed)

    @classmethod
    def from_config(cls, heater: HeaterConfig) -> UcmHeaterPort:
        return cls(
            UcmSession(
                UcmConfig(
                    port=heater.port,
                    heartbeat_s=heater.heartbeat_s,
                    poll_s=heater.poll_s,
                    baudrate=heater.baud,
                )
            ),
            temperature_poll_s=heater.poll_s,
        )

    def _changed(self, _snapshot: DeviceSnapshot) -> None:
        if self._listener is not None:
            self._listener()

    def set_listener(self, callback: Callable[[], None]) -> None:
        self._listener = callback

    async def start(self) -> None:
        await self.session.start()
        self._temperatures = asyncio.create_task(self._read_temperatures(), name="temperatures")

    async def stop(self) -> None:
        task, self._temperatures = self._temperatures, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.session.stop()

    async def _read_temperatures(self) -> None:
        """Tank temperature and set point for the page and the planner (the session polls the
        operational state and commodities itself; these change slowly)."""
        while True:
            await self.session.wait_ready()
            if self.session.connected:
                try:
                    await self.session.present_temperature()
                    await self.session.get_set_point()
                except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
                    # The link is being reopened (or busy): the next round reads them again.
                    log.debug("temperature read skipped: %s", exc)
            await asyncio.sleep(self.temperature_poll_s)

    def view(self) -> DeviceView:
        return view_of(self.session.snapshot)

    def details(self) -> HeaterDetails:
        return details_of(self.session.snapshot)

    async def send(self, command: SendCommand) -> Delivery:
        session = self.session
        duration = command.duration_s or 0
        try:
            if command.kind is CommandKind.NORMAL:
                result = await session.end_shed()
            elif command.kind is CommandKind.SHED:
                result = await session.shed(duration)
            elif command.kind is CommandKind.LOAD_UP:
                result = await session.load_up(duration)
            elif command.kind is CommandKind.ADVANCED_LOAD_UP:
                result = await session.advanced_load_up(command.wh or 0, duration)
            elif command.kind is CommandKind.CRITICAL_PEAK:
                result = await session.critical_peak(duration)
            else:
                result = await session.grid_emergency(duration)
        except (OSError, RuntimeError, TimeoutError) as exc:
            # Port lost or the link busy while it is reopened: the control core retries.
            log.warning("%s not delivered: %s", command.kind.value, exc)
            return Delivery(Outcome.FAILED, detail=f"{type(exc).__name__}: {exc}")
        return outcome_of(result)
