"""Each command the UCM sends is encoded once and each frame it receives is decoded once.

The session runs against a scripted heater on an in-memory transport whose answers are bytes
prepared before counting starts, so every count is the UCM's own: layouts encoded and decoded
(:class:`~ven_edge.cta2045.fields.Layout`) and check bytes computed
(:func:`~ven_edge.cta2045.frames.checksum`; received frames are checked by the stream parser's
running sums, docs/cta2045.md §3).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from ven_edge.cta2045 import fields, frames, messages
from ven_edge.cta2045.codec import encode
from ven_edge.cta2045.driver import LinkDriver
from ven_edge.cta2045.encodings import DeviceType, OperationalState
from ven_edge.cta2045.link import LinkTimers
from ven_edge.cta2045.ucm import Status, UcmConfig, UcmSession

ACK = b"\x06\x00"
#: No deliberate link delays; timeouts far beyond what an in-memory answer needs.
TIMERS = LinkTimers(
    ack_delay=0.0,
    ack_timeout=30.0,
    reply_delay=0.0,
    reply_timeout=30.0,
    frame_timeout=5.0,
    retry_interval=0.05,
    quiet_time=0.0,
)


class ScriptedHeater(asyncio.Transport):
    """Answers each frame written to it with the bytes scripted for it."""

    def __init__(self, protocol: LinkDriver, answers: Mapping[bytes, bytes]) -> None:
        super().__init__()
        self.protocol = protocol
        self.answers = answers
        self.written: list[bytes] = []
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        self.written.append(data)
        answer = self.answers.get(data)
        if answer is not None:
            asyncio.get_running_loop().call_soon(self.protocol.data_received, answer)

    def push(self, data: bytes) -> None:
        """The heater speaks unasked."""
        self.protocol.data_received(data)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def get_write_buffer_size(self) -> int:
        return 0


class Work:
    """Counts the codec's work while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        self._monkeypatch = monkeypatch

    def install(self) -> None:
        for owner, name, label in (
            (fields.Layout, "encode", "encodes"),
            (fields.Layout, "decode", "decodes"),
            (frames, "checksum", "checksums"),
        ):
            self._monkeypatch.setattr(owner, name, self._counted(getattr(owner, name), label))

    def _counted(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[label] += 1
            return function(*args, **kwargs)

        return counted

    def take(self) -> dict[str, int]:
        taken = {k: self.counts[k] for k in ("encodes", "decodes", "checksums")}
        self.counts.clear()
        return taken


@contextlib.asynccontextmanager
async def session(answers: Mapping[bytes, bytes]) -> AsyncIterator[tuple[UcmSession, list[Any]]]:
    heaters: list[ScriptedHeater] = []

    async def opener(
        port: str, factory: Callable[[], LinkDriver], *, baudrate: int
    ) -> tuple[asyncio.Transport, LinkDriver]:
        driver = factory()
        heater = ScriptedHeater(driver, answers)
        heaters.append(heater)
        driver.connection_made(heater)
        return heater, driver

    config = UcmConfig(
        port="scripted", timers=TIMERS, heartbeat_s=0, poll_s=0, time_sync_s=0, commission=False
    )
    ucm = UcmSession(config, opener=opener)
    await ucm.start()
    try:
        async with asyncio.timeout(60):
            await ucm.wait_ready()
        yield ucm, heaters
    finally:
        await ucm.stop(drain_s=0)


def test_a_command_is_encoded_once_and_its_reply_decoded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shed = encode(messages.shed(600))
    get_set_point = encode(messages.get_set_point())
    answers = {
        shed: ACK + encode(messages.app_ack(0x01)),
        get_set_point: ACK
        + encode(messages.get_set_point_reply(DeviceType.WATER_HEATER_HEAT_PUMP, 125, None)),
    }
    unsolicited = encode(messages.operational_state_response(OperationalState.IDLE_CURTAILED))
    work = Work(monkeypatch)

    async def main() -> None:
        async with session(answers) as (ucm, heaters):
            work.install()
            outcome = await ucm.shed(600)
            assert outcome.status is Status.OK
            # One layout encode and one set of check bytes for the Shed; one decode of the App
            # ACK (main: 2 encodes, 3 decodes, 3 checksums).
            assert work.take() == {"encodes": 1, "decodes": 1, "checksums": 1}

            outcome = await ucm.get_set_point()
            assert outcome.status is Status.OK
            assert ucm.snapshot.set_point_c == pytest.approx(51.67, abs=0.01)
            assert work.take() == {"encodes": 1, "decodes": 1, "checksums": 1}

            # An unsolicited frame: decoded once, answered with one App ACK built once.
            changed = asyncio.Event()
            ucm.on_change(lambda _snap: changed.set())
            heaters[0].push(unsolicited)
            async with asyncio.timeout(30):
                while ucm.snapshot.operational_state != OperationalState.IDLE_CURTAILED:
                    await changed.wait()
                    changed.clear()
            assert work.take() == {"encodes": 1, "decodes": 1, "checksums": 1}

    asyncio.run(main())


def test_retries_send_the_frame_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request sent again after a link NAK goes out as the same bytes, not encoded again."""
    shed = encode(messages.shed(600))
    nak_then_ack: list[bytes] = [b"\x15\x00", ACK + encode(messages.app_ack(0x01))]

    class Answers(dict[bytes, bytes]):
        def get(self, key: bytes, default: Any = None) -> Any:
            return nak_then_ack.pop(0) if key == shed and nak_then_ack else default

    work = Work(monkeypatch)

    async def main() -> None:
        async with session(Answers()) as (ucm, heaters):
            work.install()
            outcome = await ucm.shed(600)
            assert outcome.status is Status.OK
            assert outcome.attempts == 2
            assert heaters[0].written.count(shed) == 2
            assert work.take() == {"encodes": 1, "decodes": 1, "checksums": 1}

    asyncio.run(main())
