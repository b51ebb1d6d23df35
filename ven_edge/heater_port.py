"""The daemon's heater side over the CTA-2045 UCM session (:mod:`ven_edge.cta2045.ucm`).

Translates the control core's :class:`~ven_edge.control.SendCommand` into the session's typed
command API and its outcomes back (:func:`outcome_of`). The session's
:class:`~ven_edge.cta2045.device.DeviceSnapshot` goes to the core as it is: it is the gateway's
one model of the heater.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from ven_edge.command_policy import Delivery, Outcome
from ven_edge.config import HeaterConfig
from ven_edge.control import CommandKind, SendCommand
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.encodings import ResponseCode
from ven_edge.cta2045.link import LinkBusy
from ven_edge.cta2045.ucm import CommandOutcome, Status, UcmConfig, UcmSession
from ven_edge.heater_commands import (
    CommandChoice,
    CommandOptions,
    KeptSetPoint,
    LoadUpMessage,
    c_to_whole_f,
    is_refusal,
    whole_f_to_c,
)
from ven_edge.store import StateStore

log = logging.getLogger(__name__)

# Customer override in effect: Basic application NAK reason 5 (docs/cta2045.md §8.4), and the
# Intermediate response code 7 (§9.1) that Advanced Load Up is refused with.
APP_NAK_CUSTOMER_OVERRIDE: Final = 0x05
OVERRIDE_REASON_TEXT: Final = "CUSTOMER_OVERRIDE"
#: The persisted user's set point and the gateway's raise (docs/gateway.md, "Set points").
SET_POINT_DOC: Final = "set_point"
#: How often one set-point raise may be narrowed after "bad value" before Basic is used.
NARROWING_TRIES: Final = 4
#: How long stopping waits for the user's set point to be restored: more than one request with
#: every retry (4 x (200 ms + 3 s), docs/cta2045.md §5) that a cancelled command leaves behind.
RESTORE_ON_STOP_S: Final = 20.0
LINE_BUSY_WAIT_S: Final = 0.1
_LOAD_UPS: Final = frozenset({CommandKind.LOAD_UP, CommandKind.ADVANCED_LOAD_UP})


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
    """:class:`~ven_edge.ports.HeaterPort` over a UCM session.

    A load-up goes out as the richest message the heater takes (:mod:`ven_edge.heater_commands`);
    a raised set point is persisted in ``store`` before it is sent and the user's own restored
    before any other command, on :meth:`stop`, and at start-up after a crash (docs/gateway.md).
    """

    def __init__(
        self,
        session: UcmSession,
        *,
        temperature_poll_s: float = 60.0,
        options: CommandOptions | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.session = session
        self.temperature_poll_s = temperature_poll_s
        self.choice = CommandChoice(options or CommandOptions())
        self.store = store
        self.kept: KeptSetPoint | None = None
        # A raise persisted by a gateway that did not stop cleanly: undone before anything else.
        self._restore_pending = False
        self._set_point_lock = asyncio.Lock()
        self._listener: Callable[[], None] | None = None
        self._temperatures: asyncio.Task[None] | None = None
        session.on_change(self._changed)

    @classmethod
    def from_config(
        cls, heater: HeaterConfig, *, store: StateStore | None = None, min_delivery_c: float = 43.0
    ) -> UcmHeaterPort:
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
            options=CommandOptions(
                mixing_valve=heater.mixing_valve,
                max_set_point_c=heater.max_set_point_c,
                min_delivery_c=min_delivery_c,
            ),
            store=store,
        )

    def _changed(self, _snapshot: DeviceSnapshot) -> None:
        if self._listener is not None:
            self._listener()

    def set_listener(self, callback: Callable[[], None]) -> None:
        self._listener = callback

    async def start(self) -> None:
        self.kept = self._load_kept()
        self._restore_pending = self.raised
        if self.kept is not None and self.kept.raised_c is not None:
            log.warning(
                "set point was raised to %.1f °C when the gateway stopped; restoring the user's "
                "%.1f °C first",
                self.kept.raised_c,
                self.kept.user_c,
            )
        await self.session.start()
        self._temperatures = asyncio.create_task(self._read_temperatures(), name="temperatures")

    async def stop(self) -> None:
        # The user's set point goes back while the reads still run: a read cancelled on the
        # wire would leave the link busy for the restore.
        if self.raised and self.session.connected:
            try:
                async with asyncio.timeout(RESTORE_ON_STOP_S):
                    await self._restore_when_line_free()
            except (OSError, RuntimeError, TimeoutError) as exc:
                log.error("user's set point not restored on stop (%s): restored at next start", exc)
        task, self._temperatures = self._temperatures, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.session.stop()

    async def _restore_when_line_free(self) -> None:
        """Restore the user's set point; a command cancelled on the wire as the daemon stopped
        holds the link until its reply or timeout (docs/cta2045.md §5), so wait that out."""
        while True:
            try:
                await self.restore_set_point()
                return
            except LinkBusy:
                await asyncio.sleep(LINE_BUSY_WAIT_S)

    async def _read_temperatures(self) -> None:
        """Tank temperature and set point for the page and the planner (the session polls the
        operational state and commodities itself; these change slowly)."""
        while True:
            await self.session.wait_ready()
            if self.session.connected:
                try:
                    # A raise left by a crash is undone before anything reads the set point.
                    if self._restore_pending:
                        await self.restore_set_point()
                    await self.session.present_temperature()
                    await self.session.get_set_point()
                except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
                    # The link is being reopened (or busy): the next round reads them again.
                    log.debug("temperature read skipped: %s", exc)
            await asyncio.sleep(self.temperature_poll_s)

    def device(self) -> DeviceSnapshot:
        return self.session.snapshot

    def commands(self) -> str:
        return self.choice.describe(self.session.snapshot)

    @property
    def raised(self) -> bool:
        return self.kept is not None and self.kept.raised_c is not None

    async def send(self, command: SendCommand) -> Delivery:
        try:
            if command.kind in _LOAD_UPS:
                return await self._load_up(command)
            await self.restore_set_point()
            return outcome_of(await self._basic(command))
        except (OSError, RuntimeError, TimeoutError) as exc:
            # Port lost or the link busy while it is reopened: the control core retries.
            log.warning("%s not delivered: %s", command.kind.value, exc)
            return Delivery(Outcome.FAILED, detail=f"{type(exc).__name__}: {exc}")

    async def _basic(self, command: SendCommand) -> CommandOutcome:
        session = self.session
        duration = command.duration_s or 0
        if command.kind is CommandKind.NORMAL:
            return await session.end_shed()
        if command.kind is CommandKind.SHED:
            return await session.shed(duration)
        if command.kind in _LOAD_UPS:
            return await session.load_up(duration)
        if command.kind is CommandKind.CRITICAL_PEAK:
            return await session.critical_peak(duration)
        return await session.grid_emergency(duration)

    async def _load_up(self, command: SendCommand) -> Delivery:
        """The richest load-up the heater takes; a refusal falls back to Basic Load Up at once."""
        if self._restore_pending:
            await self.restore_set_point()  # the user's first, then the raise from it
        message = self.choice.load_up_message(self.session.snapshot, command.wh)
        if message is LoadUpMessage.ADVANCED:
            await self.restore_set_point()
            result = await self.session.advanced_load_up(command.wh or 0, command.duration_s or 0)
            if not is_refusal(result.status.value, result.reason):
                return outcome_of(result)
            self._fall_back(message, result)
        elif message is LoadUpMessage.SET_POINT:
            delivery = await self._raise_set_point()
            if delivery is not None:
                return delivery
        else:
            await self.restore_set_point()
        return outcome_of(await self._basic(command))

    def _fall_back(self, message: LoadUpMessage, result: CommandOutcome) -> None:
        why = result.reason_text or result.status.value
        if result.status is Status.LINK_NAK:
            why = f"link NAK {why}"
        text = self.choice.refuse(message, why)
        log.warning("the heater refused %s (%s): Basic messages from now on", message.value, text)

    async def _raise_set_point(self) -> Delivery | None:
        """Raise the set point above the user's; None when Basic Load Up must be sent instead
        (no room to raise, or the heater refused set points)."""
        async with self._set_point_lock:
            if self.kept is None or self.kept.raised_c is None:
                read = await self.session.get_set_point()
                user_c = self.session.snapshot.set_point_c
                if not read.ok and read.status is not Status.APP_NAK:
                    return outcome_of(read)  # the line: the control core retries
                if user_c is None:
                    return None  # no set point to read ("not supported"): Basic Load Up
                self.kept = KeptSetPoint(user_c)
            user_f = c_to_whole_f(self.kept.user_c)
            for _ in range(NARROWING_TRIES):
                target_f = self.choice.raise_target_f(user_f)
                if target_f is None:
                    break
                # A renewal of a raise the heater took sends nothing (a set point has no lease
                # to renew); a raise whose answer was lost is sent again.
                if self._holds(target_f):
                    return Delivery(Outcome.ACCEPTED, detail=f"set point {target_f} °F kept")
                # Persisted before it is sent: a crash after the send still finds the user's.
                await self._save_kept(KeptSetPoint(self.kept.user_c, whole_f_to_c(target_f)))
                result = await self.session.set_set_point(whole_f_to_c(target_f))
                if result.ok:
                    log.info("set point raised from %d °F to %d °F (load up)", user_f, target_f)
                    return outcome_of(result)
                if result.status is Status.APP_NAK and result.reason == ResponseCode.BAD_VALUE:
                    self.choice.narrow(target_f, user_f)
                    log.warning(
                        "the heater refused set point %d °F (bad value): at most %d °F from now",
                        target_f,
                        self.choice.ceiling_f,
                    )
                    continue
                if is_refusal(result.status.value, result.reason):
                    self._fall_back(LoadUpMessage.SET_POINT, result)
                    break
                return outcome_of(result)  # the line, busy or the override: retried as usual
            else:
                self.choice.refuse(LoadUpMessage.SET_POINT, "bad value at every set point tried")
            if self.choice.refused is None:
                log.info("no set-point raise allowed above the user's %d °F: Basic Load Up", user_f)
        await self.restore_set_point()
        return None

    def _holds(self, target_f: int) -> bool:
        """Is ``target_f`` the raise in force, as the heater last reported its set point?"""
        raised = None if self.kept is None else self.kept.raised_c
        now_c = self.session.snapshot.set_point_c
        if raised is None or now_c is None:
            return False
        return c_to_whole_f(raised) == target_f == c_to_whole_f(now_c)

    async def restore_set_point(self) -> None:
        """Give the user's set point back when the gateway raised it (no-op otherwise)."""
        async with self._set_point_lock:
            kept = self.kept
            if kept is None or kept.raised_c is None:
                return
            if not self.session.connected:
                return
            result = await self.session.set_set_point(kept.user_c)
            if result.ok:
                log.info("user's set point %.1f °C restored", kept.user_c)
            elif is_refusal(result.status.value, result.reason):
                log.error(
                    "the heater refused the user's own set point %.1f °C back (%s); leaving it",
                    kept.user_c,
                    result.reason_text,
                )
            else:
                log.warning("user's set point not restored yet: %s", result.reason_text)
                return
            self._restore_pending = False
            await self._save_kept(KeptSetPoint(kept.user_c))

    def _load_kept(self) -> KeptSetPoint | None:
        if self.store is None:
            return None
        document = self.store.load(SET_POINT_DOC)
        if document is None:
            return None
        try:
            return KeptSetPoint.from_json(document)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("persisted set point unusable (%s); ignoring it", exc)
            return None

    async def _save_kept(self, kept: KeptSetPoint) -> None:
        self.kept = kept
        if self.store is not None:
            self.store.save_soon(SET_POINT_DOC, kept.to_json())
            await self.store.flush()
