"""Where ven-edge keeps its files on a gateway (the Debian package's layout).

The systemd unit sets ``ConfigurationDirectory=ven-edge`` and ``StateDirectory=ven-edge``; systemd
then exports ``$CONFIGURATION_DIRECTORY`` and ``$STATE_DIRECTORY`` (systemd.exec(5), "Environment
variables in spawned processes"), which win over the built-in locations when present.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PACKAGE_NAME = "ven-edge"
DEFAULT_CONFIG_DIR = Path("/etc/ven-edge")
DEFAULT_CONFIG_PATH = DEFAULT_CONFIG_DIR / "ven-edge.toml"
DEFAULT_STATE_DIR = Path("/var/lib/ven-edge")


def _first_systemd_dir(name: str, environ: Mapping[str, str]) -> Path | None:
    # systemd joins several directories with ":" when the unit lists more than one.
    value = environ.get(name, "")
    first = value.split(":", 1)[0]
    return Path(first) if first else None


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The configuration file to read when none is given on the command line."""
    directory = _first_systemd_dir(
        "CONFIGURATION_DIRECTORY", os.environ if environ is None else environ
    )
    return DEFAULT_CONFIG_PATH if directory is None else directory / "ven-edge.toml"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The state directory systemd created for the service, or the packaged default."""
    directory = _first_systemd_dir("STATE_DIRECTORY", os.environ if environ is None else environ)
    return DEFAULT_STATE_DIR if directory is None else directory
