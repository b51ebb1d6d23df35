"""What the systemd units promise, read from the files (systemd-analyze runs in test_deb.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def directives(name: str) -> dict[str, list[str]]:
    """Unit directives by key, in order; repeated keys (DeviceAllow=, ...) keep every value."""
    found: dict[str, list[str]] = {}
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key, []).append(value)
    return found


def test_ven_edge_service_runs_the_daemon_supervised() -> None:
    unit = directives("ven-edge.service")
    assert unit["ExecStart"] == ["/usr/bin/ven-edge run --config /etc/ven-edge/ven-edge.toml"]
    assert unit["Type"] == ["notify"]
    assert unit["Restart"] == ["on-failure"]
    assert "WatchdogSec" in unit
    assert unit["StateDirectory"] == ["ven-edge"]
    assert unit["User"] == ["ven-edge"]
    assert unit["SupplementaryGroups"] == ["dialout"]


def test_ven_edge_service_sees_serial_devices_only() -> None:
    unit = directives("ven-edge.service")
    assert unit["DevicePolicy"] == ["closed"]
    assert unit["DeviceAllow"]
    assert all(v.startswith("char-tty") and v.endswith(" rw") for v in unit["DeviceAllow"])


@pytest.mark.parametrize("name", ["ven-edge.service", "vtn-lite.service"])
def test_both_units_are_hardened(name: str) -> None:
    unit = directives(name)
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallArchitectures": "native",
    }.items():
        assert unit.get(key) == [value], key
    assert unit["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert "@system-service" in unit["SystemCallFilter"]


def test_vtn_lite_is_loopback_only_and_without_devices() -> None:
    unit = directives("vtn-lite.service")
    assert unit["DynamicUser"] == ["yes"]
    assert unit["PrivateDevices"] == ["yes"]
    assert unit["IPAddressDeny"] == ["any"]
    assert unit["IPAddressAllow"] == ["localhost"]
