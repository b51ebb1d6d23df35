"""CTA-2045 stream parser: CPU seconds per wire-second, on random and adversarial streams.

Run: python bench/cta2045_parser.py. For every maximum payload a link may negotiate (2 to 4096
bytes, docs/cta2045.md §6) the parser is fed a stream as a 19200-baud 8N1 line delivers it (16-byte
reads, 10 bit times per byte, so no idle gap inside the stream) and the process CPU time is
divided by the stream's wire time. Streams:

* ``clean``: valid frames back to back (the baseline, measured in the same run);
* ``random``: uniformly random bytes;
* ``f0f00f0f``: ``F0 F0 0F 0F`` repeated, a vendor-type header claiming 3855/4080 bytes at every
  other offset;
* ``claims``: a vendor-type header claiming exactly the maximum payload at every 4th byte, so
  every hunt position is a complete candidate frame with wrong check bytes.

Target: at most 0.05 CPU-s per wire-second on every stream and size; the ratio to ``clean`` shows
the cost of hunting through garbage.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ven_edge.cta2045 import messages as m
from ven_edge.cta2045.codec import to_data_frame
from ven_edge.cta2045.encodings import MAX_PAYLOAD_SIZES
from ven_edge.cta2045.stream import FrameReader
from ven_edge.cta2045.transport import wire_time

TARGET = 0.05
#: Stream length: at least this many wire-seconds, and at least four maximum-size frames.
WIRE_SECONDS = 3.0
READ_SIZE = 16
REPEATS = 3


def _streams(size: int, n: int) -> dict[str, bytes]:
    clean_frames = b"".join(
        to_data_frame(msg).serialize()
        for msg in (m.shed(1800), m.app_ack(0x01), m.operational_state_response(0), m.end_shed())
    )
    claim = b"\xf0\xf0" + size.to_bytes(2, "big")
    return {
        "clean": (clean_frames * (n // len(clean_frames) + 1))[:n],
        "random": random.Random(size).randbytes(n),
        "f0f00f0f": bytes.fromhex("F0 F0 0F 0F") * (n // 4),
        "claims": claim * (n // 4),
    }


def cpu_per_wire_second(size: int, data: bytes) -> float:
    """Best of :data:`REPEATS` runs: parser CPU seconds / wire seconds of ``data``."""
    best = float("inf")
    per_read = wire_time(READ_SIZE)
    for _ in range(REPEATS):
        reader = FrameReader(size)
        started = time.process_time()
        for k, i in enumerate(range(0, len(data), READ_SIZE)):
            reader.feed(data[i : i + READ_SIZE], k * per_read)
        best = min(best, time.process_time() - started)
    return best / wire_time(len(data))


def main() -> int:
    sizes = sorted(set(MAX_PAYLOAD_SIZES.values()))
    names = list(_streams(2, 4))
    print("CTA-2045 parser CPU per wire-second (19200 baud 8N1, 16-byte reads; target <= 0.05)")
    print(f"{'max payload':>11}  " + "  ".join(f"{n:>9}" for n in names) + "  worst/clean")
    worst_all = 0.0
    for size in sizes:
        n = max(int(WIRE_SECONDS / wire_time(1)), 4 * (size + 6))
        figures = {
            name: cpu_per_wire_second(size, data) for name, data in _streams(size, n).items()
        }
        worst = max(figures.values())
        worst_all = max(worst_all, worst)
        cells = "  ".join(f"{figures[name]:9.4f}" for name in names)
        print(f"{size:>11}  {cells}  {worst / figures['clean']:10.1f}x")
    verdict = "meets" if worst_all <= TARGET else "MISSES"
    print(f"worst {worst_all:.4f} CPU-s per wire-second: {verdict} the {TARGET} target")
    return 0 if worst_all <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
