"""An interop tap: relay a CTA-2045 line between two ends, time-stamp both directions, check order.

``python -m hil.tap --link /tmp/ucm-port --to /tmp/heater`` makes ``/tmp/ucm-port`` (a pty, as
``socat ... link=PATH`` does) for one end, opens ``/tmp/heater`` (the simulator's pty, or a USB
serial adapter) for the other, copies bytes both ways, prints every message as
``<seconds> U>S 08 01 00 02 01 00 0c 3d`` and, at the end, the ordering violations found.
:class:`PtyTap` does the same from Python; :func:`check` applies the rules to any time-stamped
byte record, including the logs of :class:`hil.bus.HalfDuplexBus` (:func:`chunks_from_bus`).

The rules (docs/cta2045.md §4, §5; a "message" is a data frame and the link ACK/NAK that
answers it):

``ack_not_first``
    After a valid data frame, the receiver's next bytes are its link ACK or NAK; nothing else
    from the receiver comes first.
``quiet_time``
    A data frame starts at least the quiet time (tIM, 100 ms) after the last byte of whatever
    was on the line before it, from either side. A link ACK/NAK is exempt: it answers within
    tMA, inside the message it ends.
``two_talkers``
    Bytes of the two directions never overlap in time (RS-485 is half duplex, §1).

The relay behaves like the serial line it stands for: a chunk read at time t goes on the "line"
at t (or when the same direction's previous chunk has finished), occupies it for its n byte times
at the baud rate, and is handed to the other end only when its last byte would have arrived. An
end that answers at once therefore answers after the last byte, as on a real line, and two ends
whose chunks overlap would have collided. Order-based findings (``ack_not_first``) are exact;
time-based ones are as good as the relay's scheduling, so over a pty on a busy machine they are
indications, while on the bus's virtual clock they are exact.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import os
import signal
import sys
import tty
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hil.bus import Transmission, byte_time, overlaps
from hil.pty_link import open_linked_pty
from ven_edge.cta2045.frames import (
    CHECK_SIZE,
    HEADER_SIZE,
    LINK_ACK_MSB,
    LINK_FRAME_SIZE,
    LINK_NAK_MSB,
    MAX_PAYLOAD_LENGTH,
    checksum,
)
from ven_edge.cta2045.stream import IDLE_GAP
from ven_edge.cta2045.transport import BAUD_RATE

#: tIM, the common minimum quiet time between messages (docs/cta2045.md §5).
T_IM = 0.100
#: Tolerance on time comparisons: rounding, not a finding.
_EPS = 1e-7


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes one end put on the line from ``start`` to ``end`` (seconds, any clock)."""

    direction: str
    start: float
    end: float
    data: bytes


class Kind(enum.StrEnum):
    FRAME = "frame"  # a data frame with valid check bytes
    BAD_FRAME = "bad_frame"  # framed by its length field, check bytes wrong
    ACK = "ack"
    NAK = "nak"
    NOISE = "noise"  # bytes that start no message, or a message cut short by an idle gap


@dataclass(frozen=True, slots=True)
class WireMessage:
    direction: str
    start: float
    end: float
    data: bytes
    kind: Kind

    def line(self, origin: float = 0.0) -> str:
        return f"{self.start - origin:10.4f} {self.direction} {self.data.hex(' ')}"


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    time: float
    detail: str


@dataclass
class Report:
    messages: list[WireMessage] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def count(self, rule: str) -> int:
        return sum(v.rule == rule for v in self.violations)

    def by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.violations:
            out[v.rule] = out.get(v.rule, 0) + 1
        return out


def _plausible_start(b: int) -> bool:
    """Can a message start with this byte? ACK, NAK, 08/09 types or vendor types (§2)."""
    return b in (LINK_ACK_MSB, LINK_NAK_MSB, 0x08, 0x09) or b >= 0xF0


