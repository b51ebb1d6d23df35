"""CTA-2045 link benchmarks: the UCM session against the simulated heater.

Run: python bench/cta2045_link.py [--section bus|pty|round-trip]. Three sections:

* **bus**: 10,000 transactions on the simulated half-duplex RS-485 line of hil/bus.py at 19,200
  baud, on the bus's virtual clock (seconds instead of about 45 minutes), spec timers, the
  session's polling and heartbeat running, two reads always queued and a Shed or End Shed every
  1.5 s. Reported: collisions on the line (target 0), the ordering rules of hil/tap.py, Shed /
  End Shed latency from the call to the App ACK with reads queued (target p99 <= one transaction
  alone + 250 ms), and the recovery after each fault type of the simulator (time from the fault
  to the next good read). Run twice: exact write timing, then up to 10 ms random latency per
  write (the OS and USB-serial adapter delay a real port adds).
* **pty**: the same load for 500 transactions in real time over a pty, through the hil.tap relay
  (which paces bytes like a 19,200-baud line and checks the same ordering rules).
* **round-trip**: per-command round trip over a pty, with spec timers and with zero timers; the
  wire time of the same bytes at 19200 baud 8N1 (request, ACK and reply; 10 bit times per
  byte), and the least a real line allows with the spec timers (wire time + tMA + tAR). A pty
  does not pace bytes, so the zero-timer figure is pure software latency and "x wire" shows how
  far below the serial line's own time it stays.

The bench uses only the session's public command API, so it runs against any UCM version; a
command that raises instead of reporting counts as a failure and is listed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._measure import percentile
from hil import virtual_time
from hil.bus import HalfDuplexBus
from hil.sim import Simulator, run_simulator
from hil.tap import check, chunks_from_bus, run_tap
from ven_edge.cta2045.link import T_AR, T_MA, LinkTimers
from ven_edge.cta2045.transport import wire_time
from ven_edge.cta2045.ucm import CommandOutcome, UcmConfig, UcmSession

#: Round trips per command: the spec-timer runs take about 150 ms each.
SPEC_ROUNDS = 40
ZERO_ROUNDS = 400

#: Bytes on the wire per command: request frame + link ACK (2) + reply frame (link ACK of the
#: reply follows after the command has completed and is not counted).
_WIRE_BYTES = {
    "shed": 8 + 2 + 8,  # 08 01 00 02 01 nn kk kk, App ACK
    "operational_state": 8 + 2 + 8,
    "get_set_point": 8 + 2 + 16,  # 03 83 reply with two set points
    "commodity_read": 8 + 2 + 48,  # three 13-byte records
}


def _commands(ucm: UcmSession) -> dict[str, Callable[[], Awaitable[CommandOutcome]]]:
    return {
        "shed": lambda: ucm.shed(600),
        "operational_state": ucm.operational_state,
        "get_set_point": ucm.get_set_point,
        "commodity_read": ucm.commodity_read,
    }


async def _measure(timers: LinkTimers, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heater"
        async with run_simulator(path, timers=timers):
            config = UcmConfig(port=str(path), timers=timers, heartbeat_s=0, poll_s=0)
            ucm = UcmSession(config)
            await ucm.start()
            try:
                async with asyncio.timeout(30):
                    await ucm.wait_ready()
                results: dict[str, list[float]] = {}
                for name, command in _commands(ucm).items():
                    samples = []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        outcome = await command()
                        samples.append(time.perf_counter() - start)
                        if not outcome.ok:
                            raise RuntimeError(f"{name} failed during the benchmark: {outcome}")
                    results[name] = samples
                return results
            finally:
                await ucm.stop()


def section_round_trip() -> None:
    """Print the round-trip table (also usable from bench/cta2045.py)."""
    spec = asyncio.run(_measure(LinkTimers(), SPEC_ROUNDS))
    zero = asyncio.run(_measure(LinkTimers.fast(), ZERO_ROUNDS))
    print("Command round trip over a pty (UCM session <-> simulated heater), milliseconds")
    print(
        f"{'command':<18} {'wire':>6} {'line':>6} | {'spec med':>8} {'p99':>7} |"
        f" {'zero med':>8} {'p99':>7} {'x wire':>7}"
    )
    for name, samples in spec.items():
        wire = wire_time(_WIRE_BYTES[name])
        floor = wire + T_MA + T_AR
        z = zero[name]
        z_med = statistics.median(z)
        print(
            f"{name:<18} {wire * 1e3:6.2f} {floor * 1e3:6.1f} |"
            f" {statistics.median(samples) * 1e3:8.1f} {percentile(samples, 0.99) * 1e3:7.1f} |"
            f" {z_med * 1e3:8.3f} {percentile(z, 0.99) * 1e3:7.3f} {z_med / wire:7.3f}"
        )
    print(
        f"wire = request + ACK + reply at 19200 baud 8N1; line = wire + tMA ({T_MA * 1e3:.0f} ms)"
        f" + tAR ({T_AR * 1e3:.0f} ms), the least a real serial line allows. A pty carries bytes"
        f" at once,\nso 'spec' sits near tMA + tAR; 'x wire' = zero-timer median / wire time."
        f" Rounds: spec {SPEC_ROUNDS}, zero timers {ZERO_ROUNDS}."
    )


# --- a half-duplex line under load ------------------------------------------------------------

#: Transactions (frames the heater receives: commands, polls, heartbeats) per load run.
BUS_TRANSACTIONS = 10_000
PTY_TRANSACTIONS = 500
#: Reads kept queued behind each other while Shed / End Shed commands are measured.
READERS = 2
#: Seconds between two measured commands (Shed, then End Shed, then Shed, ...).
COMMAND_EVERY_S = 1.5
#: Session polling while loaded: op state + commodities every 5 s, heartbeat every minute.
POLL_S = 5.0
HEARTBEAT_S = 60.0
#: Target: a command waits at most one transaction on the wire plus this.
COMMAND_SLACK_S = 0.250
#: Second bus run: each write leaves up to this late (OS and USB-serial latency; hil/bus.py).
WRITE_LATENCY_S = 0.010


@dataclass
class LoadResult:
    transactions: int = 0
    seconds: float = 0.0  # on the clock the run used (virtual on the bus)
    cpu_s: float = 0.0
    command_latency: list[float] = field(default_factory=list)
    command_failures: int = 0
    read_latency: list[float] = field(default_factory=list)
    read_failures: int = 0
    errors: list[str] = field(default_factory=list)


async def _one_transaction_s(ucm: UcmSession) -> float:
    """How long one read takes with nothing queued (the yardstick of the command target)."""
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(5):
        await asyncio.sleep(1.0)
        t0 = loop.time()
        await ucm.operational_state()
        samples.append(loop.time() - t0)
    return statistics.median(samples)


async def _load(ucm: UcmSession, received: Callable[[], int], target: int) -> LoadResult:
    """Keep reads queued and measure Shed / End Shed until the heater has seen ``target``
    frames (see the module docstring)."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    reads: list[Callable[[], Awaitable[CommandOutcome]]] = [
        ucm.operational_state,
        ucm.commodity_read,
        ucm.get_set_point,
        ucm.present_temperature,
    ]

    # Stopped by a flag, not by cancelling: a command cancelled while on the wire must not be
    # part of what is measured.
    stop = asyncio.Event()

    async def reader(offset: int) -> None:
        i = offset
        while not stop.is_set():
            t0 = loop.time()
            try:
                outcome = await reads[i % len(reads)]()
            except (OSError, RuntimeError) as exc:  # a UCM that raises instead of reporting
                result.errors.append(f"read: {exc!r}")
                outcome = None
            result.read_latency.append(loop.time() - t0)
            if outcome is None or not outcome.ok:
                result.read_failures += 1
                await asyncio.sleep(0.1)  # a failing link: do not spin
            i += 1

    async def commander() -> None:
        shed = True
        while not stop.is_set():
            await asyncio.sleep(COMMAND_EVERY_S)
            t0 = loop.time()
            try:
                outcome = await (ucm.shed(600) if shed else ucm.end_shed())
            except (OSError, RuntimeError) as exc:
                result.errors.append(f"command: {exc!r}")
                outcome = None
            result.command_latency.append(loop.time() - t0)
            if outcome is None or not outcome.ok:
                result.command_failures += 1
            shed = not shed

    start_frames, t_start, cpu_start = received(), loop.time(), time.process_time()
    tasks = [asyncio.ensure_future(reader(k)) for k in range(READERS)]
    tasks.append(asyncio.ensure_future(commander()))
    try:
        while True:
            if received() - start_frames >= target:
                break
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    result.transactions = received() - start_frames
    result.seconds = loop.time() - t_start
    result.cpu_s = time.process_time() - cpu_start
    return result


