"""Open a CTA-2045 serial port with pyserial-asyncio.

The port runs at 19200 baud, 8 data bits, no parity, 1 stop bit, no flow control (docs/cta2045.md §1
the default of EPRI-lib, EPRI-sim and Intwine). A pty accepts the settings and ignores the speed,
so the simulated heater works the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import serial
import serial_asyncio

#: Default serial format of every source except libcta2045 (docs/cta2045.md §1, §13 row 10).
BAUD_RATE = 19200
BITS_PER_BYTE_ON_WIRE = 10  # start bit, 8 data bits, stop bit (8N1)

P = TypeVar("P", bound=asyncio.Protocol)


class PortError(OSError):
    """The serial port cannot be opened."""


async def open_serial(
    path: str, protocol_factory: Callable[[], P], *, baudrate: int = BAUD_RATE
) -> tuple[asyncio.Transport, P]:
    """Open ``path`` at 8N1 and connect a protocol built by ``protocol_factory`` to it."""
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await serial_asyncio.create_serial_connection(
            loop,
            protocol_factory,
            path,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            xonxoff=False,
            rtscts=False,
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortError(f"cannot open serial port {path}: {exc}") from exc
    return transport, protocol


def wire_time(nbytes: int, baudrate: int = BAUD_RATE) -> float:
    """Seconds needed to clock ``nbytes`` through a UART at ``baudrate`` (8N1)."""
    return nbytes * BITS_PER_BYTE_ON_WIRE / baudrate
