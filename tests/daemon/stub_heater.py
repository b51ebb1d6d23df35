"""A heater port that only records what the daemon does with it (no serial line)."""

from __future__ import annotations

from collections.abc import Callable

from ven_edge.command_policy import Outcome
from ven_edge.control import DeviceView, SendCommand
from ven_edge.ports import HeaterDetails
from ven_edge.status_model import HeaterLinkHealth


class StubHeater:
    """Never connected; start and stop are counted so tests can see the port released."""

    def __init__(self) -> None:
        self.starts = 0
        self.stops = 0

    @property
    def open(self) -> bool:
        return self.starts > self.stops

    async def start(self) -> None:
        self.starts += 1

    async def stop(self) -> None:
        self.stops += 1

    def view(self) -> DeviceView:
        return DeviceView(connected=False)

    def details(self) -> HeaterDetails:
        return HeaterDetails(link=HeaterLinkHealth(ok=False, port=None))

    async def send(self, command: SendCommand) -> Outcome:
        return Outcome.FAILED

    def set_listener(self, callback: Callable[[], None]) -> None:
        pass