def _split(chunks: Sequence[Chunk]) -> list[WireMessage]:
    """Cut one direction's chunks into messages, each with the time of its first and last byte."""
    out: list[WireMessage] = []
    buf = bytearray()
    times: list[tuple[float, float]] = []
    noise = bytearray()
    noise_times: list[tuple[float, float]] = []
    direction = chunks[0].direction if chunks else ""
    sent_until = float("-inf")

    def flush_noise() -> None:
        if noise:
            out.append(
                WireMessage(
                    direction, noise_times[0][0], noise_times[-1][1], bytes(noise), Kind.NOISE
                )
            )
            noise.clear()
            noise_times.clear()

    def take(n: int, kind: Kind) -> None:
        flush_noise()
        out.append(WireMessage(direction, times[0][0], times[n - 1][1], bytes(buf[:n]), kind))
        del buf[:n]
        del times[:n]

    for chunk in chunks:
        last = times[-1][1] if times else noise_times[-1][1] if noise_times else chunk.start
        if chunk.start - last > IDLE_GAP:
            noise += buf  # a message cut short by silence (stream.py's idle-gap rule)
            noise_times += times
            buf.clear()
            times.clear()
            flush_noise()
        step = (chunk.end - chunk.start) / max(len(chunk.data), 1)
        # One end's bytes leave its UART one after another: a chunk stamped as starting before
        # the previous one ended is taken to follow it.
        start = max(chunk.start, sent_until)
        sent_until = start + len(chunk.data) * step
        for i, b in enumerate(chunk.data):
            buf.append(b)
            times.append((start + i * step, start + (i + 1) * step))
        while buf:
            first = buf[0]
            if not _plausible_start(first):
                noise.append(buf.pop(0))
                noise_times.append(times.pop(0))
                continue
            if first in (LINK_ACK_MSB, LINK_NAK_MSB):
                if len(buf) < LINK_FRAME_SIZE:
                    break
                take(LINK_FRAME_SIZE, Kind.ACK if first == LINK_ACK_MSB else Kind.NAK)
                continue
            if len(buf) < HEADER_SIZE:
                break
            length = int.from_bytes(buf[2:4], "big")
            if length > MAX_PAYLOAD_LENGTH:
                noise.append(buf.pop(0))
                noise_times.append(times.pop(0))
                continue
            total = HEADER_SIZE + length + CHECK_SIZE
            if len(buf) < total:
                break
            ok = checksum(bytes(buf[: total - CHECK_SIZE])) == bytes(
                buf[total - CHECK_SIZE : total]
            )
            take(total, Kind.FRAME if ok else Kind.BAD_FRAME)
    noise += buf
    noise_times += times
    flush_noise()
    return out


def check(chunks: Iterable[Chunk], *, quiet_s: float = T_IM) -> Report:
    """Frame every direction, then apply the rules of the module docstring in time order."""
    per_direction: dict[str, list[Chunk]] = {}
    for c in sorted(chunks, key=lambda c: c.start):
        per_direction.setdefault(c.direction, []).append(c)
    found = [m for cs in per_direction.values() for m in _split(cs)]
    # In the order the last bytes arrived: a relay knows when it read a chunk, and a longer
    # chunk read later must not appear to come first because it took longer on the line.
    found.sort(key=lambda m: (m.end, m.start))
    report = Report(messages=found)
    v = report.violations
    last_end = float("-inf")  # the last byte on the line so far, either side
    last: dict[str, WireMessage] = {}  # latest message per direction
    owed: dict[str, WireMessage] = {}  # direction -> the valid frame it must ACK/NAK first
    for m in found:
        for other, prev in last.items():
            if other != m.direction and overlaps(prev.start, prev.end, m.start, m.end):
                v.append(
                    Violation(
                        "two_talkers",
                        m.start,
                        f"{m.direction} started while {other} was sending ({m.data[:4].hex(' ')}"
                        f" over {prev.data[:4].hex(' ')})",
                    )
                )
        debt = owed.pop(m.direction, None)
        if debt is not None and m.kind not in (Kind.ACK, Kind.NAK):
            v.append(
                Violation(
                    "ack_not_first",
                    m.start,
                    f"{m.direction} sent {m.data[:6].hex(' ')} before ACKing"
                    f" {debt.data[:6].hex(' ')} from {debt.direction}",
                )
            )
        if m.kind in (Kind.FRAME, Kind.BAD_FRAME) and m.start - last_end < quiet_s - _EPS:
            v.append(
                Violation(
                    "quiet_time",
                    m.start,
                    f"{m.direction} frame {m.data[:6].hex(' ')} started"
                    f" {(m.start - last_end) * 1e3:.2f} ms after the line was last busy",
                )
            )
        if m.kind is Kind.FRAME:
            for other in per_direction:
                if other != m.direction:
                    owed[other] = m
        last[m.direction] = m
        last_end = max(last_end, m.end)
    return report


