"""Console users: a JSON file of names, scrypt password hashes and roles (0600, rewritten whole).

```json
{"users": [{"name": "alice", "password_hash": "scrypt$...", "role": "dispatcher"}]}
```

``vtn-lite users add|remove|list`` edits it; the server re-reads it when it changes, so a new
user can log in without a restart.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from vtn_lite.auth import hash_secret, verify_secret

ConsoleRole = Literal["viewer", "dispatcher"]
CONSOLE_ROLES: Final[tuple[ConsoleRole, ...]] = ("viewer", "dispatcher")
# Printable, no spaces or markup characters: names show up in logs and pages.
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8


class UsersError(ValueError):
    """A users file or user entry that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    password_hash: str
    role: ConsoleRole

    @property
    def may_dispatch(self) -> bool:
        return self.role == "dispatcher"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsersError(f"user name {name!r} must be 1-64 of A-Z a-z 0-9 _ . @ -")
    return name


def make_user(name: str, password: str, role: str, *, scrypt_n: int = 2**14) -> ConsoleUser:
    if role not in CONSOLE_ROLES:
        raise UsersError(f"role must be one of {', '.join(CONSOLE_ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UsersError(f"the password must have at least {MIN_PASSWORD} characters")
    return ConsoleUser(check_name(name), hash_secret(password, n=scrypt_n), role)


def parse_users(text: str, source: str) -> tuple[ConsoleUser, ...]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsersError(f"{source}: not JSON ({exc})") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsersError(f'{source}: expected {{"users": [...]}}')
    users: list[ConsoleUser] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise UsersError(f"{source}: user {index + 1} is not an object")
        name, hashed, role = entry.get("name"), entry.get("password_hash"), entry.get("role")
        if not isinstance(name, str) or not isinstance(hashed, str) or role not in CONSOLE_ROLES:
            raise UsersError(f"{source}: user {index + 1} needs name, password_hash and a role")
        if not hashed.startswith("scrypt$"):
            raise UsersError(f"{source}: user {name!r}: password_hash must be an scrypt hash")
        if any(user.name == name for user in users):
            raise UsersError(f"{source}: user {name!r} is listed twice")
        users.append(ConsoleUser(check_name(name), hashed, role))
    return tuple(users)


def read_users(path: Path) -> tuple[ConsoleUser, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise UsersError(f"cannot read {path}: {exc.strerror}") from None
    return parse_users(text, str(path))


def write_users(path: Path, users: tuple[ConsoleUser, ...]) -> None:
    """Replace the file atomically, created 0600 (it holds password hashes)."""
    body = {
        "users": [{"name": u.name, "password_hash": u.password_hash, "role": u.role} for u in users]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=1)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UserDirectory:
    """The users of a file (re-read when its mtime changes) or a fixed tuple (the demo)."""

    def __init__(self, path: Path | None, users: tuple[ConsoleUser, ...] = ()) -> None:
        self._path = path
        self._users = {user.name: user for user in users}
        self._stamp: tuple[int, int, int] | None = None
        # Same work for an unknown name as for a known one: the answer time tells nothing.
        self._decoy = hash_secret(secrets.token_urlsafe(16), n=2**14)

    def _refresh(self) -> None:
        if self._path is None:
            return
        try:
            info = self._path.stat()
            # The inode too: write_users replaces the file, and mtimes are coarse.
            stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        if stamp != self._stamp:
            self._users = {user.name: user for user in read_users(self._path)}
            self._stamp = stamp

    def get(self, name: str) -> ConsoleUser | None:
        self._refresh()
        return self._users.get(name)

    def check(self, name: str, password: str) -> ConsoleUser | None:
        """The user if the password matches; slow (scrypt), so call it off the event loop."""
        user = self.get(name)
        if user is None:
            verify_secret(password, self._decoy)
            return None
        return user if verify_secret(password, user.password_hash) else None
