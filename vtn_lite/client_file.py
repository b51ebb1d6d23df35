"""Adding and removing ``[[clients]]`` entries in a configuration file (``vtn-lite clients add`` and
``clients remove``), keeping the rest of the file as written (comments included).

The new text is checked before it is written: it must parse, and differ from the old one only by
the client added or removed; otherwise nothing is written and the reason is given. It is then
written whole to a temporary file (0600: it holds secret hashes) and renamed over the old one, so
a running vtn_lite re-reading its clients (:mod:`vtn_lite.client_reload`) never sees half a file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from vtn_lite.config import ClientEntry, ConfigError, client_toml

# A table header ("[server]", "[[clients]]"), perhaps followed by a comment.
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")


def add_client(text: str, client: ClientEntry) -> str:
    """``text`` with ``client`` appended as a ``[[clients]]`` entry."""
    new = text + ("" if not text or text.endswith("\n") else "\n") + client_toml(client)
    _check(text, new, added=client.client_id)
    return new


def remove_client(text: str, client_id: str) -> str:
    """``text`` without the ``[[clients]]`` entry of ``client_id`` (its lines up to the next table
    header); :class:`ConfigError` when there is none or it cannot be cut out cleanly."""
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)] + [len(lines)]
    for start, end in itertools.pairwise(headers):
        match = _HEADER.match(lines[start])
        assert match is not None
        if match.group(1) != "clients" or not lines[start].lstrip().startswith("[["):
            continue
        try:
            entry = tomllib.loads("".join(lines[start:end]))["clients"][0]
        except (tomllib.TOMLDecodeError, KeyError, IndexError, TypeError):
            continue
        if entry.get("client_id") == client_id:
            new = "".join(lines[:start] + lines[end:])
            _check(text, new, removed=client_id)
            return new
    raise ConfigError(f"no client {client_id!r} in the file")


def _check(old: str, new: str, *, added: str | None = None, removed: str | None = None) -> None:
    before, after = _parse(old, "the file"), _parse(new, "the changed file")
    kept = [c for c in before.pop("clients", []) if c.get("client_id") != removed]
    now = after.pop("clients", [])
    if added is not None:
        kept.append(now[-1] if now and now[-1].get("client_id") == added else None)
    if now != kept or before != after:
        raise ConfigError(
            "the file cannot be changed safely (an unusual layout around [[clients]]): "
            "edit it by hand"
        )


def _parse(text: str, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} is not valid TOML: {exc}") from None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename; mode 0600, the old file's owner and group
    kept where this user may set them (a rename would otherwise hand the file to its writer)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a leftover temporary file
        with contextlib.suppress(FileNotFoundError, PermissionError):
            old = path.stat()
            os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
