"""systemd readiness and watchdog notifications (sd_notify(3)).

Under systemd with ``Type=notify`` the manager passes ``NOTIFY_SOCKET``; outside systemd the
variable is absent and every call is a no-op returning False, so the daemon behaves the same in a
terminal, in tests and in the demo. Messages go through python-systemd's ``systemd.daemon.notify``
when it is installed (the .deb depends on python3-systemd); without it (a venv made without the
``systemd`` extra, which needs libsystemd-dev to build) the same datagram is sent here, as
sd_notify(3) describes the protocol. The watchdog interval comes from ``WATCHDOG_USEC`` (and
``WATCHDOG_PID`` when set), as sd_watchdog_enabled(3) describes: python-systemd has no helper.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping


class Notifier:
    """Send state strings such as ``READY=1`` or ``STATUS=...`` to the service manager."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address or None
        self._watchdog_s = _watchdog_interval(env)
        # python-systemd reads the process environment, so it serves only a Notifier made from
        # that environment; an explicit mapping (tests, tools) always uses the datagram below.
        self._send: Callable[[str], bool] = self._send_datagram
        if environ is None:
            self._send = _systemd_notify() or self._send_datagram

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
        try:
            return self._send("\n".join(states))
        except OSError:
            return False

    def _send_datagram(self, message: str) -> bool:
        assert self._address is not None
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(self._address)
            sock.sendall(message.encode())
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


def _systemd_notify() -> Callable[[str], bool] | None:
    """python-systemd's sd_notify(3) binding, or None when the module is not installed."""
    try:
        from systemd.daemon import notify
    except ImportError:
        return None
    send: Callable[[str], bool] = notify
    return send


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
