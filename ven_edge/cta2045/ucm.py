"""The UCM session: owns the serial port, commissions the heater, keeps the device model fresh.

:class:`UcmSession` is what the daemon runs (``await start()`` / ``await stop()``). On every
(re)connect it commissions the heater the way the public UCMs do (cta2045.md §7, §16.1):
message-type-supported queries for 08 01, 08 02 and 08 03, the maximum-payload query, Get Device
Information, Outside Comm = found, End Shed at start-up (Intwine, so no stale event survives our
restart), an operational-state query and a commodity read. Afterwards it sends the Outside-Comm
heartbeat (default 60 s, never longer than 15 min: Intwine REST doc §1) and polls operational
state and commodities. A lost port is reopened with exponential backoff.

Commands are typed coroutines returning a :class:`CommandOutcome`: ``ok``, ``app_nak`` with the
reason (e.g. 5 = customer override, or an Intermediate response code), ``link_nak`` with the NAK
code, ``timeout`` or ``not_connected``. Unlike EPRI-lib, an App NAK is never reported as success
(cta2045.md §15). Every reply and every unsolicited message (customer override 0x11, operational
state 0x13, sleep/wake, the heater's own Get-UTC-Time and max-payload queries) updates the
:class:`~ven_edge.cta2045.device.DeviceSnapshot` and notifies :meth:`UcmSession.on_change`
subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ven_edge.cta2045.device import CommodityReading, DeviceInfo, DeviceSnapshot, LinkHealth
from ven_edge.cta2045.driver import LinkDriver
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.link import Failure, LinkTimers, ReplyMatcher, RequestDone
from ven_edge.cta2045.transport import BAUD_RATE, PortError, open_serial

log = logging.getLogger(__name__)

#: Default Outside-Comm heartbeat (pycta2045's DCM and EPRI-sim "real UCM" mode, cta2045.md §11.2)
#: and the longest allowed: the SGD may drop curtailment after 15 min (Intwine REST doc §1).
HEARTBEAT_S = 60.0
MAX_HEARTBEAT_S = 15 * 60.0
#: Default polling of operational state and commodities (pycta2045's 60 s, not PSU-DCS's 2 s).
POLL_S = 60.0
#: Port reopen backoff, doubling from the first to the last value.
RECONNECT_INITIAL_S = 0.5
RECONNECT_MAX_S = 30.0

#: Basic DR opcodes (cta2045.md §8.1).
_APP_ACK = 0x03
_APP_NAK = 0x04
#: The size codes of the data-link max-payload response 0x19 (cta2045.md §6).
MAX_PAYLOAD_SIZES = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1280, 1500, 2048, 4096)
#: Our own max payload, announced when the heater asks: code 0x0D = 4096, as EPRI-lib (§6).
_OUR_MAX_PAYLOAD_CODE = 0x0D
#: CTA-2045 times count seconds from 2000-01-01T00:00Z (EPRI-lib util/CEA2045Time.cpp, §9.2).
CTA_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: Device type of a heat-pump water heater (cta2045.md §9.2), used by Set Set Point.
DEVICE_TYPE_HPWH = 0x0003
#: Set-point "don't change" sentinel (cta2045.md §9.2).
_SETPOINT_UNCHANGED = -0x8000
_UNITS_F = 0
#: Advanced Load Up unit codes 0-3 = 1, 10, 100, 1000 Wh (cta2045.md §9.2).
ALU_UNIT_WH = (1, 10, 100, 1000)

APP_NAK_REASONS = {
    0: "no reason",
    1: "opcode1 not supported",
    2: "opcode2 invalid",
    3: "busy",
    4: "length invalid",
    5: "customer override in effect",
}
RESPONSE_CODES = {
    1: "command not implemented",
    2: "bad value",
    3: "command length error",
    4: "response length error",
    5: "busy",
    6: "other error",
    7: "customer override in effect",
    8: "command not enabled",
}
LINK_NAK_REASONS = {
    0: "no reason",
    1: "invalid byte",
    2: "invalid length",
    3: "checksum error",
    4: "reserved",
    5: "message timeout",
    6: "unsupported message type",
    7: "request not supported",
}


class Status(enum.StrEnum):
    """How a command ended."""

    OK = "ok"
    APP_NAK = "app_nak"
    LINK_NAK = "link_nak"
    TIMEOUT = "timeout"
    NOT_CONNECTED = "not_connected"


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
    commission: bool = True
    end_shed_on_start: bool = True
    reconnect_initial_s: float = RECONNECT_INITIAL_S
    reconnect_max_s: float = RECONNECT_MAX_S
    baudrate: int = BAUD_RATE

    def __post_init__(self) -> None:
        if self.heartbeat_s < 0 or self.poll_s < 0:
            raise ValueError("heartbeat and poll intervals must be >= 0")
        if self.heartbeat_s > MAX_HEARTBEAT_S:
            object.__setattr__(self, "heartbeat_s", MAX_HEARTBEAT_S)


# --- frames ------------------------------------------------------------------------------------


def _basic(op1: int, op2: int = 0) -> Frame:
    return Frame(MessageType.BASIC_DR, bytes((op1, op2)))


def _intermediate(op1: int, op2: int, data: bytes = b"") -> Frame:
    return Frame(MessageType.INTERMEDIATE_DR, bytes((op1, op2)) + data)


def duration_code(seconds: float | None) -> int:
    """Event duration byte, rounded UP (never shorter, cta2045.md §13 row 7); None → 0x00."""
    if seconds is None:
        return 0x00
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {seconds}")
    n = math.ceil(math.sqrt(seconds / 2))
    return 0xFF if n > 0xFE else max(n, 1)


def _price_code(ratio: float) -> int:
    """Relative price byte: inverse of (n − 1)(n + 63)/8192 (cta2045.md §8.2)."""
    if ratio < 0:
        raise ValueError(f"price ratio must be >= 0, got {ratio}")
    n = round((-62 + math.sqrt(4096 + 32768 * ratio)) / 2)
    return min(max(n, 1), 0xFF)


def _basic_matcher(op1: int) -> ReplyMatcher:
    """App ACK of ``op1`` or any App NAK (it does not name the opcode); 0x12 expects 0x13."""

    def match(frame: Frame) -> bool:
        if frame.msg_type != MessageType.BASIC_DR or len(frame.payload) != 2:
            return False
        r1, r2 = frame.payload
        if r1 == _APP_NAK:
            return True
        if op1 == 0x12:
            return r1 == 0x13
        return r1 == _APP_ACK and r2 == op1

    return match


def _intermediate_matcher(op1: int, op2: int) -> ReplyMatcher:
    """``op1, op2|0x80`` reply; a Basic App NAK too (pycta2045 answers so, cta2045.md §15)."""

    def match(frame: Frame) -> bool:
        p = frame.payload
        if frame.msg_type == MessageType.BASIC_DR:
            return len(p) == 2 and p[0] == _APP_NAK
        return frame.msg_type == MessageType.INTERMEDIATE_DR and p[:2] == bytes((op1, op2 | 0x80))

    return match


def _ascii(data: bytes) -> str | None:
    text = data.rstrip(b"\x00").decode("ascii", "replace")
    return text or None


def _to_c(value: int, units: int) -> float:
    return round((value - 32) * 5 / 9, 2) if units == _UNITS_F else float(value)


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
        self._lost = asyncio.Event()
        self._started_once = False
        self._counter_base = LinkHealth()
        self._reconnects = 0
        self._app_naks = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (the port may be absent; it is retried)."""
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_driver()

    async def wait_ready(self) -> None:
        """Wait until the port is open and the heater commissioned (wrap in asyncio.timeout)."""
        await self._ready.wait()

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
        delay = self.config.reconnect_initial_s
        while True:
            try:
                await self._connect()
            except PortError as exc:
                self._note_error(str(exc))
                log.warning("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            delay = self.config.reconnect_initial_s
            try:
                await self._run_connected()
            finally:
                self._ready.clear()
                self._close_driver()
            self._reconnects += 1
            self._set(commissioned=False)
            log.warning("port %s lost; reopening", self.config.port)

    async def _connect(self) -> None:
        self._lost = asyncio.Event()
        lost = self._lost

        def on_lost(exc: Exception | None) -> None:
            lost.set()

        def factory() -> LinkDriver:
            return LinkDriver(self.config.timers, on_frame=self._on_frame, on_lost=on_lost)

        _, driver = await self._opener(self.config.port, factory, baudrate=self.config.baudrate)
        await driver.wait_open()
        self._driver = driver
        self._set(link_connected=True)

    async def _run_connected(self) -> None:
        if self.config.commission:
            await self._commission()
        self._set(commissioned=True)
        self._ready.set()
        loops: list[Coroutine[Any, Any, object]] = [self._lost.wait()]
        if self.config.heartbeat_s:
            loops.append(self._every(self.config.heartbeat_s, self.outside_comm))
        if self.config.poll_s:
            loops.append(self._every(self.config.poll_s, self._poll))
        tasks = [asyncio.ensure_future(c) for c in loops]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, period: float, action: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(period)
            await action()

    async def _poll(self) -> None:
        await self.operational_state()
        await self.commodity_read()

    async def _commission(self) -> None:
        supported = set(self._snapshot.supported_types)
        unsupported = set(self._snapshot.unsupported_types)
        for msg_type in (MessageType.BASIC_DR, MessageType.INTERMEDIATE_DR, MessageType.DATA_LINK):
            outcome = await self.message_type_supported(msg_type)
            if outcome.ok:
                supported.add(msg_type)
            elif outcome.status is Status.LINK_NAK:
                unsupported.add(msg_type)
        self._set(supported_types=frozenset(supported), unsupported_types=frozenset(unsupported))
        if MessageType.DATA_LINK in supported:
            await self.max_payload()
        if MessageType.INTERMEDIATE_DR in supported:
            await self.device_information()
        await self.outside_comm()
        if self.config.end_shed_on_start and not self._started_once:
            await self.end_shed()
        self._started_once = True
        await self.operational_state()
        if MessageType.INTERMEDIATE_DR in supported:
            await self.commodity_read()

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
        """Unsolicited frames from the heater (cta2045.md §11.2, §13 row 11)."""
        self._heard()
        driver = self._driver
        if driver is None:
            return
        p = frame.payload
        if not p:
            return  # the heater's own type query: the link ACK answered it
        if frame.msg_type == MessageType.BASIC_DR and len(p) == 2:
            op1, op2 = p
            if op1 in (_APP_ACK, _APP_NAK):
                return  # a late duplicate reply to a request already finished
            if op1 == 0x11:
                self._set(override_active=bool(op2))
            elif op1 == 0x13:
                self._set(operational_state=op2)
            elif op1 not in (0x14, 0x15):
                driver.reply(_basic(_APP_NAK, 0x01))
                return
            driver.reply(_basic(_APP_ACK, op1))
        elif frame.msg_type == MessageType.INTERMEDIATE_DR and len(p) >= 2 and p[1] < 0x80:
            if p[:2] == b"\x02\x00" and len(p) == 2:  # the heater asks us for the time
                driver.reply(_intermediate(0x02, 0x80, b"\x00" + self._utc_fields(None)))
            else:
                driver.reply(_intermediate(p[0], p[1] | 0x80, b"\x01"))  # not implemented
        elif frame.msg_type == MessageType.DATA_LINK and len(p) == 2:
            if p[0] == 0x18:
                driver.reply(Frame(MessageType.DATA_LINK, bytes((0x19, _OUR_MAX_PAYLOAD_CODE))))
            elif p[0] == 0x19:
                self._set(max_payload=self._payload_size(p[1]))

    @staticmethod
    def _payload_size(code: int) -> int:
        return MAX_PAYLOAD_SIZES[code] if code < len(MAX_PAYLOAD_SIZES) else 2

    def _utc_fields(self, when: datetime | None) -> bytes:
        moment = when or self._wall_clock()
        seconds = int((moment - CTA_EPOCH).total_seconds())
        offset = moment.utcoffset() or timedelta(0)
        quarters = int(offset.total_seconds() // 900)
        return struct.pack(">Ibb", seconds, quarters, 0)

    # --- requests ---------------------------------------------------------------------------

    async def _request(
        self,
        command: str,
        frame: Frame,
        matcher: ReplyMatcher | None,
        *,
        idempotent: bool = True,
        decode: Callable[[Frame], dict[str, Any]] | None = None,
    ) -> CommandOutcome:
        driver = self._driver
        started = time.monotonic()
        if driver is None or not driver.connected:
            return CommandOutcome(command, Status.NOT_CONNECTED, reason_text="port not open")
        done = await driver.request(frame, matcher=matcher, idempotent=idempotent)
        outcome = self._outcome(command, done, time.monotonic() - started, decode)
        if outcome.status is Status.APP_NAK:
            self._app_naks += 1
            if outcome.reason == 5 or (
                frame.msg_type == MessageType.INTERMEDIATE_DR and outcome.reason == 7
            ):
                self._set(override_active=True)
        log.debug("cta2045 %s -> %s", command, outcome.status.value)
        return outcome

    def _outcome(
        self,
        command: str,
        done: RequestDone,
        elapsed: float,
        decode: Callable[[Frame], dict[str, Any]] | None,
    ) -> CommandOutcome:
        attempts = done.attempts
        if done.failure is Failure.LINK_NAK:
            code = done.nak or 0
            return CommandOutcome(
                command, Status.LINK_NAK, code, LINK_NAK_REASONS.get(code), {}, attempts, elapsed
            )
        if done.failure is Failure.CLOSED:
            return CommandOutcome(
                command, Status.NOT_CONNECTED, None, "port closed", {}, attempts, elapsed
            )
        if done.failure is not None:
            text = "no link ACK" if done.failure is Failure.NO_ACK else "no application reply"
            return CommandOutcome(command, Status.TIMEOUT, None, text, {}, attempts, elapsed)
        self._heard()
        reply = done.reply
        if reply is None:
            return CommandOutcome(command, Status.OK, attempts=attempts, elapsed_s=elapsed)
        p = reply.payload
        if reply.msg_type == MessageType.BASIC_DR and p[0] == _APP_NAK:
            return CommandOutcome(
                command, Status.APP_NAK, p[1], APP_NAK_REASONS.get(p[1]), {}, attempts, elapsed
            )
        if reply.msg_type == MessageType.INTERMEDIATE_DR and len(p) >= 3 and p[2] != 0:
            return CommandOutcome(
                command, Status.APP_NAK, p[2], RESPONSE_CODES.get(p[2]), {}, attempts, elapsed
            )
        try:
            data = decode(reply) if decode is not None else {}
        except (struct.error, IndexError, ValueError) as exc:
            self._note_error(f"{command}: undecodable reply {reply.payload.hex()}: {exc}")
            data = {"raw": reply.payload.hex()}
        return CommandOutcome(command, Status.OK, data=data, attempts=attempts, elapsed_s=elapsed)

    async def _basic_command(self, command: str, op1: int, op2: int = 0) -> CommandOutcome:
        return await self._request(command, _basic(op1, op2), _basic_matcher(op1))

    # --- Basic DR commands (cta2045.md §8) -----------------------------------------------------

    async def shed(self, duration_s: float | None = None) -> CommandOutcome:
        """Shed for ``duration_s`` (rounded up to 2·n² s) or until End Shed when None."""
        return await self._basic_command("shed", 0x01, duration_code(duration_s))

    async def end_shed(self) -> CommandOutcome:
        """End Shed / Run Normal: ends shed, power level, CPP, grid emergency and load up."""
        return await self._basic_command("end_shed", 0x02)

    async def load_up(self, duration_s: float | None = None) -> CommandOutcome:
        return await self._basic_command("load_up", 0x17, duration_code(duration_s))

    async def critical_peak(self, duration_s: float | None = None) -> CommandOutcome:
        return await self._basic_command("critical_peak", 0x0A, duration_code(duration_s))

    async def grid_emergency(self, duration_s: float | None = None) -> CommandOutcome:
        return await self._basic_command("grid_emergency", 0x0B, duration_code(duration_s))

    async def power_level(self, percent: float, *, produce: bool = False) -> CommandOutcome:
        """Request for Power Level: 0-100 % as a 7-bit level rounded down (cta2045.md §8.2)."""
        if not 0 <= percent <= 100:
            raise ValueError(f"power level must be 0-100 %, got {percent}")
        level = math.floor(percent * 127 / 100 + 1e-9) | (0x80 if produce else 0)
        return await self._basic_command("power_level", 0x06, level)

    async def present_relative_price(self, ratio: float) -> CommandOutcome:
        return await self._basic_command("present_relative_price", 0x07, _price_code(ratio))

    async def next_relative_price(self, ratio: float) -> CommandOutcome:
        return await self._basic_command("next_relative_price", 0x08, _price_code(ratio))

    async def outside_comm(self, status: int = 1) -> CommandOutcome:
        """Outside Communication status: 0 lost, 1 found (the heartbeat), 2 poor (§8.1)."""
        return await self._basic_command("outside_comm", 0x0E, status)

    async def time_sync(self, when: datetime | None = None) -> CommandOutcome:
        """Simple Time Sync: weekday (0 = Sunday) and local hour (cta2045.md §8.1)."""
        moment = when or self._wall_clock().astimezone()
        weekday = (moment.weekday() + 1) % 7
        return await self._basic_command("time_sync", 0x16, (weekday << 5) | moment.hour)

    async def operational_state(self) -> CommandOutcome:
        """Operational State Query; the snapshot's ``operational_state`` follows."""

        def decode(reply: Frame) -> dict[str, Any]:
            self._set(operational_state=reply.payload[1])
            return {"operational_state": reply.payload[1]}

        return await self._request(
            "operational_state", _basic(0x12), _basic_matcher(0x12), decode=decode
        )

    # --- data link (cta2045.md §6) -----------------------------------------------------------

    async def message_type_supported(self, msg_type: int) -> CommandOutcome:
        """Message-Type-Supported query: only a link ACK (yes) or NAK 0x06 (no) answers it."""
        return await self._request(f"mtsq_{msg_type:04x}", Frame(msg_type), None)

    async def max_payload(self) -> CommandOutcome:
        def match(frame: Frame) -> bool:
            return frame.msg_type == MessageType.DATA_LINK and frame.payload[:1] == b"\x19"

        def decode(reply: Frame) -> dict[str, Any]:
            size = self._payload_size(reply.payload[1])
            self._set(max_payload=size)
            return {"max_payload": size}

        frame = Frame(MessageType.DATA_LINK, b"\x18\x00")
        return await self._request("max_payload", frame, match, decode=decode)

    # --- Intermediate DR (cta2045.md §9) -------------------------------------------------------

    async def _intermediate_command(
        self,
        command: str,
        op1: int,
        op2: int,
        data: bytes = b"",
        decode: Callable[[Frame], dict[str, Any]] | None = None,
    ) -> CommandOutcome:
        frame = _intermediate(op1, op2, data)
        max_payload = self._snapshot.max_payload
        if len(frame.payload) > max(max_payload, 2) and max_payload > 2:
            raise ValueError(f"{command}: payload exceeds the negotiated {max_payload} bytes")
        return await self._request(command, frame, _intermediate_matcher(op1, op2), decode=decode)

    async def device_information(self) -> CommandOutcome:
        def decode(reply: Frame) -> dict[str, Any]:
            d = reply.payload[3:]
            vendor, device_type, revision, caps = struct.unpack(">HHHI", d[2:12])
            firmware = None
            if len(d) >= 50:
                y, m, day, major, minor = d[45:50]
                firmware = f"{2000 + y:04d}-{m + 1:02d}-{day:02d} v{major}.{minor}"
            info = DeviceInfo(
                cta_version=_ascii(d[0:2]) or "",
                vendor_id=vendor,
                device_type=device_type,
                device_revision=revision,
                capabilities=caps,
                model=_ascii(d[13:29]) if len(d) >= 29 else None,
                serial=_ascii(d[29:45]) if len(d) >= 45 else None,
                firmware=firmware,
            )
            self._set(device_info=info)
            return {
                "vendor_id": vendor,
                "device_type": device_type,
                "capabilities": caps,
                "model": info.model,
                "serial": info.serial,
                "firmware": firmware,
            }

        return await self._intermediate_command("device_information", 0x01, 0x01, decode=decode)

    async def commodity_read(self, code: int | None = None) -> CommandOutcome:
        """Get Commodity Read, all codes or one; updates power, energy and stored energy."""

        def decode(reply: Frame) -> dict[str, Any]:
            body = reply.payload[3:]
            readings = tuple(
                CommodityReading(
                    code=body[i] & 0x7F,
                    measured=bool(body[i] & 0x80),
                    instantaneous=int.from_bytes(body[i + 1 : i + 7], "big"),
                    cumulative=int.from_bytes(body[i + 7 : i + 13], "big"),
                )
                for i in range(0, len(body) - 12, 13)
            )
            changes: dict[str, Any] = {"commodities": readings}
            for r in readings:
                if r.code == 0:
                    changes["power_w"] = r.instantaneous
                    changes["energy_used_wh"] = r.cumulative
                elif r.code == 6:
                    changes["energy_capacity_wh"] = r.cumulative
                elif r.code == 7:
                    changes["stored_energy_wh"] = r.cumulative
            self._set(**changes)
            return {k: v for k, v in changes.items() if k != "commodities"} | {
                "readings": [
                    {
                        "code": r.code,
                        "measured": r.measured,
                        "rate": r.instantaneous,
                        "cumulative": r.cumulative,
                    }
                    for r in readings
                ]
            }

        data = b"" if code is None else bytes((code,))
        return await self._intermediate_command("commodity_read", 0x06, 0x00, data, decode)

    async def get_set_point(self) -> CommandOutcome:
        def decode(reply: Frame) -> dict[str, Any]:
            d = reply.payload[3:]
            _, units, sp1 = struct.unpack(">HBh", d[:5])
            sp2 = struct.unpack(">h", d[5:7])[0] if len(d) >= 7 else _SETPOINT_UNCHANGED
            c1 = None if sp1 == _SETPOINT_UNCHANGED else _to_c(sp1, units)
            c2 = None if sp2 == _SETPOINT_UNCHANGED else _to_c(sp2, units)
            self._set(set_point_c=c1, set_point_2_c=c2)
            return {"set_point_c": c1, "set_point_2_c": c2, "units": "F" if units == 0 else "C"}

        return await self._intermediate_command("get_set_point", 0x03, 0x03, decode=decode)

    async def set_set_point(self, celsius: float, *, fahrenheit: bool = True) -> CommandOutcome:
        """Set the upper-element set point (set point 2 left unchanged, 0x8000, §9.2).

        Sent in whole °F by default (the unit US heaters report); ``fahrenheit=False`` sends °C.
        """
        units = _UNITS_F if fahrenheit else 1
        value = round(celsius * 9 / 5 + 32) if fahrenheit else round(celsius)
        data = struct.pack(">HBhh", DEVICE_TYPE_HPWH, units, value, _SETPOINT_UNCHANGED)

        def decode(reply: Frame) -> dict[str, Any]:
            set_c = _to_c(value, units)
            self._set(set_point_c=set_c)
            return {"set_point_c": set_c}

        return await self._intermediate_command("set_set_point", 0x03, 0x03, data, decode)

    async def present_temperature(self) -> CommandOutcome:
        def decode(reply: Frame) -> dict[str, Any]:
            _, units, temp = struct.unpack(">HBh", reply.payload[3:8])
            celsius = _to_c(temp, units)
            self._set(present_temperature_c=celsius)
            return {"present_temperature_c": celsius}

        return await self._intermediate_command("present_temperature", 0x03, 0x04, decode=decode)

    async def set_utc_time(self, when: datetime | None = None) -> CommandOutcome:
        """Set UTC Time: seconds since 2000-01-01T00:00Z, time-zone offset in quarter hours."""
        return await self._intermediate_command("set_utc_time", 0x02, 0x00, self._utc_fields(when))

    async def advanced_load_up(self, wh: int, duration_s: float) -> CommandOutcome:
        """Advanced Load Up: store ``wh`` above normal within ``duration_s`` (whole minutes up).

        The value is sent in the finest unit (1, 10, 100 or 1000 Wh) that fits 16 bits, rounded
        up (cta2045.md §9.2, *single-source* layout from the cta2045 package).
        """
        if wh <= 0 or duration_s <= 0:
            raise ValueError("advanced load up needs positive energy and duration")
        minutes = min(math.ceil(duration_s / 60), 0xFFFF)
        fitting = [
            (code, math.ceil(wh / scale))
            for code, scale in enumerate(ALU_UNIT_WH)
            if math.ceil(wh / scale) <= 0xFFFF
        ]
        if not fitting:
            raise ValueError(f"{wh} Wh does not fit the Advanced Load Up value")
        units, value = fitting[0]
        data = struct.pack(">HHB", minutes, value, units)
        return await self._intermediate_command("advanced_load_up", 0x0C, 0x00, data)
