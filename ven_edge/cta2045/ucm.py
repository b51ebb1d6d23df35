"""The UCM session: owns the serial port, commissions the heater, keeps the device model fresh.

:class:`UcmSession` is what the daemon runs (``await start()`` / ``await stop()``). On every
(re)connect it commissions the heater the way the public UCMs do (docs/cta2045.md §7, §16.1):
message-type-supported queries for 08 01, 08 02 and 08 03, the maximum-payload query, Get Device
Information, Outside Comm = found, Simple Time Sync, End Shed at the first start-up only
(Intwine, so no stale event survives our restart), an operational-state query and a commodity
read. Afterwards it sends the Outside-Comm heartbeat (default 60 s, never longer than 15 min:
Intwine REST doc §1), a Simple Time Sync every hour, and polls operational state and commodities.
A lost port is reopened with exponential backoff and the heater commissioned again, without End
Shed: whether the active command must be sent again is the control loop's decision, and
:attr:`DeviceSnapshot.commissionings` going up tells it that the heater may have lost it. A port
whose device node is gone (an unplugged adapter, a closed pty) is watched every
:data:`PORT_WATCH_S` and reopened as soon as it is back.

The heater counts as commissioned only once it answered with a frame of its own (a deaf peer does
not); a heater that does not answer the first type query is given up at once (about 2 s) and
probed again with backoff. While commissioned, no valid frame, ACK or NAK from the heater within
max(poll, heartbeat) + :data:`SILENCE_MARGIN_S` means it stopped answering: the session says so
(once in the log, ``commissioned`` false, ``last_error``) and probes it by commissioning again,
which also tells the control loop to re-send the active command once it answers.

DR commands (Shed, End Shed, Load Up, prices...) go before queued reads and heartbeats; they wait
at most for the transaction on the wire (:class:`~ven_edge.cta2045.driver.PriorityGate`).

Commands are typed coroutines returning a :class:`CommandOutcome`: ``ok``, ``app_nak`` with the
reason (e.g. 5 = customer override, or an Intermediate response code), ``link_nak`` with the NAK
code, ``timeout``, ``not_connected``, or ``not_sent`` for a frame above the heater's maximum.
Unlike EPRI-lib, an App NAK is never reported as success (docs/cta2045.md §15). Every reply, every
unsolicited message (customer override 0x11, operational state 0x13, sleep/wake, the heater's own
Get-UTC-Time and max-payload queries) updates the
:class:`~ven_edge.cta2045.device.DeviceSnapshot` and notifies :meth:`UcmSession.on_change`
subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from ven_edge.cta2045 import messages
from ven_edge.cta2045 import typed as t
from ven_edge.cta2045.codec import decode, expected_reply, is_reply_to, to_data_frame
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import (
    CommodityReading,
    DeviceInformationReply,
    DeviceSnapshot,
    LinkHealth,
)
from ven_edge.cta2045.driver import LinkDriver
from ven_edge.cta2045.encodings import (
    AppNakReason,
    CommodityCode,
    DeviceType,
    OutsideCommStatus,
    ResponseCode,
    TemperatureUnit,
)
from ven_edge.cta2045.errors import MessageDecodeError
from ven_edge.cta2045.frames import Frame, MessageType, NakReason
from ven_edge.cta2045.link import (
    UNNEGOTIATED_MAX_PAYLOAD,
    Failure,
    LinkTimers,
    ReplyMatcher,
    RequestDone,
)
from ven_edge.cta2045.message import Message
from ven_edge.cta2045.transport import BAUD_RATE, PortError, open_serial
from ven_edge.units import c_to_f, f_to_c

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)

#: Default Outside-Comm heartbeat (pycta2045's DCM, EPRI-sim "real UCM" mode; docs/cta2045.md §11.2)
#: and the longest allowed: the SGD may drop curtailment after 15 min (Intwine REST doc §1).
HEARTBEAT_S = 60.0
MAX_HEARTBEAT_S = 15 * 60.0
#: Default polling of operational state and commodities (pycta2045's 60 s, not PSU-DCS's 2 s).
POLL_S = 60.0
#: Simple Time Sync (0x16, local weekday and hour) is sent hourly by the UCM (EPRI-sim
#: ``TmrTimeSync_Tick``, Intwine ``SendTimeSync``; docs/cta2045.md §8.1, §11.2, §16.4). We send it
#: while commissioning and then just after each local hour boundary, so the heater's hour is
#: never stale by more than the few seconds of :data:`TIME_SYNC_MARGIN_S`.
TIME_SYNC_S = 3600.0
TIME_SYNC_MARGIN_S = 2.0
#: Port reopen backoff, doubling from the first to the last value.
RECONNECT_INITIAL_S = 0.5
RECONNECT_MAX_S = 30.0
#: How often a port whose device node is gone is looked for (a stat, no open).
PORT_WATCH_S = 0.2
#: Slack on top of max(poll, heartbeat) before a heater that sent nothing counts as silent: one
#: transaction with every retry (4 x (200 ms + 3 s), docs/cta2045.md §5) plus one queued before it.
SILENCE_MARGIN_S = 30.0
#: How long :meth:`UcmSession.stop` waits for the link to finish (our ACK of the last reply).
DRAIN_S = 1.0

#: Our max payload, announced when the heater asks: 4096 bytes, as EPRI-lib (docs/cta2045.md §6).
OUR_MAX_PAYLOAD = 4096
#: Requests a heater refuses while the customer override is in effect (docs/cta2045.md §14).
_EVENT_REQUESTS: tuple[type[Message], ...] = (
    t.Shed,
    t.CriticalPeak,
    t.GridEmergency,
    t.LoadUp,
    t.AdvancedLoadUp,
    t.RequestPowerLevel,
)
#: DR commands: served before queued reads (module docstring).
_COMMAND_REQUESTS = (*_EVENT_REQUESTS, t.EndShed, t.PresentRelativePrice, t.NextRelativePrice)
#: Link NAK reasons in words (docs/cta2045.md §4).
LINK_NAK_REASONS = {reason.value: reason.name for reason in NakReason}


class Status(enum.StrEnum):
    """How a command ended."""

    OK = "ok"
    APP_NAK = "app_nak"
    LINK_NAK = "link_nak"
    TIMEOUT = "timeout"
    NOT_CONNECTED = "not_connected"
    NOT_SENT = "not_sent"  # larger than the heater's negotiated maximum payload


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """The result of one command; ``data`` holds decoded reply values (units in the key)."""

    command: str
    status: Status
    reason: int | None = None
    reason_text: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def overridden(self) -> bool:
        """Refused because the customer override is in effect: App NAK 0x05 (docs/cta2045.md
        §8.4) or Intermediate response code 7 (§9.1)."""
        return self.status is Status.APP_NAK and (
            self.reason is AppNakReason.CUSTOMER_OVERRIDE
            or self.reason is ResponseCode.CUSTOMER_OVERRIDE
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "status": self.status.value,
            "reason": self.reason,
            "reason_text": self.reason_text,
            "data": dict(self.data),
            "attempts": self.attempts,
            "elapsed_s": round(self.elapsed_s, 4),
        }


@dataclass(frozen=True, slots=True)
class UcmConfig:
    """Session settings; ``heartbeat_s`` is capped at 15 min, 0 disables heartbeat or polling."""

    port: str
    timers: LinkTimers = field(default_factory=LinkTimers)
    heartbeat_s: float = HEARTBEAT_S
    poll_s: float = POLL_S
    time_sync_s: float = TIME_SYNC_S
    commission: bool = True
    end_shed_on_start: bool = True
    reconnect_initial_s: float = RECONNECT_INITIAL_S
    reconnect_max_s: float = RECONNECT_MAX_S
    baudrate: int = BAUD_RATE
    silence_margin_s: float = SILENCE_MARGIN_S

    def __post_init__(self) -> None:
        if self.heartbeat_s < 0 or self.poll_s < 0 or self.time_sync_s < 0:
            raise ValueError("heartbeat, poll and time sync intervals must be >= 0")
        if self.heartbeat_s > MAX_HEARTBEAT_S:
            object.__setattr__(self, "heartbeat_s", MAX_HEARTBEAT_S)

    @property
    def silence_window_s(self) -> float | None:
        """No frame from the heater for this long means it stopped answering (None: we send
        nothing periodically, so silence says nothing)."""
        period = max(self.heartbeat_s, self.poll_s)
        return period + self.silence_margin_s if period else None


class HeaterSilent(Exception):
    """The heater sent nothing back (commissioning or the silence window)."""


# --- frames ------------------------------------------------------------------------------------


def decode_or_none(frame: Frame) -> Message | None:
    """The decoded message, or None for a frame the codec does not know."""
    try:
        return decode(frame)
    except MessageDecodeError:
        return None


class FrameDecoder:
    """Decodes each received frame once: the reply matcher, the request's outcome and the
    handler of unsolicited frames all look at the same frame object in turn."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._message: Message | None = None

    def __call__(self, frame: Frame) -> Message | None:
        if frame is not self._frame:
            self._frame, self._message = frame, decode_or_none(frame)
        return self._message


