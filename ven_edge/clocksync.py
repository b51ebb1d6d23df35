"""Is the system clock synchronised? The gateway plans and reports only when it is.

A Raspberry Pi has no real-time clock: after a power cut it boots at the last time saved on its
SD card (or 1970) until NTP sets it, and a plan or a report made meanwhile is at the wrong hour.
The answer is the one ``timedatectl`` gives as ``NTPSynchronized`` (docs/gateway.md, "Clock"):

* ``/run/systemd/timesync/synchronized`` exists: systemd-timesyncd creates it the first time it
  sets the clock after boot (systemd-timesyncd.service(8));
* otherwise the kernel's own view, from ``adjtimex(2)`` with no modes set: the clock is
  synchronised when the call does not return ``TIME_ERROR`` and the maximum error is below
  16 s (systemd's ``ntp_synced()``, which any NTP daemon that disciplines the clock, chrony or
  ntpd, keeps current).

:class:`ClockSync` is the one-method interface the daemon and ``ven-edge check`` use, so tests (and
the demo's simulated clock) decide the answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

log = logging.getLogger(__name__)

TIMESYNCD_FLAG: Final = Path("/run/systemd/timesync/synchronized")
#: adjtimex(2): the clock is not synchronised (return value), and the largest maximum error in
#: microseconds the kernel reports (16 s, NTP's "unsynchronised").
TIME_ERROR: Final = 5
MAX_ERROR_US: Final = 16_000_000


class ClockSync(Protocol):
    def synchronised(self) -> bool: ...

    def explain(self) -> str:
        """The answer and why, in words for ``ven-edge check``."""
        ...


class AlwaysSynchronised:
    """For a simulated clock (the demo, tests): its time is right by construction."""

    def synchronised(self) -> bool:
        return True

    def explain(self) -> str:
        return "synchronised (a simulated clock)"


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` of <sys/timex.h> (glibc), with room to spare for later fields."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 32),
    ]


def kernel_synchronised() -> bool | None:
    """The kernel's answer (see the module docstring); None when adjtimex cannot be called."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return None
    timex = _Timex()  # modes 0: read only
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        return None
    return bool(state != TIME_ERROR and timex.maxerror < MAX_ERROR_US)


class SystemClockSync:
    """The system's answer; ``flag`` and ``kernel`` are replaceable for tests."""

    def __init__(
        self,
        flag: Path = TIMESYNCD_FLAG,
        kernel: Callable[[], bool | None] = kernel_synchronised,
    ) -> None:
        self.flag = flag
        self._kernel = kernel

    def synchronised(self) -> bool:
        if self.flag.exists():
            return True
        return self._kernel() is True

    def explain(self) -> str:
        if self.flag.exists():
            return f"synchronised (systemd-timesyncd: {self.flag} exists)"
        kernel = self._kernel()
        if kernel is None:
            return "unknown: adjtimex(2) failed and systemd-timesyncd has not synchronised"
        if kernel:
            return "synchronised (the kernel's NTP status)"
        return "not synchronised: no NTP source has set the clock since boot"
