"""CTA-2045 codec throughput: frames per second to encode and decode, beside the wire.

Run: python bench/cta2045.py. The baseline, measured in the same process, is the bare frame layer
(check bytes and length only, ``Frame.serialize`` / ``parse_frame``); the message layer's ratio
to it shows what the declarative table costs. The wire rate is what a 19200-baud 8N1 line can
carry of the same frames (10 bit times per byte), so "x wire" is the head-room of the codec over
the serial port. The PyPI ``cta2045`` decoder (no check bytes) is timed on the Basic DR frames
as an outside reference. Command round trips over a pty (UCM session against the simulated
heater, spec and zero timers) follow, from ``bench/cta2045_link.py`` (also runnable alone).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cta2045_link import section_round_trip
from ven_edge.cta2045 import messages as m
from ven_edge.cta2045.codec import decode, encode, to_frame
from ven_edge.cta2045.encodings import OperationalState
from ven_edge.cta2045.frames import Frame, LinkAck, LinkNak, parse_frame
from ven_edge.cta2045.message import Message
from ven_edge.cta2045.stream import FrameReader

#: 19200 baud, 8N1: 10 bit times per byte (docs/cta2045.md §1).
BAUD = 19200
BITS_PER_BYTE = 10
#: Target time of one timed run; the best of ``REPEATS`` runs is reported.
RUN_SECONDS = 0.12
REPEATS = 5


def _mix() -> dict[str, list[Message]]:
    basic = [
        m.shed(duration_s=1800),
        m.end_shed(),
        m.app_ack(0x01),
        m.operational_state_response(OperationalState.IDLE_CURTAILED),
        m.outside_comm_status(True),
    ]
    intermediate = [
        m.get_set_point_reply(3, 120, None),
        m.present_temperature_reply(3, 118),
        m.commodity_read_response(
            [
                m.commodity_record(0, 4500, 1_234_567),
                m.commodity_record(6, 0, 10_800),
                m.commodity_record(7, 0, 6_200),
            ]
        ),
        m.device_information_response(
            vendor_id=0x4455,
            device_type=3,
            model_number="HPWH-50",
            serial_number="SN0001",
            firmware=(2024, 5, 1, 1, 2),
        ),
    ]
    return {"Basic DR": basic, "Intermediate DR": intermediate}


def _rate(batch: Callable[[], int]) -> float:
    """Best items-per-second of ``REPEATS`` runs of about ``RUN_SECONDS`` each."""
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < 0.02:  # calibrate
        count += batch()
    per_item = (time.perf_counter() - started) / count
    loops = max(1, int(RUN_SECONDS / per_item / max(1, batch())))
    best = 0.0
    for _ in range(REPEATS):
        items = 0
        started = time.perf_counter()
        for _ in range(loops):
            items += batch()
        best = max(best, items / (time.perf_counter() - started))
    return best


def _row(label: str, rate: float, baseline: float | None, wire_rate: float) -> None:
    ratio = f"{rate / baseline:5.2f}x base" if baseline else " " * 10
    print(f"  {label:34} {rate:12,.0f} frames/s  {ratio}  {rate / wire_rate:8,.0f}x wire")


def section_codec() -> None:
    for family, mix in _mix().items():
        wires = [encode(msg) for msg in mix]
        frames = [to_frame(msg) for msg in mix]
        mean_bytes = statistics.mean(len(w) for w in wires)
        wire_rate = BAUD / BITS_PER_BYTE / mean_bytes
        print(
            f"{family}: {len(mix)} kinds, mean {mean_bytes:.1f} bytes/frame; "
            f"19200 baud carries {wire_rate:,.0f} frames/s"
        )

        def frame_encode(frames: list[Frame | LinkAck | LinkNak] = frames) -> int:
            for frame in frames:
                frame.serialize()
            return len(frames)

        def frame_decode(wires: list[bytes] = wires) -> int:
            for wire in wires:
                parse_frame(wire)
            return len(wires)

        # From a row name and its fields, as a constructor does: a built message already holds
        # its frame, so encoding the message object would time serialization alone.
        named = [(msg.name, dict(msg.fields)) for msg in mix]

        def message_encode(named: list[tuple[str, dict[str, object]]] = named) -> int:
            for name, fields in named:
                encode(name, **fields)
            return len(named)

        def message_decode(wires: list[bytes] = wires) -> int:
            for wire in wires:
                decode(wire)
            return len(wires)

        stream = b"".join(wires) * 50

        def stream_decode(stream: bytes = stream, n: int = len(wires) * 50) -> int:
            for event in FrameReader().feed(stream, 0.0):
                if isinstance(event, Frame | LinkAck | LinkNak):
                    decode(event)
            return n

        base_encode = _rate(frame_encode)
        base_decode = _rate(frame_decode)
        _row("encode, frame layer (baseline)", base_encode, None, wire_rate)
        _row("encode, message layer", _rate(message_encode), base_encode, wire_rate)
        _row("decode, frame layer (baseline)", base_decode, None, wire_rate)
        _row("decode, message layer", _rate(message_decode), base_decode, wire_rate)
        _row("decode, stream parser + messages", _rate(stream_decode), base_decode, wire_rate)
        if family == "Basic DR":
            _oracle_row(wires, base_decode, wire_rate)


def _oracle_row(wires: list[bytes], base_decode: float, wire_rate: float) -> None:
    # This script is bench/cta2045.py and its folder is on sys.path: drop it so that
    # ``import cta2045`` finds the PyPI package rather than this file.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        from cta2045 import app as oracle
    except ImportError:  # the test extra is not installed
        return
    bare = [w[:-2] for w in wires]  # the package frames without check bytes

    def oracle_decode() -> int:
        for wire in bare:
            oracle.decode(wire)
        return len(bare)

    _row("decode, PyPI cta2045 0.1.0", _rate(oracle_decode), base_decode, wire_rate)


def main() -> int:
    started = time.perf_counter()
    print(f"CTA-2045 codec throughput (best of {REPEATS} runs of ~{RUN_SECONDS} s)")
    section_codec()
    print()
    section_round_trip()
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