def reply_matcher(
    request: Message, decoder: Callable[[Frame], Message | None] = decode_or_none
) -> ReplyMatcher | None:
    """Recognises the application reply to ``request`` (None: only a link ACK answers it)."""
    if expected_reply(request) is None:
        return None

    def match(frame: Frame) -> bool:
        reply = decoder(frame)
        return reply is not None and is_reply_to(reply, request)

    return match


def until_next_boundary(local: datetime, period: float) -> float:
    """Seconds from ``local`` until just after the next multiple of ``period`` in its own time
    zone (the next top of the hour for 3600 s, also in half-hour zones), plus a margin."""
    offset = local.utcoffset()
    seconds = local.timestamp() + (offset.total_seconds() if offset else 0.0)
    return period - seconds % period + min(TIME_SYNC_MARGIN_S, period / 10)


def _to_c(value: int | None, unit: TemperatureUnit | int | None) -> float | None:
    if value is None:
        return None
    if unit == TemperatureUnit.FAHRENHEIT:
        return round(f_to_c(value), 2)
    return float(value)


# --- the session -------------------------------------------------------------------------------

ChangeCallback = Callable[[DeviceSnapshot], None]
Opener = Callable[..., Awaitable[tuple[asyncio.Transport, LinkDriver]]]


class UcmSession:
    """A CTA-2045 UCM on one serial port (see the module docstring)."""

    def __init__(
        self,
        config: UcmConfig,
        *,
        opener: Opener = open_serial,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self._opener = opener
        self._wall_clock = wall_clock
        self._snapshot = DeviceSnapshot(link=LinkHealth(port=config.port))
        self._callbacks: list[ChangeCallback] = []
        self._driver: LinkDriver | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._unanswered = asyncio.Event()  # set while the heater does not answer
        self._lost = asyncio.Event()
        self._started_once = False
        self._counter_base = LinkHealth()
        self._reconnects = 0
        self._app_naks = 0
        self._decode = FrameDecoder()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (the port may be absent; it is retried)."""
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self, *, drain_s: float = DRAIN_S) -> None:
        """Let the link finish (our ACK of the last reply, docs/cta2045.md §4) for up to
        ``drain_s``, then close the port."""
        driver = self._driver
        if driver is not None and drain_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_s):
                    await driver.drain()
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_driver()

    async def wait_ready(self) -> None:
        """Wait until the port is open and the heater commissioned (wrap in asyncio.timeout)."""
        await self._ready.wait()

    async def wait_commissioning(self) -> bool:
        """Wait until the heater is commissioned (True) or did not answer commissioning
        (False); wrap in asyncio.timeout."""
        await _first_of(self._ready.wait(), self._unanswered.wait())
        return self._ready.is_set()

    @property
    def snapshot(self) -> DeviceSnapshot:
        """The latest device model, with link health."""
        return replace(self._snapshot, link=self._link_health())

    @property
    def connected(self) -> bool:
        return self._driver is not None and self._driver.connected

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(snapshot)`` after every change of the device model; returns an
        unsubscribe function."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    async def _supervise(self) -> None:
        """Open, commission, serve until the port is lost; reopen with exponential backoff."""
        delay = self.config.reconnect_initial_s
        opened_before = False
        while True:
            served = False
            try:
                await self._connect()
                if opened_before:
                    self._reconnects += 1
                opened_before = True
                await self._run_connected()
                served = True
                log.warning("port %s lost; reopening", self.config.port)
            except PortError as exc:
                self._note_error(str(exc))
                log.warning("%s; retrying in %.1f s", exc, delay)
            except Exception as exc:
                # Anything else the port or the heater throws at us: the supervisor is the last
                # line, so log it, reopen the port and keep the session alive.
                self._note_error(f"{type(exc).__name__}: {exc}")
                log.exception("cta2045 session error on %s", self.config.port)
            finally:
                self._ready.clear()
                self._close_driver()
                self._set(commissioned=False)
            if served:
                delay = self.config.reconnect_initial_s
            await self._before_reopen(delay)
            delay = min(delay * 2, self.config.reconnect_max_s)

    async def _before_reopen(self, delay: float) -> None:
        """Back off ``delay``; but while the device node is gone, look for it every
        :data:`PORT_WATCH_S` and reopen as soon as it is back."""
        if not os.path.isabs(self.config.port):
            # Not a device node (a pyserial URL such as socket://, a test bus): only back off.
            await asyncio.sleep(delay)
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        gone = False
        while True:
            present = _port_present(self.config.port)
            left = until - loop.time()
            if present and (gone or left <= 0):
                return
            gone = gone or not present
            await asyncio.sleep(PORT_WATCH_S if gone else min(PORT_WATCH_S, left))

    async def _connect(self) -> None:
        self._lost = asyncio.Event()
        lost = self._lost

        def on_lost(exc: Exception | None) -> None:
            lost.set()
            # Say so at once: a caller must not see a connected, commissioned port meanwhile.
            self._ready.clear()
            if exc is not None:
                self._note_error(f"port {self.config.port} lost: {exc}")
            self._set(link_connected=False, commissioned=False)

        def factory() -> LinkDriver:
            return LinkDriver(self.config.timers, on_frame=self._on_frame, on_lost=on_lost)

        _, driver = await self._opener(self.config.port, factory, baudrate=self.config.baudrate)
        await driver.wait_open()
        if not self.config.commission:
            # No negotiation will happen: accept what a heater may send (our own maximum).
            driver.engine.max_payload = OUR_MAX_PAYLOAD
        self._driver = driver
        # A reopened port may lead to another heater: negotiate the maximum payload afresh (§6).
        self._set(link_connected=True, max_payload=UNNEGOTIATED_MAX_PAYLOAD)

    async def _run_connected(self) -> None:
        """Commission, serve; while the heater is silent, probe it by commissioning again."""
        delay = self.config.reconnect_initial_s
        while not self._lost.is_set():
            try:
                if self.config.commission:
                    await self._commission()
                if self._lost.is_set():
                    return  # lost during commissioning: reopen rather than claim a working port
                self._answering()
                self._set(commissioned=True, commissionings=self._snapshot.commissionings + 1)
                self._ready.set()
                await self._serve()
                if self._lost.is_set():
                    return
                window = self.config.silence_window_s or 0.0
                raise HeaterSilent(f"no frame from the heater for {window:.0f} s")
            except HeaterSilent as exc:
                if self._lost.is_set():
                    return
                self._ready.clear()
                self._set(commissioned=False)
                self._not_answering(str(exc))
            await _first_of(asyncio.sleep(delay), self._lost.wait())  # probe again, unless lost
            delay = min(delay * 2, self.config.reconnect_max_s)

    def _not_answering(self, why: str) -> None:
        """The heater stopped answering: say it once (and once more when it answers again)."""
        text = f"heater on {self.config.port} not answering: {why}"
        self._note_error(text)
        if not self._unanswered.is_set():
            self._unanswered.set()
            log.warning("%s", text)

    def _answering(self) -> None:
        if self._unanswered.is_set():
            self._unanswered.clear()
            log.warning("heater on %s answering again", self.config.port)

    async def _watch_silence(self, window: float) -> None:
        """Return once no valid frame, ACK or NAK came from the heater for ``window`` s."""
        driver = self._driver
        if driver is None:
            return
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            heard = driver.engine.last_heard
            due = max(since, heard if heard is not None else since) + window
            now = loop.time()
            if now >= due:
                return
            await asyncio.sleep(due - now)

    async def _serve(self) -> None:
        """Heartbeat, polls and time sync until the port is lost or the heater falls silent."""
        loops: list[Coroutine[Any, Any, object]] = [self._lost.wait()]
        window = self.config.silence_window_s
        if window is not None:
            loops.append(self._watch_silence(window))
        if self.config.heartbeat_s:
            loops.append(self._every(self.config.heartbeat_s, self.outside_comm))
        if self.config.poll_s:
            loops.append(self._every(self.config.poll_s, self._poll))
        if self.config.time_sync_s:
            loops.append(self._time_sync_loop(self.config.time_sync_s))
        tasks = [asyncio.ensure_future(c) for c in loops]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None:  # a periodic task failed: reopen and start afresh
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, period: float, action: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(period)
            await action()

    async def _time_sync_loop(self, period: float) -> None:
        """Time sync just after every local ``period`` boundary (the top of the hour)."""
        while True:
            await asyncio.sleep(until_next_boundary(self._wall_clock().astimezone(), period))
            await self.time_sync()

    async def _poll(self) -> None:
        await self.operational_state()
        await self.commodity_read()

    async def _commission(self) -> None:
        driver = self._driver
        if driver is None:
            return
        # What the heater said before this attempt does not count (a re-commissioning probe).
        heard_before = driver.engine.last_heard
        frames_before = driver.counters.frames_in
        supported = set(self._snapshot.supported_types)
        unsupported = set(self._snapshot.unsupported_types)
        for msg_type in (MessageType.BASIC_DR, MessageType.INTERMEDIATE_DR, MessageType.DATA_LINK):
            outcome = await self.message_type_supported(msg_type)
            if outcome.ok:
                supported.add(msg_type)
            elif outcome.status is Status.LINK_NAK:
                unsupported.add(msg_type)
            if driver.connected and driver.engine.last_heard == heard_before:
                # Not even a link ACK or NAK: a deaf port; give up now, not after every step.
                raise HeaterSilent("no answer to the message-type query")
        self._set(supported_types=frozenset(supported), unsupported_types=frozenset(unsupported))
        negotiated = MessageType.DATA_LINK in supported and (await self.max_payload()).ok
        if not negotiated:
            # The heater does not negotiate: still send only Basic-sized frames (§6), but accept
            # whatever it sends rather than drop its replies.
            log.info("heater did not announce a maximum payload; accepting up to our own")
            driver.engine.max_payload = OUR_MAX_PAYLOAD
        if MessageType.INTERMEDIATE_DR in supported:
            await self.device_information()
        await self.outside_comm()
        if self.config.time_sync_s:
            await self.time_sync()
        if self.config.end_shed_on_start and not self._started_once:
            await self.end_shed()
        self._started_once = True
        await self.operational_state()
        if MessageType.INTERMEDIATE_DR in supported:
            await self.commodity_read()
        if driver.connected and driver.counters.frames_in == frames_before:
            # Link ACKs alone do not make a heater: it never sent a frame of its own.
            raise HeaterSilent("no frame from the heater during commissioning")

    def _close_driver(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            self._counter_base = self._link_health()
            driver.close()
        self._set(link_connected=False)

    # --- the model --------------------------------------------------------------------------

    def _link_health(self) -> LinkHealth:
        base = self._counter_base
        link = self._snapshot.link
        driver = self._driver
        if driver is None:
            return replace(link, reconnects=self._reconnects, app_naks_received=self._app_naks)
        c = driver.counters
        return replace(
            link,
            frames_in=base.frames_in + c.frames_in,
            frames_out=base.frames_out + c.frames_out,
            link_naks_sent=base.link_naks_sent + c.naks_sent,
            link_naks_received=base.link_naks_received + c.naks_received,
            retries=base.retries + c.retries,
            timeouts=base.timeouts + c.timeouts,
            checksum_errors=base.checksum_errors + c.checksum_errors,
            garbage_bytes=base.garbage_bytes + c.garbage_bytes,
            reconnects=self._reconnects,
            app_naks_received=self._app_naks,
        )

    def _note_error(self, text: str) -> None:
        link = replace(self._snapshot.link, last_error=text)
        self._snapshot = replace(self._snapshot, link=link)

    def _set(self, *, link_connected: bool | None = None, **changes: Any) -> None:
        old = self._snapshot
        link = old.link
        if link_connected is not None:
            link = replace(link, connected=link_connected)
        new = replace(old, link=link, **changes)
        if new == old:
            return
        self._snapshot = replace(new, updated_at=self._wall_clock())
        snap = self.snapshot
        for callback in list(self._callbacks):
            try:
                callback(snap)
            except Exception:
                log.exception("device-change callback failed")

    def _heard(self) -> None:
        link = replace(self._snapshot.link, last_message_at=self._wall_clock())
        self._snapshot = replace(self._snapshot, link=link)

    def _on_frame(self, frame: Frame) -> None:
        """Unsolicited frames from the heater (docs/cta2045.md §11.2, §13 row 11)."""
        self._heard()
        driver = self._driver
        if driver is None or frame.is_type_query:
            return  # the heater's own type query: our link ACK answered it (§6)
        message = self._decode(frame)
        reply: Message | None = None
        if isinstance(message, t.AppAck | t.AppNak):
            return  # a late duplicate reply to a request already finished
        if isinstance(message, t.CustomerOverride):
            self._set(override_active=message.in_effect)
            reply = messages.app_ack(frame.payload[0])
        elif isinstance(message, t.OperationalStateResponse):
            self._set(operational_state=message.state)
            reply = messages.app_ack(frame.payload[0])  # EPRI-sim App-ACKs it (§13 row 11)
        elif isinstance(message, t.Sleep | t.Wake):
            reply = messages.app_ack(frame.payload[0])
        elif isinstance(message, t.GetUtcTime):
            reply = messages.get_utc_time_reply(self._wall_clock())
        elif isinstance(message, t.MaxPayloadQuery):
            reply = messages.max_payload_response(OUR_MAX_PAYLOAD)
        elif isinstance(message, t.MaxPayloadResponse):
            if message.max_payload_bytes is not None:  # a code outside the §6 table: keep ours
                self._set(max_payload=message.max_payload_bytes)
        else:  # undecodable, or nothing a heater sends us unasked
            unsupported = messages.not_supported_reply(frame)
            if unsupported is not None:
                driver.reply(unsupported)
            return
        if reply is not None:
            driver.reply(to_data_frame(reply))

    # --- requests ---------------------------------------------------------------------------

    async def _request(
        self,
        request: Message,
        *,
        command: str | None = None,
        idempotent: bool = True,
        apply: Callable[[Message], dict[str, Any]] | None = None,
    ) -> CommandOutcome:
        command = command or request.name
        driver = self._driver
        started = time.monotonic()
        if driver is None or not driver.connected:
            return CommandOutcome(command, Status.NOT_CONNECTED, reason_text="port not open")
        frame = to_data_frame(request)  # built once by the constructor; sent as it is
        max_payload = self._snapshot.max_payload
        if len(frame.payload) > max(max_payload, 2):
            # Larger frames than negotiated are not safe (EPRI-sim SendComData, §6, §11.2).
            return CommandOutcome(
                command,
                Status.NOT_SENT,
                None,
                f"payload of {len(frame.payload)} bytes exceeds the heater's maximum of "
                f"{max_payload}",
            )
        done = await driver.request(
            frame,
            matcher=reply_matcher(request, self._decode),
            idempotent=idempotent,
            urgent=isinstance(request, _COMMAND_REQUESTS),
        )
        outcome = self._outcome(command, done, time.monotonic() - started, apply)
        if outcome.status is Status.APP_NAK:
            self._app_naks += 1
            if outcome.overridden:
                self._set(override_active=True)
        elif outcome.ok and isinstance(request, _EVENT_REQUESTS):
            # An accepted event proves no override is in effect, even if the heater never sent
            # "override ended" (0x11 00).
            self._set(override_active=False)
        log.debug("cta2045 %s -> %s", command, outcome.status.value)
        return outcome

    def _outcome(
        self,
        command: str,
        done: RequestDone,
        elapsed: float,
        apply: Callable[[Message], dict[str, Any]] | None,
    ) -> CommandOutcome:
        attempts = done.attempts

        def fail(status: Status, reason: int | None, text: str | None) -> CommandOutcome:
            return CommandOutcome(command, status, reason, text, {}, attempts, elapsed)

        if done.failure is Failure.LINK_NAK:
            code = done.nak or 0
            return fail(Status.LINK_NAK, code, LINK_NAK_REASONS.get(code, f"0x{code:02X}"))
        if done.failure is Failure.CLOSED:
            return fail(Status.NOT_CONNECTED, None, "port closed")
        if done.failure is not None:
            text = "no link ACK" if done.failure is Failure.NO_ACK else "no application reply"
            return fail(Status.TIMEOUT, None, text)
        self._heard()
        if done.reply is None:
            return CommandOutcome(command, Status.OK, attempts=attempts, elapsed_s=elapsed)
        reply = self._decode(done.reply)  # the matcher decoded it already: not again
        if reply is None:
            self._note_error(f"{command}: undecodable reply {done.reply.payload.hex()}")
            return fail(Status.APP_NAK, None, "undecodable reply")
        if isinstance(reply, t.AppNak):
            return fail(Status.APP_NAK, reply.reason, reply.reason_name)
        if isinstance(reply, t.IntermediateReply) and reply.response_code != ResponseCode.SUCCESS:
            return fail(Status.APP_NAK, reply.response_code, reply.response_code_name)
        try:
            data = apply(reply) if apply is not None else _plain(reply.fields)
        except (KeyError, TypeError, ValueError) as exc:
            # Keep the last good model; say precisely what was wrong with the reply.
            self._note_error(f"{command}: unusable reply {dict(reply.fields)}: {exc}")
            return fail(Status.APP_NAK, None, f"unusable reply: {exc}")
        return CommandOutcome(command, Status.OK, data=data, attempts=attempts, elapsed_s=elapsed)

    # --- Basic DR commands (docs/cta2045.md §8) ---------------------------------------------------

    async def shed(self, duration_s: float | None = None) -> CommandOutcome:
        """Shed for ``duration_s`` (rounded up to 2·n² s) or until End Shed when None."""
        return await self._request(messages.shed(duration_s))

    async def end_shed(self) -> CommandOutcome:
        """End Shed / Run Normal: ends shed, power level, CPP, grid emergency and load up."""
        return await self._request(messages.end_shed())

    async def load_up(self, duration_s: float | None = None) -> CommandOutcome:
        return await self._request(messages.load_up(duration_s))

    async def critical_peak(self, duration_s: float | None = None) -> CommandOutcome:
        return await self._request(messages.critical_peak(duration_s))

    async def grid_emergency(self, duration_s: float | None = None) -> CommandOutcome:
        return await self._request(messages.grid_emergency(duration_s))

    async def basic_command(
        self, kind: CommandKind, duration_s: float | None = None
    ) -> CommandOutcome:
        """The Basic DR message of a command kind (Advanced Load Up as Basic Load Up)."""
        return await self._request(messages.basic_command(kind, duration_s))

    async def power_level(self, percent: float, *, produce: bool = False) -> CommandOutcome:
        """Request for Power Level, 0-100 % of the rating (a 7-bit level, docs/cta2045.md §8.2)."""
        return await self._request(
            messages.request_power_level(percent, produce), command="power_level"
        )

    async def present_relative_price(self, ratio: float | None) -> CommandOutcome:
        return await self._request(messages.present_relative_price(ratio))

    async def next_relative_price(self, ratio: float | None) -> CommandOutcome:
        return await self._request(messages.next_relative_price(ratio))

    async def outside_comm(
        self, status: OutsideCommStatus = OutsideCommStatus.GOOD
    ) -> CommandOutcome:
        """Outside Communication status; GOOD is the heartbeat (docs/cta2045.md §8.1, §11.2)."""
        return await self._request(messages.outside_comm_status(status), command="outside_comm")

    async def time_sync(self, when: datetime | None = None) -> CommandOutcome:
        """Simple Time Sync: local weekday and hour (docs/cta2045.md §8.1)."""
        local = (when or self._wall_clock()).astimezone()
        return await self._request(messages.simple_time_sync_at(local), command="time_sync")

    async def operational_state(self) -> CommandOutcome:
        """Operational State Query; the snapshot's ``operational_state`` follows."""

        def apply(reply: Message) -> dict[str, Any]:
            self._set(operational_state=_expect(reply, t.OperationalStateResponse).state)
            return _plain(reply.fields)

        return await self._request(
            messages.operational_state_query(), command="operational_state", apply=apply
        )

    # --- data link (docs/cta2045.md §6) -----------------------------------------------------------

    async def message_type_supported(self, msg_type: int) -> CommandOutcome:
        """Message-Type-Supported query: only a link ACK (yes) or NAK 0x06 (no) answers it."""
        return await self._request(
            messages.message_type_supported_query(msg_type), command=f"mtsq_{msg_type:04x}"
        )

    async def max_payload(self) -> CommandOutcome:
        def apply(reply: Message) -> dict[str, Any]:
            size = _expect(reply, t.MaxPayloadResponse).max_payload_bytes
            if size is None:
                raise ValueError("maximum-payload code not in the table (§6)")
            self._set(max_payload=size)
            return _plain(reply.fields)

        return await self._request(messages.max_payload_query(), command="max_payload", apply=apply)

    # --- Intermediate DR (docs/cta2045.md §9) -----------------------------------------------------

    async def device_information(self) -> CommandOutcome:
        def apply(reply: Message) -> dict[str, Any]:
            self._set(device_info=device_info_of(_expect(reply, t.DeviceInformationReply)))
            return _plain(reply.fields)

        return await self._request(
            messages.device_information_request(), command="device_information", apply=apply
        )

    async def commodity_read(self, code: int | None = None) -> CommandOutcome:
        """Get Commodity Read, all codes or one; updates power, energy and stored energy."""

        def apply(reply: Message) -> dict[str, Any]:
            readings = tuple(
                CommodityReading(
                    code=r.code,
                    measured=r.measured,
                    instantaneous=r.instantaneous,
                    cumulative=r.cumulative,
                )
                for r in _expect(reply, t.GetCommodityReadReply).records
            )
            changes: dict[str, Any] = {"commodities": readings}
            for r in readings:
                if r.code == CommodityCode.ELECTRICITY_CONSUMED:
                    changes["power_w"] = r.instantaneous
                    changes["energy_used_wh"] = r.cumulative
                elif r.code == CommodityCode.TOTAL_ENERGY_STORAGE_CAPACITY:
                    # The cumulative field holds the capacity (§9.3, §13 row 17).
                    changes["energy_capacity_wh"] = r.cumulative
                elif r.code == CommodityCode.PRESENT_ENERGY_STORAGE:
                    changes["stored_energy_wh"] = r.cumulative
            self._set(**changes)
            return _plain(reply.fields)

        return await self._request(
            messages.commodity_read_request(code), command="commodity_read", apply=apply
        )

    async def get_set_point(self) -> CommandOutcome:
        def apply(reply: Message) -> dict[str, Any]:
            r = _expect(reply, t.GetSetPointReply)
            self._set(
                set_point_c=_to_c(r.set_point_1, r.units),
                set_point_2_c=_to_c(r.set_point_2, r.units),
            )
            return _plain(reply.fields)

        return await self._request(messages.get_set_point(), apply=apply)

    async def set_set_point(self, celsius: float, *, fahrenheit: bool = True) -> CommandOutcome:
        """Set the upper-element set point; set point 2 is left unchanged (0x8000, §9.2).

        Sent in whole °F by default (the unit US heaters report); ``fahrenheit=False`` sends °C.
        The device type is the heater's own (from Device Information), else heat-pump water
        heater: any other type is refused with "bad value" (docs/cta2045.md §15).
        """
        unit = TemperatureUnit.FAHRENHEIT if fahrenheit else TemperatureUnit.CELSIUS
        value = round(c_to_f(celsius)) if fahrenheit else round(celsius)
        info = self._snapshot.device_info
        device_type = info.device_type if info else DeviceType.WATER_HEATER_HEAT_PUMP
        request = messages.set_set_point(device_type, value, None, unit)

        def apply(reply: Message) -> dict[str, Any]:
            self._set(set_point_c=_to_c(value, unit))
            return _plain(reply.fields)

        return await self._request(request, apply=apply)

    async def present_temperature(self) -> CommandOutcome:
        def apply(reply: Message) -> dict[str, Any]:
            r = _expect(reply, t.GetPresentTemperatureReply)
            self._set(present_temperature_c=_to_c(r.temperature, r.units))
            return _plain(reply.fields)

        return await self._request(
            messages.get_present_temperature(), command="present_temperature", apply=apply
        )

    async def set_utc_time(self, when: datetime | None = None) -> CommandOutcome:
        """Set UTC Time (seconds since 2000-01-01T00:00Z, docs/cta2045.md §9.2)."""
        return await self._request(messages.set_utc_time(when or self._wall_clock()))

    async def advanced_load_up(self, wh: float, duration_s: float) -> CommandOutcome:
        """Advanced Load Up: store ``wh`` above normal in ``duration_s`` (docs/cta2045.md §9.2)."""
        return await self._request(messages.advanced_load_up(wh, duration_s))


async def _first_of(*waits: Coroutine[Any, Any, object]) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _port_present(path: str) -> bool:
    """Is the device node (or the symlink to it) there? A stat, not an open."""
    return os.path.exists(path)


def _expect(reply: Message, kind: type[M]) -> M:
    """``reply`` as the table row ``kind``; another row (a Get answered by the three-byte form,
    §9.1) is unusable."""
    if not isinstance(reply, kind):
        raise ValueError(f"expected {kind.NAME}, got {reply.name}")
    return reply


def device_info_of(r: t.DeviceInformationReply) -> DeviceInformationReply:
    """What the session keeps of a Device Information reply; ValueError when the reply has no
    device data after its response code."""
    # Every trailing block is optional (payload 16/32/48/51/53, docs/cta2045.md §9.2, §13
    # row 5): pycta2045 sends the firmware date without major and minor.
    if (
        r.vendor_id is None
        or r.device_type is None
        or r.device_revision is None
        or r.capabilities is None
    ):
        raise ValueError("no device data after the response code")
    firmware = None
    if r.firmware_year is not None:
        firmware = f"{r.firmware_year}-{r.firmware_month:02d}-{r.firmware_day:02d}"
        if r.firmware_major is not None:
            firmware += f" v{r.firmware_major}.{r.firmware_minor or 0}"
    return DeviceInformationReply(
        cta_version=_str_or_none(r.cta_version) or "",
        vendor_id=r.vendor_id,
        device_type=r.device_type,
        device_revision=r.device_revision,
        capabilities=r.capabilities,
        model=_str_or_none(r.model_number),
        serial=_str_or_none(r.serial_number),
        firmware=firmware,
    )


def _str_or_none(value: str | None) -> str | None:
    """A text field without the NUL padding of fixed-width ASCII fields (§9.2)."""
    return None if value is None else value.rstrip("\x00") or None


def _plain(fields: Mapping[str, object]) -> dict[str, Any]:
    """Reply fields without the response-code bookkeeping, for the outcome's ``data``."""
    return {k: v for k, v in fields.items() if not k.startswith("response_code")}
