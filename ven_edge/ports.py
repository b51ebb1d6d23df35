"""What the daemon needs from the heater side and from the utility side.

The daemon wires a :class:`HeaterPort` (the CTA-2045 UCM session) and a :class:`GridPort` (the
OpenADR 3 client with its webhook receiver and report outbox) to the control core. Adapters in
:mod:`ven_edge.heater_port` and :mod:`ven_edge.grid_port` implement them over the real classes;
keeping the daemon on these two small protocols keeps the layers one-way (protocol engines →
control core → daemon) and lets the daemon run with the VTN unreachable or not configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ven_edge.command_policy import Delivery
from ven_edge.control import SendCommand
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.signals import SignalTimeline
from ven_edge.status_model import VtnHealth


@dataclass(frozen=True, slots=True)
class GridLabels:
    """Names the page shows for what the VTN sent: program names by program id, and the price
    unit from the price events' (or their programs') payload descriptors, e.g. "USD/KWH"."""

    program_names: Mapping[str, str] = field(default_factory=dict)
    price_unit: str | None = None
    #: The event id of this gateway's fleet schedule (docs/fleet-planner.md), if the VTN sent one.
    fleet_event: str | None = None


class HeaterPort(Protocol):
    async def start(self) -> None:
        """Open the link and commission the heater (End Shed at start-up, docs/cta2045.md §7)."""
        ...

    async def stop(self) -> None: ...

    def device(self) -> DeviceSnapshot:
        """What the heater last said: the one device model of the control core, the planners,
        the reports and the status page."""
        ...

    def commands(self) -> str:
        """Which DR messages the gateway sends this heater, in words for the status page
        (docs/gateway.md, "Set points")."""
        ...

    async def send(self, command: SendCommand) -> Delivery:
        """Send ``command``; the outcome carries the heater's reason for a refusal."""
        ...

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the event loop) when the heater's state changes."""
        ...


class GridPort(Protocol):
    async def start(self) -> None:
        """Start the webhook endpoint, if any."""
        ...

    async def stop(self) -> None: ...

    async def run(self) -> None:
        """Register, subscribe, poll and deliver reports until cancelled, backing off on VTN
        errors; new signals go to the listener."""
        ...

    def set_listener(self, callback: Callable[[SignalTimeline], None]) -> None: ...

    def queue_reports(self, device: DeviceSnapshot) -> None:
        """Queue the reports due now on disk (delivered by :meth:`run` when the VTN answers);
        ``device`` is the heater's state (an override shows as an opted-out OPERATING_STATE)."""
        ...

    def health(self) -> VtnHealth: ...

    def labels(self) -> GridLabels: ...
