"""The ``[console]`` table of the VTN configuration (docs/console.md "Configuration")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # users.py needs vtn_lite.auth, which needs this module's importer
    from vtn_lite.console.users import ConsoleUser

DEFAULT_USERS_FILE = "console-users.json"


class ConsoleConfigError(ValueError):
    """A ``[console]`` table that cannot be used."""


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    users_file: str | None = None
    users: tuple[ConsoleUser, ...] = field(default=())  # fixed users (the demo)
    window: float = 3600.0  # connection-quality window, seconds
    default_interval: float = 300.0  # expected check-in interval before one is observed
    checkin_merge: float = 2.0  # requests this close count as one check-in
    flush_interval: float = 30.0  # check-ins written to storage this often (real seconds)
    session_idle: float = 1800.0
    page_size: int = 50


_NUMBERS = ("window", "default_interval", "checkin_merge", "flush_interval", "session_idle")


def parse_console(table: Any, base_dir: Path | None) -> ConsoleSettings | None:
    """``None`` unless ``enabled = true``: production serves no console unless asked to."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConsoleConfigError("[console] must be a table")
    values: dict[str, Any] = {}
    enabled = False
    for key, value in table.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise ConsoleConfigError("[console] enabled must be true or false")
            enabled = value
        elif key == "users_file":
            if not isinstance(value, str) or not value:
                raise ConsoleConfigError("[console] users_file must be a path")
            values[key] = value
        elif key in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConsoleConfigError(f"[console] {key} must be a number above 0")
            values[key] = float(value)
        elif key == "page_size":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 500:
                raise ConsoleConfigError("[console] page_size must be 1 to 500")
            values[key] = value
        else:
            raise ConsoleConfigError(f"[console] has an unknown key {key!r}")
    users_file = values.get("users_file", DEFAULT_USERS_FILE)
    if base_dir is not None:
        users_file = str((base_dir / users_file).resolve())
    values["users_file"] = users_file
    return ConsoleSettings(**values) if enabled else None


def users_file_of(table: Any, base_dir: Path) -> Path:
    """Where ``vtn-lite users`` keeps the users of a configuration (enabled or not yet)."""
    name = table.get("users_file", DEFAULT_USERS_FILE) if isinstance(table, dict) else None
    return (base_dir / (name if isinstance(name, str) and name else DEFAULT_USERS_FILE)).resolve()
