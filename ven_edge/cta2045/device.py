"""The device model the UCM session keeps: one immutable snapshot of what the heater last said.

The control core and the status page read :class:`DeviceSnapshot`; the UCM session replaces it
after every reply and unsolicited message (docs/cta2045.md §11, §14). Energies are Wh, powers W,
temperatures °C (converted from the heater's own unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """How the serial link is doing."""

    connected: bool = False
    port: str = ""
    last_message_at: datetime | None = None
    frames_in: int = 0
    frames_out: int = 0
    link_naks_sent: int = 0
    link_naks_received: int = 0
    app_naks_received: int = 0
    retries: int = 0
    timeouts: int = 0
    checksum_errors: int = 0
    garbage_bytes: int = 0
    reconnects: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceInformationReply:
    """Intermediate DR Device Information reply 01 81 (docs/cta2045.md §9.2)."""

    cta_version: str
    vendor_id: int
    device_type: int
    device_revision: int
    capabilities: int
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None


@dataclass(frozen=True, slots=True)
class CommodityReading:
    """One commodity record of a Get Commodity Read reply (docs/cta2045.md §9.3).

    ``measured`` is bit 7 of the code (1 = measured, the majority reading, §13 row 2).
    """

    code: int
    measured: bool
    instantaneous: int
    cumulative: int


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """Everything known about the heater at one moment."""

    operational_state: int | None = None
    override_active: bool = False
    power_w: int | None = None  # commodity 0, instantaneous
    energy_used_wh: int | None = None  # commodity 0, cumulative
    energy_capacity_wh: int | None = None  # commodity 6, cumulative field (§9.3)
    stored_energy_wh: int | None = None  # commodity 7, cumulative field (§9.3)
    commodities: tuple[CommodityReading, ...] = ()
    present_temperature_c: float | None = None
    set_point_c: float | None = None
    set_point_2_c: float | None = None
    supported_types: frozenset[int] = frozenset()
    unsupported_types: frozenset[int] = frozenset()
    max_payload: int = 2  # until negotiated, only Basic-sized frames are safe (§6)
    device_info: DeviceInformationReply | None = None
    commissioned: bool = False
    link: LinkHealth = field(default_factory=LinkHealth)
    updated_at: datetime | None = None
    #: Completed commissionings of this session: a rise after the first means the port was
    #: reopened and the heater may have lost the active command (the control loop re-sends it).
    commissionings: int = 0

    @property
    def capabilities(self) -> int | None:
        return None if self.device_info is None else self.device_info.capabilities
