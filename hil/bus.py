"""A simulated half-duplex RS-485 line that both CTA-2045 ends share.

The AC form factor of CTA-2045 is RS-485 half duplex: one pair of wires, a transmitter enabled by
software, no arbitration (docs/cta2045.md §1, §15). Two ends that start talking at overlapping times
destroy each other's bytes. A pty pair hides that, since it is two independent pipes; this module
does not:

* Each end gets a :class:`BusPort`, an :class:`asyncio.Transport`, so the UCM session (through
  :meth:`HalfDuplexBus.opener`), the daemon's heater port on top of it and the simulated heater run
  over the bus unchanged.
* Bytes are clocked at the port's baud rate, 10 bit times each (8N1, docs/cta2045.md §1): at
  19,200 baud
  one byte takes 0.52 ms. A write while the same end is still sending queues behind its earlier
  bytes, as a UART transmit FIFO does. An optional random write latency
  (:attr:`HalfDuplexBus.write_latency_s`) stands for the OS and adapter delay before the first bit.
* A write whose bytes overlap, in time, bytes of another end is a collision: every overlapped byte
  reaches every receiver garbled (both frames are damaged for both receivers), and
  :attr:`HalfDuplexBus.collisions` goes up by one.
* An end does not hear itself (the receiver is disabled while transmitting, as Intwine's firmware
  does, docs/cta2045.md §15), and hears garbage from an end set to another baud rate.
* The bytes of one write reach the other ends when its last byte has left the line (a receive FIFO
  read when the burst ends), time-stamped by the loop's clock.
* Every write is logged per sender with its start time (:attr:`HalfDuplexBus.log`); byte ``i``
  occupied the line from ``start + i * byte_time`` to ``start + (i + 1) * byte_time``.

Timing comes from the event loop's clock. Under :class:`hil.virtual_time.VirtualTimeLoop` the line
runs on virtual time: exact, and independent of how loaded the machine is.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ven_edge.cta2045.transport import BAUD_RATE, BITS_PER_BYTE_ON_WIRE, PortError

P = TypeVar("P", bound=asyncio.Protocol)


#: Overlaps shorter than this are rounding, not a collision (0.1 µs against a 520 µs byte): the
#: loop runs a timer up to its clock resolution early, so a write may start a hair before the
#: previous burst's delivery time.
OVERLAP_TOLERANCE_S = 1e-7


def overlaps(start_a: float, end_a: float, start_b: float, end_b: float) -> bool:
    """Whether two line occupancies share more than :data:`OVERLAP_TOLERANCE_S`."""
    return min(end_a, end_b) - max(start_a, start_b) > OVERLAP_TOLERANCE_S


def byte_time(baudrate: int) -> float:
    """Seconds one byte occupies the line at ``baudrate`` (8N1: 10 bit times)."""
    return BITS_PER_BYTE_ON_WIRE / baudrate


@dataclass(eq=False)
class Transmission:
    """One write on the line: who sent what, when, and what the other ends heard."""

    sender: str
    start: float
    data: bytes
    baudrate: int
    #: Position among all writes on the bus (0, 1, 2, ...), to order writes made at one instant.
    seq: int = 0
    #: What the receivers got at the sender's rate (overlapped bytes garbled); set on delivery.
    heard: bytes = b""
    #: Transmissions of other ends whose bytes overlapped these.
    overlaps: list[Transmission] = field(default_factory=list, repr=False)

    @property
    def byte_time(self) -> float:
        return byte_time(self.baudrate)

    @property
    def end(self) -> float:
        return self.start + len(self.data) * self.byte_time

    @property
    def collided(self) -> bool:
        return bool(self.overlaps)

    def byte_slots(self) -> list[tuple[float, float, int]]:
        """(start, end, value) of every byte, in order."""
        t = self.byte_time
        return [(self.start + i * t, self.start + (i + 1) * t, b) for i, b in enumerate(self.data)]


class BusPort(asyncio.Transport):
    """One end's connection to the line (an asyncio transport around a protocol)."""

    def __init__(
        self, bus: HalfDuplexBus, name: str, protocol: asyncio.Protocol, baudrate: int
    ) -> None:
        super().__init__()
        self._bus = bus
        self.name = name
        self._protocol = protocol
        self.baudrate = baudrate
        self._closing = False
        #: When the last byte queued by this end has left the line.
        self.tx_idle_at = float("-inf")

    # --- asyncio.Transport ------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        self._bus._transmit(self, bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Leave the line; the protocol's ``connection_lost(None)`` runs on the next loop turn."""
        if self._closing:
            return
        self._closing = True
        self._bus._detach(self)
        self._bus.loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        """Bytes queued by this end that have not left the line yet."""
        left = self.tx_idle_at - self._bus.loop.time()
        return max(0, round(left / byte_time(self.baudrate)))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return f"bus:{self.name}"
        return default

    # --- used by the bus --------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        if not self._closing and data:
            self._protocol.data_received(data)


Opener = Callable[..., Any]


