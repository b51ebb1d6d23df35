"""Serve the simulated heater on a pty: ``python -m hil.sim --link PATH``.

Opens a pty pair, makes ``PATH`` a symlink to the device end (as ``socat ... link=PATH`` does) and
answers on it as a CTA-2045 heat-pump water heater (:mod:`hil.heater`) through the same link engine
the UCM uses (so tMA is enforced by our code; a pty ignores the baud rate,
docs/cta2045.md §12.4). With ``bus=`` the heater is one end of a :class:`hil.bus.HalfDuplexBus`
instead (no pty, no control socket).

The application reply to a frame goes out at least the quiet time (tAR = tIM = 100 ms, §5) after
the last byte of the link ACK as actually written, and never before that ACK, also with
``--fast``. The heater's own unsolicited frames wait for a quiet line. Its behaviour on every
message type is tabled in docs/simulator.md.

Fault switches (:class:`Faults`), from the command line or at run time:

=================  ==============================================================================
``bit-flips N``     flip one bit in each of our next N data frames (the UCM NAKs 0x03, we resend)
``drop-acks N``     do not send the link ACK for the next N frames received (the reply still goes)
``link-nak RR N``   answer the next N frames with link NAK ``15 RR`` and ignore them
``app-nak RR N``    answer the next N requests with App NAK RR (Intermediate: response code RR)
``delay S N``       send the next N application replies S seconds late
``garbage N``       write N random bytes now
``prefix HEX N``    write the bytes HEX (e.g. ``f0``, a vendor type) right before each of our next
                    N data frames, as line noise at turn-around would
``hangup S``        close the pty now and open a new one at the same PATH after S seconds
``refuse MSG RC``   answer every ``alu`` (Advanced Load Up) or ``set-point`` (Set Set Point) with
                    Intermediate response code RC (1 not implemented, 2 bad value; 0: take it)
``override on|off`` the customer presses the override button (unsolicited 0x11 to the UCM)
``state``           print the heater state as JSON
=================  ==============================================================================

At run time, send one command per line to the control socket ``PATH.ctl`` (a Unix stream socket,
mode 0600), for example ``python -m hil.sim --link /tmp/heater --control "drop-acks 2"``; the
reply is one JSON line. From Python, use :func:`run_simulator`::

    async with run_simulator("/tmp/heater", timers=LinkTimers.fast()) as sim:
        sim.faults.drop_acks = 1
        ...
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hil.bus import BusPort, HalfDuplexBus
from hil.heater import COMM_TIMEOUT_S, SUPPORTED_TYPES, HeaterConfig, SimulatedHeater
from hil.pty_link import open_linked_pty
from hil.scenarios import TANK_HELP, tank_argument
from hil.thermal import ThermalModel
from ven_edge.cta2045.codec import decode
from ven_edge.cta2045.driver import LinkDriver
from ven_edge.cta2045.frames import Frame, LinkNak
from ven_edge.cta2045.link import LinkTimers, RequestDone
from ven_edge.cta2045.transport import wire_time
from ven_edge.cta2045.ucm import reply_matcher

log = logging.getLogger("hil.sim")

_ACK = b"\x06\x00"
#: How often the tank physics run between frames (simulated seconds = real seconds).
_TICK_S = 1.0


@dataclass
class Faults:
    """Fault switches; counts go down by one each time a fault fires (see module docstring)."""

    bit_flips: int = 0
    drop_acks: int = 0
    link_nak_code: int = 0x03
    link_naks: int = 0
    app_nak_code: int = 0x03
    app_naks: int = 0
    delay_s: float = 0.0
    delays: int = 0
    garbage_prefix: bytes = b"\xf0"
    prefixed: int = 0
    #: Response codes for Advanced Load Up and Set Set Point (0: taken), held until changed.
    refuse_alu: int = 0
    refuse_set_point: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(2045), repr=False)


@dataclass(eq=False)
class _Answer:
    """How the heater answers one received frame: link NAK reason (None: ACK), then its reply."""

    nak: int | None = None
    reply: Frame | None = None
    extra_delay: float = 0.0


class _FaultyTransport(asyncio.Transport):
    """The heater's line (pty master or bus port) as a transport, with the write faults applied."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self._sim = sim
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._sim._write(bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True


class _BusReceiver(asyncio.Protocol):
    """Hands the bytes the bus delivers to the heater's link driver."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def data_received(self, data: bytes) -> None:
        self._sim._received(data)


class Simulator:
    """The simulated heater served on a pty or on a :class:`~hil.bus.HalfDuplexBus`; build it
    with :func:`run_simulator`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        bus: HalfDuplexBus | None = None,
        bus_name: str = "heater",
        timers: LinkTimers | None = None,
        faults: Faults | None = None,
        heater: SimulatedHeater | None = None,
        clock: Callable[[], float] = time.monotonic,
        supported_types: frozenset[int] = SUPPORTED_TYPES,
        quiet_s: float | None = None,
    ) -> None:
        self.path = Path(path)
        #: On a bus the heater is end ``bus_name`` of it; no pty and no control socket are made
        #: (call :meth:`control` directly).
        self.bus = bus
        self.bus_name = bus_name
        self._port: BusPort | None = None
        #: Message types the heater link-ACKs; the others get link NAK 0x06 (docs/cta2045.md §6).
        self.supported_types = supported_types
        #: The heater's clock (seconds); tests pass one they can move forward.
        self.clock = clock
        self.control_path = Path(f"{self.path}.ctl")
        self.timers = timers or LinkTimers()
        self.faults = faults or Faults()
        self.heater = heater or SimulatedHeater(now=clock())
        self.received: list[Frame] = []
        self.hangups = 0
        self.driver: LinkDriver | None = None
        self._master = -1
        self._slave = -1
        #: Least time between the end of our link ACK and our reply, and between the end of any
        #: message on the line and a message of our own: tAR = tIM = 100 ms with the spec timers
        #: (docs/cta2045.md §5); the reply delay of ``timers`` (0 with ``--fast``).
        self.quiet_s = self.timers.reply_delay if quiet_s is None else quiet_s
        #: Outcomes of our own unsolicited requests (customer override), oldest first.
        self.unsolicited: list[RequestDone] = []
        self._answers: collections.deque[_Answer] = collections.deque()
        self._replies_due = 0
        self._line_busy_until = float("-inf")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._control: asyncio.Server | None = None
        self._reopen: asyncio.TimerHandle | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self.bus is not None:
            self._open_line()
            self._schedule_tick()
            return
        self._open_line()
        self._control = await asyncio.start_unix_server(self._serve_control, self.control_path)
        os.chmod(self.control_path, 0o600)
        self._schedule_tick()

    async def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
            self._control = None
        for handle in (self._timer, self._reopen):
            if handle is not None:
                handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._close_line()
        if self.bus is None:
            for p in (self.path, self.control_path):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def _new_driver(self) -> LinkDriver:
        driver = LinkDriver(
            self.timers, supported_types=self.supported_types, on_frame=self._on_frame
        )
        self.driver = driver
        driver.connection_made(_FaultyTransport(self))
        return driver

    def _open_line(self) -> None:
        if self.bus is not None:
            self._new_driver()
            self._port = self.bus.attach(self.bus_name, _BusReceiver(self))
            log.info("simulated heater on the bus as %r", self.bus_name)
            return
        master, slave = open_linked_pty(self.path)
        self._master, self._slave = master, slave
        self._new_driver()
        asyncio.get_running_loop().add_reader(master, self._read_ready)
        log.info("simulated heater on %s -> %s", self.path, os.ttyname(slave))

    def _close_line(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()
        elif self._master < 0:
            return
        else:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1
        self._answers.clear()
        driver, self.driver = self.driver, None
        if driver is not None:
            driver.connection_lost(None)

    def hang_up(self, reopen_after: float | None = 1.0) -> None:
        """Close the pty (the UCM sees the port vanish) and reopen at the same path later; on a
        bus, leave the line and rejoin it later."""
        self.hangups += 1
        self._close_line()
        if self.bus is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if reopen_after is not None:
            loop = asyncio.get_running_loop()
            self._reopen = loop.call_later(reopen_after, self._open_line)

    # --- I/O --------------------------------------------------------------------------------

    def _read_ready(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: no slave open (cannot happen while we hold the slave)
            return
        self._received(data)

    def _received(self, data: bytes) -> None:
        if data and self.driver is not None:
            self._line_busy_until = max(self._line_busy_until, self._loop_time())
            self.driver.data_received(data)

    def _write(self, data: bytes) -> None:
        f = self.faults
        answer: _Answer | None = None
        if data == _ACK and self._answers:
            # Link ACKs leave in the order the frames came (one per frame, link engine), so this
            # one belongs to the oldest frame still waiting for its answer.
            answer = self._answers.popleft()
            if answer.nak is not None:
                data = LinkNak(answer.nak).serialize()
        if data == _ACK and f.drop_acks > 0:
            f.drop_acks -= 1
            log.info("fault: link ACK dropped")
            # The reply still goes, timed from when the ACK would have ended.
            self._ack_written(answer, self._loop_time() + wire_time(len(data)))
            return
        if len(data) > 2 and f.bit_flips > 0:
            f.bit_flips -= 1
            corrupted = bytearray(data)
            index = f.rng.randrange(4, len(data))  # keep the header so the frame is still framed
            corrupted[index] ^= 1 << f.rng.randrange(8)
            data = bytes(corrupted)
            log.info("fault: bit flipped in byte %d", index)
        if len(data) > 2 and f.prefixed > 0:
            f.prefixed -= 1
            data = f.garbage_prefix + data
            log.info("fault: %s written before a frame", f.garbage_prefix.hex(" "))
        ends_at = self._send_bytes(data)
        self._line_busy_until = max(self._line_busy_until, ends_at)
        self._ack_written(answer, ends_at)

    def _send_bytes(self, data: bytes) -> float:
        """Put ``data`` on the line; returns when its last byte has left it."""
        if self._port is not None:
            self._port.write(data)
            return self._port.tx_idle_at
        ends_at = self._loop_time() + wire_time(len(data))  # a pty does not pace; a UART would
        if self._master >= 0:
            try:
                os.write(self._master, data)
            except (BlockingIOError, OSError) as exc:  # a full or gone line drops bytes
                log.warning("write of %d byte(s) failed: %s", len(data), exc)
        return ends_at

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def inject_garbage(self, count: int) -> None:
        self._write(self.faults.rng.randbytes(count))

    # --- the heater -------------------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        self.received.append(frame)
        answer = _Answer()
        self._answers.append(answer)  # taken by the link ACK the engine is about to write
        f = self.faults
        if f.link_naks > 0:
            f.link_naks -= 1
            answer.nak = f.link_nak_code
            log.info("fault: link NAK 0x%02X forced", f.link_nak_code)
            return
        self.heater.refusals = {
            name: code
            for name, code in (
                ("advanced_load_up", f.refuse_alu),
                ("set_set_point", f.refuse_set_point),
            )
            if code
        }
        answer.nak = self.heater.link_nak(frame)
        if answer.nak is not None:
            log.info("link NAK 0x%02X for %s", answer.nak, frame.serialize().hex(" "))
            return
        if f.app_naks > 0 and frame.payload:
            f.app_naks -= 1
            self.heater.forced_app_nak = (f.app_nak_code, 1)
        try:
            answer.reply = self.heater.handle(frame, self.clock(), time.time())
        except (ValueError, KeyError, TypeError):
            # A persona bug must not take the port down: log it and answer nothing.
            log.exception("heater could not handle %s", frame.serialize().hex(" "))
            return
        self._schedule_tick()
        if answer.reply is not None and f.delays > 0:
            f.delays -= 1
            answer.extra_delay = f.delay_s

    def _ack_written(self, answer: _Answer | None, ack_ends_at: float) -> None:
        """The link ACK of a frame has been written: its reply goes a quiet time after the ACK's
        last byte (tAR and tIM, 100 ms; docs/cta2045.md §5), never before the ACK."""
        if answer is None or answer.reply is None or answer.nak is not None:
            return
        driver = self.driver
        if driver is None:
            return
        due = ack_ends_at + self.quiet_s + answer.extra_delay
        self._replies_due += 1
        asyncio.get_running_loop().call_at(due, self._send_reply, driver, answer.reply)

    def _send_reply(self, driver: LinkDriver, reply: Frame) -> None:
        self._replies_due -= 1
        if driver is self.driver:
            driver.send(reply)

    def set_override(self, active: bool) -> None:
        """The customer presses (or releases) the override; the UCM is told with 0x11."""
        frame = self.heater.set_override(active)
        self._spawn(self._send_unsolicited(frame))

    async def _wait_for_quiet(self) -> None:
        """Wait until no exchange is under way and the line has been quiet for the quiet time
        (tIM, docs/cta2045.md §5): a frame of our own must not land in the UCM's transaction. A UCM
        that never leaves such a gap does not silence the heater for ever: after the
        application-reply timeout the frame goes anyway, as a real appliance's would."""
        give_up = self._loop_time() + self.timers.reply_timeout
        while True:
            now = self._loop_time()
            due = self._line_busy_until + self.quiet_s
            if not self._answers and not self._replies_due and now >= due:
                return
            if now >= give_up:
                log.warning("no quiet line for %.1f s: sending anyway", self.timers.reply_timeout)
                return
            await asyncio.sleep(max(due - now, self.quiet_s / 4, 0.001))

    async def _send_unsolicited(self, frame: Frame) -> RequestDone | None:
        await self._wait_for_quiet()
        driver = self.driver
        if driver is None:
            return None
        # An App ACK names our opcode; an App NAK carries a reason and answers any request (§8.4).
        is_reply = reply_matcher(decode(frame))

        def matcher(reply: Frame) -> bool:
            if is_reply is None or not is_reply(reply):
                return False
            # The engine ACKs this frame without handing it to _on_frame: its ACK has no reply.
            self._answers.append(_Answer())
            return True

        done = await driver.request(frame, matcher=matcher)
        self.unsolicited.append(done)
        return done

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_tick(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        now = self.clock()
        deadline = self.heater.next_deadline()
        delay = _TICK_S if deadline is None else min(_TICK_S, max(0.0, deadline - now))
        self._timer = loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.heater.tick(self.clock())
        self._schedule_tick()

    def state(self) -> dict[str, Any]:
        h = self.heater
        thermal = asdict(h.state)
        return {
            "path": str(self.path),
            "operational_state": h.operational_state,
            "event": h.event.value,
            "override": h.override,
            "set_point_f": h.set_point_f,
            "thermal": thermal,
            "frames_received": len(self.received),
            "hangups": self.hangups,
            "faults": {
                k: v.hex() if isinstance(v, bytes) else v
                for k, v in asdict(self.faults).items()
                if k != "rng"
            },
        }

    # --- control ----------------------------------------------------------------------------

    def control(self, line: str) -> dict[str, Any]:
        """Apply one control command (module docstring); return the reply object."""
        words = line.split()
        if not words:
            raise ValueError("empty command")
        cmd, args = words[0], words[1:]
        f = self.faults

        def num(i: int, default: float) -> float:
            return float(args[i]) if len(args) > i else default

        if cmd == "bit-flips":
            f.bit_flips = int(num(0, 1))
        elif cmd == "drop-acks":
            f.drop_acks = int(num(0, 1))
        elif cmd == "link-nak":
            f.link_nak_code, f.link_naks = int(args[0], 0), int(num(1, 1))
        elif cmd == "app-nak":
            f.app_nak_code, f.app_naks = int(args[0], 0), int(num(1, 1))
        elif cmd == "delay":
            f.delay_s, f.delays = num(0, 1.0), int(num(1, 1))
        elif cmd == "prefix":
            f.garbage_prefix, f.prefixed = bytes.fromhex(args[0]), int(num(1, 1))
        elif cmd == "garbage":
            self.inject_garbage(int(num(0, 16)))
        elif cmd == "hangup":
            self.hang_up(num(0, 1.0))
        elif cmd == "refuse":
            code = int(args[1], 0)
            if args[0] == "alu":
                f.refuse_alu = code
            elif args[0] == "set-point":
                f.refuse_set_point = code
            else:
                raise ValueError(f"refuse what? {args[0]!r} (alu or set-point)")
        elif cmd == "override":
            self.set_override(args[:1] != ["off"])
        elif cmd != "state":
            raise ValueError(f"unknown command {cmd!r}")
        return {"ok": True, "state": self.state()}

    async def _serve_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = self.control(line.decode("utf-8", "replace"))
                except (ValueError, IndexError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def run_simulator(
    path: str | os.PathLike[str],
    *,
    timers: LinkTimers | None = None,
    faults: Faults | None = None,
    heater_config: HeaterConfig | None = None,
    thermal: ThermalModel | None = None,
    clock: Callable[[], float] = time.monotonic,
    supported_types: frozenset[int] = SUPPORTED_TYPES,
    bus: HalfDuplexBus | None = None,
) -> AsyncIterator[Simulator]:
    """Serve a simulated heater at ``path`` (or on ``bus``) for the ``async with`` block."""
    heater = SimulatedHeater(heater_config, thermal, now=clock())
    sim = Simulator(
        path,
        bus=bus,
        timers=timers,
        faults=faults,
        heater=heater,
        clock=clock,
        supported_types=supported_types,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def send_control(path: str | os.PathLike[str], line: str) -> dict[str, Any]:
    """Send one command to a running simulator's control socket; return its JSON reply."""
    reader, writer = await asyncio.open_unix_connection(f"{path}.ctl")
    try:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        reply: dict[str, Any] = json.loads(await reader.readline())
        return reply
    finally:
        writer.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hil.sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--link", required=True, help="symlink to create for the heater's port")
    p.add_argument("--control", metavar="CMD", help="send CMD to a running simulator and exit")
    p.add_argument(
        "--fast", action="store_true", help="no tMA/tAR delays (default: the spec timers)"
    )
    p.add_argument("--bit-flips", type=int, default=0)
    p.add_argument("--drop-acks", type=int, default=0)
    p.add_argument("--link-nak", nargs=2, type=lambda s: int(s, 0), metavar=("CODE", "COUNT"))
    p.add_argument("--app-nak", nargs=2, type=lambda s: int(s, 0), metavar=("CODE", "COUNT"))
    p.add_argument("--refuse-alu", type=lambda s: int(s, 0), default=0, metavar="RC")
    p.add_argument("--refuse-set-point", type=lambda s: int(s, 0), default=0, metavar="RC")
    p.add_argument("--delay", nargs=2, type=float, metavar=("SECONDS", "COUNT"))
    p.add_argument("--override", action="store_true", help="start with the customer override on")
    p.add_argument("--comm-timeout", type=float, default=COMM_TIMEOUT_S)
    p.add_argument("--tank", type=tank_argument, metavar="MODEL[:DRAWS]", help=TANK_HELP)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


async def _serve(args: argparse.Namespace) -> int:
    faults = Faults(
        bit_flips=args.bit_flips,
        drop_acks=args.drop_acks,
        refuse_alu=args.refuse_alu,
        refuse_set_point=args.refuse_set_point,
    )
    if args.link_nak:
        faults.link_nak_code, faults.link_naks = args.link_nak
    if args.app_nak:
        faults.app_nak_code, faults.app_naks = args.app_nak
    if args.delay:
        faults.delay_s, faults.delays = args.delay[0], int(args.delay[1])
    timers = LinkTimers.fast() if args.fast else LinkTimers()
    config = HeaterConfig(comm_timeout_s=args.comm_timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_simulator(
        args.link, timers=timers, faults=faults, heater_config=config, thermal=args.tank
    ) as sim:
        if args.override:
            sim.heater.override = True
        sys.stdout.write(f"simulated heater on {sim.path} (control: {sim.control_path})\n")
        sys.stdout.flush()
        await stop.wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    if args.control:
        try:
            reply = asyncio.run(send_control(args.link, args.control))
        except OSError as exc:
            sys.stderr.write(f"no simulator at {args.link}: {exc}\n")
            return 1
        sys.stdout.write(json.dumps(reply, indent=2) + "\n")
        return 0 if reply.get("ok") else 1
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
