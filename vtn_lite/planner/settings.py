"""The ``[planner]`` table of the VTN configuration (docs/fleet-planner.md, "Configuration").

```toml
[planner]
enabled = true
program = "fleet-planning"      # the planning program (created when missing)
price_program = "etou-dyn"      # whose PRICE events the plan uses (default: the planning program)
interval = 900                  # seconds between plans
stale_after = 3600              # planning inputs older than this are not planned with
method = "auto"                 # the solver's method: auto, lp or dual
timezone = "America/Los_Angeles"  # the clock of per-hour limits (default UTC)

[planner.groups.feeder-7]
vens = ["heater-1", "heater-2"]  # by VEN name ...
target = "feeder-7"             # ... and/or every VEN granted this target
limit_kw = 3.0                  # flat, or 24 values: one per hour of the day
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

METHODS = ("auto", "lp", "dual")
#: Most groups and VENs named in one configuration: bounds the work a typo can cause.
MAX_GROUPS = 1000
MAX_NAMED_VENS = 100_000


class PlannerConfigError(ValueError):
    """A ``[planner]`` table that cannot be used."""


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """A feeder or transformer: its VENs (by name and/or granted target) and its import limit."""

    name: str
    limit_kw: tuple[float, ...]  # 24 values, one per hour of the day in the planner's timezone
    vens: tuple[str, ...] = ()
    target: str | None = None


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    program: str = "fleet-planning"
    price_program: str | None = None
    interval: float = 900.0
    stale_after: float = 3600.0
    method: str = "auto"
    timezone: str = "UTC"
    groups: tuple[GroupSettings, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_KEYS = ("enabled", "program", "price_program", "interval", "stale_after", "method", "timezone")
_GROUP_KEYS = ("vens", "target", "limit_kw")


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise PlannerConfigError(f"{where} must be a name of 1 to 128 characters, not {value!r}")
    return value


def _limit(where: str, value: Any) -> tuple[float, ...]:
    if isinstance(value, list):
        if len(value) != 24:
            raise PlannerConfigError(
                f"{where} takes one number or 24 (one per hour), not {len(value)}"
            )
        values = value
    else:
        values = [value] * 24
    out = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise PlannerConfigError(f"{where} must be kW numbers, not {item!r}")
        if item < 0:
            raise PlannerConfigError(f"{where} must be 0 kW or more, not {item!r}")
        out.append(float(item))
    return tuple(out)


def _group(name: str, table: Any) -> GroupSettings:
    where = f"[planner.groups.{name}]"
    if not isinstance(table, dict):
        raise PlannerConfigError(f"{where} must be a table")
    for key in table:
        if key not in _GROUP_KEYS:
            raise PlannerConfigError(
                f"{where} has an unknown key {key!r} (known: {', '.join(_GROUP_KEYS)})"
            )
    if "limit_kw" not in table:
        raise PlannerConfigError(f"{where} needs limit_kw")
    vens = table.get("vens", [])
    if not isinstance(vens, list) or len(vens) > MAX_NAMED_VENS:
        raise PlannerConfigError(f"{where} vens must be a list of VEN names")
    target = table.get("target")
    if not vens and target is None:
        raise PlannerConfigError(f"{where} needs vens or target: which VENs are in it")
    return GroupSettings(
        name=name,
        limit_kw=_limit(f"{where} limit_kw", table["limit_kw"]),
        vens=tuple(_name(f"{where} vens", v) for v in vens),
        target=None if target is None else _name(f"{where} target", target),
    )


def parse_planner(table: Any) -> PlannerSettings | None:
    """``None`` unless the table is there and not ``enabled = false``."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PlannerConfigError("[planner] must be a table")
    values: dict[str, Any] = {}
    enabled = True
    for key, value in table.items():
        if key == "groups":
            continue
        if key not in _KEYS:
            raise PlannerConfigError(
                f"[planner] has an unknown key {key!r} (known: {', '.join((*_KEYS, 'groups'))})"
            )
        if key == "enabled":
            if not isinstance(value, bool):
                raise PlannerConfigError("[planner] enabled must be true or false")
            enabled = value
        elif key in ("program", "price_program"):
            values[key] = _name(f"[planner] {key}", value)
        elif key in ("interval", "stale_after"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
                raise PlannerConfigError(f"[planner] {key} must be seconds, at least 1")
            values[key] = float(value)
        elif key == "method":
            if value not in METHODS:
                raise PlannerConfigError(f"[planner] method must be one of {', '.join(METHODS)}")
            values[key] = value
        elif key == "timezone":
            try:
                ZoneInfo(_name("[planner] timezone", value))
            except (ZoneInfoNotFoundError, ValueError):
                raise PlannerConfigError(f"[planner] timezone {value!r} is unknown") from None
            values[key] = value
    groups = table.get("groups", {})
    if not isinstance(groups, dict) or len(groups) > MAX_GROUPS:
        raise PlannerConfigError(f"[planner.groups] must be a table of at most {MAX_GROUPS} groups")
    parsed = tuple(_group(_name("[planner.groups] name", n), t) for n, t in groups.items())
    return PlannerSettings(**values, groups=parsed) if enabled else None