class HalfDuplexBus:
    """The shared line (see the module docstring)."""

    def __init__(
        self,
        *,
        baudrate: int = BAUD_RATE,
        loop: asyncio.AbstractEventLoop | None = None,
        seed: int = 2045,
        write_latency_s: float = 0.0,
    ) -> None:
        self.baudrate = baudrate
        #: Each write reaches the line after a random delay in [0, write_latency_s]: the OS, a
        #: USB-serial adapter's latency timer (FTDI's default is 16 ms) or a driver-enable GPIO
        #: toggled from user space (docs/cta2045.md §15) stand between a write and the first bit.
        #: One end's writes keep their order.
        self.write_latency_s = write_latency_s
        self._loop = loop
        self._rng = random.Random(seed)
        self._ports: dict[str, BusPort] = {}
        #: Transmissions that may still overlap a new write (they end after "now").
        self._on_line: list[Transmission] = []
        #: Every write, per sender name, in order (the per-direction logs).
        self.log: dict[str, list[Transmission]] = {}
        #: Writes that overlapped bytes of another end (one per overlapping write).
        self.collisions = 0
        #: Bytes that reached a receiver garbled by a collision.
        self.garbled_bytes = 0
        self.bytes_sent = 0
        self.writes = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def byte_time(self) -> float:
        return byte_time(self.baudrate)

    def port(self, name: str) -> BusPort | None:
        """The attached port of that name, if any."""
        return self._ports.get(name)

    def busy_until(self) -> float:
        """When the last byte queued by any end leaves the line."""
        return max((t.end for t in self._on_line), default=float("-inf"))

    # --- attaching --------------------------------------------------------------------------

    def attach(
        self, name: str, protocol: asyncio.Protocol, *, baudrate: int | None = None
    ) -> BusPort:
        """Connect ``protocol`` to the line as end ``name``; calls ``connection_made`` now."""
        if name in self._ports:
            raise PortError(f"bus end {name!r} is already open")
        port = BusPort(self, name, protocol, baudrate or self.baudrate)
        self._ports[name] = port
        self.log.setdefault(name, [])
        protocol.connection_made(port)
        return port

    async def open(
        self, name: str, protocol_factory: Callable[[], P], *, baudrate: int | None = None
    ) -> tuple[BusPort, P]:
        """Like :func:`ven_edge.cta2045.transport.open_serial`, on the bus."""
        protocol = protocol_factory()
        return self.attach(name, protocol, baudrate=baudrate), protocol

    def opener(self, name: str) -> Opener:
        """An ``open_serial`` stand-in for :class:`~ven_edge.cta2045.ucm.UcmSession`: the port
        path is ignored and the end is called ``name``."""

        async def open_on_bus(
            _path: str, protocol_factory: Callable[[], P], *, baudrate: int = BAUD_RATE
        ) -> tuple[BusPort, P]:
            return await self.open(name, protocol_factory, baudrate=baudrate)

        return open_on_bus

    def disconnect(self, name: str) -> None:
        """Pull end ``name`` off the line (its protocol sees ``connection_lost``)."""
        port = self._ports.get(name)
        if port is not None:
            port.close()

    def _detach(self, port: BusPort) -> None:
        if self._ports.get(port.name) is port:
            del self._ports[port.name]

    # --- the line ---------------------------------------------------------------------------

    def _transmit(self, port: BusPort, data: bytes) -> None:
        now = self.loop.time()
        self._on_line = [t for t in self._on_line if t.end > now]
        ready = now + self._rng.uniform(0, self.write_latency_s) if self.write_latency_s else now
        tx = Transmission(
            port.name, max(ready, port.tx_idle_at), data, port.baudrate, seq=self.writes
        )
        self.writes += 1
        port.tx_idle_at = tx.end
        for other in self._on_line:
            if other.sender != tx.sender and overlaps(other.start, other.end, tx.start, tx.end):
                other.overlaps.append(tx)
                tx.overlaps.append(other)
        if tx.overlaps:
            self.collisions += 1
        self._on_line.append(tx)
        self.log[port.name].append(tx)
        self.bytes_sent += len(data)
        self.loop.call_at(tx.end, self._deliver, tx)

    def _deliver(self, tx: Transmission) -> None:
        heard = bytearray(tx.data)
        if tx.overlaps:
            for i, (start, end, value) in enumerate(tx.byte_slots()):
                if any(overlaps(o.start, o.end, start, end) for o in tx.overlaps):
                    heard[i] = value ^ self._rng.randrange(1, 256)  # never the byte sent
        tx.heard = bytes(heard)
        for port in list(self._ports.values()):
            if port.name == tx.sender:
                continue
            if port.baudrate != tx.baudrate:
                # A UART at another rate samples the wrong bits: noise of roughly that length.
                n = max(1, len(heard) * port.baudrate // tx.baudrate)
                self.garbled_bytes += n
                port._receive(self._rng.randbytes(n))
                continue
            self.garbled_bytes += sum(a != b for a, b in zip(heard, tx.data, strict=True))
            port._receive(tx.heard)
