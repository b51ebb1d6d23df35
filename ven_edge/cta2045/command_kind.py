"""The demand-response commands of the gateway, one enum from the plan to the wire.

The planners choose a kind, the control core keeps it (its value is what the control state file
and the status page hold), and the UCM session sends it as the CTA-2045 message its table row
names (docs/cta2045.md §8.1, §9.2).
"""

from __future__ import annotations

import enum


class CommandKind(enum.StrEnum):
    """What the heater is asked to do."""

    NORMAL = "NORMAL"  # End Shed / Run Normal (Basic 0x02)
    SHED = "SHED"  # Basic 0x01
    LOAD_UP = "LOAD_UP"  # Basic 0x17
    ADVANCED_LOAD_UP = "ADVANCED_LOAD_UP"  # Intermediate 0C 00
    CRITICAL_PEAK = "CRITICAL_PEAK"  # Basic 0x0A
    GRID_EMERGENCY = "GRID_EMERGENCY"  # Basic 0x0B

    @property
    def label(self) -> str:
        """The kind in lower case, as the plan's JSON and the status page's words spell it."""
        return self.value.lower()

    @property
    def basic_message(self) -> str:
        """The table row of the Basic DR message that carries it; Advanced Load Up falls back to
        Basic Load Up (docs/cta2045.md §8.1)."""
        return _BASIC_MESSAGE[self]


_BASIC_MESSAGE = {
    CommandKind.NORMAL: "end_shed",
    CommandKind.SHED: "shed",
    CommandKind.LOAD_UP: "load_up",
    CommandKind.ADVANCED_LOAD_UP: "load_up",
    CommandKind.CRITICAL_PEAK: "critical_peak",
    CommandKind.GRID_EMERGENCY: "grid_emergency",
}
