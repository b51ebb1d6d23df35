"""Persisted daemon state: small JSON documents written atomically, readable only by the service.

A gateway loses power without warning. Every document is written to a temporary file in the same
directory, flushed to disk, then renamed over the old one, so a reader sees either the previous or
the new content, never a torn file. Files are created with mode 0600 because they can hold
registration ids and report data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

FILE_MODE = 0o600


class StateStore:
    """A directory of named JSON documents (``<name>.json``)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"invalid state document name {name!r}")
        return self.directory / f"{name}.json"

    def save(self, name: str, document: Any) -> None:
        """Write ``document`` as JSON atomically (temp file, fsync, rename, fsync the directory)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.path(name)
        data = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def load(self, name: str, default: Any = None) -> Any:
        """Read a document; a missing or unreadable one gives ``default`` (and a logged reason).

        A corrupt file is kept aside as ``<name>.json.corrupt`` for diagnosis instead of being
        silently overwritten by the next save.
        """
        target = self.path(name)
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            return default
        try:
            return json.loads(raw)
        except ValueError as exc:
            aside = target.with_suffix(".json.corrupt")
            LOG.error("state file %s is corrupt (%s); moved to %s", target, exc, aside)
            os.replace(target, aside)
            return default

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()
