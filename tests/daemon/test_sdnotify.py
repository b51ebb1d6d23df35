import os
import socket
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from ven_edge.sdnotify import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(1.0)
    yield path, sock
    sock.close()


def test_not_supervised_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready("up") is False
    assert notifier.watchdog_interval_s is None


def test_ready_status_watchdog_stopping(notify_socket) -> None:
    path, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": str(path)})
    assert notifier.ready("heater link up")
    assert sock.recv(4096) == b"READY=1\nSTATUS=heater link up"
    assert notifier.status("VTN unreachable")
    assert sock.recv(4096) == b"STATUS=VTN unreachable"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_socket() -> None:
    name = f"ven-edge-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(1.0)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"


def test_send_failure_returns_false(tmp_path: Path) -> None:
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent.sock")}).ready("x") is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "400000", "WATCHDOG_PID": str(os.getpid())}, 0.4),
        ({"WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert Notifier(env).watchdog_interval_s == expected


def fake_python_systemd(monkeypatch: pytest.MonkeyPatch, notify: Callable[[str], bool]) -> None:
    """Install a stand-in ``systemd.daemon`` module whose ``notify`` is ``notify``."""
    fake = types.ModuleType("systemd.daemon")
    fake.notify = notify  # type: ignore[attr-defined]
    package = types.ModuleType("systemd")
    package.daemon = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "systemd", package)
    monkeypatch.setitem(sys.modules, "systemd.daemon", fake)


def test_uses_python_systemd_when_installed(monkeypatch: pytest.MonkeyPatch, notify_socket) -> None:
    path, _ = notify_socket
    sent: list[str] = []

    def notify(status: str) -> bool:
        sent.append(status)
        return True

    fake_python_systemd(monkeypatch, notify)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    notifier = Notifier()
    assert notifier.ready("up")
    assert notifier.watchdog()
    assert sent == ["READY=1\nSTATUS=up", "WATCHDOG=1"]


def test_python_systemd_errors_count_as_a_failed_send(monkeypatch: pytest.MonkeyPatch) -> None:
    def notify(status: str) -> bool:
        raise OSError(111, "Connection refused")

    fake_python_systemd(monkeypatch, notify)
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock")
    assert Notifier().status("x") is False


def test_sends_itself_without_python_systemd(
    monkeypatch: pytest.MonkeyPatch, notify_socket
) -> None:
    path, sock = notify_socket
    monkeypatch.setitem(sys.modules, "systemd", None)  # import systemd raises ImportError
    monkeypatch.setitem(sys.modules, "systemd.daemon", None)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert Notifier().ready("up")
    assert sock.recv(4096) == b"READY=1\nSTATUS=up"