def chunks_from_bus(log: Mapping[str, Iterable[Transmission]]) -> list[Chunk]:
    """The bus's per-sender logs as chunks (what each end sent, when)."""
    return [Chunk(name, t.start, t.end, t.data) for name, txs in log.items() for t in txs]


# --- the pty relay ------------------------------------------------------------------------------


class PtyTap:
    """Relay between a pty made at ``link`` and the device at ``target``; see the module doc.

    ``names`` label the two directions: bytes from the ``link`` end are ``names[0]>names[1]``.
    """

    def __init__(
        self,
        link: str | os.PathLike[str],
        target: str | os.PathLike[str],
        *,
        names: tuple[str, str] = ("U", "S"),
        baudrate: int = BAUD_RATE,
    ) -> None:
        self.link = Path(link)
        self.target = Path(target)
        self.forward = f"{names[0]}>{names[1]}"
        self.backward = f"{names[1]}>{names[0]}"
        self.byte_time = byte_time(baudrate)
        self.chunks: list[Chunk] = []
        self._master = self._slave = self._device = -1
        self._line_free: dict[str, float] = {}  # per direction: when its last byte has gone

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._device = os.open(self.target, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._device)
        master, slave = open_linked_pty(self.link)
        self._master, self._slave = master, slave
        loop.add_reader(master, self._relay, master, self._device, self.forward)
        loop.add_reader(self._device, self._relay, self._device, master, self.backward)

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._master, self._device):
            if fd >= 0:
                loop.remove_reader(fd)
        for fd in (self._master, self._slave, self._device):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._device = -1
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    def _relay(self, src: int, dst: int, direction: str) -> None:
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, OSError):
            return  # EIO while the other side of a pty is not open yet
        if not data:
            return
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self._line_free.get(direction, float("-inf")))
        end = start + len(data) * self.byte_time
        self._line_free[direction] = end
        self.chunks.append(Chunk(direction, start, end, data))
        loop.call_at(end, self._deliver, dst, data)

    def _deliver(self, dst: int, data: bytes) -> None:
        if dst in (self._master, self._device) and dst >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(dst, data)

    def report(self, *, quiet_s: float = T_IM) -> Report:
        return check(self.chunks, quiet_s=quiet_s)


@contextlib.asynccontextmanager
async def run_tap(
    link: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    names: tuple[str, str] = ("U", "S"),
    baudrate: int = BAUD_RATE,
) -> AsyncIterator[PtyTap]:
    """Relay for the duration of the ``async with`` block."""
    tap = PtyTap(link, target, names=names, baudrate=baudrate)
    await tap.start()
    try:
        yield tap
    finally:
        await tap.stop()


def format_report(report: Report) -> str:
    origin = report.messages[0].start if report.messages else 0.0
    lines = [m.line(origin) for m in report.messages]
    lines.append(f"{len(report.messages)} message(s), {len(report.violations)} violation(s)")
    lines += [f"{x.time - origin:10.4f} {x.rule}: {x.detail}" for x in report.violations]
    return "\n".join(lines)


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tap = PtyTap(args.link, args.to)
    await tap.start()
    sys.stdout.write(f"tap: {args.link} <-> {args.to}\n")
    sys.stdout.flush()
    try:
        if args.duration:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await stop.wait()
        else:
            await stop.wait()
    finally:
        await tap.stop()
    report = tap.report(quiet_s=args.quiet)
    sys.stdout.write(format_report(report) + "\n")
    return 1 if report.violations else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hil.tap", description=__doc__.split("\n\n")[0])
    p.add_argument("--link", required=True, help="pty symlink to create for one end")
    p.add_argument("--to", required=True, help="device or pty of the other end")
    p.add_argument("--duration", type=float, default=0.0, help="stop after S seconds")
    p.add_argument("--quiet", type=float, default=T_IM, help="quiet time to check (s)")
    return asyncio.run(_serve(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
