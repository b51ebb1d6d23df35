"""What the daemon needs from the heater side and from the utility side.

The daemon wires a :class:`HeaterPort` (the CTA-2045 UCM session) and a :class:`GridPort` (the
OpenADR 3 client with its webhook receiver and report outbox) to the control core. Adapters in
:mod:`ven_edge.heater_port` and :mod:`ven_edge.grid_port` implement them over the real classes;
keeping the daemon on these two small protocols keeps the layers one-way (protocol engines →
control core → daemon) and lets the daemon run with the VTN unreachable or not configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ven_edge.control import DeviceView, OverrideRecord, SendCommand
from ven_edge.control import Outcome as Outcome
from ven_edge.signals import SignalTimeline
from ven_edge.web.status import DeviceInfo, HeaterLinkHealth


@dataclass(frozen=True, slots=True)
class HeaterDetails:
    """What the status page shows about the heater beyond the control view."""

    link: HeaterLinkHealth
    device: DeviceInfo | None = None
    set_point_f: float | None = None
    power_w: float | None = None


class HeaterPort(Protocol):
    async def start(self) -> None:
        """Open the link and commission the heater (End Shed at start-up, cta2045.md §7)."""
        ...

    async def stop(self) -> None: ...

    def view(self) -> DeviceView: ...

    def details(self) -> HeaterDetails: ...

    async def send(self, command: SendCommand) -> Outcome: ...

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the event loop) when the heater's state changes."""
        ...


class GridError(Exception):
    """The VTN could not be reached or answered badly; the message is safe to log."""


@dataclass(frozen=True, slots=True)
class GridHealth:
    url: str | None
    ven_id: str | None = None


class GridPort(Protocol):
    async def start(self) -> None:
        """Start the webhook receiver; registration happens on the first :meth:`poll`."""
        ...

    async def stop(self) -> None: ...

    async def poll(self, now: datetime) -> SignalTimeline:
        """Register if needed, read programs and events; raise :class:`GridError` on failure."""
        ...

    async def report(
        self, now: datetime, device: DeviceView, overrides: tuple[OverrideRecord, ...]
    ) -> None:
        """Queue what the events' reportDescriptors ask for and deliver what can be delivered;
        raise :class:`GridError` when delivery failed (the queue is kept on disk)."""
        ...

    def health(self) -> GridHealth: ...

    def timeline(self) -> SignalTimeline:
        """The timeline from the last good events, including pushed changes."""
        ...

    def set_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the event loop) when a webhook notification arrives."""
        ...
