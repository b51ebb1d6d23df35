"""What the device reported, as plain values for reports to the VTN.

Its own module because both the reading log (:mod:`.readinglog`) and the report builders
(:mod:`.reports`) use it, and the builders use the log: with the values in either of them the
two would import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

#: Definition 3.1.0 Table 4, "Operating State Enumerations" (CTA-2045 states plus NORMAL/ERROR).
OPERATING_STATES: frozenset[str] = frozenset(
    {
        "NORMAL",
        "ERROR",
        "IDLE_NORMAL",
        "RUNNING_NORMAL",
        "RUNNING_CURTAILED",
        "RUNNING_HEIGHTENED",
        "IDLE_CURTAILED",
        "SGD_ERROR_CONDITION",
        "IDLE_HEIGHTENED",
        "IDLE_OPTED_OUT",
        "RUNNING_OPTED_OUT",
    }
)


@dataclass(frozen=True)
class DeviceReadings:
    """What the device reported, in plain values (None = not known)."""

    operating_state: str | None = None
    charge_percent: float | None = None
    usage_kwh: float | None = None
    usage_start: datetime | None = None
    usage_duration: timedelta | None = None

    def checked(self) -> tuple[DeviceReadings, list[str]]:
        """These readings without the values no report may carry, and why each was dropped
        (devices do report nonsense now and then: docs/hpwh.md §7)."""
        problems: list[str] = []
        state, percent, kwh = self.operating_state, self.charge_percent, self.usage_kwh
        if state is not None and state not in OPERATING_STATES:
            problems.append(f"operating state {state!r} is not in Definition 3.1.0 Table 4")
            state = None
        if percent is not None and not 0.0 <= percent <= 100.0:
            problems.append(f"charge level {percent!r} % is outside 0-100")
            percent = None
        if kwh is not None and not 0.0 <= kwh < float("inf"):
            problems.append(f"energy reading {kwh!r} kWh is not a finite amount >= 0")
            kwh = None
        if not problems:
            return self, []
        return replace(self, operating_state=state, charge_percent=percent, usage_kwh=kwh), problems
