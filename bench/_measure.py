"""Figures the bench scripts share: a percentile of latency samples, a process's memory.
Not a bench itself (`make bench` runs the scripts bench/[!_]*.py)."""

from __future__ import annotations

from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The sample at rank ``int(q * n)`` of the sorted values (never below the exact quantile,
    so a p99 target is not met by rounding down); NaN for no samples."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def status_mib(pid: int, field: str = "VmRSS:") -> float:
    """A memory ``field`` of /proc/PID/status (VmRSS, RssAnon, ...) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/{pid}/status")
