"""A raw pty pair whose device end is reachable at a chosen path (as ``socat ... link=PATH``)."""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path


def open_linked_pty(path: Path) -> tuple[int, int]:
    """Open a pty pair, make ``path`` a symlink to its device end; returns (master, slave).

    The slave is raw from the start: a cooked pty would echo our bytes back before the other end
    sets it raw. The master is non-blocking. The link is replaced atomically, so an end that
    reopens ``path`` never finds it missing while the pty is remade.
    """
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(os.ttyname(slave))
    tmp.replace(path)
    return master, slave
