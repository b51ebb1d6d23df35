"""Shared test helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for configs that refuse port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_module(
    module: str, *args: str, timeout: float = 60, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m MODULE ARGS`` from this source tree (not an installed copy)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
