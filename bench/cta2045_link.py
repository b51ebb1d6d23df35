"""CTA-2045 command round trip over a real pty: the UCM session against the simulated heater.

Run: python bench/cta2045_link.py. For each command the UCM sends the request, the heater link-ACKs
it and answers, and the command's coroutine returns when the answer has arrived. Measured twice in
one process:

* with the spec timers (tMA 40 ms before every link ACK, tAR 100 ms between the ACK and the reply,
  docs/cta2045.md §5): what a lab engineer sees against a real heater with the same timing;
* with zero timers (no deliberate waits): what the software itself costs.

Beside them, the wire time of the same bytes at 19200 baud 8N1 (request, ACK and reply; 10 bit
times per byte), and the least a real line allows with the spec timers (wire time + tMA + tAR).
A pty does not pace bytes at the baud rate, so the zero-timer figure is pure software latency and
the ratio "x wire" shows how far below the serial line's own time it stays.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._measure import percentile
from hil.sim import run_simulator
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


if __name__ == "__main__":
    section_round_trip()
