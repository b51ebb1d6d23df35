"""The gateway's one model of the heater: an immutable snapshot of what it last said.

The UCM session replaces the :class:`DeviceSnapshot` after every reply and unsolicited message
(docs/cta2045.md §11, §14); the heater port hands it as it is to the control core, the planners,
the reports and the status page. Units are SI throughout: energies Wh, powers W, temperatures °C.
Conversions happen only at the edges: the heater's own temperature unit on the CTA-2045 wire,
°F and kWh on the status page, kWh in OpenADR reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from ven_edge.cta2045.encodings import OperationalState

#: Operational states that say the customer opted out (docs/cta2045.md §8.3).
OPTED_OUT_STATES: Final = frozenset(
    {OperationalState.IDLE_OPTED_OUT, OperationalState.RUNNING_OPTED_OUT}
)


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
    def ready(self) -> bool:
        """The port is open and the heater answered commissioning: commands can go out. The
        session un-commissions a heater that fell silent (docs/cta2045.md §7)."""
        return self.link.connected and self.commissioned

    @property
    def opted_out(self) -> bool:
        """The customer overrides demand response: Customer Override 0x11 in effect, or an
        opted-out operational state (docs/cta2045.md §8.1, §8.3; some heaters report only one
        of the two, §14)."""
        return self.override_active or self.operational_state in OPTED_OUT_STATES

    @property
    def capabilities(self) -> int | None:
        return None if self.device_info is None else self.device_info.capabilities