@dataclass(frozen=True)
class FaultCase:
    name: str
    inject: Callable[[Simulator, HalfDuplexBus | None], None]
    bus_only: bool = False


def _collide(_sim: Simulator, bus: HalfDuplexBus | None) -> None:
    """A third transmitter speaks 2 ms from now: over the UCM's next request."""
    assert bus is not None
    noise = bus.port("noise") or bus.attach("noise", asyncio.Protocol())
    asyncio.get_running_loop().call_later(0.002, noise.write, bytes(range(0x40, 0x48)))


def _set(attr: str, value: object) -> Callable[[Simulator, HalfDuplexBus | None], None]:
    def inject(sim: Simulator, _bus: HalfDuplexBus | None) -> None:
        setattr(sim.faults, attr, value)

    return inject


FAULTS = [
    FaultCase("bit flip in a reply", _set("bit_flips", 1)),
    FaultCase("link ACK dropped", _set("drop_acks", 1)),
    FaultCase("link NAK 0x03", lambda s, _b: s.control("link-nak 0x03 1")),
    FaultCase("link NAK 0x07", lambda s, _b: s.control("link-nak 0x07 1")),
    FaultCase("App NAK 0x03", lambda s, _b: s.control("app-nak 0x03 1")),
    FaultCase("reply 4 s late", lambda s, _b: s.control("delay 4 1")),
    FaultCase("64 noise bytes", lambda s, _b: s.control("garbage 64")),
    FaultCase("vendor byte before a frame", lambda s, _b: s.control("prefix f0 1")),
    FaultCase("port hang-up, back after 1 s", lambda s, _b: s.control("hangup 1")),
    FaultCase("collision with a third talker", _collide, bus_only=True),
]


