"""systemd readiness and watchdog notifications (sd_notify(3)) without a C dependency.

Under systemd with ``Type=notify`` the manager passes ``NOTIFY_SOCKET``; outside systemd the
variable is absent and every call is a no-op returning False, so the daemon behaves the same in a
terminal, in tests and in the demo. The watchdog interval comes from ``WATCHDOG_USEC`` (and
``WATCHDOG_PID`` when set), as sd_watchdog_enabled(3) describes: python-systemd has no helper.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    """Send state strings such as ``READY=1`` or ``STATUS=...`` to the service manager."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address or None
        self._watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Seconds within which ``WATCHDOG=1`` must be sent, or None when no watchdog is set."""
        return self._watchdog_s

    def notify(self, *states: str) -> bool:
        """Send ``states`` (joined by newlines); False when not supervised or the send failed."""
        if self._address is None:
            return False
        message = "\n".join(states).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog is meant for another process
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None
