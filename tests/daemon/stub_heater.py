"""A heater port that only records what the daemon does with it (no serial line)."""

from __future__ import annotations

from collections.abc import Callable

from ven_edge.command_policy import Outcome
from ven_edge.control import SendCommand
from ven_edge.cta2045.device import DeviceSnapshot


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

    def device(self) -> DeviceSnapshot:
        return DeviceSnapshot()

    def commands(self) -> str:
        return "basic"

    async def send(self, command: SendCommand) -> Outcome:
        return Outcome.FAILED

    def set_listener(self, callback: Callable[[], None]) -> None:
        pass