@dataclass
class Recovery:
    fault: str
    seconds: float  # from the fault to the end of the first successful read after it
    failed_reads: int
    commissioned: bool


async def _recover(
    ucm: UcmSession, sim: Simulator, bus: HalfDuplexBus | None, case: FaultCase
) -> Recovery:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(2.0)  # a quiet start, so each fault meets a settled link
    t0 = loop.time()
    case.inject(sim, bus)
    failed = 0
    async with asyncio.timeout(120):
        while True:
            try:
                outcome = await ucm.operational_state()
                ok = outcome.ok
            except (OSError, RuntimeError):
                ok = False
            if ok:
                break
            failed += 1
            await asyncio.sleep(0.2)
    return Recovery(case.name, loop.time() - t0, failed, ucm.snapshot.commissioned)


def _session(
    port: str, opener: Callable[..., Any] | None, *, poll: bool
) -> tuple[UcmConfig, dict[str, Any]]:
    config = UcmConfig(
        port=port,
        timers=LinkTimers(),
        heartbeat_s=HEARTBEAT_S if poll else 0.0,
        poll_s=POLL_S if poll else 0.0,
        reconnect_initial_s=0.5,
        reconnect_max_s=2.0,
    )
    return config, ({} if opener is None else {"opener": opener})


async def run_on_bus(
    transactions: int, *, latency_s: float = 0.0, faults: bool = True
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    bus = HalfDuplexBus(write_latency_s=latency_s)
    async with run_simulator("heater", bus=bus, clock=loop.time) as sim:
        config, extra = _session("bus", bus.opener("ucm"), poll=True)
        ucm = UcmSession(config, **extra)
        await ucm.start()
        try:
            async with asyncio.timeout(120):
                await ucm.wait_ready()
            one = await _one_transaction_s(ucm)
            load = await _load(ucm, lambda: len(sim.received), transactions)
            collisions_in_load = bus.collisions
            report = check(chunks_from_bus(bus.log))
            recoveries = [await _recover(ucm, sim, bus, case) for case in FAULTS if faults]
        finally:
            await ucm.stop()
    return {
        "one": one,
        "load": load,
        "collisions": collisions_in_load,
        "collisions_total": bus.collisions,
        "violations": report.by_rule(),
        "bytes": bus.bytes_sent,
        "recoveries": recoveries,
    }


async def _pty_run(transactions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        heater, link = Path(tmp) / "heater", Path(tmp) / "ucm"
        async with run_simulator(heater) as sim, run_tap(link, heater) as tap:
            config, extra = _session(str(link), None, poll=True)
            ucm = UcmSession(config, **extra)
            await ucm.start()
            try:
                async with asyncio.timeout(60):
                    await ucm.wait_ready()
                one = await _one_transaction_s(ucm)
                load = await _load(ucm, lambda: len(sim.received), transactions)
            finally:
                await ucm.stop()
        report = tap.report()
    return {"one": one, "load": load, "violations": report.by_rule()}


def _print_load(title: str, run: dict[str, Any], clock: str) -> None:
    load: LoadResult = run["load"]
    one: float = run["one"]
    target = one + COMMAND_SLACK_S
    lat = load.command_latency
    p99 = percentile(lat, 0.99)
    print(title)
    print(
        f"  {load.transactions} transactions in {load.seconds:.1f} s ({clock}),"
        f" {load.cpu_s:.1f} CPU-s ({load.cpu_s / max(load.transactions, 1) * 1e3:.2f} ms each);"
        f" one transaction alone {one * 1e3:.0f} ms"
    )
    if "collisions" in run:
        print(
            f"  collisions on the line: {run['collisions']} (target 0);"
            f" {run['bytes']} bytes sent in all"
        )
    print(f"  ordering violations seen by hil.tap: {run['violations'] or 'none'}")
    print(
        f"  Shed/End Shed with {READERS} reads queued: n={len(lat)},"
        f" median {statistics.median(lat) * 1e3 if lat else float('nan'):.0f} ms,"
        f" p99 {p99 * 1e3:.0f} ms, max {max(lat, default=float('nan')) * 1e3:.0f} ms;"
        f" target p99 <= {target * 1e3:.0f} ms ({'met' if p99 <= target else 'NOT met'});"
        f" failed {load.command_failures}"
    )
    reads = load.read_latency
    print(
        f"  reads: n={len(reads)}, median {statistics.median(reads) * 1e3 if reads else 0:.0f} ms,"
        f" failed {load.read_failures}" + (f"; errors {load.errors[:3]}" if load.errors else "")
    )


def section_half_duplex(transactions: int = BUS_TRANSACTIONS) -> None:
    """The load run on the simulated bus, on virtual time, with the fault recoveries."""
    wall = time.perf_counter()
    jittery = virtual_time.run(run_on_bus(transactions, latency_s=WRITE_LATENCY_S, faults=False))
    wall_jittery = time.perf_counter() - wall
    wall = time.perf_counter()
    run = virtual_time.run(run_on_bus(transactions))
    wall = time.perf_counter() - wall
    title = (
        "UCM session <-> simulated heater on the half-duplex bus, 19200 baud, spec timers,"
        f" polling every {POLL_S:.0f} s"
    )
    _print_load(f"{title}\n  exact write timing (virtual clock; {wall:.1f} s real)", run, "virtual")
    _print_load(
        f"  up to {WRITE_LATENCY_S * 1e3:.0f} ms random latency per write, both ends"
        f" (virtual clock; {wall_jittery:.1f} s real)",
        jittery,
        "virtual",
    )
    print("  recovery after each fault (virtual time from the fault to the next good read):")
    for r in run["recoveries"]:
        print(
            f"    {r.fault:<32} {r.seconds * 1e3:7.0f} ms, {r.failed_reads} failed read(s),"
            f" commissioned {r.commissioned}"
        )
    print(f"  collisions including the fault phase: {run['collisions_total']}")


def section_pty_load(transactions: int = PTY_TRANSACTIONS) -> None:
    run = asyncio.run(_pty_run(transactions))
    _print_load(
        "UCM session <-> simulated heater over a pty through hil.tap, spec timers, real time",
        run,
        "real",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", choices=["all", "bus", "pty", "round-trip"], default="all")
    parser.add_argument("--transactions", type=int, default=BUS_TRANSACTIONS)
    parser.add_argument("--pty-transactions", type=int, default=PTY_TRANSACTIONS)
    args = parser.parse_args(argv)
    if args.section in ("all", "bus"):
        section_half_duplex(args.transactions)
    if args.section in ("all", "pty"):
        section_pty_load(args.pty_transactions)
    if args.section in ("all", "round-trip"):
        section_round_trip()


if __name__ == "__main__":
    main()
